/*
 * loadgen: the benchmark's load generator.  One thread and epoll drive
 * many connections to an echo server:
 *
 *   echo       each connection writes a SIZE-byte message, waits for the
 *              whole echo (checked byte for byte), and repeats: msgs/s
 *              and latency percentiles from a histogram.
 *   halfclose  connect, write, shutdown(SHUT_WR), read to EOF, close, like
 *              the seed's client: connections/s and their latency.
 *   idle       open CONNS connections, one byte round trip on each so the
 *              server has really set them up, then hold them: with -P,
 *              the server's RSS per connection.
 *   handshake  (needs -T) connect, a full TLS 1.3 handshake, close_notify,
 *              read until the server's close_notify or EOF, close, and
 *              again: handshakes/s and their latency.
 *
 * -T speaks TLS 1.3 (echo: the handshakes are done before the window;
 * the server's certificate is not verified: the server is measured).
 *
 * With -P PID, the server's utime+stime is read from /proc/PID/stat at the
 * start and end of the measured window: its CPU microseconds per message.
 * One line of key=value pairs goes to stdout.
 */
#include "autoconf.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/bench/benchutil.h"
#ifdef HAVE_TLS
#include <openssl/err.h>

#include "tests/bench/benchtls.h"
#endif

#define MAXEV		256
#define RBUF_SIZE	(256 * 1024)
#define IDLE_INFLIGHT	256	/* handshakes + pings at once in idle mode */

enum mode { MODE_ECHO, MODE_HALFCLOSE, MODE_IDLE, MODE_HANDSHAKE };
enum cstate { C_CONNECTING, C_HANDSHAKE, C_WAITING, C_HELD };

struct lconn {
	int		 fd;
#ifdef HAVE_TLS
	SSL		*ssl;		/* -T */
#endif
	int		 armed_out;	/* EPOLLOUT in the interest set */
	enum cstate	 state;
	size_t		 sent;
	size_t		 rcvd;
	long long	 t0;
};

static struct sockaddr_in	 addr;
static enum mode		 mode = MODE_ECHO;
static int			 nconns = 1;
static size_t			 msgsize = 128;
static double			 duration = 2.0, warmup = 0.5;
static pid_t			 srvpid;
static int			 verify = 1;
static int			 nsrc;		/* -S: source addresses */
static int			 use_tls;	/* -T */
#ifdef HAVE_TLS
static SSL_CTX			*tls_ctx;
#endif
static int			 ep;
static char			*msg;
static char			 rbuf[RBUF_SIZE];

/* The measured window. */
static int			 measuring;
static long long		 w_end_target;
static unsigned long long	 done_ops, errors;
static struct hist		 lat;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen -p port [-H host] "
	    "[-m echo|halfclose|idle|handshake] [-c conns]\n"
	    "               [-s size] [-d seconds] [-w warmup] "
	    "[-P server_pid] [-S nsrc] [-N] [-T]\n"
	    "  -N  do not check the echoed bytes\n"
	    "  -S  spread connections over 127.0.0.2 .. 127.0.0.nsrc+1\n"
	    "  -T  TLS 1.3 (echo, handshake)\n");
	exit(2);
}

/*
 * With -S N, connections come from 127.0.0.2 .. 127.0.0.N+1 in turn: each
 * source has its own ephemeral ports, so thousands of short connections
 * do not queue up behind TIME_WAIT entries for one port space.
 */
static const struct in_addr *
next_src(void)
{
	static struct in_addr	src;
	static int		i;

	if (nsrc <= 0)
		return NULL;
	src.s_addr = htonl(0x7f000002u + (unsigned)(i++ % nsrc));
	return &src;
}

static void
ep_ctl(int op, struct lconn *c, unsigned events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(ep, op, c->fd, &ev) != 0)
		bench_die("epoll_ctl: %s", strerror(errno));
}

static void
complete(struct lconn *c, long long t)
{
	if (!measuring)
		return;
	done_ops++;
	hist_add(&lat, (unsigned long long)(t - c->t0));
}

/*
 * One read or write, plain or TLS: bytes, 0 at EOF (read), or -1 when it
 * must wait, with *want the event it waits for.  Dies on errors.
 */
