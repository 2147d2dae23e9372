/*
 * Abuse, slow clients: ones that trickle a request line (slowloris), say
 * nothing, or never read what they asked for, alone or by hundreds.
 * Timeouts must close them, memory must stay bounded, and a normal
 * client must be served promptly meanwhile.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proto.h"

#include "tests/integration/abuse.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

/* Fresh-connection PING, DF and echo, each timed. */
struct prompt {
	int		n, ping_ok, df_ok, echo_ok;
	long long	ping_max, df_max, echo_max;
};

static void
prompt_round(struct prompt *pr)
{
	struct reply	 r;
	char		 msg[1024], *out;
	long long	 t0, el;
	ssize_t		 n;
	size_t		 i;
	int		 fd;

	pr->n++;
	t0 = now_ms();
	pr->ping_ok += ping_port(D.broker_port);
	if ((el = now_ms() - t0) > pr->ping_max)
		pr->ping_max = el;

	t0 = now_ms();
	fd = conn_to(D.broker_port);
	sum.requests++;
	send_all(fd, "DF\n", 3);
	read_reply(fd, &r, 5000);
	pr->df_ok += r.code == 0 && strstr(r.data, "mounted_on") != NULL;
	reply_free(&r);
	close(fd);
	if ((el = now_ms() - t0) > pr->df_max)
		pr->df_max = el;

	t0 = now_ms();
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (char)(i * 7 + (size_t)pr->n);
	fd = conn_to(D.echo_port);
	send_all(fd, msg, sizeof(msg));
	shutdown(fd, SHUT_WR);
	n = read_to_eof(fd, &out, 5000);
	exact(n == (ssize_t)sizeof(msg) && memcmp(out, msg, sizeof(msg)) == 0,
	    sizeof(msg));
	pr->echo_ok += n == (ssize_t)sizeof(msg) &&
	    memcmp(out, msg, sizeof(msg)) == 0;
	sum.sent += sizeof(msg);
	sum.recv += n > 0 ? (size_t)n : 0;
	free(out);
	close(fd);
	if ((el = now_ms() - t0) > pr->echo_max)
		pr->echo_max = el;
}

/*
 * Slowloris: 500 connections each sending one byte of a request line per
 * second, plus 100 that send nothing, under request_timeout_s = 2 and
 * idle_timeout_s = 5.
 */
