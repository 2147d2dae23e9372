/* brokerd's and brokerctl's command lines, exit codes and messages. */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <libconfig.h>
#ifdef HAVE_TLS
#include <openssl/crypto.h>
#endif

#include "tests/integration/harness.h"
#include "tests/tap.h"

static const char *brokerd, *brokerctl;

static int
run(char *const argv[], char **out, char **err)
{
	return run_prog(argv, NULL, 0, out, NULL, err, 20000);
}

static void
write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
}

static void
test_brokerd_cli(struct daemon *d)
{
	char	 good[400], bad[400], want[512], *out, *err;
	char	*argv[8];
	int	 st;

	snprintf(good, sizeof(good), "%s/good.conf", d->dir);
	snprintf(bad, sizeof(bad), "%s/bad.conf", d->dir);
	write_conf(good, "listen = ({ service = \"echo\"; port = 0; });\n");
	write_conf(bad, "workers = 0;\n\nbogus = true;\nlimits = { x = 1; "
	    "};\nlisten = ({ service = \"echo\"; port = 99999; });\n");

	argv[0] = (char *)brokerd; argv[1] = "-t"; argv[2] = "-c";
	argv[3] = good; argv[4] = NULL;
	st = run(argv, &out, &err);
	is_int(st, 0, "brokerd -t on a good config exits 0");
	is_str(out, "configuration ok\n", "and prints configuration ok");
	free(out); free(err);

	argv[3] = bad;
	st = run(argv, &out, &err);
	is_int(st, 1, "brokerd -t on a bad config exits 1");
	ok(strstr(err, "bad.conf:1: workers = 0 is out of range") &&
	    strstr(err, "bad.conf:3: unknown key bogus") &&
	    strstr(err, "bad.conf:4: unknown key limits.x") &&
	    strstr(err, "bad.conf:5: listen.port = 99999 is out of range"),
	    "every error printed as file:line: message");
	free(out); free(err);

	write_conf(bad, "workers = 3\nlog = ;\n");
	st = run(argv, &out, &err);
	ok(st == 1 && strstr(err, "bad.conf:2: syntax error") != NULL,
	    "syntax error reported with its line");
	free(out); free(err);

	/* A bad config at start-up: non-zero, message on stderr. */
	argv[1] = "-f"; argv[2] = "-c"; argv[3] = bad; argv[4] = NULL;
	st = run(argv, &out, &err);
	ok(st == 1 && strstr(err, "bad.conf:2: syntax error") != NULL,
	    "start-up with a bad config exits 1 with the message");
	free(out); free(err);

	argv[1] = "-x"; argv[2] = NULL;
	st = run(argv, &out, &err);
	ok(st == 2 && strstr(err, "usage: brokerd") != NULL,
	    "unknown option: usage, exit 2");
	free(out); free(err);

	argv[1] = "-V";
	st = run(argv, &out, &err);
	/* This test links the libraries the daemon links: the same ones. */
	snprintf(want, sizeof(want), "brokerd %s\nlibevent %s\n"
	    "libconfig %d.%d.%d\n%s\n", PACKAGE_VERSION, event_get_version(),
	    LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR, LIBCONFIG_VER_REVISION,
#ifdef HAVE_TLS
	    OpenSSL_version(OPENSSL_VERSION)
#else
	    "TLS: not built in (configure --disable-tls)"
#endif
	    );
	is_int(st, 0, "-V exits 0");
	is_str(out, want, "-V prints its version, libevent's, libconfig's and "
	    "OpenSSL's (or that TLS is not built in)");
	free(out); free(err);

	/* A listener that cannot bind is a start-up error naming it. */
	{
		int	fd = socket(AF_INET, SOCK_STREAM, 0), port;
		struct sockaddr_in sin = { 0 };
		socklen_t len = sizeof(sin);
		char	conf[256];

		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		bind(fd, (struct sockaddr *)&sin, sizeof(sin));
		listen(fd, 1);
		getsockname(fd, (struct sockaddr *)&sin, &len);
		port = ntohs(sin.sin_port);
		snprintf(conf, sizeof(conf), "listen = ({ service = \"echo\";"
		    " address = \"127.0.0.1\"; port = %d; });\n", port);
		write_conf(bad, conf);
		argv[1] = "-f"; argv[2] = "-c"; argv[3] = bad; argv[4] = NULL;
		st = run(argv, &out, &err);
		snprintf(conf, sizeof(conf), "cannot bind 127.0.0.1:%d: "
		    "Address already in use", port);
		ok(st == 1 && strstr(err, conf) != NULL,
		    "port in use: exit 1 naming the address");
		free(out); free(err);
		close(fd);
	}

	/* Daemonized: the parent returns once listening; pidfile names it. */
	{
		char	pidf[400], conf[300], buf[32];
		FILE	*f;
		pid_t	pid = 0;

		snprintf(pidf, sizeof(pidf), "%s/bg.pid", d->dir);
		snprintf(conf, sizeof(conf), "listen = ({ service = \"echo\";"
		    " address = \"127.0.0.1\"; port = 0; });\n");
		write_conf(good, conf);
		argv[1] = "-c"; argv[2] = good; argv[3] = "-p"; argv[4] = pidf;
		argv[5] = NULL;
		st = run(argv, &out, &err);
		is_int(st, 0, "daemonizing start exits 0 once ready");
		free(out); free(err);
		if ((f = fopen(pidf, "r")) != NULL) {
			if (fgets(buf, sizeof(buf), f) != NULL)
				pid = atoi(buf);
			fclose(f);
		}
		ok(pid > 0 && kill(pid, 0) == 0, "pidfile names a live daemon");
		if (pid > 0) {
			int i;

			kill(pid, SIGTERM);
			for (i = 0; i < 500 && access(pidf, F_OK) == 0; i++)
				usleep(10000);
		}
		ok(access(pidf, F_OK) != 0, "SIGTERM: pidfile removed");
	}
}

