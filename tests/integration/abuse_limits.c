/*
 * Abuse, limits: max_clients_per_source, max_clients, a connect burst
 * against the listen backlog, and a flood past RLIMIT_NOFILE.
 */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/abuse.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

void
test_per_source(void)
{
	static const char conf[] = LISTEN
	    "limits = { max_clients_per_source = 5; };\n";
	struct daemon	 d = { 0 };
	struct reply	 r;
	int		 a[5], b[5], fd, i, served = 0, served2 = 0, st;
	long long	 t0, el;
	char		 want[64];

	if (start_daemon(&d, conf) != 0)
		bail("per-source daemon did not start");
	for (i = 0; i < 5; i++) {
		a[i] = conn_to(d.broker_port);
		served += a[i] >= 0 && ping_fd(a[i], 3000);
	}
	is_int(served, 5, "max_clients_per_source = 5: five connections "
	    "from 127.0.0.1 served");
	t0 = now_ms();
	fd = conn_to(d.broker_port);
	st = read_reply(fd, &r, 3000);
	el = now_ms() - t0;
	ok(fd >= 0 && st == 429 && strcmp(r.text, "too many connections from "
	    "your address") == 0 && eof_within(fd, 3000) == 1 && el < 1000,
	    "the sixth from 127.0.0.1 is told ERR 429 and closed at once "
	    "(%lld ms)", el);
	reply_free(&r);
	close(fd);
	for (i = 0; i < 5; i++) {
		b[i] = conn_from("127.0.0.2", d.broker_port);
		served2 += b[i] >= 0 && ping_fd(b[i], 3000);
	}
	if (b[0] < 0)
		diag("cannot bind 127.0.0.2: %s", strerror(errno));
	is_int(served2, 5, "meanwhile five from 127.0.0.2 are served");
	fd = conn_from("127.0.0.2", d.broker_port);
	ok(fd >= 0 && read_reply(fd, &r, 3000) == 429 &&
	    eof_within(fd, 3000) == 1,
	    "the limit is per address: the sixth from 127.0.0.2 is refused");
	reply_free(&r);
	close(fd);
	is_int(stat_fd(a[0], "connections_refused_per_source"), 2,
	    "STATS connections_refused_per_source counts both");
	is_int(stat_fd(b[0], "connections"), 10,
	    "and the ten served are all still open");
	/* The second may come within a second: then the next line counts it. */
	ok(d_log_count(&d, "max_clients_per_source reached: closing "
	    "connection from 127.0.0.1:") == 1 &&
	    d_log_count(&d, "max_clients_per_source reached: closing "
	    "connection from ") <= 2, "the first refusal logged once, the "
	    "second at most once");
	/* A slot freed is a slot usable again. */
	close(a[4]);
	t0 = now_ms();
	do {
		fd = conn_to(d.broker_port);
		if (ping_fd(fd, 1000))
			break;
		close(fd);
		fd = -1;
		msleep(50);
	} while (now_ms() - t0 < 3000);
	ok(fd >= 0, "after one of the five closes, 127.0.0.1 is served "
	    "again (%lld ms)", now_ms() - t0);
	a[4] = fd;
	for (i = 0; i < 5; i++) {
		close(a[i]);
		close(b[i]);
	}
	/* Counts drop to zero: the full five again, twice over. */
	msleep(100);
	served = 0;
	for (i = 0; i < 5; i++) {
		a[i] = conn_to(d.broker_port);
		served += ping_fd(a[i], 3000);
	}
	is_int(served, 5, "all five slots free again once they all closed");
	for (i = 0; i < 5; i++)
		close(a[i]);
	fd = unix_connect(d.control);
	request(fd, "VERSION", &r);
	snprintf(want, sizeof(want), "brokerd %s", PACKAGE_VERSION);
	ok(r.code == 0 && strcmp(r.text, want) == 0,
	    "the control socket is unaffected");
	reply_free(&r);
	close(fd);
	is_int(d_stop(&d, SIGTERM, 5000), 0, "per-source daemon exits 0");
	note("per-source limit 5: 5 from 127.0.0.1 and 5 from 127.0.0.2 "
	    "served, the 6th of each refused at once and counted, slots "
	    "reused after closing");
	d_cleanup(&d);
}

