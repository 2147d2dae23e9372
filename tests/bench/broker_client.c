/*
 * broker_client: load for brokerd's broker protocol (brokerd-protocol(7)).
 *
 *   df     CONNS connections each send DF, read the reply to its final
 *          line, and repeat: requests/s and latency percentiles.
 *   upper  one UPPER request streaming N bytes of input in 64 KiB DATA
 *          frames while it reads the reply frames (full duplex), the
 *          output checked byte for byte: MB/s, and with -P the daemon's
 *          RSS sampled every 10 ms plus its VmHWM at the end.
 *
 * With -P PID the daemon's utime+stime over the window is reported too.
 * -T: upper over TLS 1.3 (the handshake before the clock starts; the
 * server's certificate is not verified: the server is measured).
 * One line of key=value pairs goes to stdout.
 *
 * usage: broker_client -p port -m df|upper [-H host] [-c conns]
 *            [-d seconds] [-w warmup] [-n bytes] [-P pid] [-T]
 */
#include "autoconf.h"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proto.h"
#include "tests/bench/benchutil.h"
#ifdef HAVE_TLS
#include "tests/bench/benchtls.h"
#endif

#define MAXEV		64
#define RBUF_SIZE	(256 * 1024)
#define FRAME		UPPER_PATTERN_SIZE
#define RSS_EVERY_NS	10000000LL

struct bconn {
	int			 fd;
	struct proto_parser	 parser;
	long long		 t0;
	unsigned long long	 bytes;
};

static struct sockaddr_in	 addr;
static int			 nconns = 8;
static double			 duration = 3.0, warmup = 0.5;
static pid_t			 srvpid;
static int			 use_tls;	/* -T */
static char			 rbuf[RBUF_SIZE];

/* The UPPER stream's connection, plain or TLS. */
struct ustream {
	int	 fd;
#ifdef HAVE_TLS
	SSL	*ssl;
#endif
	int	 want_r;	/* what a read waits for */
	int	 want_w;	/* what a write waits for */
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: broker_client -p port -m df|upper [-H host] [-c conns]\n"
	    "           [-d seconds] [-w warmup] [-n bytes] [-P pid] [-T]\n");
	exit(2);
}

