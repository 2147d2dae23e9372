/*
 * The echo service (RFC 862).  This is the hot path: one evbuffer per
 * connection, and most of the time not even that -- a read lands in a
 * scratch buffer and is written straight back, and only what the peer
 * cannot take now is kept.  Reading pauses while more than ECHO_HIGH
 * bytes wait for a slow reader; after the client half-closes the rest is
 * flushed and the connection closed.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "daemon/echo.h"
#include "daemon/watch.h"
#include "daemon/xport.h"

#define ECHO_HIGH	(64 * 1024)
#define ECHO_LOW	(16 * 1024)
#define ECHO_READ	(64 * 1024)	/* per read; above libevent's 4 KiB */

struct echo {
	struct evbuffer		*buf;	/* bytes the peer has not taken yet */
	int			 eof;	/* no more reading: EOF */
	int			 paused; /* reading stopped by backpressure */
	int			 writing; /* write interest is armed */
};

/* Loop thread only: where a read lands when nothing is pending. */
static char scratch[ECHO_READ];

static void
echo_sent(struct conn *c, size_t n)
{
	c->bytes_out += n;
	if (log_enabled(LOG_DEBUG))
		log_ctx(LOG_DEBUG, c->ctx, "sent %zu bytes", n);
}

/*
 * Arms or disarms writing and reading after the buffer changed; -1 once
 * the connection is closed.
 */
static int
echo_settle(struct conn *c)
{
	struct echo	*e = c->state;
	size_t		 left = evbuffer_get_length(e->buf);
	int		 r = 0;

	if (left == 0) {
		if (e->writing) {
			r = xport_want_write(c->xport, XPORT_OFF);
			e->writing = 0;
		}
		if (e->eof) {
			conn_close(c);
			return -1;
		}
	} else if (!e->writing) {
		r = xport_want_write(c->xport, XPORT_ON);
		e->writing = 1;
	}
	/*
	 * Explicit backpressure: reading stops above the high mark and
	 * resumes below the low one, so memory per connection is bounded.
	 */
	if (r == 0 && !e->eof && !e->paused && left > ECHO_HIGH) {
		r = xport_want_read(c->xport, XPORT_OFF);
		e->paused = 1;
	} else if (r == 0 && !e->eof && e->paused && left <= ECHO_LOW) {
		r = xport_want_read(c->xport, XPORT_ON);
		e->paused = 0;
	}
	if (r != 0) {
		log_ctx(LOG_ERR, c->ctx, "cannot watch the connection");
		conn_close(c);
		return -1;
	}
	return 0;
}

/* Writes what it can of the buffer now; arranges for the rest. */
static int
echo_flush(struct conn *c)
{
	struct echo	*e = c->state;
	ssize_t		 n;

	if (evbuffer_get_length(e->buf) > 0) {
		n = xport_write_buf(c->xport, e->buf, -1);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			conn_broken(c, "write");
			return -1;
		}
		if (n > 0)
			echo_sent(c, (size_t)n);
	}
	return echo_settle(c);
}

/* The peer is done sending: flush, then close. */
static void
echo_stop_reading(struct conn *c)
{
	struct echo *e = c->state;

	e->eof = 1;
	(void)xport_want_read(c->xport, XPORT_OFF);	/* a delete */
	echo_flush(c);
}

static void
echo_close_idle(struct conn *c)
{
	log_ctx(LOG_INFO, c->ctx, "idle for %d s, closing", c->idle_s);
	stats_inc(STAT_connections_idle_closed);
	conn_close(c);
}

static void
echo_on_read(short what, void *arg)
{
	struct conn	*c = arg;
	struct echo	*e = c->state;
	ssize_t		 n, w;

	if (what & XPORT_TIMEOUT) {
		echo_close_idle(c);
		return;
	}
	/* Bytes are waiting: append, so the order is kept. */
	if (evbuffer_get_length(e->buf) > 0)
		n = xport_read_buf(c->xport, e->buf, ECHO_READ);
	else
		n = xport_read(c->xport, scratch, sizeof(scratch));
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_broken(c, "read");
		return;
	}
	if (n == 0) {
		/* Half-close: flush what is left, then close. */
		echo_stop_reading(c);
		return;
	}
	c->bytes_in += (unsigned long long)n;
	c->rx_ms = mono_ms();
	if (log_enabled(LOG_DEBUG))
		log_ctx(LOG_DEBUG, c->ctx, "received %zd bytes", n);
	if (evbuffer_get_length(e->buf) > 0) {
		echo_flush(c);
		return;
	}
	/* The common case: straight back; only the rest is buffered. */
	w = xport_write(c->xport, scratch, (size_t)n);
	if (w < 0) {
		if (errno != EAGAIN && errno != EINTR) {
			conn_broken(c, "write");
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
WATCH_XPORT_CB(echo_read_cb, echo_on_read, conn_ctx)

static void
echo_on_write(short what, void *arg)
{
	struct conn *c = arg;

	if (what & XPORT_TIMEOUT) {
		/* Nothing left our buffer for idle_timeout_s. */
		echo_close_idle(c);
		return;
	}
	echo_flush(c);
}
WATCH_XPORT_CB(echo_write_cb, echo_on_write, conn_ctx)

static const struct xport_cbs echo_cbs = { echo_read_cb, echo_write_cb };

/*
 * The drain waits while bytes are owed to the client, and while it is
 * still sending: one that connected just before gets its data back.
 */
static int
echo_busy(struct conn *c)
{
	struct echo *e = c->state;

	return evbuffer_get_length(e->buf) > 0 || (!e->eof && conn_recent(c));
}

static void
echo_free(struct conn *c)
{
	struct echo *e = c->state;

	if (e->buf != NULL)
		evbuffer_free(e->buf);
	free(e);
	c->state = NULL;
}

static int
echo_start(struct conn *c)
{
	struct echo *e = xcalloc(1, sizeof(*e));

	c->state = e;
	if ((e->buf = evbuffer_new()) == NULL) {
		echo_free(c);
		return -1;
	}
	xport_setcb(c->xport, &echo_cbs, c);
	return xport_want_read(c->xport, XPORT_ON);
}

const struct service echo_service = {
	SERVICE_ECHO, echo_start, NULL, echo_busy, echo_free
};
