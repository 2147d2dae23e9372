/*
 * brokerctl: command-line client for brokerd's echo and broker services.
 * This file holds the options; conn.c connects, pump.c moves the bytes,
 * output.c prints tables and JSON, cmd.c holds the commands.
 */
#include "autoconf.h"

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/brokerctl.h"

struct options opt = { "localhost", NULL, NULL, 10000, 0, 0, 0 };

#define SYNOPSIS	"usage: brokerctl [-jqv] [-H host] [-p port] " \
	"[-S socket] [-t seconds] command [args]\n"

static void
usage(void)
{
	fputs(SYNOPSIS "commands:\n"
	    "  echo [msg ...]            echo service (stdin when no msg)\n"
	    "  df [--all] [--native]     free space per filesystem\n"
	    "  upper [text ...]          upper-case text (stdin when none)\n"
	    "  run [-n] name [text ...]  run a configured command\n"
	    "  stats                     daemon counters\n"
	    "  ping | version            liveness, daemon version\n"
	    "  reload                    reload the configuration\n"
	    "  loglevel level            set the log level\n", stdout);
}

void
brokerctl_usage_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fputs(SYNOPSIS, stderr);
	exit(EXIT_USAGE);
}

static int
parse_timeout(const char *s)
{
	char	*end;
	double	 secs;

	errno = 0;
	secs = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !(secs >= 0) ||
	    secs > INT_MAX / 1000)
		brokerctl_usage_error("bad timeout: %s", s);
	if (secs == 0)
		return -1;	/* -t 0: wait forever */
	return secs * 1000 < 1 ? 1 : (int)(secs * 1000);
}

static const char *
parse_port(const char *s)
{
	if (*s == '\0' || s[strspn(s, "0123456789")] != '\0' ||
	    strlen(s) > 5 || atoi(s) < 1 || atoi(s) > 65535)
		brokerctl_usage_error("bad port: %s", s);
	return s;
}

int
main(int argc, char *argv[])
{
	int	ch;

	/* Broken connections and pipes are reported as EPIPE instead. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(EXIT_ERR, "signal");
	/* '+': options stop at the command, so "run -n" stays its own. */
	opterr = 0;
	while ((ch = getopt(argc, argv, "+:H:p:S:t:jqvh")) != -1) {
		switch (ch) {
		case 'H':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = parse_port(optarg);
			break;
		case 'S':
			opt.sock = optarg;
			break;
		case 't':
			opt.timeout_ms = parse_timeout(optarg);
			break;
		case 'j':
			opt.json = 1;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'v':
			opt.verbose = 1;
			break;
		case 'h':
			usage();
			return 0;
		case ':':
			brokerctl_usage_error("option -%c needs an argument",
			    optopt);
		default:
			brokerctl_usage_error("unknown option -%c", optopt);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		brokerctl_usage_error("missing command");
	if (cmd_exec(argc, argv) == -1)
		brokerctl_usage_error("unknown command: %s", argv[0]);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EXIT_ERR, "stdout");
	return 0;
}