/*
 * A burst of connects while the daemon is busy (here: stopped): the kernel
 * completes handshakes up to the listen backlog, which the daemon asks
 * to be SOMAXCONN.  Beyond it a connect stalls for a SYN retransmit (1 s,
 * then 3 s, ...), which under a flood means seconds for a client.
 */
void
test_backlog(void)
{
	enum { N = 300 };
	struct pollfd	 pfd;
	FILE		*f;
	int		 fds[N], i, est = 0, somax = 0, err;
	socklen_t	 len;

	if ((f = fopen("/proc/sys/net/core/somaxconn", "r")) != NULL) {
		if (fscanf(f, "%d", &somax) != 1)
			somax = 0;
		fclose(f);
	}
	if (somax < N + 10 || SOMAXCONN < N + 10) {
		skip(2, "net.core.somaxconn is below the burst size");
		return;
	}
	kill(D.pid, SIGSTOP);
	for (i = 0; i < N; i++)
		fds[i] = conn_nb(D.echo_port);
	msleep(300);
	for (i = 0; i < N; i++) {
		pfd.fd = fds[i];
		pfd.events = POLLOUT;
		err = -1;
		len = sizeof(err);
		if (fds[i] >= 0 && poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & POLLOUT) && getsockopt(fds[i], SOL_SOCKET,
		    SO_ERROR, &err, &len) == 0 && err == 0)
			est++;
	}
	kill(D.pid, SIGCONT);
	ok(est >= N - 5, "a burst of %d connects while the daemon is busy: "
	    "%d complete at once (listen backlog SOMAXCONN %d, not "
	    "libevent's default 128)", N, est, somax);
	for (i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ok(wait_fds(D.pid, D_idle, 8000), "the daemon accepts and closes "
	    "them all after it resumes (fds back to %d)", D_idle);
	note("connect burst: %d of %d handshakes completed while the daemon "
	    "was stopped", est, N);
}

/*
 * Refusals a log holds: its lines starting with what, each counting one
 * and the "(N more since the last message)" it carries.
 */
static long
refusals_logged(struct daemon *dm, const char *what)
{
	char		*log = d_log(dm), *p;
	const char	*more;
	long		 n = 0;

	for (p = log; (p = strstr(p, what)) != NULL; p += strlen(what)) {
		n++;
		more = strstr(p, " (");
		if (more != NULL && more < strchr(p, '\n') &&
		    strstr(more, "more since the last message)") != NULL)
			n += atol(more + 2);
	}
	free(log);
	return n;
}

