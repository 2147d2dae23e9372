/*
 * brokerctl's commands: each builds its request, runs the pump on one
 * connection and prints the result.
 */
#include "autoconf.h"

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "client/client.h"

/*
 * A reader that went away (brokerctl ... | head -1) wants no more: end
 * quietly with 0 where cat would be ended by SIGPIPE.  Closing the
 * connection tells the daemon to stop.
 */
static void __attribute__((noreturn))
stdout_failed(void)
{
	if (errno == EPIPE)
		exit(0);
	err(EXIT_ERR, "stdout");
}

static void
sink_stdout(const char *buf, size_t len)
{
	if (write_all(STDOUT_FILENO, buf, len) == -1)
		stdout_failed();
}

/*
 * -p, else the config's listener for service (with a tls block for
 * --tls, without one otherwise), else the usual port.
 */
static const char *
service_port(const char *service, const char *port)
{
	const char *p;

	if (opt.port != NULL)
		return opt.port;
	if ((p = conf_port(service, opt.tls)) != NULL)
		return p;
	return port;
}

/*
 * Without -t, wait at least as long as the daemon lets the command run
 * (commands.NAME.timeout_s or limits.command_timeout_s), plus time for
 * it to kill the command and answer ERR 504.
 */
static void
default_timeout(const char *command)
{
	long long ms;

	if (opt.timeout_ms == TIMEOUT_DEFAULT) {
		ms = (conf_command_timeout_s(command) + TIMEOUT_GRACE_S) *
		    1000LL;
		opt.timeout_ms = ms > INT_MAX ? INT_MAX : (int)ms;
	}
	vlog("timeout %d ms", opt.timeout_ms);
}

/* A request line "VERB[ ARG]\n"; ARG must be one protocol word. */
static char *
make_request(const char *verb, const char *arg)
{
	const char *s;
	char	*line;

	if (arg != NULL) {
		if (*arg == '\0' || strlen(arg) > INPUT_FRAME / 2)
			brokerctl_usage_error("%s: empty or too long", verb);
		for (s = arg; *s != '\0'; s++)
			if ((unsigned char)*s <= ' ' || *s == 0x7f)
				brokerctl_usage_error("%s: argument with "
				    "spaces or control characters", verb);
	}
	if (asprintf(&line, "%s%s%s\n", verb, arg != NULL ? " " : "",
	    arg != NULL ? arg : "") == -1)
		err(EXIT_ERR, "asprintf");
	return line;
}

/*
 * Sends one broker request, with input from pieces (OUT_TEXT), stdin
 * (OUT_STDIN), none but END (OUT_END) or no input section (OUT_IDLE).
 * Exits 1 on ERR; returns the OK text.
 */
static char *
broker_call(const char *request, enum out_state input, struct piece *pieces,
    int npieces, void (*sink)(const char *, size_t))
{
	struct pump p;

	pump_init(&p, conn_open(service_port("broker", PORT_BROKER)), 1);
	p.request = request;
	p.state = OUT_REQUEST;
	p.after_request = input;
	p.pieces = pieces;
	p.npieces = npieces;
	p.sink = sink;
	pump_run(&p);
	pump_close(&p);
	if (p.code != 0)
		errx(EXIT_ERR, "ERR %d%s%s", p.code, *p.text ? " " : "",
		    p.text);
	vlog("OK %s", p.text);
	return p.text;
}

/* A df reply's OK text is "<rows>[ warning: <text>]". */
static void
report_warning(const char *text)
{
	const char *w;

	if (!opt.quiet && (w = strstr(text, "warning: ")) != NULL)
		fprintf(stderr, "brokerctl: %s\n", w);
}

/* A leading "--" ends a command's options, so text may start with '-'. */
static int
skip_dashdash(int argc, char **argv, int i)
{
	return i < argc && strcmp(argv[i], "--") == 0 ? i + 1 : i;
}

static void
cmd_echo(int argc, char **argv)
{
	struct piece	*pieces;
	struct pump	 p;
	int		 i, first;

	if (opt.sock != NULL)
		brokerctl_usage_error("echo: -S does not apply: the echo "
		    "service is TCP only");
	first = skip_dashdash(argc, argv, 1);
	pieces = xcalloc((size_t)(argc - first) + 1, sizeof(*pieces));
	for (i = first; i < argc; i++) {
		pieces[i - first].buf = argv[i];
		pieces[i - first].len = strlen(argv[i]);
	}
	default_timeout(NULL);
	pump_init(&p, conn_open(service_port("echo", PORT_ECHO)), 0);
	p.state = argc > first ? OUT_TEXT : OUT_STDIN;
	p.pieces = pieces;
	p.npieces = argc - first;
	p.sink = sink_stdout;
	pump_run(&p);
	pump_close(&p);
	free(pieces);
}