static ssize_t
lc_io(struct lconn *c, int writing, void *buf, size_t len, unsigned *want)
{
	ssize_t	n;
#ifdef HAVE_TLS
	int	w;

	if (c->ssl != NULL) {
		n = writing ? btls_write(c->ssl, buf, len, &w) :
		    btls_read(c->ssl, buf, len, &w);
		*want = (unsigned)w;
		return n;
	}
#endif
	for (;;) {
		n = writing ? write(c->fd, buf, len) : read(c->fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EAGAIN) {
			*want = writing ? EPOLLOUT : EPOLLIN;
			return -1;
		}
		if (errno != EINTR)
			bench_die("%s: %s", writing ? "write" : "read",
			    strerror(errno));
	}
}

/* Echo mode: EPOLLOUT armed or not, EPOLLIN always. */
static void
echo_arm(struct lconn *c, int out)
{
	if (out != c->armed_out) {
		ep_ctl(EPOLL_CTL_MOD, c, EPOLLIN | (out ? EPOLLOUT : 0));
		c->armed_out = out;
	}
}

/* Echo mode: writes what is left of the current message. */
static void
echo_write(struct lconn *c)
{
	unsigned want;
	ssize_t	 n;

	while (c->sent < msgsize) {
		n = lc_io(c, 1, msg + c->sent, msgsize - c->sent, &want);
		if (n < 0) {
			/* TLS may want to read first: EPOLLIN is armed. */
			echo_arm(c, (want & EPOLLOUT) != 0);
			return;
		}
		c->sent += (size_t)n;
	}
	echo_arm(c, 0);
}

static void
echo_start_msg(struct lconn *c, long long t)
{
	c->t0 = t;
	c->sent = 0;
	c->rcvd = 0;
	echo_write(c);
}

static void
echo_read(struct lconn *c)
{
	unsigned wait;
	size_t	 want;
	ssize_t	 n;

	for (;;) {
		want = msgsize - c->rcvd;
		n = lc_io(c, 0, rbuf, sizeof(rbuf), &wait);
		if (n < 0) {
			if (wait & EPOLLOUT)
				echo_arm(c, 1);
			return;
		}
		if (n == 0)
			bench_die("server closed a connection");
		if ((size_t)n > want)
			bench_die("server sent %zd bytes, %zu expected", n,
			    want);
		if (verify && memcmp(rbuf, msg + c->rcvd, (size_t)n) != 0)
			bench_die("echoed bytes differ at offset %zu",
			    c->rcvd);
		c->rcvd += (size_t)n;
		if (c->rcvd == msgsize) {
			long long t = now_ns();

			complete(c, t);
			if (t < w_end_target || !measuring)
				echo_start_msg(c, t);
			return;
		}
		if ((size_t)n < want)
			return;		/* the rest is not here yet */
	}
}

