/*
 * The drain behind a load balancer (brokerd(8), LOAD BALANCERS): during
 * limits.drain_delay_s the health check fails and everything else is
 * served; then nothing a client had already reached is lost -- a
 * connection accepted just before, one still in the listen queue, the
 * first request of a broker connection, an echo client's data.
 *
 * Some cases need the daemon to accept a connection in a given turn of
 * its event loop.  The SLEEP verb (debug mode) holds the loop while the
 * test connects; libevent runs the I/O callbacks of a turn before its
 * signal callbacks and before its timers, which fixes the order.  The
 * log shows which path each connection took, and the tests check it, so
 * a change in that order fails them rather than testing something else.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/tap.h"

#define CONF \
	"listen = ( { service = \"echo\"; address = \"127.0.0.1\"; port = 0; },\n" \
	"  { service = \"broker\"; address = \"127.0.0.1\"; port = 0; } );\n" \
	"limits = { max_clients_per_source = 1000; drain_delay_s = %d; };\n"

/* "UPPER" with in as its input, all at once: no reply is read. */
static void
send_upper(int fd, const char *in)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "UPPER\nDATA %zu\n%sEND\n", strlen(in), in);
	send_all(fd, buf, strlen(buf));
}

/* Whether r is OK with exactly want as its data. */
static int
reply_is(const struct reply *r, const char *want)
{
	if (r->code == 0 && r->len == strlen(want) &&
	    memcmp(r->data, want, r->len) == 0)
		return 1;
	diag("reply: code %d \"%s\", %zu bytes of data", r->code, r->text,
	    r->len);
	return 0;
}

/* Sends msg on an echo connection, half-closes; whether all came back. */
static int
echo_back(int fd, const char *msg)
{
	char	*out;
	ssize_t	 n;
	int	 good;

	send_all(fd, msg, strlen(msg));
	shutdown(fd, SHUT_WR);
	n = read_to_eof(fd, &out, 10000);
	good = n == (ssize_t)strlen(msg) && memcmp(out, msg, (size_t)n) == 0;
	if (!good)
		diag("echo: %zd bytes back of %zu", n, strlen(msg));
	free(out);
	return good;
}

/* Where needle first occurs in the log (-1: nowhere), last if last. */
static long
log_pos(struct daemon *d, const char *needle, int last)
{
	char		*log = d_log(d), *p, *at = NULL;
	long		 pos;

	for (p = log; (p = strstr(p, needle)) != NULL; p++) {
		at = p;
		if (!last)
			break;
	}
	pos = at != NULL ? at - log : -1;
	free(log);
	return pos;
}

#ifdef HAVE_LIBSYSTEMD
/* The STATUS= messages that came within ms, as "STATUS=...|". */
static void
status_collect(int fd, char *seen, size_t size, int ms)
{
	char		buf[512];
	long long	t0 = now_ms();
	ssize_t		n;

	seen[0] = '\0';
	while (now_ms() - t0 < ms) {
		if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0) {
			msleep(10);
			continue;
		}
		buf[n] = '\0';
		if (strncmp(buf, "STATUS=", 7) != 0)
			continue;
		strncat(seen, buf, size - strlen(seen) - 2);
		strcat(seen, "|");
	}
}
#endif

/*
 * drain_delay_s: PING fails, everything else is served, listeners stay
 * open; systemd's status says so; then the listeners close.
 */
static void
test_delay(void)
{
	struct daemon	 d = { 0 };
	struct reply	 r;
	char		 conf[1024], seen[2048];
	/* Long enough for the checks below under valgrind too. */
	int		 delay = harness_wrapped() ? 8 : 2;
	int		 keep, fd, nfd = -1;
	long long	 t0, closed;

	snprintf(conf, sizeof(conf), CONF, delay);
#ifdef HAVE_LIBSYSTEMD
	nfd = notify_listen(&d);
#endif
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	unsetenv("NOTIFY_SOCKET");
	keep = tcp_connect(d.broker_port);
	is_int(request(keep, "PING", &r), 0, "before the signal: PING is OK");
	reply_free(&r);

	t0 = now_ms();
	kill(d.pid, SIGTERM);
	ok(d_log_wait(&d, "received Terminated: failing health checks (PING) "
	    "for", 1, 5000), "SIGTERM: the delay is logged");
	fd = tcp_connect(d.broker_port);
	ok(fd >= 0, "during drain_delay_s the broker listener still accepts");
	request(fd, "PING", &r);
	ok(r.code == 503 && strcmp(r.text, "draining") == 0,
	    "PING answers ERR 503 draining (got %d %s)", r.code, r.text);
	reply_free(&r);
	request(fd, "DF", &r);
	ok(r.code == 0 && r.len > 0, "the same connection's next request "
	    "(DF) is served");
	reply_free(&r);
	request(keep, "VERSION", &r);
	ok(r.code == 0 && strncmp(r.text, "brokerd ", 8) == 0,
	    "a connection from before the signal is served too");
	reply_free(&r);
	ok(echo_roundtrip(d.echo_port, "still serving"),
	    "the echo listener still accepts and echoes");
	ok(now_ms() - t0 < delay * 1000LL, "all of that within the delay "
	    "(%lld ms of %d s)", now_ms() - t0, delay);
#ifdef HAVE_LIBSYSTEMD
	status_collect(nfd, seen, sizeof(seen), 200);
	ok(strstr(seen, "STATUS=draining: failing health checks for ") !=
	    NULL, "systemd's STATUS says the health check fails (%s)", seen);
#else
	(void)seen;
	skip(1, "built without libsystemd: no STATUS= to check");
#endif

	ok(d_log_wait(&d, "drain_delay_s is over, draining", 1,
	    delay * 1000 + 5000), "then the drain proper begins");
	closed = now_ms() - t0;
	ok(closed >= delay * 1000LL - 50 && tcp_connect(d.broker_port) < 0,
	    "the listeners close after drain_delay_s (%lld ms)", closed);
	request(keep, "VERSION", &r);
	ok(r.code == 503 || r.code == -1, "a later request on an old "
	    "connection: ERR 503 or closed (got %d %s)", r.code, r.text);
	reply_free(&r);
#ifdef HAVE_LIBSYSTEMD
	status_collect(nfd, seen, sizeof(seen), 200);
	ok(strstr(seen, "STATUS=draining: not accepting") != NULL,
	    "systemd's STATUS says it no longer accepts (%s)", seen);
	close(nfd);
#else
	skip(1, "built without libsystemd: no STATUS= to check");
#endif
	is_int(d_stop(&d, 0, 10000), 0, "exit 0");
	close(fd);
	close(keep);
	d_cleanup(&d);
}

