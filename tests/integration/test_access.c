/*
 * Access control (issue 12): allow and deny lists at accept, per
 * command; connection rates; command limits, environment and directory;
 * the privilege drop.  Peers are several 127.0.0.0/8 addresses and ::1.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/access.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

int
listen_port(struct daemon *d, const char *addr, const char *service)
{
	char		 pat[128], *log = d_log(d), *p;
	int		 port = 0;

	snprintf(pat, sizeof(pat), "listening on %s:", addr);
	for (p = log; (p = strstr(p, pat)) != NULL; p++) {
		char *end = strchr(p, '\n'), want[64];

		snprintf(want, sizeof(want), " (%s)", service);
		if (end != NULL && strstr(p, want) != NULL &&
		    strstr(p, want) < end) {
			port = atoi(p + strlen(pat));
			break;
		}
	}
	free(log);
	return port;
}

int
tcp6_connect(int port)
{
	struct sockaddr_in6	sin6;
	int			fd;

	if ((fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons((uint16_t)port);
	sin6.sin6_addr = in6addr_loopback;
	if (connect(fd, (struct sockaddr *)&sin6, sizeof(sin6)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
tcp_connect_to(const char *src, const char *dst, int port)
{
	struct sockaddr_in	sin;
	int			fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, src, &sin.sin_addr);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		goto fail;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, dst, &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* One request from src to port, over a new connection: its reply code. */
int
request_from(const char *src, int port, const char *line, char *text,
    size_t size)
{
	struct reply	r;
	int		fd, code;

	fd = port < 0 ? tcp_connect_to(src, "127.0.0.5", -port) :
	    tcp_connect_from(src, port);
	if (fd < 0)
		return -2;
	code = request(fd, line, &r);
	if (text != NULL)
		snprintf(text, size, "%s", r.text);
	reply_free(&r);
	close(fd);
	return code;
}

/* What a refused connection from src sees: the line, then EOF. */
static void
check_refused(const char *src, int port, const char *what)
{
	struct reply	r;
	int		fd;

	fd = port < 0 ? tcp_connect_to(src, "127.0.0.5", -port) :
	    tcp_connect_from(src, port);
	if (fd < 0) {
		ok(0, "%s: connect: %s", what, strerror(errno));
		return;
	}
	read_reply(fd, &r, 3000);
	ok(r.code == 403 && strcmp(r.text, "access denied") == 0,
	    "%s: ERR 403 access denied before a byte is sent (%d %s)", what,
	    r.code, r.text);
	reply_free(&r);
	ok(wait_eof(fd, 3000), "%s: then closed", what);
	close(fd);
}

#define LISTS_CONF \
	"allow = [ \"127.0.0.0/8\", \"::1/128\" ];\n" \
	"deny = [ \"127.0.0.3\" ];\n" \
	"listen = ( { service = \"echo\"; address = \"127.0.0.1\"; port = 0; },\n" \
	"  { service = \"broker\"; address = \"127.0.0.1\"; port = 0; },\n" \
	"  { service = \"broker\"; address = \"::1\"; port = 0; },\n" \
	"  { service = \"broker\"; address = \"127.0.0.5\"; port = 0;\n" \
	"    allow = [ \"127.0.0.2\" ]; } );\n"

