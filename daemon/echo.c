/*
 * The echo service (RFC 862).  This is the hot path, so it skips the
 * bufferevent layer: one evbuffer per connection, read straight into it
 * with readv and written back with writev at once (most echoes never wait
 * for writability).  Reading pauses while more than ECHO_HIGH bytes wait
 * for a slow reader; after the client half-closes the rest is flushed and
 * the connection closed.
 */
#include "autoconf.h"

#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "daemon/server.h"
#include "daemon/watch.h"

#define ECHO_HIGH	(64 * 1024)
#define ECHO_LOW	(16 * 1024)
#define ECHO_READ	(64 * 1024)	/* per readv; above libevent's 4 KiB */

struct echo {
	struct event	*rev, *wev;
	struct evbuffer	*buf;
	struct timeval	 idle;
	int		 eof;		/* no more reading: EOF or draining */
	int		 paused;	/* reading stopped by backpressure */
};

static void
echo_close_idle(struct conn *c)
{
	log_ctx(LOG_INFO, c->ctx, "idle for %d s, closing",
	    (int)((struct echo *)c->svc)->idle.tv_sec);
	stats.connections_idle_closed++;
	conn_close(c);
}

/* Writes what it can now; arranges for the rest. 0, or -1 if closed. */
static int
echo_flush(struct conn *c)
{
	struct echo	*e = c->svc;
	size_t		 left;
	int		 n;

	if (evbuffer_get_length(e->buf) > 0) {
		n = evbuffer_write(e->buf, c->fd);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			log_ctx(LOG_DEBUG, c->ctx, "write: %s", strerror(errno));
			conn_close(c);
			return -1;
		}
		if (n > 0) {
			c->bytes_out += (unsigned long long)n;
			if (log_enabled(LOG_DEBUG))
				log_ctx(LOG_DEBUG, c->ctx, "sent %d bytes", n);
		}
	}
	left = evbuffer_get_length(e->buf);
	if (left == 0) {
		if (event_pending(e->wev, EV_WRITE, NULL))
			event_del(e->wev);
		if (e->eof) {
			conn_close(c);
			return -1;
		}
	} else if (!event_pending(e->wev, EV_WRITE, NULL))
		event_add(e->wev, &e->idle);
	/*
	 * Explicit backpressure: reading stops above the high mark and
	 * resumes below the low one, so memory per connection is bounded.
	 */
	if (!e->eof && !e->paused && left > ECHO_HIGH) {
		event_del(e->rev);
		e->paused = 1;
	} else if (!e->eof && e->paused && left <= ECHO_LOW) {
		event_add(e->rev, &e->idle);
		e->paused = 0;
	}
	return 0;
}

static void
echo_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn		*c = arg;
	struct echo		*e = c->svc;
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	ssize_t			 n;
	int			 i, nv;

	if (what & EV_TIMEOUT) {
		echo_close_idle(c);
		return;
	}
	nv = evbuffer_reserve_space(e->buf, ECHO_READ, v, 2);
	for (i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	n = readv(fd, iov, nv);
	if (n < 0) {
		evbuffer_commit_space(e->buf, v, 0);
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_ctx(LOG_DEBUG, c->ctx, "read: %s", strerror(errno));
		conn_close(c);
		return;
	}
	/* Commit exactly the n bytes readv filled, across the vectors. */
	for (i = 0; i < nv; i++) {
		size_t take = (size_t)n < v[i].iov_len ? (size_t)n :
		    v[i].iov_len;

		v[i].iov_len = take;
		n -= (ssize_t)take;
	}
	n = (ssize_t)(v[0].iov_len + (nv > 1 ? v[1].iov_len : 0));
	evbuffer_commit_space(e->buf, v, nv);
	if (n == 0) {
		/* Half-close: flush what is left, then close. */
		e->eof = 1;
		event_del(e->rev);
		echo_flush(c);
		return;
	}
	c->bytes_in += (unsigned long long)n;
	if (log_enabled(LOG_DEBUG))
		log_ctx(LOG_DEBUG, c->ctx, "received %zd bytes", n);
	echo_flush(c);
}
WATCH_EVENT_CB(echo_read_cb, echo_on_read, conn_ctx)

static void
echo_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		/* Nothing left our buffer for idle_timeout_s. */
		echo_close_idle(c);
		return;
	}
	echo_flush(c);
}
WATCH_EVENT_CB(echo_write_cb, echo_on_write, conn_ctx)

/* Shutdown: stop reading, give back what was received, then close. */
static void
echo_drain(struct conn *c)
{
	struct echo *e = c->svc;

	if (e->eof)
		return;
	e->eof = 1;
	event_del(e->rev);
	echo_flush(c);
}

static int
echo_busy(struct conn *c)
{
	return evbuffer_get_length(((struct echo *)c->svc)->buf) > 0;
}

static void
echo_free(struct conn *c)
{
	struct echo *e = c->svc;

	event_free(e->rev);
	event_free(e->wev);
	evbuffer_free(e->buf);
	free(e);
	c->svc = NULL;
}

void
echo_start(struct conn *c)
{
	struct echo *e = xcalloc(1, sizeof(*e));

	e->idle.tv_sec = srv.cfg->limits.idle_timeout_s;
	e->buf = evbuffer_new();
	e->rev = event_new(srv.base, c->fd, EV_READ | EV_PERSIST, echo_read_cb,
	    c);
	e->wev = event_new(srv.base, c->fd, EV_WRITE | EV_PERSIST,
	    echo_write_cb, c);
	if (e->buf == NULL || e->rev == NULL || e->wev == NULL)
		fatalx("out of memory for an echo connection");
	c->svc = e;
	c->svc_free = echo_free;
	c->svc_drain = echo_drain;
	c->svc_busy = echo_busy;
	event_add(e->rev, &e->idle);
}