/*
 * Starts a debug daemon with drain_delay_s = 0 and holds its loop in a
 * SLEEP on *a; the caller connects meanwhile, then calls sleep_signal.
 */
static void
sleep_start(struct daemon *d, int *a)
{
	char conf[1024];

	snprintf(conf, sizeof(conf), CONF, 0);
	if (d_start(d, conf, "-d") != 0)
		bail("daemon did not start");
	*a = tcp_connect(d->broker_port);
	send_all(*a, "SLEEP 1000\n", 11);
	ok(d_log_wait(d, ": request SLEEP", 1, 5000), "the loop sleeps");
}

/* SIGTERM while it sleeps: what connected meanwhile is accepted first. */
static long long
sleep_signal(struct daemon *d, int a)
{
	struct reply	r;
	long long	t0 = now_ms();

	kill(d->pid, SIGTERM);
	is_int(read_reply(a, &r, 10000), 0, "SLEEP ends");
	reply_free(&r);
	ok(d_log_wait(d, "received Terminated, draining (at most", 1, 5000),
	    "drain_delay_s = 0: the drain begins at the signal");
	ok(tcp_connect(d->broker_port) < 0, "and the listeners are closed");
	ok(log_pos(d, ": connection accepted", 1) >= 0 &&
	    log_pos(d, ": connection accepted", 1) <
	    log_pos(d, "received Terminated", 0),
	    "the connections were accepted before the signal was handled");
	return t0;
}

/*
 * drain_delay_s = 0: the listeners close at the signal, as before; the
 * first request of a broker connection accepted just before is served,
 * also when it comes after the signal (a second request gets ERR 503);
 * PING, the health check, fails.
 */
static void
test_broker_before(void)
{
	struct daemon	 d = { 0 };
	struct reply	 r;
	int		 a, c, l, p;
	long long	 t0;

	sleep_start(&d, &a);
	/* The kernel completes these while the loop sleeps. */
	c = tcp_connect(d.broker_port);
	send_upper(c, "first request\n");
	send_all(c, "VERSION\n", 8);
	l = tcp_connect(d.broker_port);
	p = tcp_connect(d.broker_port);
	send_all(p, "PING\n", 5);
	t0 = sleep_signal(&d, a);
	read_reply(c, &r, 10000);
	ok(reply_is(&r, "FIRST REQUEST\n"), "a broker connection accepted "
	    "just before: its first request (UPPER) is served, byte-exact");
	reply_free(&r);
	read_reply(c, &r, 10000);
	ok(r.code == 503 && strcmp(r.text, "shutting down") == 0,
	    "its second request gets ERR 503 shutting down (got %d %s)",
	    r.code, r.text);
	reply_free(&r);
	read_reply(p, &r, 10000);
	ok(r.code == 503 && strcmp(r.text, "draining") == 0, "PING as a "
	    "first request: ERR 503 draining (got %d %s)", r.code, r.text);
	reply_free(&r);
	/* Only this one is left to hold the drain. */
	msleep(200);
	send_upper(l, "late first request\n");
	read_reply(l, &r, 10000);
	ok(reply_is(&r, "LATE FIRST REQUEST\n"), "one whose first request "
	    "comes %lld ms after the signal: served too", now_ms() - t0);
	reply_free(&r);
	is_int(d_stop(&d, 0, 10000), 0, "exit 0");
	ok(now_ms() - t0 < 5000, "within %lld ms of the signal",
	    now_ms() - t0);
	close(a);
	close(c);
	close(l);
	close(p);
	d_cleanup(&d);
}

