/*
 * libevent_echo: a straightforward libevent echo server, the way the
 * libevent book writes one: an evconnlistener and one bufferevent per
 * connection whose input is moved to its output.  No timeouts, no thread
 * support, no per-callback timing: what the bufferevent layer costs on
 * its own.
 *
 * usage: libevent_echo [-b address] port   (port 0: ephemeral, printed)
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define HIGH_MARK	(64 * 1024)

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer *out = bufferevent_get_output(bev);

	(void)arg;
	evbuffer_add_buffer(out, bufferevent_get_input(bev));
	if (evbuffer_get_length(out) > HIGH_MARK)
		bufferevent_disable(bev, EV_READ);
}

/* Runs when the output has drained. */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	if (arg != NULL) {		/* non-NULL: the client half-closed */
		bufferevent_free(bev);
		return;
	}
	if (!(bufferevent_get_enabled(bev) & EV_READ))
		bufferevent_enable(bev, EV_READ);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if ((what & BEV_EVENT_EOF) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_setcb(bev, read_cb, write_cb, event_cb, bev);
		return;
	}
	bufferevent_free(bev);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct event_base	*base = arg;
	struct bufferevent	*bev;
	int			 on = 1;

	(void)l;
	(void)sa;
	(void)salen;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(fd);
		return;
	}
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, NULL);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	(void)l;
	(void)arg;
	/* EMFILE and friends: nothing better to do in a reference server. */
}

int
main(int argc, char *argv[])
{
	struct event_base	*base;
	struct evconnlistener	*l;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	const char		*bind_addr = "127.0.0.1";
	int			 ch, fd, on = 1;

	while ((ch = getopt(argc, argv, "b:")) != -1) {
		if (ch != 'b')
			goto usage;
		bind_addr = optarg;
	}
	if (optind + 1 != argc)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)atoi(argv[optind]));
	if (inet_pton(AF_INET, bind_addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "libevent_echo: %s: not an IPv4 address\n",
		    bind_addr);
		return 1;
	}
	/* Our own socket, so the backlog matches the other servers'. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) != 0 || bind(fd, (struct sockaddr *)&sin,
	    sizeof(sin)) != 0 || listen(fd, SOMAXCONN) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		fprintf(stderr, "libevent_echo: cannot listen on %s: %s\n",
		    bind_addr, strerror(errno));
		return 1;
	}
	if ((base = event_base_new()) == NULL) {
		fprintf(stderr, "libevent_echo: event_base_new failed\n");
		return 1;
	}
	/* Backlog 0: already listening (-1 would cut it back to 128). */
	l = evconnlistener_new(base, accept_cb, base, LEV_OPT_CLOSE_ON_FREE,
	    0, fd);
	if (l == NULL) {
		fprintf(stderr, "libevent_echo: evconnlistener_new failed\n");
		return 1;
	}
	evconnlistener_set_error_cb(l, accept_error_cb);
	printf("%d\n", ntohs(sin.sin_port));
	fflush(stdout);
	event_base_dispatch(base);
	evconnlistener_free(l);
	event_base_free(base);
	return 0;

usage:
	fprintf(stderr, "usage: libevent_echo [-b address] port\n");
	return 2;
}