/*
 * A string of the configuration with a line feed in it, quoted in an
 * error: one line in RELOAD's reply, in the log and from brokerd -t.
 */
static void
test_config_strings(struct daemon *d, const char *good)
{
	char		 conf[1024], want[1024], *out, *err, *argv[5];
	struct reply	 r;
	int		 fd, st;

	snprintf(conf, sizeof(conf), "%slog = { level = \"x\\nOK "
	    "generation 99\"; };\ncontrol = { path = \"%s\"; };\n", good,
	    d->control);
	write_conf(d->conf, conf);
	fd = unix_connect(d->control);
	request(fd, "RELOAD", &r);
	snprintf(want, sizeof(want), "%s:2: unknown log level \"x\\nOK "
	    "generation 99\" (error, warning, notice, info or debug)",
	    d->conf);
	ok(r.code == 500 && strcmp(r.text, want) == 0, "RELOAD with a log "
	    "level holding a line feed: ERR 500 on one line, escaped (%d %s)",
	    r.code, r.text);
	reply_free(&r);
	ok(pong_next(fd), "the next reply is PING's");
	ok(d_log_count(d, want) >= 1 && d_log_count(d, "\nOK generation") ==
	    0, "the log has the error escaped, on one line");

	argv[0] = (char *)brokerd; argv[1] = "-t"; argv[2] = "-c";
	argv[3] = d->conf; argv[4] = NULL;
	st = run(argv, &out, &err);
	snprintf(want, sizeof(want), "%s:2: unknown log level \"x\\nOK "
	    "generation 99\" (error, warning, notice, info or debug)\n",
	    d->conf);
	ok(st == 1 && strcmp(err, want) == 0, "brokerd -t prints it on one "
	    "line: %s", err);
	free(out); free(err);

	snprintf(conf, sizeof(conf), "%scontrol = { path = \"%s\"; };\n",
	    good, d->control);
	write_conf(d->conf, conf);
	request(fd, "RELOAD", &r);
	ok(r.code == 0 && strncmp(r.text, "generation ", 11) == 0,
	    "the good file reloads (%d %s)", r.code, r.text);
	reply_free(&r);
	close(fd);
}

static void
test_brokerctl(struct daemon *d)
{
	char	 port[16], *out, *err, big[3 * 1024 * 1024];
	char	*argv[12];
	size_t	 outlen, i;
	int	 st, lfd, cport;
	struct sockaddr_in sin = { 0 };
	socklen_t len = sizeof(sin);

	snprintf(port, sizeof(port), "%d", d->echo_port);
	argv[0] = (char *)brokerctl; argv[1] = "-H"; argv[2] = "127.0.0.1";
	argv[3] = "-p"; argv[4] = port; argv[5] = "echo";
	argv[6] = "This is the message. "; argv[7] = "It will be sent ";
	argv[8] = "in parts."; argv[9] = NULL;
	st = run(argv, &out, &err);
	is_int(st, 0, "brokerctl echo exits 0");
	is_str(out, "This is the message. It will be sent in parts.",
	    "brokerctl echo prints exactly what came back");
	free(out); free(err);

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	argv[6] = NULL;
	st = run_prog(argv, big, sizeof(big), &out, &outlen, &err, 30000);
	ok(st == 0 && outlen == sizeof(big) &&
	    memcmp(out, big, sizeof(big)) == 0,
	    "brokerctl echo streams 3 MiB of stdin back byte-exact");
	free(out); free(err);

	cport = free_port();
	snprintf(port, sizeof(port), "%d", cport);
	argv[4] = port; argv[6] = "x"; argv[7] = NULL;
	st = run(argv, &out, &err);
	is_int(st, 69, "nothing listening: exit 69");
	ok(strstr(err, port) != NULL && strstr(err, "refused") != NULL,
	    "message names the port and the errno text");
	free(out); free(err);

	/* A server that accepts (backlog) but never answers. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(lfd, (struct sockaddr *)&sin, sizeof(sin));
	listen(lfd, 4);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	snprintf(port, sizeof(port), "%d", ntohs(sin.sin_port));
	argv[1] = "-t"; argv[2] = "1"; argv[3] = "-p"; argv[4] = port;
	argv[5] = "echo"; argv[6] = "x"; argv[7] = NULL;
	st = run(argv, &out, &err);
	is_int(st, 75, "silent server: exit 75 after -t");
	free(out); free(err);
	close(lfd);

	argv[1] = "frobnicate"; argv[2] = NULL;
	st = run(argv, &out, &err);
	is_int(st, 2, "unknown brokerctl command: exit 2");
	free(out); free(err);
}

int
main(void)
{
	struct daemon	d = { 0 };
	char		conf[512];

	signal(SIGPIPE, SIG_IGN);
	brokerd = getenv("BROKERD");
	brokerctl = getenv("BROKERCTL");
	if (brokerd == NULL || brokerctl == NULL)
		bail("BROKERD and BROKERCTL must be set (run through make "
		    "check)");
	snprintf(conf, sizeof(conf), "listen = ( { service = \"echo\"; "
	    "address = \"127.0.0.1\"; port = 0; } );\n");
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	test_brokerd_cli(&d);
	test_config_strings(&d, conf);
	test_brokerctl(&d);
	is_int(d_stop(&d, SIGINT, 5000), 0, "SIGINT: exit 0");
	d_cleanup(&d);
	return done_testing();
}
