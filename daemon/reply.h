/*
 * Replies of the broker session (brokerd-protocol(7)): zero or more
 * DATA frames, then exactly one final line.  Every request ends in
 * reply_final(): the one place that sees each answer go out.
 */
#ifndef BROKERD_REPLY_H
#define BROKERD_REPLY_H

#include <stdarg.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "daemon/session_int.h"

/* "OK text" for code 0, else "ERR code text" (counted and logged). */
void	reply_final(struct session *, int code, const char *fmt, ...)
	    LOG_PRINTF(3, 4);
void	reply_vfinal(struct session *, int code, const char *fmt, va_list)
	    LOG_PRINTF(3, 0);
/* Frames all of buf as DATA (at most PROTO_MAX_FRAME each), draining it. */
void	reply_data(struct session *, struct evbuffer *buf);
/* Writes what the transport takes now; errors are the write callback's. */
void	reply_flush(struct session *);
/*
 * Output is pending: the write callback must come.  -1 if the loop
 * cannot watch the connection: it is closed, and the caller must stop.
 */
int	reply_kick(struct session *);

/*
 * The client went away while a request ran for it (why: how we know):
 * counted once in requests_abandoned and logged once by its audit line,
 * with what ran; the caller stops the request.
 */
void	reply_abandon(struct session *, const char *why);
/*
 * The connection broke (what: "read", "write") with errno set: a request
 * running for it is abandoned, and the connection is closed.
 */
void	reply_gone(struct session *, const char *what);

#endif