void
test_slowloris(void)
{
	enum { NS = 500, NQ = 100, N = NS + NQ };
	static const char line[] =
	    "VERSION-slowloris-trickle-that-never-ends-xxxxxxxxxxxxxxxxxxxx";
	static struct pollfd	pfd[N];
	static int		fds[N], idx[N];
	static long long	closed_at[N], conn_at[N];
	static char		rbuf[N][128];
	static size_t		rlen[N];
	struct prompt		pr = { 0 };
	long long		start, next_tick, next_check, now;
	long long		smin = -1, smax = 0, qmin = -1, qmax = 0;
	long long		idle_min = -1;
	int			i, nopen, n504 = 0, nclosed_s = 0, nclosed_q = 0;
	int			tick = 0, base_fds = D_idle, np;
	unsigned long		trickled = 0;

	/*
	 * In batches the daemon accepts before the next: beyond its listen
	 * backlog, connects would stall for a SYN retransmit and the timing
	 * would be the kernel's, not the daemon's.
	 */
	for (i = 0; i < N; i++) {
		/* Before: the daemon cannot have it earlier. */
		conn_at[i] = now_ms();
		fds[i] = conn_to(D.broker_port);
		closed_at[i] = -1;
		if (fds[i] < 0)
			bail("slowloris: connect %d: %s", i, strerror(errno));
		nonblock(fds[i], 1);
		if (i % 100 == 99) {
			long long t0 = now_ms();

			while (proc_nfds(D.pid) < base_fds + i + 1 &&
			    now_ms() - t0 < 3000)
				msleep(2);
		}
	}
	nopen = N;
	start = now_ms();
	next_tick = start;
	next_check = start + 500;
	while (nopen > 0 && now_ms() - start < 12000) {
		now = now_ms();
		if (now >= next_tick) {
			for (i = 0; i < NS; i++)
				if (closed_at[i] < 0 && send(fds[i],
				    &line[tick % (int)(sizeof(line) - 1)], 1,
				    MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
					trickled++;
			tick++;
			next_tick += 1000;
		}
		if (now >= next_check && pr.n < 6) {
			prompt_round(&pr);
			next_check += 1000;
		}
		np = 0;
		for (i = 0; i < N; i++)
			if (closed_at[i] < 0) {
				pfd[np].fd = fds[i];
				pfd[np].events = POLLIN;
				idx[np++] = i;
			}
		now = now_ms();
		{
			long long wait = next_tick - now;

			if (pr.n < 6 && next_check - now < wait)
				wait = next_check - now;
			if (wait < 0)
				wait = 0;
			if (wait > 100)
				wait = 100;
			if (poll(pfd, (nfds_t)np, (int)wait) <= 0)
				continue;
		}
		for (i = 0; i < np; i++) {
			int	 j = idx[i];
			ssize_t	 n;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(fds[j], rbuf[j] + rlen[j],
			    sizeof(rbuf[j]) - 1 - rlen[j]);
			if (n > 0) {
				rlen[j] += (size_t)n;
				rbuf[j][rlen[j]] = '\0';
				sum.recv += (size_t)n;
				if (rlen[j] < sizeof(rbuf[j]) - 1)
					continue;
			} else if (n < 0 && errno == EAGAIN)
				continue;
			if (n < 0 && getenv("ABUSE_VERBOSE") != NULL)
				diag("conn %d: %s", j, strerror(errno));
			closed_at[j] = now_ms() - start;
			close(fds[j]);
			nopen--;
			if (j < NS) {
				nclosed_s++;
				if (strcmp(rbuf[j], "ERR 504 request timed out\n")
				    == 0)
					n504++;
				if (smin < 0 || closed_at[j] < smin)
					smin = closed_at[j];
				if (closed_at[j] > smax)
					smax = closed_at[j];
			} else {
				nclosed_q++;
				if (rlen[j] != 0)
					diag("silent connection got \"%s\"",
					    rbuf[j]);
				if (qmin < 0 || closed_at[j] < qmin)
					qmin = closed_at[j];
				if (idle_min < 0 || start + closed_at[j] -
				    conn_at[j] < idle_min)
					idle_min = start + closed_at[j] - conn_at[j];
				if (closed_at[j] > qmax)
					qmax = closed_at[j];
			}
		}
	}
	for (i = 0; i < N; i++)
		if (closed_at[i] < 0)
			close(fds[i]);
	sum.sent += trickled;
	is_int(n504, NS, "slowloris: each of %d connections trickling a "
	    "request line at 1 byte/s gets exactly ERR 504 request timed out",
	    NS);
	ok(nclosed_s == NS && smin >= 1500 && smax <= 4500,
	    "and is closed after request_timeout_s = 2 (%d closed, first "
	    "%lld ms, last %lld ms)", nclosed_s, smin, smax);
	if (!(idle_min >= 4900) || getenv("ABUSE_VERBOSE") != NULL) {
		int h[13] = { 0 };

		for (i = NS; i < N; i++)
			if (closed_at[i] >= 0)
				h[closed_at[i] / 500 > 12 ? 12 :
				    closed_at[i] / 500]++;
		for (i = 0; i < 13; i++)
			if (h[i])
				diag("silent closed in [%d, %d) ms: %d", i * 500,
				    i * 500 + 500, h[i]);
	}
	ok(nclosed_q == NQ && idle_min >= 4900 && qmax <= 6500,
	    "%d silent connections closed after idle_timeout_s = 5 "
	    "(%d closed, %lld..%lld ms; at least %lld ms after connecting)",
	    NQ, nclosed_q, qmin, qmax, idle_min);
	ok(pr.n >= 4 && pr.ping_ok == pr.n && pr.ping_max < 1000,
	    "meanwhile a normal client's PING is served promptly "
	    "(%d of %d, slowest %lld ms)", pr.ping_ok, pr.n, pr.ping_max);
	ok(pr.n >= 4 && pr.df_ok == pr.n && pr.df_max < 1000,
	    "and its DF (%d of %d, slowest %lld ms)", pr.df_ok, pr.n,
	    pr.df_max);
	ok(pr.n >= 4 && pr.echo_ok == pr.n && pr.echo_max < 1000,
	    "and its echo, byte-exact (%d of %d, slowest %lld ms)",
	    pr.echo_ok, pr.n, pr.echo_max);
	ok(stat_port(D.broker_port, "connections_idle_closed") >= NQ,
	    "STATS connections_idle_closed counts the silent ones");
	ok(wait_fds(D.pid, base_fds, 5000), "daemon fd count back to %d",
	    base_fds);
	note("slowloris: %d connections trickling 1 byte/s (%lu bytes) all "
	    "got ERR 504 by %lld ms, %d silent ones idle-closed by %lld ms; "
	    "%d rounds of PING/DF/echo meanwhile, slowest %lld/%lld/%lld ms",
	    NS, trickled, smax, NQ, qmax, pr.n, pr.ping_max, pr.df_max,
	    pr.echo_max);
}

/*
 * A client that sends a big UPPER input but never reads: backpressure
 * pauses the child, memory stays bounded, the command timeout fires.
 */
void
test_never_read(void)
{
	static const char	 pat[] =
	    "the quick brown fox jumps over the lazy dog\n";
	const size_t		 plen = sizeof(pat) - 1, total = 64 * MIB;
	const size_t		 chunk = 64 * KIB;
	struct proto_parser	 p;
	struct proto_event	 ev;
	char			*wbuf = malloc(chunk + PROTO_DATA_HDR_MAX);
	char			 rbuf[65536], text[512];
	const char		*t;
	size_t			 queued = 0, wlen = 0, woff = 0, wire = 0;
	size_t			 got = 0, bad = 0, i, off, k;
	long long		 start, last, gone, ticks0, ticks1;
	long			 rss, maxrss = 0;
	pid_t			 cpid;
	char			 st;
	int			 base_fds = D_idle;
	int			 fd = conn_to(D.broker_port), code = -1, eof = 0;
	ssize_t			 n;

	nonblock(fd, 1);
	send(fd, "UPPER\n", 6, MSG_NOSIGNAL);
	start = last = now_ms();
	while (now_ms() - last < 1500 && now_ms() - start < 10000) {
		if (woff == wlen && queued < total) {
			size_t h = proto_data_header(wbuf, chunk);

			for (i = 0; i < chunk; i++)
				wbuf[h + i] = pat[(queued + i) % plen];
			wlen = h + chunk;
			woff = 0;
			queued += chunk;
		}
		if (woff == wlen)
			break;
		n = send(fd, wbuf + woff, wlen - woff, MSG_NOSIGNAL);
		if (n > 0) {
			woff += (size_t)n;
			wire += (size_t)n;
			last = now_ms();
		} else if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		else
			msleep(5);
		if ((rss = proc_rss_kb(D.pid)) > maxrss)
			maxrss = rss;
	}
	sum.sent += wire;
	cpid = stats_child_pid(D.broker_port, "upper", 2000);
	ticks0 = proc_cpu_ticks(cpid);
	msleep(300);
	ticks1 = proc_cpu_ticks(cpid);
	st = proc_state(cpid);
	if ((rss = proc_rss_kb(D.pid)) > maxrss)
		maxrss = rss;
	ok(wire < total / 2, "a client that never reads could push only "
	    "%zu of %zu input bytes: backpressure all the way back", wire,
	    total);
	ok(cpid > 0 && ticks0 >= 0 && ticks1 == ticks0 && st == 'S',
	    "the UPPER child (pid %d) is paused: sleeping (state %c), no CPU "
	    "used while its stdout pipe is full", (int)cpid, st);
	ok_rss(maxrss > 0 && maxrss < 48 * 1024, "daemon RSS stayed under "
	    "48 MiB (max %ld KiB)", maxrss);
	while (proc_nchildren(D.pid) != 0 && now_ms() - start < 10000)
		msleep(20);
	gone = now_ms() - start;
	ok(proc_nchildren(D.pid) == 0 && gone >= 2500 && gone <= 6500,
	    "command_timeout_s = 3 still fires: the child is gone %lld ms "
	    "after the request", gone);
	/* Now read what piled up: a byte-exact prefix, then the end. */
	snprintf(text, sizeof(text), "timeout");
	proto_init(&p, 8192, PROTO_MAX_FRAME);
	last = now_ms();
	while (code < 0 && !eof && now_ms() - last < 10000) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		if (poll(&pfd, 1, 500) <= 0)
			continue;
		if ((n = read(fd, rbuf, sizeof(rbuf))) < 0 && errno == EAGAIN)
			continue;
		if (n <= 0) {
			eof = 1;
			snprintf(text, sizeof(text), "closed");
			break;
		}
		sum.recv += (size_t)n;
		for (off = 0; off < (size_t)n && code < 0; off += k) {
			k = proto_feed(&p, rbuf + off, (size_t)n - off, &ev);
			if (ev.kind == PROTO_DATA) {
				for (i = 0; i < ev.len; i++)
					if (ev.data[i] !=
					    upc(pat[(got + i) % plen]))
						bad++;
				got += ev.len;
			} else if (ev.kind == PROTO_LINE) {
				code = proto_parse_final(ev.line, &t);
				snprintf(text, sizeof(text), "%s", ev.line);
			}
		}
	}
	proto_free(&p);
	ok((code == 504 && strstr(text, "timed out") != NULL) ||
	    (code < 0 && eof), "the connection then gets %s (%s)",
	    code == 504 ? "ERR 504" : "closed", text);
	ok(got > 0 && bad == 0, "the %zu bytes of output that had piled up "
	    "are byte-exact", got);
	exact(got > 0 && bad == 0, got);
	close(fd);
	free(wbuf);
	ok(wait_fds(D.pid, base_fds, 5000), "daemon fds back to %d",
	    base_fds);
	note("never-reading UPPER client: %zu of 64 MiB accepted before "
	    "backpressure, child paused, daemon RSS max %ld KiB, child gone "
	    "after %lld ms (command_timeout_s 3), %zu output bytes exact",
	    wire, maxrss, gone, got);
	check_alive("a client that never reads");
}

/*
 * A client that pipelines requests and never reads: the daemon stops
 * reading it, memory stays bounded, and the write side's idle timeout
 * (idle_timeout_s = 5) closes it.
 */
void
test_never_read_pipelined(void)
{
	char		 buf[6000];
	size_t		 sent = 0, i;
	long long	 start = now_ms(), last = start, stalled, closed = -1;
	long		 rss, maxrss = 0;
	int		 fd = conn_to(D.broker_port);
	ssize_t		 n;

	for (i = 0; i < sizeof(buf); i += 6)
		memcpy(buf + i, "STATS\n", 6);
	nonblock(fd, 1);
	while (now_ms() - last < 1000 && now_ms() - start < 10000) {
		n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			last = now_ms();
		} else if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		else
			msleep(5);
		if ((rss = proc_rss_kb(D.pid)) > maxrss)
			maxrss = rss;
	}
	stalled = last;
	sum.sent += sent;
	ok(now_ms() - last >= 1000, "a client pipelining STATS without "
	    "reading is stopped after %zu requests", sent / 6);
	ok_rss(maxrss > 0 && maxrss < 48 * 1024, "daemon RSS stayed under "
	    "48 MiB (max %ld KiB)", maxrss);
	while (now_ms() - start < 15000) {
		if (stat_port(D.broker_port, "connections.broker") == 1) {
			closed = now_ms() - stalled;
			break;
		}
		msleep(100);
	}
	ok(closed >= 3500 && closed <= 7500, "the connection is closed by "
	    "idle_timeout_s = 5 on its stuck output (%lld ms after the "
	    "client stalled)", closed);
	close(fd);
	note("never-reading pipelining client: %zu STATS accepted, RSS max "
	    "%ld KiB, closed %lld ms after stalling", sent / 6, maxrss,
	    closed);
}