static void
send_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			bench_die("write: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

static void
run_df(void)
{
	struct epoll_event	 ev, evs[MAXEV];
	struct proto_event	 pe;
	struct bconn		*conns, *c;
	struct hist		 lat;
	const char		*text;
	unsigned long long	 done = 0, errs = 0, bytes = 0;
	long long		 t, t_meas, t_end, w0 = 0, w1 = 0, srv0 = -1;
	long long		 srv1 = -1, cli0 = 0, cli1 = 0;
	size_t			 off, k;
	ssize_t			 r;
	int			 ep, i, n, code, measuring = 0, stopping = 0;
	int			 outstanding;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		bench_die("epoll_create1: %s", strerror(errno));
	if ((conns = calloc((size_t)nconns, sizeof(*conns))) == NULL)
		bench_die("out of memory");
	hist_reset(&lat);
	for (i = 0; i < nconns; i++) {
		c = &conns[i];
		if ((c->fd = bench_connect(&addr, NULL, 0)) < 0)
			bench_die("connect: %s", strerror(errno));
		proto_init(&c->parser, 4096, PROTO_MAX_FRAME);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
			bench_die("epoll_ctl: %s", strerror(errno));
	}
	t = now_ns();
	t_meas = t + (long long)(warmup * 1e9);
	t_end = t_meas + (long long)(duration * 1e9);
	for (i = 0; i < nconns; i++) {
		conns[i].t0 = now_ns();
		send_all(conns[i].fd, "DF\n", 3);
	}
	/* After the window, let the requests in flight finish. */
	for (outstanding = nconns; outstanding > 0;) {
		n = epoll_wait(ep, evs, MAXEV, 1000);
		if (n < 0 && errno != EINTR)
			bench_die("epoll_wait: %s", strerror(errno));
		t = now_ns();
		if (!measuring && t >= t_meas) {
			measuring = 1;
			done = errs = bytes = 0;
			hist_reset(&lat);
			if (srvpid > 0)
				srv0 = proc_cpu_us(srvpid, NULL);
			cli0 = self_cpu_us();
			w0 = now_ns();
		}
		if (measuring && !stopping && t >= t_end) {
			stopping = 1;
			w1 = now_ns();
			srv1 = srvpid > 0 ? proc_cpu_us(srvpid, NULL) : -1;
			cli1 = self_cpu_us();
		}
		if (stopping && t >= t_end + 10000000000LL)
			bench_die("%d DF requests still running 10 s after "
			    "the window", outstanding);
		for (i = 0; i < n; i++) {
			c = evs[i].data.ptr;
			r = read(c->fd, rbuf, sizeof(rbuf));
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0)
				bench_die("read: %s", r == 0 ?
				    "brokerd closed the connection" :
				    strerror(errno));
			for (off = 0; off < (size_t)r; off += k) {
				k = proto_feed(&c->parser, rbuf + off,
				    (size_t)r - off, &pe);
				if (pe.kind == PROTO_DATA)
					c->bytes += pe.len;
				else if (pe.kind == PROTO_ERR_LONG ||
				    pe.kind == PROTO_ERR_FRAME)
					bench_die("unparseable reply");
				if (pe.kind != PROTO_LINE)
					continue;
				code = proto_parse_final(pe.line, &text);
				if (code < 0)
					bench_die("unexpected line: %.80s",
					    pe.line);
				if (code > 0 && errs++ == 0)
					fprintf(stderr, "broker_client: ERR "
					    "%d %s\n", code, text);
				t = now_ns();
				if (stopping) {
					outstanding--;
					continue;
				}
				if (measuring) {
					done++;
					bytes += c->bytes;
					hist_add(&lat, (unsigned long long)
					    (t - c->t0));
				}
				c->bytes = 0;
				c->t0 = t;
				send_all(c->fd, "DF\n", 3);
			}
		}
	}
	t = w1 - w0;
	printf("mode=df conns=%d secs=%.3f ops=%llu rate=%.1f errors=%llu "
	    "bytes_op=%.0f p50_us=%.1f p99_us=%.1f", nconns, (double)t / 1e9,
	    done, (double)done / ((double)t / 1e9), errs,
	    done ? (double)bytes / (double)done : 0,
	    hist_quantile_us(&lat, 0.5), hist_quantile_us(&lat, 0.99));
	if (done > 0 && srv0 >= 0 && srv1 >= 0)
		printf(" srv_us_op=%.1f", (double)(srv1 - srv0) /
		    (double)done);
	if (done > 0)
		printf(" cli_us_op=%.1f", (double)(cli1 - cli0) /
		    (double)done);
	printf("\n");
	for (i = 0; i < nconns; i++) {
		close(conns[i].fd);
		proto_free(&conns[i].parser);
	}
	free(conns);
	close(ep);
}

/*
 * One read or write on the UPPER stream, plain or TLS: bytes, 0 at EOF
 * (read), or -1 when it must wait for u->want_r or u->want_w.
 */
static ssize_t
us_io(struct ustream *u, int writing, void *buf, size_t len)
{
	ssize_t	n;
#ifdef HAVE_TLS
	int	w = 0;

	if (u->ssl != NULL) {
		n = writing ? btls_write(u->ssl, buf, len, &w) :
		    btls_read(u->ssl, buf, len, &w);
		if (writing)
			u->want_w = n < 0 ? w : POLLOUT;
		else
			u->want_r = n < 0 ? w : POLLIN;
		return n;
	}
#endif
	n = writing ? write(u->fd, buf, len) : read(u->fd, buf, len);
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		bench_die("%s: %s", writing ? "write" : "read",
		    strerror(errno));
	return n < 0 ? -1 : n;
}

