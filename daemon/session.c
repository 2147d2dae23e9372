/*
 * The broker protocol, server side: the request loop.  Request lines in,
 * replies out in order; input taken only while it can be used, so both
 * directions have backpressure; the idle and request timeouts.  See
 * session_int.h for the files that do the rest, and brokerd-protocol(7).
 */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/proto.h"
#include "daemon/child.h"
#include "daemon/dfnative.h"
#include "daemon/reload.h"
#include "daemon/reply.h"
#include "daemon/server.h"
#include "daemon/session.h"
#include "daemon/session_int.h"
#include "daemon/splice.h"
#include "daemon/verbs.h"
#include "daemon/watch.h"
#include "daemon/xport.h"

#define FIRST_READ	4096		/* read when readable; full: more? */
#define WRITE_MAX	(256 * 1024)	/* per write callback */
#define PROBE_MS	250		/* a client at EOF, a request running */
#define PROBE		"DATA 0\n"	/* an empty frame: carries nothing */

static void	session_process(struct session *);
static void	session_fail(struct session *, int, const char *, ...)
		    LOG_PRINTF(3, 4);

static const char *
session_ctx(void *arg)
{
	return ((struct session *)arg)->conn->ctx;
}

/*
 * Who reads the socket from now on.  -1 if the loop cannot watch it: the
 * request is failed, and the caller must stop.
 */
static int
read_mode(struct session *s, enum rmode m)
{
	static const enum xport_want want[] = {
		[READ_OFF] = XPORT_OFF, [READ_BUF] = XPORT_ON,
		[READ_SPLICE] = XPORT_ON_UNTIMED
	};

	s->rmode = m;
	if (xport_want_read(s->conn->xport, want[m]) == 0 || m == READ_OFF)
		return 0;
	s->rmode = READ_OFF;
	session_fail(s, 500, "internal error: cannot watch the connection");
	return -1;
}

/* Stops the read callback of mode m, if that is the one armed. */
static void
read_stop(struct session *s, enum rmode m)
{
	if (s->rmode == m)
		(void)read_mode(s, READ_OFF);
}

/*
 * A client at EOF while its request runs either only shut down its
 * sending side and still reads (brokerctl does, after END), or is gone.
 * Only a write tells them apart: a closed socket answers it with a
 * reset, and the write after that fails.  So while the request runs,
 * an empty frame goes out every PROBE_MS when nothing else is pending.
 */
static void
session_probe(struct session *s)
{
	struct timeval tv = { 0, PROBE_MS * 1000 };

	if (!s->running || s->closing || !s->eof)
		return;
	if (evbuffer_get_length(s->out) == 0) {
		evbuffer_add(s->out, PROBE, sizeof(PROBE) - 1);
		s->conn->bytes_out += sizeof(PROBE) - 1;
		if (reply_kick(s) != 0)
			return;
	}
	if (evtimer_add(s->probe, &tv) != 0)
		log_ctx(LOG_ERR, s->conn->ctx, "cannot time the probe of a "
		    "client at EOF; a client gone goes unnoticed");
}

static void
session_probe_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	session_probe(arg);
}
WATCH_EVENT_CB(session_probe_cb, session_probe_timer, session_ctx)

/* A framing error: answer, then close once the answer is out. */
static void
session_fail(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	if (s->child != NULL) {
		child_abandon(s->child);
		s->child = NULL;
	}
	splice_close(s);
	evtimer_del(s->req_timer);
	va_start(ap, fmt);
	reply_vfinal(s, code, fmt, ap);
	va_end(ap);
	s->closing = 1;
	s->input = INPUT_NONE;
	read_stop(s, s->rmode);
	s->wlow = 0;
	if (evbuffer_get_length(s->out) == 0)
		conn_close(s->conn);
	else
		(void)reply_kick(s);
}

static void
session_input_line(struct session *s, const char *line)
{
	if (*line == '\0')
		return;		/* blank lines are ignored here too */
	if (strcasecmp(line, "END") != 0) {
		session_fail(s, 400, "expected DATA or END");
		return;
	}
	if (s->input == INPUT_FORWARD && s->child != NULL)
		splice_end(s);
	s->input = INPUT_NONE;
}