/* An echo client accepted just before the signal, sending after it. */
static void
test_echo_before(void)
{
	struct daemon	 d = { 0 };
	int		 a, e;
	long long	 t0;

	sleep_start(&d, &a);
	e = tcp_connect(d.echo_port);
	t0 = sleep_signal(&d, a);
	msleep(300);
	ok(echo_back(e, "sent after the signal\n"), "an echo connection "
	    "accepted just before the signal: its data sent %lld ms after "
	    "comes back", now_ms() - t0);
	is_int(d_stop(&d, 0, 10000), 0, "exit 0");
	close(a);
	close(e);
	d_cleanup(&d);
}

/*
 * Connections still in the listen queues when drain_delay_s ends are
 * accepted and served, not reset.  A's SLEEP holds the loop past the
 * end of the delay; B's SLEEP then runs in the same turn as the delay's
 * timer, before it; C and E connect during B's SLEEP, so only the drain
 * itself can accept them.
 */
static void
test_listen_queue(void)
{
	struct daemon	 d = { 0 };
	struct reply	 r;
	char		 conf[1024];
	int		 a, b, c, e;

	snprintf(conf, sizeof(conf), CONF, 1);
	if (d_start(&d, conf, "-d") != 0)
		bail("daemon did not start");
	a = tcp_connect(d.broker_port);
	b = tcp_connect(d.broker_port);
	kill(d.pid, SIGTERM);
	if (!d_log_wait(&d, "failing health checks (PING) for 1 s", 1, 5000))
		bail("no drain_delay_s");
	send_all(a, "SLEEP 1500\n", 11);
	ok(d_log_wait(&d, ": request SLEEP", 1, 5000), "A's SLEEP began");
	send_all(b, "SLEEP 1000\n", 11);
	ok(d_log_wait(&d, ": request SLEEP", 2, 10000), "B's SLEEP began");
	c = tcp_connect(d.broker_port);
	ok(c >= 0, "C connects: into the broker listener's queue");
	send_upper(c, "from the queue\n");
	e = tcp_connect(d.echo_port);
	ok(e >= 0, "E connects: into the echo listener's queue");
	read_reply(c, &r, 10000);
	ok(reply_is(&r, "FROM THE QUEUE\n"), "C: its request is served "
	    "(UPPER, byte-exact), not reset");
	reply_free(&r);
	ok(echo_back(e, "queued echo\n"), "E: its data is echoed, not reset");
	/*
	 * Which turn of the loop accepts C and E rests on A's SLEEP starting
	 * within the 1 s delay; under valgrind the start-up of each request
	 * can take longer, and the listener may accept them before the drain.
	 */
	if (harness_wrapped())
		skip(1, "the daemon runs under BROKERD_WRAPPER (valgrind): "
		    "the loop turns this relies on are not the daemon's to "
		    "keep there; checked in the plain and ASan runs");
	else {
		ok(d_log_count(&d, "2 connections taken from the listen "
		    "queues") == 1, "the drain took both from the queues "
		    "(log)");
		if (d_log_count(&d, "taken from the listen queues") != 1)
			d_log_diag(&d, "draining");
	}
	is_int(read_reply(a, &r, 10000), 0, "A's SLEEP is answered");
	reply_free(&r);
	is_int(read_reply(b, &r, 10000), 0, "B's SLEEP is answered");
	reply_free(&r);
	is_int(d_stop(&d, 0, 10000), 0, "exit 0");
	close(a);
	close(b);
	close(c);
	close(e);
	d_cleanup(&d);
}

/* SIGINT skips the delay; a second signal ends the delay and the daemon. */
static void
test_sigint(void)
{
	struct daemon	 d = { 0 };
	char		 conf[1024];
	long long	 t0;

	snprintf(conf, sizeof(conf), CONF, 30);
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	t0 = now_ms();
	kill(d.pid, SIGINT);
	ok(d_log_wait(&d, "received Interrupt, draining (at most", 1, 5000) &&
	    tcp_connect(d.broker_port) < 0, "SIGINT: no drain_delay_s, the "
	    "listeners close at once");
	is_int(d_stop(&d, 0, 5000), 0, "exit 0");
	ok(now_ms() - t0 < 3000, "within %lld ms", now_ms() - t0);
	d_cleanup(&d);

	memset(&d, 0, sizeof(d));
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	kill(d.pid, SIGTERM);
	ok(d_log_wait(&d, "failing health checks (PING) for 30 s", 1, 5000),
	    "SIGTERM: a 30 s delay");
	t0 = now_ms();
	kill(d.pid, SIGTERM);
	is_int(d_stop(&d, 0, 5000), 0, "a second SIGTERM during it: exit 0");
	ok(now_ms() - t0 < 2000, "at once (%lld ms)", now_ms() - t0);
	d_cleanup(&d);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_delay();
	test_broker_before();
	test_echo_before();
	test_listen_queue();
	test_sigint();
	return done_testing();
}
