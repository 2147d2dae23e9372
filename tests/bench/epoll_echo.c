/*
 * epoll_echo: the smallest echo server we know how to write, the
 * benchmark's practical ceiling.  Level-triggered epoll with EPOLLIN
 * always armed, so a message costs one read() and one write() and no
 * epoll_ctl; the rare short write parks the rest and stops reading until
 * it is out (backpressure).  After the client half-closes, the rest is
 * flushed and the connection closed.
 *
 * usage: epoll_echo [-b address] port   (port 0: ephemeral, printed)
 */
#include "autoconf.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXEV		256
#define BUF_SIZE	(256 * 1024)

struct econn {
	int	 fd;
	int	 eof;
	char	*pend;		/* unwritten bytes, only after a short write */
	size_t	 plen;
	size_t	 poff;
};

static int	ep;
static char	buf[BUF_SIZE];

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("epoll_echo: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
conn_close(struct econn *c)
{
	close(c->fd);		/* also drops it from the epoll set */
	free(c->pend);
	free(c);
}

static void
conn_events(struct econn *c, unsigned events)
{
	struct epoll_event	ev;
	ssize_t			n, w;

	if (c->pend != NULL) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		while (c->poff < c->plen) {
			w = write(c->fd, c->pend + c->poff, c->plen - c->poff);
			if (w < 0 && errno == EAGAIN)
				return;
			if (w < 0) {
				conn_close(c);
				return;
			}
			c->poff += (size_t)w;
		}
		free(c->pend);
		c->pend = NULL;
		if (c->eof) {
			conn_close(c);
			return;
		}
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	for (;;) {
		n = read(c->fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			conn_close(c);
			return;
		}
		if (n == 0) {
			conn_close(c);
			return;
		}
		w = write(c->fd, buf, (size_t)n);
		if (w < 0 && errno != EAGAIN) {
			conn_close(c);
			return;
		}
		if (w < 0)
			w = 0;
		if (w < n) {
			c->plen = (size_t)(n - w);
			c->poff = 0;
			if ((c->pend = malloc(c->plen)) == NULL)
				die("out of memory");
			memcpy(c->pend, buf + w, c->plen);
			/* Stop reading until the echo is out. */
			ev.events = EPOLLOUT;
			ev.data.ptr = c;
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			return;
		}
		if ((size_t)n < sizeof(buf))
			return;		/* drained: no extra EAGAIN read */
	}
}

static void
accept_all(int lfd)
{
	struct epoll_event	 ev;
	struct econn		*c;
	int			 fd, on = 1;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR ||
			    errno == ECONNABORTED)
				return;
			if (errno == EMFILE || errno == ENFILE)
				return;	/* retried on the next event */
			die("accept: %s", strerror(errno));
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
		    sizeof(on));
		if ((c = calloc(1, sizeof(*c))) == NULL)
			die("out of memory");
		c->fd = fd;
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
			die("epoll_ctl: %s", strerror(errno));
	}
}

int
main(int argc, char *argv[])
{
	struct epoll_event	 ev, evs[MAXEV];
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	const char		*bind_addr = "127.0.0.1";
	int			 ch, lfd, i, n, on = 1;

	while ((ch = getopt(argc, argv, "b:")) != -1) {
		if (ch != 'b') {
			fprintf(stderr, "usage: epoll_echo [-b address] "
			    "port\n");
			return 2;
		}
		bind_addr = optarg;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: epoll_echo [-b address] port\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[optind]));
	if (inet_pton(AF_INET, bind_addr, &sin.sin_addr) != 1)
		die("%s: not an IPv4 address", bind_addr);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		die("socket: %s", strerror(errno));
	(void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(lfd, SOMAXCONN) != 0 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) != 0)
		die("cannot listen on %s: %s", bind_addr, strerror(errno));
	printf("%d\n", ntohs(sin.sin_port));
	fflush(stdout);

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1: %s", strerror(errno));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;		/* NULL: the listener */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0)
		die("epoll_ctl: %s", strerror(errno));
	for (;;) {
		n = epoll_wait(ep, evs, MAXEV, -1);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == NULL)
				accept_all(lfd);
			else
				conn_events(evs[i].data.ptr, evs[i].events);
		}
	}
}