/* Whether input may be consumed now; otherwise reading waits. */
static int
session_can_consume(struct session *s)
{
	struct evbuffer *out = s->out, *cin;

	if (s->closing)
		return 0;
	if (s->input == INPUT_FORWARD) {
		cin = s->child != NULL ? child_stdin(s->child) : NULL;
		return cin == NULL || evbuffer_get_length(cin) <
		    CHILD_STDIN_HIGH;
	}
	if (s->input == INPUT_DISCARD)
		return 1;
	return !s->running && evbuffer_get_length(out) <= OUT_HIGH;
}

/*
 * A line that started (a request line, a DATA header, END) must end
 * within request_timeout_s of its first byte, counted while the daemon
 * waits for the client: not while input it has not taken is pending.
 */
static int
req_timer_update(struct session *s)
{
	struct timeval tv = { srv.cfg->limits.request_timeout_s, 0 };

	if (s->closing || s->parser.linelen == 0 ||
	    evbuffer_get_length(s->in) > 0)
		evtimer_del(s->req_timer);
	else if (!evtimer_pending(s->req_timer, NULL) &&
	    evtimer_add(s->req_timer, &tv) != 0) {
		session_fail(s, 500, "internal error: cannot time the "
		    "request");
		return -1;
	}
	return 0;
}

/* Waits for room in the child's stdin; -1 once the request failed. */
static int
stdin_wait(struct session *s)
{
	if (child_stdin_wait(s->child) == 0)
		return 0;
	session_fail(s, 500, "internal error: cannot wait for %s's input",
	    s->cmd->name);
	return -1;
}

/*
 * The splice path's turn, and what it asks for.  1: process again;
 * 0: go on as usual; -1: stop here (waiting, or closed).
 */
static int
session_splice(struct session *s)
{
	switch (splice_in(s)) {
	case SPLICE_NO:
		return 0;
	case SPLICE_GONE:
		return -1;
	case SPLICE_AGAIN:
		read_stop(s, READ_BUF);
		return 1;
	case SPLICE_WAIT_SOCKET:
		if (read_mode(s, READ_SPLICE) != 0)
			return -1;
		break;
	case SPLICE_WAIT_STDIN:
		(void)read_mode(s, READ_OFF);
		if (stdin_wait(s) != 0)
			return -1;
		break;
	}
	(void)req_timer_update(s);
	return -1;
}

static void
session_process_input(struct session *s)
{
	struct evbuffer		*in = s->in, *cin;
	struct evbuffer_iovec	 v;
	struct proto_event	 ev;
	size_t			 n;

again:
	if ((s->staged > 0 || s->stage_end) &&
	    splice_drain(s) == SPLICE_WAIT_STDIN && stdin_wait(s) != 0)
		return;
	while (evbuffer_get_length(in) > 0 && session_can_consume(s)) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		/* Where a request line may start, for its audit line. */
		if (s->input == INPUT_NONE && s->parser.linelen == 0 &&
		    !proto_in_frame(&s->parser))
			s->line_in = s->conn->bytes_in -
			    evbuffer_get_length(in);
		n = proto_feed(&s->parser, v.iov_base, v.iov_len, &ev);
		if (ev.kind == PROTO_DATA && ev.len > 0 &&
		    s->input == INPUT_FORWARD && s->child != NULL &&
		    (cin = child_stdin(s->child)) != NULL)
			evbuffer_remove_buffer(in, cin, n);
		else
			evbuffer_drain(in, n);
		switch (ev.kind) {
		case PROTO_NONE:
		case PROTO_DATA:
			if (s->input == INPUT_NONE &&
			    (ev.kind == PROTO_DATA ||
			    proto_in_frame(&s->parser)))
				session_fail(s, 400, "DATA frame outside a "
				    "request's input");
			break;
		case PROTO_LINE:
			if (s->input != INPUT_NONE)
				session_input_line(s, ev.line);
			else
				verbs_dispatch(s, (char *)ev.line, ev.len);
			break;
		case PROTO_ERR_LONG:
			session_fail(s, 413, "request line longer than %zu "
			    "bytes", s->parser.max_line);
			break;
		case PROTO_ERR_FRAME:
			session_fail(s, 400, "malformed DATA frame header");
			break;
		}
		if (s->conn->closed)
			return;
	}
	if (s->closing)
		return;
	switch (session_splice(s)) {
	case 1:
		goto again;
	case -1:
		return;
	}
	read_stop(s, READ_SPLICE);
	if (req_timer_update(s) != 0)
		return;

	if (s->eof) {
		/* A refused request's input may be cut short: answered. */
		if (s->input == INPUT_DISCARD && !s->running)
			s->input = INPUT_NONE;
		if (s->input != INPUT_NONE) {
			/* Answered: the client may only have half-closed. */
			reply_abandon(s, "connection closed before END");
			session_fail(s, 400, "connection closed before END");
			return;
		}
		if (s->running && !evtimer_pending(s->probe, NULL))
			session_probe(s);
		if (!s->running && evbuffer_get_length(in) == 0) {
			s->closing = 1;
			s->wlow = 0;
			if (evbuffer_get_length(s->out) == 0)
				conn_close(s->conn);
		}
		return;
	}
	if (!session_can_consume(s) && (evbuffer_get_length(in) >= IN_MAX ||
	    evbuffer_get_length(in) + evbuffer_get_length(s->out) >=
	    CONN_MAX))
		read_stop(s, READ_BUF);
	else if (!session_can_consume(s) && s->input == INPUT_FORWARD)
		read_stop(s, READ_BUF);
	else
		(void)read_mode(s, READ_BUF);	/* restarts the idle timer */
}

