/* The echo service against the real daemon over real sockets. */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/tap.h"

#define CONF_FMT \
	"listen = ( { service = \"echo\"; address = \"127.0.0.1\"; " \
	"port = 0; }, { service = \"broker\"; address = \"127.0.0.1\"; " \
	"port = 0; } );\nlimits = { max_clients_per_source = 1000; %s };\n"

static char *
fill_random(size_t n, unsigned seed)
{
	char	*b = malloc(n);
	size_t	 i;

	srand(seed);
	for (i = 0; i < n; i++)
		b[i] = (char)(rand() >> 7);
	return b;
}

static void
test_basic(struct daemon *d)
{
	char	*out;
	ssize_t	 n;
	int	 fd;

	fd = tcp_connect(d->echo_port);
	ok(fd >= 0, "connect to echo");
	send_all(fd, "hello, world\n", 13);
	shutdown(fd, SHUT_WR);
	n = read_to_eof(fd, &out, 5000);
	ok(n == 13 && memcmp(out, "hello, world\n", 13) == 0,
	    "text echoed back, then EOF");
	free(out);
	close(fd);

	/* The seed's client: a message sent in parts, half-close, read. */
	fd = tcp_connect(d->echo_port);
	send_all(fd, "This is the message. ", 21);
	send_all(fd, "It will be sent ", 16);
	send_all(fd, "in parts.", 9);
	shutdown(fd, SHUT_WR);
	n = read_to_eof(fd, &out, 5000);
	ok(n == 46 && memcmp(out, "This is the message. It will be sent "
	    "in parts.", 46) == 0, "three writes come back concatenated");
	free(out);
	close(fd);

	fd = tcp_connect(d->echo_port);
	send_all(fd, "a\0b\0\xff\xfe\n\r", 8);
	shutdown(fd, SHUT_WR);
	n = read_to_eof(fd, &out, 5000);
	ok(n == 8 && memcmp(out, "a\0b\0\xff\xfe\n\r", 8) == 0,
	    "binary with NUL bytes echoed unchanged");
	free(out);
	close(fd);
}

static void
test_big_duplex(struct daemon *d)
{
	size_t	 len = 10 * 1024 * 1024;
	char	*buf = fill_random(len, 1), *back = malloc(len + 1);
	int	 fd = tcp_connect(d->echo_port), eof;

	ok(echo_duplex(fd, buf, len, 0, back, &eof, 60000) == len &&
	    memcmp(buf, back, len) == 0,
	    "10 MiB written and read at once, byte-exact");
	close(fd);
	free(buf);
	free(back);
}

static void
test_many(struct daemon *d)
{
	enum { N = 200 };
	int	fds[N], i, good = 0;
	char	msg[64], back[64];

	for (i = 0; i < N; i++) {
		fds[i] = tcp_connect(d->echo_port);
		snprintf(msg, sizeof(msg), "client %d says hi", i);
		if (fds[i] >= 0)
			send_all(fds[i], msg, strlen(msg));
	}
	for (i = 0; i < N; i++) {
		ssize_t n = 0, k;
		size_t	want;

		snprintf(msg, sizeof(msg), "client %d says hi", i);
		want = strlen(msg);
		if (fds[i] < 0)
			continue;
		while ((size_t)n < want &&
		    (k = read(fds[i], back + n, want - (size_t)n)) > 0)
			n += k;
		if ((size_t)n == want && memcmp(back, msg, want) == 0)
			good++;
		close(fds[i]);
	}
	is_int(good, N, "200 concurrent clients each get their own bytes");
}

/*
 * A client that only writes: the daemon must stop reading it (bounded
 * memory) and keep the connection, then give back every byte.
 */
static void
test_slow_reader(struct daemon *d)
{
	size_t		 len = 50 * 1024 * 1024, sent = 0, got = 0;
	char		*buf = fill_random(len, 7), *back = malloc(len + 1);
	int		 fd = tcp_connect(d->echo_port), eof;
	long long	 last = now_ms();
	long		 rss;
	ssize_t		 n;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (sent < len && now_ms() - last < 1000) {
		n = send(fd, buf + sent, len - sent, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			last = now_ms();
		} else if (n < 0 && errno != EAGAIN)
			break;
		else
			usleep(10000);
	}
	rss = proc_rss_kb(d->pid);
	ok(sent < len, "backpressure: the daemon stopped reading "
	    "(%zu of %zu bytes accepted)", sent, len);
	ok_rss(rss > 0 && rss < 32 * 1024, "daemon RSS %ld KiB < 32 MiB while "
	    "a client does not read", rss);
	/* Now read: everything comes back, the rest can be sent. */
	got = echo_duplex(fd, buf, len, sent, back, &eof, 60000);
	ok(got == len && memcmp(buf, back, len) == 0,
	    "connection stayed alive; all 50 MiB came back byte-exact");
	close(fd);
	free(buf);
	free(back);
}