static void
test_lists(void)
{
	struct daemon	d = { 0 };
	char		text[512], *out = NULL, *conf;
	int		fd, own, v6, i, n;

	if (d_start(&d, LISTS_CONF, NULL) != 0)
		bail("daemon did not start");
	own = listen_port(&d, "127.0.0.5", "broker");
	v6 = listen_port(&d, "[::1]", "broker");
	if (own == 0 || v6 == 0 || d.broker_port == 0)
		bail("listener ports not in the log");

	is_int(request_from("127.0.0.2", d.broker_port, "PING", NULL, 0), 0,
	    "127.0.0.2 (allowed) gets in");
	check_refused("127.0.0.3", d.broker_port, "127.0.0.3 (denied)");
	fd = tcp_connect_from("127.0.0.3", d.echo_port);
	is_int(eof_within(fd, 3000), 1, "denied echo client: closed, nothing "
	    "written");
	close(fd);
	fd = tcp_connect_from("127.0.0.2", d.echo_port);
	send_all(fd, "hi", 2);
	ok(read_byte(fd, 3000, text) == 1 && text[0] == 'h',
	    "allowed echo client is echoed");
	close(fd);
	/* A listener's own list replaces the top-level one. */
	is_int(request_from("127.0.0.2", -own, "PING", NULL, 0), 0,
	    "own list: 127.0.0.2 gets in");
	check_refused("127.0.0.4", -own, "own list: 127.0.0.4 (allowed at the "
	    "top level only)");
	fd = tcp6_connect(v6);
	if (fd >= 0) {
		struct reply r;

		is_int(request(fd, "PING", &r) == 0 ? r.code : -1, 0,
		    "::1 gets in");
		reply_free(&r);
		close(fd);
	} else
		ok(0, "::1: connect: %s", strerror(errno));
	is_int(stat_port(d.broker_port, "connections_refused_acl"), 3,
	    "STATS connections_refused_acl counts each refusal");

	/* A flood: one line a second, with a count of the rest. */
	n = d_log_count(&d, "access denied: closing connection from");
	for (i = 0; i < 20; i++) {
		fd = tcp_connect_from("127.0.0.3", d.broker_port);
		wait_eof(fd, 3000);
		close(fd);
	}
	ok(d_log_count(&d, "access denied: closing connection from") <= n + 1,
	    "20 refusals within a second: at most one more log line");
	msleep(1100);
	fd = tcp_connect_from("127.0.0.3", d.broker_port);
	wait_eof(fd, 3000);
	close(fd);
	ok(d_log_wait(&d, "more since the last message)", 1, 3000),
	    "the next line counts the ones left out");
	d_log_diag(&d, "access denied");

	/* The control socket is not subject to the lists. */
	is_int(d_ctl(&d, "ping", &out, NULL), 0, "control socket: ping");
	free(out);

	/* A reload changes the lists of listeners it keeps. */
	if (asprintf(&conf, "%s\ncontrol = { path = \"%s\"; };\n",
	    LISTS_CONF, d.control) < 0)
		bail("asprintf");
	*strstr(conf, "deny = [ \"127.0.0.3\" ];") = '#';
	replace_text(d.conf, conf);
	free(conf);
	is_int(d_ctl(&d, "reload", &out, NULL), 0, "reload without deny");
	free(out);
	is_int(request_from("127.0.0.3", d.broker_port, "PING", NULL, 0), 0,
	    "after the reload 127.0.0.3 gets in on the same listener");
	check_refused("127.0.0.4", -own, "after the reload, own list still "
	    "applies");

	is_int(d_stop(&d, SIGTERM, 10000), 0, "daemon exits cleanly");
	d_cleanup(&d);
}

#define RATE_CONF \
	"listen = ( { service = \"broker\"; address = \"127.0.0.1\"; port = 0;\n" \
	"  max_connections_per_second = 5; } );\n" \
	"limits = { max_clients_per_source = 1000; };\n"

static void
test_rate(void)
{
	struct daemon	d = { 0 };
	struct reply	r;
	long long	t0, ms;
	int		fd, old, i, in = 0, out = 0, code;

	if (d_start(&d, RATE_CONF, NULL) != 0)
		bail("daemon did not start");
	old = tcp_connect(d.broker_port);
	ok(pong_next(old), "a connection before the flood");
	t0 = now_ms();
	for (i = 0; i < 30; i++) {
		fd = tcp_connect(d.broker_port);
		code = request(fd, "PING", &r);
		reply_free(&r);
		if (code == 0)
			in++;
		else
			out++;
		close(fd);
	}
	ms = now_ms() - t0;
	/* 5 at once, then 5 a second; one the old connection took. */
	ok(in >= 4 && in <= 5 + (int)(ms * 5 / 1000) + 1,
	    "30 connections in %lld ms: %d served (a bucket of 5, 5 a "
	    "second)", ms, in);
	ok(pong_next(old), "the established connection is untouched");
	request(old, "STATS", &r);
	is_int(stat_value(r.data, "connections_refused_rate"), out,
	    "the %d others refused and counted", out);
	reply_free(&r);
	is_int(d_log_count(&d, "more than max_connections_per_second = 5"), 1,
	    "one log line for the episode");
	msleep(1100);
	is_int(request_from("127.0.0.1", d.broker_port, "PING", NULL, 0), 0,
	    "a second later, a new connection is served");
	/* A steady flood: some get in as the bucket fills, one episode. */
	in = 0;
	for (t0 = now_ms(); now_ms() - t0 < 1500; msleep(20)) {
		fd = tcp_connect(d.broker_port);
		if (request(fd, "PING", &r) == 0)
			in++;
		reply_free(&r);
		close(fd);
	}
	ok(in >= 2, "a steady flood at about 50 a second: %d served", in);
	is_int(d_log_count(&d, "more than max_connections_per_second = 5"), 2,
	    "one more episode, one more line");
	close(old);
	is_int(d_stop(&d, SIGTERM, 10000), 0, "daemon exits cleanly");
	d_cleanup(&d);
}

int
main(void)
{
	if (getenv("BROKERCTL") == NULL)
		bail("BROKERCTL must be set");
	test_lists();
	test_commands();
	test_rate();
	test_privileges();
	return done_testing();
}