/* Whatever woke the session up: take input, then send what it made. */
static void
session_process(struct session *s)
{
	session_process_input(s);
	if (!s->conn->closed)
		(void)reply_kick(s);
}

/*
 * How much more input to read at once: up to IN_MAX unparsed and CONN_MAX
 * with the output; for a command, what its stdin buffer has room for;
 * for input that is discarded, what the parser drops right away.
 */
static size_t
read_room(struct session *s)
{
	size_t		 in = evbuffer_get_length(s->in), held;
	struct evbuffer	*cin;

	if (s->input == INPUT_DISCARD)
		return READ_MORE;
	if (s->input == INPUT_FORWARD && s->child != NULL &&
	    (cin = child_stdin(s->child)) != NULL) {
		held = in + evbuffer_get_length(cin);
		return held < CHILD_STDIN_HIGH ? CHILD_STDIN_HIGH - held : 0;
	}
	held = in + evbuffer_get_length(s->out);
	if (in >= IN_MAX || held >= CONN_MAX)
		return 0;
	return IN_MAX - in < CONN_MAX - held ? IN_MAX - in : CONN_MAX - held;
}

/* Nothing read for idle_timeout_s (the transport stopped reading). */
static void
session_read_idle(struct session *s)
{
	s->rmode = READ_OFF;
	if (s->running) {
		/* Busy on the client's behalf: not idle. */
		(void)read_mode(s, READ_BUF);
		return;
	}
	log_ctx(LOG_INFO, s->conn->ctx, "idle for %d s, closing",
	    s->conn->idle_s);
	stats_inc(STAT_connections_idle_closed);
	conn_close(s->conn);
}

static void
session_read(short what, void *arg)
{
	struct session	*s = arg;
	size_t		 room;
	ssize_t		 n, more;

	if (what & XPORT_TIMEOUT) {
		session_read_idle(s);
		return;
	}
	/* The splice path reads for itself. */
	if (s->rmode == READ_SPLICE) {
		session_process(s);
		return;
	}
	n = xport_read_buf(s->conn->xport, s->in, FIRST_READ);
	if (n == 0) {
		s->eof = 1;
		read_stop(s, READ_BUF);
		session_process(s);
		return;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		reply_gone(s, "read");
		return;
	}
	/*
	 * A full read: more, while we can use it.  EOF and errors are left
	 * for the next read to find.  Input for a child is spliced instead,
	 * frame by frame.
	 */
	if (n == FIRST_READ && session_can_consume(s) &&
	    (room = read_room(s)) > 0 &&
	    !(s->splice && s->input == INPUT_FORWARD) &&
	    (more = xport_read_buf(s->conn->xport, s->in,
	    room < READ_MORE ? room : READ_MORE)) > 0)
		n += more;
	s->conn->bytes_in += (unsigned long long)n;
	s->conn->rx_ms = mono_ms();
	session_process(s);
}
WATCH_XPORT_CB(session_read_cb, session_read, session_ctx)