/* UPPER and RUN: TEXT joined by single spaces, else stdin, else none. */
static void
cmd_input(const char *request, int noinput, int ntext, char **text)
{
	struct piece	 piece;
	char		*joined = NULL, *s, *ok;
	size_t		 len = 0;
	int		 i;

	memset(&piece, 0, sizeof(piece));
	if (ntext > 0 && !noinput) {
		for (i = 0; i < ntext; i++)
			len += strlen(text[i]) + 1;
		joined = xmalloc(len);
		for (s = joined, i = 0; i < ntext; i++) {
			if (i > 0)
				*s++ = ' ';
			memcpy(s, text[i], strlen(text[i]));
			s += strlen(text[i]);
		}
		piece.buf = joined;
		piece.len = (size_t)(s - joined);
	}
	ok = broker_call(request,
	    noinput ? OUT_END : ntext > 0 ? OUT_TEXT : OUT_STDIN,
	    &piece, 1, sink_stdout);
	report_warning(ok);
	free(ok);
	free(joined);
}

static void
cmd_upper(int argc, char **argv)
{
	int	first = skip_dashdash(argc, argv, 1);

	default_timeout("upper");
	cmd_input("UPPER\n", 0, argc - first, argv + first);
}

static void
cmd_run(int argc, char **argv)
{
	char	*request;
	int	 i = 1, noinput = 0;

	if (i < argc && strcmp(argv[i], "-n") == 0) {
		noinput = 1;
		i++;
	}
	i = skip_dashdash(argc, argv, i);
	if (i >= argc)
		brokerctl_usage_error("run: missing command name");
	if (noinput && i + 1 < argc)
		brokerctl_usage_error("run: -n takes no text");
	request = make_request("RUN", argv[i]);
	default_timeout(argv[i]);
	cmd_input(request, noinput, argc - i - 1, argv + i + 1);
	free(request);
}

static void
cmd_df(int argc, char **argv)
{
	int	 i, all = 0, native = 0;
	char	*text;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0)
			all = 1;
		else if (strcmp(argv[i], "--native") == 0)
			native = 1;
		else if (strcmp(argv[i], "-j") == 0)
			opt.json = 1;
		else
			brokerctl_usage_error("df: unknown argument: %s",
			    argv[i]);
	}
	/* DF --native runs no command: limits.command_timeout_s. */
	default_timeout(native ? NULL : "df");
	text = broker_call(native ? "DF --native\n" : "DF\n", OUT_IDLE, NULL,
	    0, output_collect);
	report_warning(text);
	free(text);
	output_df(all);
}

/* stats and commands: -j the only argument; the reply as a table. */
static void
cmd_table(int argc, char **argv)
{
	int	i, stats = strcmp(argv[0], "stats") == 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-j") == 0)
			opt.json = 1;
		else
			brokerctl_usage_error("%s: unknown argument: %s",
			    argv[0], argv[i]);
	}
	default_timeout(NULL);
	free(broker_call(stats ? "STATS\n" : "COMMANDS\n", OUT_IDLE, NULL, 0,
	    output_collect));
	if (stats)
		output_stats();
	else
		output_commands(isatty(STDOUT_FILENO));
}

/* ping, version, reload, loglevel: one line out, the OK text back. */
static void
cmd_simple(int argc, char **argv)
{
	const char *verb;
	char	*request, *text;

	if (strcmp(argv[0], "loglevel") == 0) {
		if (argc != 2)
			brokerctl_usage_error("loglevel: exactly one level "
			    "expected");
		request = make_request("LOGLEVEL", argv[1]);
	} else {
		if (argc != 1)
			brokerctl_usage_error("%s: no arguments expected",
			    argv[0]);
		verb = strcmp(argv[0], "ping") == 0 ? "PING" :
		    strcmp(argv[0], "version") == 0 ? "VERSION" : "RELOAD";
		request = make_request(verb, NULL);
	}
	/* Only the control socket accepts RELOAD and LOGLEVEL. */
	if (opt.sock == NULL && (strcmp(argv[0], "reload") == 0 ||
	    strcmp(argv[0], "loglevel") == 0))
		opt.sock = conf_control_path(opt.sock_from,
		    sizeof(opt.sock_from));
	default_timeout(NULL);
	text = broker_call(request, OUT_IDLE, NULL, 0, sink_stdout);
	if (!opt.quiet && *text != '\0')
		puts(text);
	free(text);
	free(request);
}

static const struct {
	const char	*name;
	void		(*fn)(int, char **);
} commands[] = {
	{ "echo", cmd_echo },
	{ "df", cmd_df },
	{ "upper", cmd_upper },
	{ "run", cmd_run },
	{ "stats", cmd_table },
	{ "commands", cmd_table },
	{ "ping", cmd_simple },
	{ "version", cmd_simple },
	{ "reload", cmd_simple },
	{ "loglevel", cmd_simple },
};

int
cmd_exec(int argc, char **argv)
{
	size_t	i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0) {
			commands[i].fn(argc, argv);
			if (fflush(stdout) == EOF || ferror(stdout))
				stdout_failed();
			return 0;
		}
	return -1;
}