static void
test_limits(void)
{
	struct daemon	 d = { 0 };
	char		 conf[1024], *out;
	int		 fds[3], fd, i, alive = 0;
	long long	 t0;
	ssize_t		 n;

	snprintf(conf, sizeof(conf), CONF_FMT,
	    "max_clients = 3; idle_timeout_s = 1;");
	if (d_start(&d, conf, "-d") != 0)
		bail("daemon did not start");
	for (i = 0; i < 3; i++)
		fds[i] = tcp_connect(d.echo_port);
	for (i = 0; i < 3; i++) {
		char c;

		send_all(fds[i], "x", 1);
		if (read(fds[i], &c, 1) == 1 && c == 'x')
			alive++;
	}
	is_int(alive, 3, "three clients served under max_clients = 3");
	fd = tcp_connect(d.echo_port);
	n = read_to_eof(fd, &out, 3000);
	ok(fd >= 0 && n == 0, "the fourth is accepted and closed at once");
	free(out);
	close(fd);
	ok(d_log_wait(&d, "max_clients reached: closing connection from "
	    "127.0.0.1:", 1, 2000), "refusal logged");

	/* The three stay idle: each is closed after idle_timeout_s. */
	t0 = now_ms();
	for (i = 0; i < 3; i++) {
		n = read_to_eof(fds[i], &out, 5000);
		free(out);
		close(fds[i]);
	}
	ok(now_ms() - t0 < 4500 && n == 0, "idle connections closed after "
	    "idle_timeout_s (%lld ms)", now_ms() - t0);
	ok(d_log_count(&d, "idle for 1 s, closing") == 3, "idle close logged");
	fd = tcp_connect(d.echo_port);
	send_all(fd, "ok", 2);
	shutdown(fd, SHUT_WR);
	n = read_to_eof(fd, &out, 3000);
	ok(n == 2, "a new client is served once the others are gone");
	free(out);
	close(fd);

	/* The debug lines of the seed's server. */
	ok(d_log_count(&d, "echo 127.0.0.1:") > 0 &&
	    d_log_count(&d, ": connection accepted") >= 4 &&
	    d_log_count(&d, ": received 2 bytes") >= 1 &&
	    d_log_count(&d, ": sent 2 bytes") >= 1 &&
	    d_log_count(&d, ": closing") >= 4,
	    "debug log: connection accepted, received, sent, closing");
	is_int(d_stop(&d, SIGTERM, 5000), 0, "SIGTERM: exit status 0");
	d_cleanup(&d);
}

int
main(void)
{
	struct daemon	d = { 0 };
	char		conf[1024];
	int		st, nfds;

	signal(SIGPIPE, SIG_IGN);
	snprintf(conf, sizeof(conf), CONF_FMT, "");
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	ok(d.echo_port > 0 && d.broker_port > 0,
	    "listening lines tell the ephemeral ports (%d, %d)", d.echo_port,
	    d.broker_port);
	nfds = proc_nfds(d.pid);
	test_basic(&d);
	test_big_duplex(&d);
	test_many(&d);
	test_slow_reader(&d);
	usleep(200000);
	is_int(proc_nfds(d.pid), nfds, "no fd leaked after all of that");
	ok(access(d.pidfile, F_OK) == 0, "pidfile written");
	st = d_stop(&d, SIGTERM, 10000);
	ok(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "SIGTERM: exits 0");
	ok(access(d.pidfile, F_OK) != 0, "pidfile removed on exit");
	ok(d_log_count(&d, "exited cleanly") == 1, "exit line logged");
	/* As root without user: brokerd.8, SECURITY (test_access checks it). */
	if (!ok(d_log_count(&d, "warning:") ==
	    d_log_count(&d, "warning: running as root") &&
	    d_log_count(&d, "error:") == 0, "no warnings or errors in the log")) {
		d_log_diag(&d, "warning:");
		d_log_diag(&d, "error:");
	}
	d_cleanup(&d);

	test_limits();
	return done_testing();
}
