/*
 * tls_ceiling: the smallest TLS server we know how to write, the ceiling
 * for full handshakes per second.  One thread, level-triggered epoll,
 * OpenSSL driven directly on nonblocking sockets: accept, handshake,
 * then read until the client's close_notify, send ours and close -- what
 * a TLS echo service does for a client that closes at once, and what
 * loadgen -m handshake does.  No session cache: every handshake is a
 * full one.  Session tickets follow OpenSSL's default (two in TLS 1.3),
 * as a server with default settings sends them; -n sets their number.
 *
 * usage: tls_ceiling -c cert.pem -k key.pem [-n tickets] [-b address] port
 *
 * Prints the port it listens on (port 0: ephemeral), then runs until
 * SIGTERM or SIGINT, and prints "handshakes=N unfinished=M" on stderr
 * (unfinished: handshakes that failed, or whose client left mid-way, as
 * a load generator does at the end of its run).
 */
#include "autoconf.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAXEV	256

enum hstate { H_HANDSHAKE, H_CLOSING };

struct hconn {
	int		 fd;
	SSL		*ssl;
	enum hstate	 state;
	unsigned	 events;	/* in the epoll set */
};

static int			 ep;
static volatile sig_atomic_t	 stop;
static unsigned long long	 handshakes, failures;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	unsigned long	e = ERR_peek_error();
	va_list		ap;

	fputs("tls_ceiling: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (e != 0)
		fprintf(stderr, ": %s", ERR_reason_error_string(e));
	fputc('\n', stderr);
	exit(1);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
hc_free(struct hconn *c, int ok)
{
	if (ok)
		handshakes++;
	else
		failures++;
	SSL_free(c->ssl);
	close(c->fd);		/* also drops it from the epoll set */
	free(c);
}

static void
hc_want(struct hconn *c, unsigned events)
{
	struct epoll_event ev;

	if (events == c->events)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
	c->events = events;
}

/* Handshake, then wait for the client's close_notify (or EOF), then close. */
static void
hc_event(struct hconn *c)
{
	char	buf[256];
	size_t	n;
	int	r;

	ERR_clear_error();
	if (c->state == H_HANDSHAKE) {
		r = SSL_do_handshake(c->ssl);
		if (r != 1)
			goto wait;
		c->state = H_CLOSING;
	}
	for (;;) {
		ERR_clear_error();
		r = SSL_read_ex(c->ssl, buf, sizeof(buf), &n);
		if (r != 1)
			break;
	}
	if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ &&
	    SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_WRITE) {
		/* close_notify or EOF: ours, best effort, and close. */
		if (SSL_get_error(c->ssl, r) == SSL_ERROR_ZERO_RETURN)
			(void)SSL_shutdown(c->ssl);
		hc_free(c, 1);
		return;
	}
wait:
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		hc_want(c, EPOLLIN);
		return;
	case SSL_ERROR_WANT_WRITE:
		hc_want(c, EPOLLOUT);
		return;
	}
	hc_free(c, 0);
}

static void
accept_all(int lfd, SSL_CTX *ctx)
{
	struct epoll_event	 ev;
	struct hconn		*c;
	int			 fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			die("accept: %s", strerror(errno));
		}
		if ((c = calloc(1, sizeof(*c))) == NULL ||
		    (c->ssl = SSL_new(ctx)) == NULL ||
		    SSL_set_fd(c->ssl, fd) != 1)
			die("SSL_new");
		c->fd = fd;
		c->state = H_HANDSHAKE;
		SSL_set_accept_state(c->ssl);
		c->events = EPOLLIN;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
			die("epoll_ctl: %s", strerror(errno));
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: tls_ceiling -c cert.pem -k key.pem "
	    "[-n tickets] [-b address] port\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 ev, evs[MAXEV];
	struct sockaddr_in	 sin;
	struct sigaction	 sa;
	const char		*cert = NULL, *key = NULL, *bind_addr =
				    "127.0.0.1";
	socklen_t		 len = sizeof(sin);
	SSL_CTX			*ctx;
	int			 ch, lfd, n, i, on = 1, tickets = -1;

	while ((ch = getopt(argc, argv, "b:c:k:n:")) != -1) {
		switch (ch) {
		case 'b':
			bind_addr = optarg;
			break;
		case 'c':
			cert = optarg;
			break;
		case 'k':
			key = optarg;
			break;
		case 'n':
			tickets = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 1 || cert == NULL || key == NULL)
		usage();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		die("SSL_CTX_new");
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	if (tickets >= 0 && SSL_CTX_set_num_tickets(ctx, (size_t)tickets) != 1)
		die("-n %d", tickets);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		die("%s", cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		die("%s", key);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[optind]));
	if (inet_pton(AF_INET, bind_addr, &sin.sin_addr) != 1)
		die("bad address %s", bind_addr);
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) < 0)
		die("socket: %s", strerror(errno));
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, 4096) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) != 0)
		die("bind/listen: %s", strerror(errno));
	printf("%d\n", ntohs(sin.sin_port));
	fflush(stdout);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;		/* the listener */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
	while (!stop) {
		n = epoll_wait(ep, evs, MAXEV, -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				accept_all(lfd, ctx);
			else
				hc_event(evs[i].data.ptr);
		}
	}
	fprintf(stderr, "handshakes=%llu unfinished=%llu\n", handshakes,
	    failures);
	SSL_CTX_free(ctx);
	return 0;
}