/*
 * 500 clients that pipeline STATS and never read: each holds at most the
 * daemon's per-connection bound of buffered input and output (brokerd(8),
 * LIMITS), however much it sends, so max_clients of them fit the unit's
 * MemoryMax.  Small socket buffers on our side keep the kernel's share,
 * which RSS does not show, small and the test quick.
 */
void
test_never_read_many(void)
{
	enum { NMAX = 500, MAX_CLIENTS = 1024 };
	static const char conf[] = LISTEN
	    "limits = { max_clients = 1024; max_clients_per_source = 1024;\n"
	    "  idle_timeout_s = 60; };\n";
	static int	 fds[NMAX];
	struct daemon	 d = { 0 };
	struct reply	 r;
	char		 buf[6 * 1024];
	long		 base, open_rss, rss, maxrss = 0, per, fixed, bound;
	long long	 start, last, sent = 0, t0, t, ticks, cpu_at;
	ssize_t		 n;
	size_t		 i;
	int		 k, small = 4096, fd, busy, stopped, N = NMAX;

	for (i = 0; i < sizeof(buf); i += 6)
		memcpy(buf + i, "STATS\n", 6);
	if (start_daemon(&d, conf) != 0)
		bail("daemon (never-reading clients) did not start");
	/* Under valgrind RSS means nothing (ok_rss skips): fewer clients. */
	if (harness_wrapped())
		N = 50;
	fd = conn_to(d.broker_port);
	request(fd, "STATS", &r);	/* the reply's buffers, once */
	reply_free(&r);
	close(fd);
	msleep(100);
	base = proc_rss_kb(d.pid);
	for (k = 0; k < N; k++) {
		struct sockaddr_in sin;

		fds[k] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fds[k], SOL_SOCKET, SO_SNDBUF, &small,
		    sizeof(small));
		setsockopt(fds[k], SOL_SOCKET, SO_RCVBUF, &small,
		    sizeof(small));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)d.broker_port);
		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		if (connect(fds[k], (struct sockaddr *)&sin, sizeof(sin)) != 0)
			bail("connect %d: %s", k, strerror(errno));
		nonblock(fds[k], 1);
		sum.conns++;
	}
	t0 = now_ms();
	while (stat_port(d.broker_port, "connections.broker") != N + 1 &&
	    now_ms() - t0 < 10000)
		msleep(50);
	open_rss = proc_rss_kb(d.pid);
	start = last = now_ms();
	ticks = proc_cpu_ticks(d.pid);
	cpu_at = start;
	for (;;) {
		/*
		 * Stopped: no client could send for 1 s, and the daemon used
		 * no CPU for the last 500 ms.  On a loaded machine the second
		 * can come seconds later: the daemon is still working through
		 * what it read, and a PING then would wait behind all of it.
		 */
		if ((t = proc_cpu_ticks(d.pid)) != ticks) {
			ticks = t;
			cpu_at = now_ms();
		}
		if ((stopped = now_ms() - last >= 1000 &&
		    now_ms() - cpu_at >= 500) || now_ms() - start >= 60000)
			break;
		busy = 0;
		for (k = 0; k < N; k++) {
			n = send(fds[k], buf, sizeof(buf), MSG_NOSIGNAL);
			if (n > 0) {
				sent += n;
				busy = 1;
			}
		}
		if (busy)
			last = now_ms();
		else
			msleep(20);
		if ((rss = proc_rss_kb(d.pid)) > maxrss)
			maxrss = rss;
	}
	sum.sent += (unsigned long long)sent;
	msleep(200);
	if ((rss = proc_rss_kb(d.pid)) > maxrss)
		maxrss = rss;
	fixed = (open_rss - base) * 1024 / N;
	per = (maxrss - base) * 1024 / N;
	ok(stopped, "%d clients pipelining STATS without reading are all "
	    "stopped, after %lld KiB each; the daemon idle %lld ms after "
	    "the last send", N, sent / 1024 / N,
	    cpu_at > last ? cpu_at - last : 0);
	/*
	 * 64 KiB of input, 64 KiB of replies and their chains: 145 KiB
	 * measured.  ASan's allocator adds redzones and its quarantine.
	 */
	bound = proc_maps(d.pid, "libasan") ? 256 : 160;
	if (bound != 160)
		diag("the daemon runs with ASan: RSS bound %ld KiB", bound);
	ok_rss(maxrss > 0 && per <= bound * 1024, "daemon RSS per "
	    "never-reading client at most %ld KiB: %ld KiB (%ld bytes idle), "
	    "RSS %ld -> %ld KiB; %d clients (max_clients) would take %ld MiB, "
	    "under the unit's MemoryMax=384M with the kernel's socket buffers",
	    bound,
	    per / 1024, fixed, base, maxrss, MAX_CLIENTS,
	    (base + (long)MAX_CLIENTS * per / 1024) / 1024);
	/*
	 * Served, not fast: the bound is the wait, not a speed (before the
	 * wait for an idle daemon above, a PING on a loaded 2-core machine
	 * took 2-10 s behind the daemon's backlog).
	 */
	t0 = now_ms();
	if ((fd = conn_to(d.broker_port)) >= 0) {
		k = ping_fd(fd, 10000);
		close(fd);
	} else
		k = 0;
	t0 = now_ms() - t0;
	ok(k, "a new client is served meanwhile (%s, %lld ms)",
	    k ? "pong" : "no pong", t0);
	for (k = 0; k < N; k++)
		close(fds[k]);
	is_int(d_stop(&d, SIGTERM, 10000), 0, "daemon (never-reading "
	    "clients) exits 0");
	note("%d never-reading STATS pipeliners: %lld KiB sent each, daemon "
	    "RSS %ld -> %ld KiB, %ld KiB per client", N, sent / 1024 / N,
	    base, maxrss, per / 1024);
	d_cleanup(&d);
}
