/*
 * The echo service (RFC 862).  This is the hot path, so it skips the
 * bufferevent layer: one evbuffer per connection, read straight into it
 * with readv and written back with writev at once (most echoes never wait
 * for writability).  Reading pauses while more than ECHO_HIGH bytes wait
 * for a slow reader; after the client half-closes the rest is flushed and
 * the connection closed.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/log.h"
#include "daemon/bufio.h"
#include "daemon/echo.h"
#include "daemon/server.h"
#include "daemon/watch.h"

#define ECHO_HIGH	(64 * 1024)
#define ECHO_LOW	(16 * 1024)
#define ECHO_READ	(64 * 1024)	/* per readv; above libevent's 4 KiB */

struct echo {
	struct event		*rev, *wev;
	struct evbuffer		*buf;	/* bytes the peer has not taken yet */
	const struct timeval	*idle;	/* a libevent common timeout */
	struct timeval		 idle_tv; /* if none could be had */
	int			 idle_s;
	int			 eof;	/* no more reading: EOF or draining */
	int			 paused; /* reading stopped by backpressure */
	int			 writing; /* wev is armed */
};

/* Loop thread only: where a read lands when nothing is pending. */
static char scratch[ECHO_READ];

static void
echo_close_idle(struct conn *c)
{
	log_ctx(LOG_INFO, c->ctx, "idle for %d s, closing",
	    ((struct echo *)c->state)->idle_s);
	stats_inc(STAT_connections_idle_closed);
	conn_close(c);
}

static void
echo_sent(struct conn *c, size_t n)
{
	c->bytes_out += n;
	if (log_enabled(LOG_DEBUG))
		log_ctx(LOG_DEBUG, c->ctx, "sent %zu bytes", n);
}

/* Arms or disarms writing and reading after the buffer changed. */
static int
echo_settle(struct conn *c)
{
	struct echo	*e = c->state;
	size_t		 left = evbuffer_get_length(e->buf);

	if (left == 0) {
		if (e->writing) {
			event_del(e->wev);
			e->writing = 0;
		}
		if (e->eof) {
			conn_close(c);
			return -1;
		}
	} else if (!e->writing) {
		event_add(e->wev, e->idle);
		e->writing = 1;
	}
	/*
	 * Explicit backpressure: reading stops above the high mark and
	 * resumes below the low one, so memory per connection is bounded.
	 */
	if (!e->eof && !e->paused && left > ECHO_HIGH) {
		event_del(e->rev);
		e->paused = 1;
	} else if (!e->eof && e->paused && left <= ECHO_LOW) {
		event_add(e->rev, e->idle);
		e->paused = 0;
	}
	return 0;
}

/* Writes what it can of the buffer now; arranges for the rest. */
static int
echo_flush(struct conn *c)
{
	struct echo	*e = c->state;
	int		 n;

	if (evbuffer_get_length(e->buf) > 0) {
		n = evbuffer_write(e->buf, c->fd);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			log_ctx(LOG_DEBUG, c->ctx, "write: %s", strerror(errno));
			conn_close(c);
			return -1;
		}
		if (n > 0)
			echo_sent(c, (size_t)n);
	}
	return echo_settle(c);
}

static void
echo_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct echo	*e = c->state;
	ssize_t		 n, w;

	if (what & EV_TIMEOUT) {
		echo_close_idle(c);
		return;
	}
	if (evbuffer_get_length(e->buf) > 0) {
		/* Bytes are waiting: append, so the order is kept. */
		n = bufio_read(e->buf, fd, ECHO_READ);
	} else {
		/*
		 * The common case: read into scratch and write it straight
		 * back; only what the peer cannot take now is buffered.
		 */
		n = read(fd, scratch, sizeof(scratch));
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_ctx(LOG_DEBUG, c->ctx, "read: %s", strerror(errno));
		conn_close(c);
		return;
	}
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
	if (evbuffer_get_length(e->buf) > 0) {
		echo_flush(c);
		return;
	}
	w = write(fd, scratch, (size_t)n);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			log_ctx(LOG_DEBUG, c->ctx, "write: %s", strerror(errno));
			conn_close(c);
			return;
		}
		w = 0;
	}
	if (w > 0)
		echo_sent(c, (size_t)w);
	if (w < n) {
		evbuffer_add(e->buf, scratch + w, (size_t)(n - w));
		echo_settle(c);
	}
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
	struct echo *e = c->state;

	if (e->eof)
		return;
	e->eof = 1;
	event_del(e->rev);
	echo_flush(c);
}

static int
echo_busy(struct conn *c)
{
	return evbuffer_get_length(((struct echo *)c->state)->buf) > 0;
}

static void
echo_free(struct conn *c)
{
	struct echo *e = c->state;

	if (e->rev != NULL)
		event_free(e->rev);
	if (e->wev != NULL)
		event_free(e->wev);
	if (e->buf != NULL)
		evbuffer_free(e->buf);
	free(e);
	c->state = NULL;
}

static int
echo_start(struct conn *c)
{
	struct echo	*e = xcalloc(1, sizeof(*e));
	struct timeval	 tv = { srv.cfg->limits.idle_timeout_s, 0 };

	c->state = e;
	/*
	 * A common timeout: re-arming it on every read is a queue append,
	 * not a heap operation.  libevent reuses one per duration.
	 */
	e->idle_tv = tv;
	e->idle = event_base_init_common_timeout(srv.base, &tv);
	if (e->idle == NULL)
		e->idle = &e->idle_tv;
	e->idle_s = (int)tv.tv_sec;
	e->buf = evbuffer_new();
	e->rev = event_new(srv.base, c->fd, EV_READ | EV_PERSIST, echo_read_cb,
	    c);
	e->wev = event_new(srv.base, c->fd, EV_WRITE | EV_PERSIST,
	    echo_write_cb, c);
	if (e->buf == NULL || e->rev == NULL || e->wev == NULL ||
	    event_add(e->rev, e->idle) != 0) {
		echo_free(c);
		return -1;
	}
	return 0;
}

const struct service echo_service = {
	SERVICE_ECHO, echo_start, echo_drain, echo_busy, echo_free
};
