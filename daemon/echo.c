/*
 * The echo service (RFC 862): input evbuffer moved to the output, reading
 * paused while the output is above the high mark, flush then close after
 * the client half-closes.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "common/log.h"
#include "daemon/server.h"
#include "daemon/watch.h"

#define ECHO_HIGH	(64 * 1024)
#define ECHO_LOW	(16 * 1024)

/* Stored in conn->svc as a flag word: no allocation per connection. */
#define ECHO_EOF	((void *)1)

static void
echo_log_sent(struct conn *c, struct evbuffer *out)
{
	unsigned long long sent = c->bytes_in - evbuffer_get_length(out);

	if (sent > c->bytes_out) {
		log_ctx(LOG_DEBUG, c->ctx, "sent %llu bytes",
		    sent - c->bytes_out);
		c->bytes_out = sent;
	}
}

static void
echo_read(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer	*out = bufferevent_get_output(bev);
	size_t		 n = evbuffer_get_length(in);

	c->bytes_in += n;
	if (log_enabled(LOG_DEBUG))
		log_ctx(LOG_DEBUG, c->ctx, "received %zu bytes", n);
	evbuffer_add_buffer(out, in);
	/*
	 * Explicit backpressure: the read high-water mark alone can spin
	 * the loop in libevent 2.1.12 (issue #891).
	 */
	if (evbuffer_get_length(out) > ECHO_HIGH)
		bufferevent_disable(bev, EV_READ);
}
WATCH_BEV_DATA_CB(echo_read_cb, echo_read, conn_ctx)

static void
echo_write(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;
	struct evbuffer	*out = bufferevent_get_output(bev);

	if (log_enabled(LOG_DEBUG))
		echo_log_sent(c, out);
	else
		c->bytes_out = c->bytes_in - evbuffer_get_length(out);
	if (c->svc == ECHO_EOF) {
		if (evbuffer_get_length(out) == 0)
			conn_close(c);
		return;
	}
	if (!(bufferevent_get_enabled(bev) & EV_READ))
		bufferevent_enable(bev, EV_READ);
}
WATCH_BEV_DATA_CB(echo_write_cb, echo_write, conn_ctx)

static void
echo_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;

	if (what & BEV_EVENT_EOF) {
		c->svc = ECHO_EOF;
		bufferevent_disable(bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
			conn_close(c);
			return;
		}
		/* Flush everything, then close from the write callback. */
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		log_ctx(LOG_INFO, c->ctx, "idle for %d s, closing",
		    srv.cfg->limits.idle_timeout_s);
		stats.connections_idle_closed++;
	} else if (what & BEV_EVENT_ERROR)
		log_ctx(LOG_DEBUG, c->ctx, "%s: %s",
		    what & BEV_EVENT_READING ? "read" : "write",
		    strerror(EVUTIL_SOCKET_ERROR()));
	conn_close(c);
}
WATCH_BEV_EVENT_CB(echo_event_cb, echo_event, conn_ctx)

/* Shutdown: stop reading, give back what was received, then close. */
static void
echo_drain(struct conn *c)
{
	if (c->svc == ECHO_EOF)
		return;
	c->svc = ECHO_EOF;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_close(c);
	else
		bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

static int
echo_busy(struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) > 0;
}

void
echo_start(struct conn *c)
{
	c->svc_drain = echo_drain;
	c->svc_busy = echo_busy;
	bufferevent_setcb(c->bev, echo_read_cb, echo_write_cb, echo_event_cb,
	    c);
	bufferevent_setwatermark(c->bev, EV_WRITE, ECHO_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}
