/*
 * brokerctl: command-line client for brokerd's echo and broker services.
 * This file parses the command line (opt.c holds the options and the
 * help text); conf.c reads brokerd.conf, conn.c
 * connects, pump.c moves the bytes, output.c prints tables and JSON,
 * cmd.c holds the commands.
 */
#include "autoconf.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/client.h"

/* Long options without a short one. */
enum { OPT_TLS = 256, OPT_CA, OPT_CERT, OPT_KEY, OPT_SERVERNAME };

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

/* A file or name given to a TLS option: not empty. */
static const char *
parse_tls_arg(const char *name, const char *s)
{
#ifndef HAVE_TLS
	brokerctl_usage_error("--%s: this brokerctl was built without TLS "
	    "(configure --disable-tls)", name);
#endif
	if (s != NULL && *s == '\0')
		brokerctl_usage_error("--%s: empty argument", name);
	opt.tls = 1;
	return s;
}

/*
 * A closed stdin, stdout or stderr gets /dev/null, or the connection
 * would take its number: "run cat <&-" would read its own socket.
 */
static void
stdio_reserve(void)
{
	int	fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		if (open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			exit(EXIT_ERR);
	}
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "tls", no_argument, NULL, OPT_TLS },
		{ "ca", required_argument, NULL, OPT_CA },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "servername", required_argument, NULL, OPT_SERVERNAME },
		{ NULL, 0, NULL, 0 }
	};
	const char	*conf = CONFIG_FILE;
	int		 ch, conf_given = 0;

	stdio_reserve();
	/* Broken connections and pipes are reported as EPIPE instead. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(EXIT_ERR, "signal");
	/* '+': options stop at the command, so "run -n" stays its own. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:H:hjp:qS:t:Vv", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			conf_given = 1;
			break;
		case 'H':
			opt.host = optarg;
			break;
		case 'h':
			brokerctl_usage();
			return 0;
		case 'j':
			opt.json = 1;
			break;
		case 'p':
			opt.port = parse_port(optarg);
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'S':
			opt.sock = optarg;
			(void)snprintf(opt.sock_from, sizeof(opt.sock_from),
			    "the one given with -S");
			break;
		case 't':
			opt.timeout_ms = parse_timeout(optarg);
			break;
		case 'V':
			puts("brokerctl " PACKAGE_VERSION);
			return fflush(stdout) == 0 ? 0 : EXIT_ERR;
		case 'v':
			opt.verbose = 1;
			break;
		case OPT_TLS:
			(void)parse_tls_arg("tls", NULL);
			break;
		case OPT_CA:
			opt.ca = parse_tls_arg("ca", optarg);
			break;
		case OPT_CERT:
			opt.cert = parse_tls_arg("cert", optarg);
			break;
		case OPT_KEY:
			opt.key = parse_tls_arg("key", optarg);
			break;
		case OPT_SERVERNAME:
			opt.servername = parse_tls_arg("servername", optarg);
			break;
		case ':':
			if (optopt >= OPT_TLS)
				brokerctl_usage_error("option %s needs an "
				    "argument", argv[optind - 1]);
			brokerctl_usage_error("option -%c needs an argument",
			    optopt);
		default:
			if (optopt != 0)
				brokerctl_usage_error("unknown option -%c",
				    optopt);
			brokerctl_usage_error("unknown option %s",
			    argv[optind - 1]);
		}
	}
	argc -= optind;
	argv += optind;
	if (opt.key != NULL && opt.cert == NULL)
		brokerctl_usage_error("--key needs --cert");
	if (argc == 0)
		brokerctl_usage_error("missing command");
	conf_load(conf, conf_given);
	if (cmd_exec(argc, argv) == -1)
		brokerctl_usage_error("unknown command: %s", argv[0]);
	return 0;
}
