/*
 * The plain transport (see xport.h): a nonblocking socket, read and
 * written with read/readv and write/writev straight into and out of the
 * caller's memory, one persistent event per direction.  It keeps no
 * bytes of its own, so the caller may splice the socket.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/util.h"
#include "daemon/bufio.h"
#include "daemon/watch.h"
#include "daemon/xport.h"

struct plain {
	struct xport		 x;	/* first: a struct xport * is ours */
	evutil_socket_t		 fd;
	struct event		*rev, *wev;
	const struct timeval	*idle;	/* a libevent common timeout */
	struct timeval		 idle_tv; /* if none could be had */
	const char		*ctx;
};

static const char *
plain_ctx(void *arg)
{
	return ((struct plain *)arg)->ctx;
}

static ssize_t
plain_read(struct xport *x, void *buf, size_t len)
{
	return read(((struct plain *)x)->fd, buf, len);
}

static ssize_t
plain_read_buf(struct xport *x, struct evbuffer *buf, size_t max)
{
	return bufio_read(buf, ((struct plain *)x)->fd, max);
}

static ssize_t
plain_write(struct xport *x, const void *buf, size_t len)
{
	return write(((struct plain *)x)->fd, buf, len);
}

static ssize_t
plain_write_buf(struct xport *x, struct evbuffer *buf, ev_ssize_t max)
{
	return evbuffer_write_atmost(buf, ((struct plain *)x)->fd, max);
}

static int
plain_arm(struct plain *p, struct event *ev, enum xport_want w)
{
	if (w == XPORT_OFF)
		return event_del(ev);
	return event_add(ev, w == XPORT_ON ? p->idle : NULL);
}

static int
plain_want_read(struct xport *x, enum xport_want w)
{
	return plain_arm((struct plain *)x, ((struct plain *)x)->rev, w);
}

static int
plain_want_write(struct xport *x, enum xport_want w)
{
	return plain_arm((struct plain *)x, ((struct plain *)x)->wev, w);
}

static int
plain_splice_fd(struct xport *x)
{
	return ((struct plain *)x)->fd;
}

static const char *
plain_identity(struct xport *x)
{
	(void)x;
	return NULL;
}

static void
plain_free(struct xport *x)
{
	struct plain *p = (struct plain *)x;

	event_free(p->rev);
	event_free(p->wev);
	close(p->fd);
	/* We may be inside one of p's callbacks: free after it. */
	watch_defer_free(p, free);
}

/* Nothing may follow the service's callback: it may have freed us. */
static void
plain_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct plain *p = arg;

	(void)fd;
	if (what == EV_TIMEOUT) {
		event_del(p->rev);
		p->x.cbs->read(XPORT_TIMEOUT, p->x.arg);
	} else
		p->x.cbs->read(XPORT_READ, p->x.arg);
}
WATCH_EVENT_CB(xport_plain_read_cb, plain_on_read, plain_ctx)

static void
plain_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct plain *p = arg;

	(void)fd;
	if (what == EV_TIMEOUT) {
		event_del(p->wev);
		p->x.cbs->write(XPORT_TIMEOUT, p->x.arg);
	} else
		p->x.cbs->write(XPORT_WRITE, p->x.arg);
}
WATCH_EVENT_CB(xport_plain_write_cb, plain_on_write, plain_ctx)

static const struct xport_ops plain_ops = {
	plain_read, plain_read_buf, plain_write, plain_write_buf,
	plain_want_read, plain_want_write, plain_splice_fd, plain_identity,
	plain_free
};

struct xport *
xport_plain_new(struct event_base *base, evutil_socket_t fd,
    const struct sockaddr *sa, socklen_t salen, int idle_s, const char *ctx)
{
	struct plain	*p = xcalloc(1, sizeof(*p));
	struct timeval	 tv = { idle_s, 0 };

	p->x.ops = &plain_ops;
	if (sa != NULL) {
		p->x.peerlen = salen < sizeof(p->x.peer) ? salen :
		    sizeof(p->x.peer);
		memcpy(&p->x.peer, sa, p->x.peerlen);
	}
	p->fd = fd;
	p->ctx = ctx;
	/*
	 * A common timeout: re-arming it on every read is a queue append,
	 * not a heap operation.  libevent reuses one per duration.
	 */
	p->idle_tv = tv;
	p->idle = event_base_init_common_timeout(base, &tv);
	if (p->idle == NULL)
		p->idle = &p->idle_tv;
	p->rev = event_new(base, fd, EV_READ | EV_PERSIST, xport_plain_read_cb,
	    p);
	p->wev = event_new(base, fd, EV_WRITE | EV_PERSIST,
	    xport_plain_write_cb, p);
	if (p->rev == NULL || p->wev == NULL) {
		if (p->rev != NULL)
			event_free(p->rev);
		if (p->wev != NULL)
			event_free(p->wev);
		free(p);
		return NULL;
	}
	return &p->x;
}