/* max_clients = 50, 100 connections. */
void
test_max_clients(void)
{
	enum { N = 100, MAX = 50 };
	static const char conf[] = LISTEN
	    "limits = { max_clients = 50; max_clients_per_source = 1000; };\n";
	struct daemon	 d = { 0 };
	struct pollfd	 pfd[N];
	struct reply	 r;
	int		 fds[N], state[N], map[N];
	int		 i, np, refused = 0, served = 0, first = 1, fd, nlog;
	long long	 t0;

	if (start_daemon(&d, conf) != 0)
		bail("max_clients daemon did not start");
	for (i = 0; i < N; i++) {
		fds[i] = conn_to(d.echo_port);
		state[i] = 0;
	}
	/* Refused ones see EOF at once. */
	t0 = now_ms();
	while (now_ms() - t0 < 1000) {
		for (i = np = 0; i < N; i++)
			if (state[i] == 0) {
				pfd[np].fd = fds[i];
				pfd[np].events = POLLIN;
				map[np++] = i;
			}
		if (poll(pfd, (nfds_t)np, 100) <= 0)
			continue;
		for (i = 0; i < np; i++) {
			char	c;
			ssize_t	n;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = recv(pfd[i].fd, &c, 1, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno == ECONNRESET)) {
				state[map[i]] = 2;
				refused++;
			}
		}
	}
	for (i = 0; i < N; i++) {
		char c;

		if (state[i] != 0)
			continue;
		if (send_all(fds[i], "y", 1) == 1 && read_byte(fds[i], 2000,
		    &c) == 1 && c == 'y') {
			state[i] = 1;
			served++;
		}
		sum.sent++;
	}
	for (i = 0; i < N; i++)
		if ((state[i] == 1) != (i < MAX))
			first = 0;
	is_int(served, MAX, "max_clients = 50 with 100 connections: exactly "
	    "50 served");
	is_int(refused, N - MAX, "the other 50 closed at once, without data");
	ok(first, "the served ones are the first 50 to connect");
	/* 50 refusals in well under a second: one log line, not 50. */
	nlog = d_log_count(&d, "max_clients reached: closing connection");
	ok(nlog >= 1 && nlog <= 2, "the refusals are logged %d time(s), at "
	    "most once a second, not 50 times", nlog);
	fd = unix_connect(d.control);
	ok(fd >= 0 && stat_fd(fd, "connections_refused_max_clients") ==
	    N - MAX, "STATS over the control socket (exempt from "
	    "max_clients): connections_refused_max_clients 50");
	is_int(stat_fd(fd, "connections.echo"), MAX, "50 echo connections "
	    "open");
	close(fd);
	msleep(1100);
	fd = conn_to(d.echo_port);
	ok(eof_within(fd, 3000) == 1, "a refusal a second later...");
	close(fd);
	ok(d_log_wait(&d, "more since the last message)", 1, 2000) &&
	    refusals_logged(&d, "max_clients reached: closing connection") ==
	    N - MAX + 1, "...is logged with the count of those left out: "
	    "lines and counts add up to all %d refusals", N - MAX + 1);
	for (i = 0; i < N; i++)
		close(fds[i]);
	msleep(100);
	fd = conn_to(d.broker_port);
	send_all(fd, "PING\n", 5);
	read_reply(fd, &r, 3000);
	ok(r.code == 0, "after they close, a new client is served");
	reply_free(&r);
	close(fd);
	is_int(d_stop(&d, SIGTERM, 5000), 0, "max_clients daemon exits 0");
	note("max_clients 50: 100 connections, %d served, %d refused at "
	    "once", served, refused);
	d_cleanup(&d);
}