#ifdef HAVE_TLS
/* Handshake mode: one connection's life, started again when it ends. */
static void
hs_start(struct lconn *c)
{
	c->t0 = now_ns();
	c->state = C_CONNECTING;
	if ((c->fd = bench_connect(&addr, next_src(), 1)) < 0)
		bench_die("connect: %s", strerror(errno));
	if ((c->ssl = SSL_new(tls_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		bench_die("SSL_new: %s", btls_reason());
	ep_ctl(EPOLL_CTL_ADD, c, EPOLLOUT);
}

/* -1: wait for the event SSL wants (set here); 0: r was no WANT. */
static int
hs_want(struct lconn *c, int r)
{
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		ep_ctl(EPOLL_CTL_MOD, c, EPOLLIN);
		return -1;
	case SSL_ERROR_WANT_WRITE:
		ep_ctl(EPOLL_CTL_MOD, c, EPOLLOUT);
		return -1;
	}
	return 0;
}

/*
 * Connect, handshake, send close_notify, read to the server's
 * close_notify or EOF: one full handshake, as the server counts it.
 */
static void
hs_event(struct lconn *c)
{
	socklen_t len = sizeof(int);
	char	  buf[512];
	size_t	  n;
	int	  r, err = 0;

	if (c->state == C_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		    err != 0)
			bench_die("connect: %s", strerror(err ? err : errno));
		c->state = C_HANDSHAKE;
	}
	if (c->state == C_HANDSHAKE) {
		ERR_clear_error();
		if ((r = SSL_connect(c->ssl)) != 1) {
			if (hs_want(c, r) == 0)
				bench_die("TLS handshake: %s", btls_reason());
			return;
		}
		c->state = C_WAITING;
	}
	if (c->state == C_WAITING) {
		/* A second call after WANT_WRITE sends what is left. */
		ERR_clear_error();
		if ((r = SSL_shutdown(c->ssl)) < 0 && hs_want(c, r) == -1)
			return;
		c->state = C_HELD;
	}
	do {
		ERR_clear_error();
		r = SSL_read_ex(c->ssl, buf, sizeof(buf), &n);
	} while (r == 1);
	if (hs_want(c, r) == -1)
		return;
	complete(c, now_ns());
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->fd = -1;
	if (!measuring || now_ns() < w_end_target)
		hs_start(c);
}
#endif

/* Halfclose mode: one connection's life, started again when it ends. */
static void
hc_start(struct lconn *c)
{
	c->t0 = now_ns();
	c->sent = c->rcvd = 0;
	c->state = C_CONNECTING;
	if ((c->fd = bench_connect(&addr, next_src(), 1)) < 0)
		bench_die("connect: %s", strerror(errno));
	ep_ctl(EPOLL_CTL_ADD, c, EPOLLOUT);
}

static void
hc_event(struct lconn *c, unsigned events)
{
	struct linger	lg = { 1, 0 };
	socklen_t	len = sizeof(int);
	ssize_t		n;
	int		err = 0;

	if (c->state == C_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
		    err != 0)
			bench_die("connect: %s", strerror(err ? err : errno));
		if (!(events & EPOLLOUT))
			return;
		while (c->sent < msgsize) {
			n = write(c->fd, msg + c->sent, msgsize - c->sent);
			if (n < 0 && errno == EAGAIN)
				return;
			if (n < 0)
				bench_die("write: %s", strerror(errno));
			c->sent += (size_t)n;
		}
		if (shutdown(c->fd, SHUT_WR) != 0)
			bench_die("shutdown: %s", strerror(errno));
		c->state = C_WAITING;
		ep_ctl(EPOLL_CTL_MOD, c, EPOLLIN);
		return;
	}
	for (;;) {
		n = read(c->fd, rbuf, sizeof(rbuf));
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0)
			bench_die("read: %s", strerror(errno));
		if (n == 0)
			break;
		if (verify && (c->rcvd + (size_t)n > msgsize ||
		    memcmp(rbuf, msg + c->rcvd, (size_t)n) != 0))
			bench_die("echoed bytes differ at offset %zu",
			    c->rcvd);
		c->rcvd += (size_t)n;
	}
	if (c->rcvd != msgsize) {
		errors++;
		fprintf(stderr, "loadgen: short echo: %zu of %zu bytes\n",
		    c->rcvd, msgsize);
	} else
		complete(c, now_ns());
	/* No TIME_WAIT pile-up over thousands of connections. */
	(void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->fd);
	c->fd = -1;
	if (!measuring || now_ns() < w_end_target)
		hc_start(c);
}

static void
print_common(const char *name, double secs, long long srv_us,
    long long cli_us)
{
	double rate = secs > 0 ? (double)done_ops / secs : 0;

	printf("mode=%s conns=%d size=%zu secs=%.3f ops=%llu rate=%.0f "
	    "p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f errors=%llu",
	    name, nconns, msgsize, secs, done_ops, rate,
	    hist_quantile_us(&lat, 0.50), hist_quantile_us(&lat, 0.90),
	    hist_quantile_us(&lat, 0.99), lat.max / 1000.0, errors);
	if (done_ops > 0) {
		if (srv_us >= 0)
			printf(" srv_cpu_us=%lld srv_us_op=%.2f srv_util=%.2f",
			    srv_us, (double)srv_us / (double)done_ops,
			    (double)srv_us / (secs * 1e6));
		printf(" cli_us_op=%.2f cli_util=%.2f",
		    (double)cli_us / (double)done_ops,
		    (double)cli_us / (secs * 1e6));
	}
	printf("\n");
}