static void
session_write(short what, void *arg)
{
	struct session	*s = arg;
	ssize_t		 n;

	if (what & XPORT_TIMEOUT) {
		/* Taking none of its reply: gone, busy or not. */
		log_ctx(LOG_INFO, s->conn->ctx, "client read nothing for %d s, "
		    "closing", s->conn->idle_s);
		stats_inc(STAT_connections_idle_closed);
		conn_close(s->conn);
		return;
	}
	n = xport_write_buf(s->conn->xport, s->out, WRITE_MAX);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		reply_gone(s, "write");
		return;
	}
	if (evbuffer_get_length(s->out) == 0) {
		(void)xport_want_write(s->conn->xport, XPORT_OFF);
		s->writing = 0;
	}
	if (n == 0 || evbuffer_get_length(s->out) > s->wlow)
		return;
	if (s->closing) {
		if (evbuffer_get_length(s->out) == 0)
			conn_close(s->conn);
		return;
	}
	if (s->child != NULL && child_pause_stdout(s->child, 0) != 0) {
		session_fail(s, 500, "internal error: cannot read %s's output",
		    s->cmd->name);
		return;
	}
	session_process(s);
}
WATCH_XPORT_CB(session_write_cb, session_write, session_ctx)

static const struct xport_cbs session_cbs = {
	session_read_cb, session_write_cb
};

static void
session_req_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	session_fail(s, 504, "request timed out");
}
WATCH_EVENT_CB(session_req_timeout_cb, session_req_timeout, session_ctx)

static void
session_free(struct conn *c)
{
	struct session *s = c->state;

	if (s->child != NULL)
		child_abandon(s->child);
	if (s->dfn != NULL)
		dfnative_cancel(s->dfn);
	reload_cancel(&s->reload);
	if (s->req_timer != NULL)
		event_free(s->req_timer);
	if (s->probe != NULL)
		event_free(s->probe);
	splice_close(s);
	if (s->rbuf != NULL)
		evbuffer_free(s->rbuf);
	if (s->in != NULL)
		evbuffer_free(s->in);
	if (s->out != NULL)
		evbuffer_free(s->out);
	proto_free(&s->parser);
	if (s->dfout != NULL)
		evbuffer_free(s->dfout);
	config_unref(s->cfg);
	/* Callbacks of ours may still be on the stack: free after them. */
	watch_defer_free(s, free);
	c->state = NULL;
}

static int
session_busy(struct conn *c)
{
	struct session *s = c->state;

	/*
	 * A refused request whose END never comes does not hold a drain; a
	 * reply still in the output buffer does, or its end would be lost;
	 * so does a first request that may still come (conn_recent).
	 */
	return s->running || s->input == INPUT_FORWARD ||
	    evbuffer_get_length(s->out) > 0 || (s->requests == 0 &&
	    !s->eof && !s->closing && conn_recent(c));
}

static int
session_start(struct conn *c, unsigned where)
{
	struct session *s = xcalloc(1, sizeof(*s));

	c->state = s;
	s->conn = c;
	s->resume = session_process;
	s->where = where;
	s->stage[0] = s->stage[1] = -1;
	s->wlow = OUT_LOW;
	proto_init(&s->parser, (size_t)srv.cfg->limits.max_line,
	    PROTO_MAX_FRAME);
	s->req_timer = evtimer_new(srv.base, session_req_timeout_cb, s);
	s->probe = evtimer_new(srv.base, session_probe_cb, s);
	s->rbuf = evbuffer_new();
	s->in = evbuffer_new();
	s->out = evbuffer_new();
	if (s->req_timer == NULL || s->probe == NULL || s->rbuf == NULL ||
	    s->in == NULL || s->out == NULL)
		return -1;
	xport_setcb(c->xport, &session_cbs, s);
	s->rmode = READ_BUF;
	return xport_want_read(c->xport, XPORT_ON);
}

static int
session_start_broker(struct conn *c)
{
	return session_start(c, VERB_BROKER);
}

static int
session_start_control(struct conn *c)
{
	return session_start(c, VERB_CONTROL);
}

const struct service session_broker_service = {
	SERVICE_BROKER, session_start_broker, NULL, session_busy, session_free
};

const struct service session_control_service = {
	SERVICE_CONTROL, session_start_control, NULL, session_busy,
	session_free
};