/* The daemon at RLIMIT_NOFILE 256, 1000 connections to echo. */
void
test_fd_flood(void)
{
	enum { N = 1000 };
	static const char conf[] = LISTEN
	    "limits = { max_clients = 10000; max_clients_per_source = 10000; "
	    "};\n";
	static int	 fds[N];
	static char	 served[N];
	static struct pollfd pfd[N];
	struct daemon	 d = { 0 };
	struct rlimit	 orig, low;
	long long	 ticks0, ticks1, t0, acc_err;
	char		*out;
	int		 i, nconn = 0, nserved = 0, base_fds, peak_fds, emfile;
	int		 resumed = 0, fd, wrapped;
	long		 nofile;
	ssize_t		 n;

	getrlimit(RLIMIT_NOFILE, &orig);
	low = orig;
	low.rlim_cur = 256;
	if (setrlimit(RLIMIT_NOFILE, &low) != 0)
		bail("setrlimit 256: %s", strerror(errno));
	/* Kept as it is: the daemon would raise it (brokerd(8), LIMITS). */
	setenv("BROKERD_NOFILE", "keep", 1);
	i = start_daemon(&d, conf);
	unsetenv("BROKERD_NOFILE");
	if (setrlimit(RLIMIT_NOFILE, &orig) != 0)
		bail("setrlimit back: %s", strerror(errno));
	if (i != 0)
		bail("fd-limit daemon did not start");
	/* Valgrind keeps a few fds for itself above the client's limit. */
	nofile = proc_nofile(d.pid);
	wrapped = harness_wrapped();
	ok(nofile == 256 || (wrapped && nofile > 256 && nofile <= 256 + 32),
	    "daemon runs with RLIMIT_NOFILE 256 (%ld%s)", nofile,
	    wrapped ? ", under a wrapper" : "");
	base_fds = proc_nfds(d.pid);

	for (i = 0; i < N; i++)
		if ((fds[i] = conn_nb(d.echo_port)) >= 0)
			nconn++;
	msleep(500);
	ok(d_log_wait(&d, "Too many open files", 1, 3000),
	    "%d connections opened past the limit: the accept error is "
	    "logged", nconn);
	ticks0 = proc_cpu_ticks(d.pid);
	msleep(2000);
	ticks1 = proc_cpu_ticks(d.pid);
	ok(ticks0 >= 0 && ticks1 - ticks0 < 50, "no busy loop at the fd "
	    "limit: %lld ticks of CPU in a 2 s hold", ticks1 - ticks0);
	peak_fds = proc_nfds(d.pid);
	ok(d_alive(&d) && peak_fds > 0 && peak_fds <= nofile,
	    "no crash; the daemon holds %d fds", peak_fds);
	/* The ones it accepted are served. */
	for (i = 0; i < N; i++)
		if (fds[i] >= 0 && send(fds[i], "x", 1, MSG_NOSIGNAL) == 1)
			sum.sent++;
	t0 = now_ms();
	while (now_ms() - t0 < 1500) {
		int np = 0, map[N];

		for (i = 0; i < N; i++)
			if (fds[i] >= 0 && !served[i]) {
				pfd[np].fd = fds[i];
				pfd[np].events = POLLIN;
				map[np++] = i;
			}
		if (poll(pfd, (nfds_t)np, 200) <= 0)
			continue;
		for (i = 0; i < np; i++) {
			char c;

			if ((pfd[i].revents & POLLIN) &&
			    recv(pfd[i].fd, &c, 1, MSG_DONTWAIT) == 1 &&
			    c == 'x') {
				served[map[i]] = 1;
				nserved++;
				sum.recv++;
			}
		}
	}
	ok(nserved > 100 && nserved < nconn, "%d of them served while at "
	    "the limit, the rest wait in the backlog", nserved);
	for (i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* Accepting resumes once fds are free. */
	t0 = now_ms();
	do {
		fd = conn_to(d.echo_port);
		send_all(fd, "after the flood", 15);
		shutdown(fd, SHUT_WR);
		n = read_to_eof(fd, &out, 1000);
		resumed = n == 15 && memcmp(out, "after the flood", 15) == 0;
		free(out);
		close(fd);
	} while (!resumed && now_ms() - t0 < 8000);
	exact(resumed, 15);
	ok(resumed, "once they close, accepting resumes: a new echo round "
	    "trip works (%lld ms)", now_ms() - t0);
	emfile = d_log_count(&d, "Too many open files");
	ok(emfile >= 1 && emfile <= 2, "the accept error was logged %d "
	    "time(s), not once per attempt", emfile);
	acc_err = stat_port(d.broker_port, "accept_errors");
	ok(acc_err > 0, "STATS accept_errors counts the failed accepts "
	    "(%lld)", acc_err);
	ok(wait_fds(d.pid, base_fds, 5000), "daemon fds back to %d",
	    base_fds);
	is_int(d_stop(&d, SIGTERM, 5000), 0, "fd-limit daemon exits 0");
	note("fd flood: %d connections to a daemon at RLIMIT_NOFILE 256: "
	    "%d served, %lld CPU ticks in a 2 s hold, %d log line(s), "
	    "resumed after close", nconn, nserved, ticks1 - ticks0, emfile);
	d_cleanup(&d);
}