/* Runs echo, halfclose or handshake with a warm-up, then the window. */
static void
run_timed(void)
{
	struct epoll_event	 evs[MAXEV];
	struct lconn		*conns, *c;
	long long		 t, t_meas, w0 = 0, w1, srv0 = -1, srv1;
	long long		 cli0 = 0, cli1;
	int			 i, n;

	conns = calloc((size_t)nconns, sizeof(*conns));
	if (conns == NULL)
		bench_die("out of memory");
	t = now_ns();
	t_meas = t + (long long)(warmup * 1e9);
	w_end_target = t_meas + (long long)(duration * 1e9);
	for (i = 0; i < nconns; i++) {
		c = &conns[i];
		if (mode == MODE_HALFCLOSE) {
			hc_start(c);
			continue;
		}
#ifdef HAVE_TLS
		if (mode == MODE_HANDSHAKE) {
			hs_start(c);
			continue;
		}
#endif
		if ((c->fd = bench_connect(&addr, next_src(), 0)) < 0)
			bench_die("connect: %s", strerror(errno));
#ifdef HAVE_TLS
		/* Before the window: echo over TLS measures the messages. */
		if (use_tls)
			c->ssl = btls_connect(tls_ctx, c->fd);
#endif
		if (set_nonblock(c->fd) != 0)
			bench_die("fcntl: %s", strerror(errno));
		ep_ctl(EPOLL_CTL_ADD, c, EPOLLIN);
	}
	if (mode == MODE_ECHO)
		for (i = 0; i < nconns; i++)
			echo_start_msg(&conns[i], now_ns());
	for (;;) {
		n = epoll_wait(ep, evs, MAXEV, 100);
		if (n < 0 && errno != EINTR)
			bench_die("epoll_wait: %s", strerror(errno));
		t = now_ns();
		if (!measuring && t >= t_meas) {
			measuring = 1;
			done_ops = 0;
			hist_reset(&lat);
			if (srvpid > 0)
				srv0 = proc_cpu_us(srvpid, NULL);
			cli0 = self_cpu_us();
			w0 = now_ns();
		}
		if (measuring && t >= w_end_target)
			break;
		for (i = 0; i < n; i++) {
			c = evs[i].data.ptr;
			if (mode == MODE_HALFCLOSE) {
				hc_event(c, evs[i].events);
				continue;
			}
#ifdef HAVE_TLS
			if (mode == MODE_HANDSHAKE) {
				hs_event(c);
				continue;
			}
#endif
			/* TLS: either event may be the one the other waits on. */
			if ((evs[i].events & EPOLLOUT) ||
			    (use_tls && c->sent < msgsize))
				echo_write(c);
			if ((evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ||
			    use_tls)
				echo_read(c);
		}
	}
	w1 = now_ns();
	srv1 = srvpid > 0 ? proc_cpu_us(srvpid, NULL) : -1;
	cli1 = self_cpu_us();
	print_common(mode == MODE_ECHO ? (use_tls ? "tls-echo" : "echo") :
	    mode == MODE_HALFCLOSE ? "halfclose" : "handshake",
	    (double)(w1 - w0) / 1e9, srv0 >= 0 && srv1 >= 0 ? srv1 - srv0 :
	    -1, cli1 - cli0);
	for (i = 0; i < nconns; i++) {
#ifdef HAVE_TLS
		SSL_free(conns[i].ssl);
#endif
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	}
	free(conns);
}

/* Idle mode: all connections up and pinged, then the server's RSS. */
static void
run_idle(void)
{
	struct epoll_event	 evs[MAXEV];
	struct lconn		*conns, *c;
	long long		 t0, t1;
	long			 rss0 = -1, rss1 = -1;
	int			 i, n, next = 0, inflight = 0, held = 0;
	int			 dropped = 0;
	ssize_t			 r;
	socklen_t		 len;
	int			 err;

	conns = calloc((size_t)nconns, sizeof(*conns));
	if (conns == NULL)
		bench_die("out of memory");
	if (srvpid > 0)
		rss0 = proc_status_kb(srvpid, "VmRSS");
	t0 = now_ns();
	while (held < nconns) {
		while (next < nconns && inflight < IDLE_INFLIGHT) {
			c = &conns[next++];
			if ((c->fd = bench_connect(&addr, next_src(), 1)) < 0)
				bench_die("connect #%d: %s", next,
				    strerror(errno));
			c->state = C_CONNECTING;
			ep_ctl(EPOLL_CTL_ADD, c, EPOLLOUT);
			inflight++;
		}
		n = epoll_wait(ep, evs, MAXEV, 10000);
		if (n < 0 && errno != EINTR)
			bench_die("epoll_wait: %s", strerror(errno));
		if (n == 0)
			bench_die("idle: no progress for 10 s (%d of %d up)",
			    held, nconns);
		for (i = 0; i < n; i++) {
			c = evs[i].data.ptr;
			if (c->state == C_CONNECTING) {
				len = sizeof(err);
				if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR,
				    &err, &len) != 0 || err != 0)
					bench_die("connect: %s",
					    strerror(err ? err : errno));
				if (write(c->fd, "x", 1) != 1)
					bench_die("write: %s", strerror(errno));
				c->state = C_WAITING;
				ep_ctl(EPOLL_CTL_MOD, c, EPOLLIN);
			} else if (c->state == C_WAITING) {
				r = read(c->fd, rbuf, sizeof(rbuf));
				if (r < 0 && errno == EAGAIN)
					continue;
				if (r != 1)
					bench_die("idle: connection #%d: %s",
					    (int)(c - conns) + 1, r < 0 ?
					    strerror(errno) : r == 0 ?
					    "closed by the server" :
					    "bad echo");
				c->state = C_HELD;
				inflight--;
				held++;
			} else {
				dropped++;
				if (epoll_ctl(ep, EPOLL_CTL_DEL, c->fd,
				    NULL) != 0)
					bench_die("epoll_ctl: %s",
					    strerror(errno));
			}
		}
	}
	t1 = now_ns();
	if (srvpid > 0)
		rss1 = proc_status_kb(srvpid, "VmRSS");
	/* Hold them; a server that drops one shows up as EOF here. */
	if (duration > 0) {
		n = epoll_wait(ep, evs, MAXEV, (int)(duration * 1000));
		for (i = 0; i < n; i++)
			dropped++;
	}
	printf("mode=idle conns=%d open_secs=%.3f dropped=%d", nconns,
	    (double)(t1 - t0) / 1e9, dropped);
	if (rss0 >= 0 && rss1 >= 0)
		printf(" rss_before_kb=%ld rss_after_kb=%ld "
		    "rss_per_conn_b=%.0f", rss0, rss1,
		    (double)(rss1 - rss0) * 1024.0 / nconns);
	printf("\n");
	for (i = 0; i < nconns; i++)
		close(conns[i].fd);
	free(conns);
}

