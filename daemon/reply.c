/* Replies of the broker session; see reply.h. */
#include "autoconf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/proto.h"
#include "daemon/audit.h"
#include "daemon/child.h"
#include "daemon/conn.h"
#include "daemon/reply.h"
#include "daemon/stats.h"
#include "daemon/xport.h"

#define COPY_MAX	(16 * 1024)	/* replies copied, not moved */

void
reply_final(struct session *s, int code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	reply_vfinal(s, code, fmt, ap);
	va_end(ap);
}

void
reply_vfinal(struct session *s, int code, const char *fmt, va_list ap)
{
	char text[512];

	vsnprintf(text, sizeof(text), fmt, ap);
	audit_open(s);
	/* bytes_out counts what is queued for the client. */
	if (code == 0)
		s->conn->bytes_out += (unsigned long long)evbuffer_add_printf(
		    s->out, text[0] ? "OK %s\n" : "OK\n", text);
	else {
		/* An abandoned request is counted as such (session.c). */
		if (!s->abandoned)
			stats_count_error(code);
		s->conn->bytes_out += (unsigned long long)evbuffer_add_printf(
		    s->out, "ERR %d %s\n", code, text);
	}
	audit_end(s, code, text);
}

/*
 * Small replies are copied: moving their chains would queue the slack of
 * many small chains, which a client that does not read keeps.
 */
void
reply_data(struct session *s, struct evbuffer *buf)
{
	char	hdr[PROTO_DATA_HDR_MAX];
	size_t	n, hlen;

	while ((n = evbuffer_get_length(buf)) > 0) {
		if (n > PROTO_MAX_FRAME)
			n = PROTO_MAX_FRAME;
		hlen = proto_data_header(hdr, n);
		evbuffer_add(s->out, hdr, hlen);
		s->conn->bytes_out += hlen;
		if (n <= COPY_MAX) {
			evbuffer_add(s->out, evbuffer_pullup(buf,
			    (ev_ssize_t)n), n);
			evbuffer_drain(buf, n);
		} else
			evbuffer_remove_buffer(buf, s->out, n);
		s->conn->bytes_out += n;
	}
}

void
reply_flush(struct session *s)
{
	(void)xport_write_buf(s->conn->xport, s->out, -1);
}

int
reply_kick(struct session *s)
{
	if (s->writing || evbuffer_get_length(s->out) == 0)
		return 0;
	if (xport_want_write(s->conn->xport, XPORT_ON) != 0) {
		log_ctx(LOG_ERR, s->conn->ctx, "cannot watch the connection");
		conn_close(s->conn);
		return -1;
	}
	s->writing = 1;
	return 0;
}

/*
 * The client went away while a request ran for it: counted once, and
 * logged once, with what ran; the caller stops the request.
 */
void
reply_abandon(struct session *s, const char *why)
{
	if (!s->running || s->abandoned)
		return;
	stats_inc(STAT_requests_abandoned);
	if (s->child != NULL) {
		char text[160];

		snprintf(text, sizeof(text), "%s; SIGTERM to %s's process "
		    "group (pid %d)", why, s->cmd->name,
		    (int)child_pid(s->child));
		audit_abandon(s, text);
	} else
		audit_abandon(s, why);
	s->abandoned = 1;
}

void
reply_gone(struct session *s, const char *what)
{
	int e = errno;

	reply_abandon(s, "client went away");
	errno = e;
	conn_broken(s->conn, what);
}