/* Bytes TLS read from the socket that we have not: poll won't say. */
static int
us_pending(struct ustream *u)
{
#ifdef HAVE_TLS
	return u->ssl != NULL && SSL_has_pending(u->ssl);
#else
	(void)u;
	return 0;
#endif
}

static void
run_upper(unsigned long long total)
{
	struct ustream		 u;
	struct proto_parser	 parser;
	struct proto_event	 pe;
	struct pollfd		 pfd;
	unsigned long long	 in = 0, out = 0;
	long long		 t0, t1, t, last_sample = 0, srv0, srv1;
	long long		 kid0 = 0, kid1 = 0, cli0, cli1;
	long			 rss, rss0 = -1, rss_max = -1, hwm = -1;
	const char		*text;
	char			*frame, hdr[PROTO_DATA_HDR_MAX];
	size_t			 hlen, flen = 0, foff = 0, off, k;
	size_t			 fpay = 0;	/* payload size in frame */
	ssize_t			 r;
	int			 code = -1, sending = 1, bad = 0;

	upper_pattern_init();
	memset(&u, 0, sizeof(u));
	u.want_r = POLLIN;
	u.want_w = POLLOUT;
	/* A frame is header then payload, sent from one buffer. */
	if ((frame = malloc(PROTO_DATA_HDR_MAX + FRAME)) == NULL)
		bench_die("out of memory");
	if ((u.fd = bench_connect(&addr, NULL, 0)) < 0)
		bench_die("connect: %s", strerror(errno));
#ifdef HAVE_TLS
	if (use_tls)
		u.ssl = btls_connect(btls_client_ctx(), u.fd);
#endif
	proto_init(&parser, 4096, PROTO_MAX_FRAME);
	if (srvpid > 0) {
		rss0 = rss_max = proc_status_kb(srvpid, "VmRSS");
		last_sample = now_ns();
	}
	t0 = now_ns();
	cli0 = self_cpu_us();
	srv0 = srvpid > 0 ? proc_cpu_us(srvpid, &kid0) : -1;
	/* Still blocking: it goes out whole. */
	if (us_io(&u, 1, "UPPER\n", 6) != 6)
		bench_die("write: short");
	if (set_nonblock(u.fd) != 0)
		bench_die("fcntl: %s", strerror(errno));
	while (code < 0) {
		if (sending && foff == flen) {
			if (in < total) {
				k = total - in < FRAME ? (size_t)(total - in) :
				    FRAME;
				/* Full frames are all alike: built once. */
				if (k != fpay) {
					hlen = proto_data_header(hdr, k);
					memcpy(frame, hdr, hlen);
					memcpy(frame + hlen, upper_pattern, k);
					fpay = k;
					flen = hlen + k;
				}
				in += k;
			} else {
				memcpy(frame, "END\n", 4);
				flen = 4;
				sending = 2;	/* last piece */
			}
			foff = 0;
		}
		pfd.fd = u.fd;
		pfd.events = (short)(u.want_r | (sending ? u.want_w : 0));
		if (poll(&pfd, 1, us_pending(&u) ? 0 : srvpid > 0 ? 10 :
		    1000) < 0 && errno != EINTR)
			bench_die("poll: %s", strerror(errno));
		if (srvpid > 0 && (t = now_ns()) - last_sample >=
		    RSS_EVERY_NS) {
			last_sample = t;
			if ((rss = proc_status_kb(srvpid, "VmRSS")) > rss_max)
				rss_max = rss;
		}
		if (sending && (pfd.revents & (u.want_w | POLLERR))) {
			r = us_io(&u, 1, frame + foff, flen - foff);
			if (r > 0)
				foff += (size_t)r;
			if (foff == flen && sending == 2)
				sending = 0;
		}
		if (!(pfd.revents & (u.want_r | POLLHUP | POLLERR)) &&
		    !us_pending(&u))
			continue;
		r = us_io(&u, 0, rbuf, sizeof(rbuf));
		if (r < 0)
			continue;
		if (r <= 0)
			bench_die("read: %s", r == 0 ?
			    "brokerd closed the connection" : strerror(errno));
		for (off = 0; off < (size_t)r && code < 0; off += k) {
			k = proto_feed(&parser, rbuf + off, (size_t)r - off,
			    &pe);
			if (pe.kind == PROTO_DATA) {
				if (!bad && upper_check(pe.data, pe.len, out) != 0)
					bad = 1;
				out += pe.len;
			} else if (pe.kind == PROTO_LINE) {
				code = proto_parse_final(pe.line, &text);
				if (code < 0)
					bench_die("unexpected line: %.80s",
					    pe.line);
				if (code > 0)
					fprintf(stderr, "broker_client: ERR "
					    "%d %s\n", code, text);
			} else if (pe.kind != PROTO_NONE)
				bench_die("unparseable reply");
		}
	}
	t1 = now_ns();
	cli1 = self_cpu_us();
	srv1 = srvpid > 0 ? proc_cpu_us(srvpid, &kid1) : -1;
	if (srvpid > 0) {
		if ((rss = proc_status_kb(srvpid, "VmRSS")) > rss_max)
			rss_max = rss;
		hwm = proc_status_kb(srvpid, "VmHWM");
	}
	printf("mode=%s bytes_in=%llu bytes_out=%llu secs=%.3f mb_s=%.1f "
	    "code=%d check=%s", use_tls ? "tls-upper" : "upper", in, out, (double)(t1 - t0) / 1e9,
	    (double)out / ((double)(t1 - t0) / 1e3), code,
	    bad || out != total ? "FAILED" : "ok");
	printf(" cli_cpu_s=%.2f", (double)(cli1 - cli0) / 1e6);
	/* The command is reaped before the final line: its CPU is in. */
	if (srvpid > 0)
		printf(" rss_start_kb=%ld rss_peak_kb=%ld vmhwm_kb=%ld "
		    "srv_cpu_s=%.2f cmd_cpu_s=%.2f", rss0, rss_max, hwm,
		    (double)(srv1 - srv0) / 1e6, (double)(kid1 - kid0) / 1e6);
	printf("\n");
	proto_free(&parser);
	free(frame);
#ifdef HAVE_TLS
	if (u.ssl != NULL) {
		SSL_CTX	*ctx = SSL_get_SSL_CTX(u.ssl);

		SSL_free(u.ssl);
		SSL_CTX_free(ctx);
	}
#endif
	close(u.fd);
	if (code != 0 || bad || out != total)
		exit(1);
}

int
main(int argc, char *argv[])
{
	const char		*host = "127.0.0.1", *mode = NULL;
	unsigned long long	 total = 1ULL << 30;
	long long		 v;
	int			 ch, port = 0;

	bench_setprogname(argv[0]);
	while ((ch = getopt(argc, argv, "c:d:H:m:n:p:P:Tw:")) != -1) {
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
			mode = optarg;
			break;
		case 'n':
			if ((v = parse_size(optarg)) < 0)
				usage();
			total = (unsigned long long)v;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'P':
			srvpid = (pid_t)atol(optarg);
			break;
		case 'T':
#ifndef HAVE_TLS
			bench_die("-T: built without TLS (configure "
			    "--disable-tls)");
#endif
			use_tls = 1;
			break;
		case 'w':
			warmup = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || mode == NULL || nconns < 1)
		usage();
	bench_addr(&addr, host, port);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(mode, "df") == 0 && use_tls)
		bench_die("-T: upper only");
	if (strcmp(mode, "df") == 0)
		run_df();
	else if (strcmp(mode, "upper") == 0)
		run_upper(total);
	else
		usage();
	fflush(stdout);
	return 0;
}