int
main(int argc, char *argv[])
{
	const char	*host = "127.0.0.1";
	long long	 v;
	size_t		 i;
	int		 ch, port = 0;

	bench_setprogname(argv[0]);
	while ((ch = getopt(argc, argv, "c:d:H:m:Np:P:s:S:Tw:")) != -1) {
		switch (ch) {
		case 'c':
			nconns = atoi(optarg);
			break;
		case 'd':
			duration = atof(optarg);
			break;
		case 'H':
			host = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "echo") == 0)
				mode = MODE_ECHO;
			else if (strcmp(optarg, "halfclose") == 0)
				mode = MODE_HALFCLOSE;
			else if (strcmp(optarg, "idle") == 0)
				mode = MODE_IDLE;
			else if (strcmp(optarg, "handshake") == 0)
				mode = MODE_HANDSHAKE;
			else
				usage();
			break;
		case 'T':
			use_tls = 1;
			break;
		case 'N':
			verify = 0;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'P':
			srvpid = (pid_t)atol(optarg);
			break;
		case 's':
			if ((v = parse_size(optarg)) <= 0)
				usage();
			msgsize = (size_t)v;
			break;
		case 'S':
			nsrc = atoi(optarg);
			break;
		case 'w':
			warmup = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || nconns < 1 || duration < 0 || warmup < 0 ||
	    nsrc < 0 || nsrc > 250 ||
	    ((mode == MODE_HANDSHAKE) != use_tls && mode != MODE_ECHO))
		usage();
#ifdef HAVE_TLS
	if (use_tls)
		tls_ctx = btls_client_ctx();
#else
	if (use_tls)
		bench_die("-T: built without TLS (configure --disable-tls)");
#endif
	bench_addr(&addr, host, port);
	signal(SIGPIPE, SIG_IGN);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		bench_die("epoll_create1: %s", strerror(errno));
	if ((msg = malloc(msgsize)) == NULL)
		bench_die("out of memory");
	/* Printable and position-dependent, so a misplaced byte shows. */
	for (i = 0; i < msgsize; i++)
		msg[i] = (char)('a' + (i * 7 + i / 26) % 26);
	if (mode == MODE_IDLE)
		run_idle();
	else
		run_timed();
	fflush(stdout);
	return 0;
}
