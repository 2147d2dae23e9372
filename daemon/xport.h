/*
 * Transports: the bytes of one connection, whatever carries them.  A
 * service (echo, the broker session) reads and writes through this seam
 * and never touches the socket itself; xport_plain.c is today's plain
 * socket, and a TLS transport is another implementation of the same
 * operations (struct xport_ops), chosen when the connection is accepted.
 *
 * The contract, for every implementation:
 *
 * Reading.  xport_read() and xport_read_buf() return as read(2) does:
 * bytes read (> 0), 0 at the end of the stream, or -1 with errno EAGAIN
 * (nothing to read now; wait for the read callback) or another errno (the
 * connection broke).  xport_read_buf() appends at most max bytes to buf.
 *
 * Writing.  xport_write() and xport_write_buf() write what the transport
 * takes now: a short count is normal; -1 with EAGAIN when it takes nothing
 * now, another errno when the connection broke.  xport_write_buf() drains
 * what it wrote from buf, at most max bytes (-1: all of it).  Bytes not
 * taken stay the caller's, and its next write must offer them again,
 * first (a TLS record is retried with the same bytes, maybe from another
 * address).  Bytes taken are sent in order, before the end of the stream.
 *
 * Interest and callbacks.  xport_want_read(x, XPORT_ON) arms the read
 * callback and (re)starts the read idle timer; XPORT_ON_UNTIMED arms it
 * with no timer; XPORT_OFF disarms it.  xport_want_write() likewise for
 * writing.  Arming fails (-1) only when the loop cannot watch the
 * connection: close it.  Callbacks come from the loop, never from inside
 * an xport_* call, and are level-triggered: while read interest is armed
 * and a read could make progress -- bytes in the kernel, or held inside
 * the transport (a TLS record decrypted but not taken yet) -- the read
 * callback comes again; a transport holding bytes of its own makes its
 * read event active itself rather than wait for the socket.  What a
 * transport must do in the other direction to make progress (TLS: a
 * handshake or renegotiation that has to write in order to read, or read
 * in order to write) it arranges privately, on events of its own; the
 * service only hears "readable" or "writable" when a call may succeed.
 *
 * Timeouts.  An armed direction that sees no progress for the idle time
 * given at creation is disarmed and its callback called with
 * XPORT_TIMEOUT.  (The plain transport's idle timer restarts when its
 * event fires, as a persistent libevent event's does.)
 *
 * Splice.  xport_splice_fd() is the socket itself when the transport keeps
 * no bytes of its own and adds nothing to them (plain), for splice(2) and
 * recv(MSG_PEEK) by the caller; -1 when it cannot be bypassed (TLS): the
 * caller then copies through xport_read_buf().
 *
 * Identity.  xport_peer() is the peer's address (NULL for a local peer,
 * the control socket); xport_identity() a name the transport verified
 * (TLS: the client certificate's common name, "cn:NAME" in allow lists),
 * NULL when it has none.
 *
 * Closing.  xport_free() closes the connection at once, never blocking
 * (TLS: a close_notify is attempted, not waited for), and no callback
 * comes after it.
 */
#ifndef BROKERD_XPORT_H
#define BROKERD_XPORT_H

#include <sys/socket.h>
#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/event.h>

/* What a callback is told. */
#define XPORT_READ	0x01
#define XPORT_WRITE	0x02
#define XPORT_TIMEOUT	0x04

/* Define callbacks with WATCH_XPORT_CB (watch.h): they are timed. */
typedef void (*xport_cb)(short what, void *arg);

struct xport_cbs {
	xport_cb	 read;		/* XPORT_READ or XPORT_TIMEOUT */
	xport_cb	 write;		/* XPORT_WRITE or XPORT_TIMEOUT */
};

enum xport_want { XPORT_OFF, XPORT_ON, XPORT_ON_UNTIMED };

struct xport;

struct xport_ops {
	ssize_t	(*read)(struct xport *, void *, size_t);
	ssize_t	(*read_buf)(struct xport *, struct evbuffer *, size_t max);
	ssize_t	(*write)(struct xport *, const void *, size_t);
	ssize_t	(*write_buf)(struct xport *, struct evbuffer *,
		    ev_ssize_t max);
	int	(*want_read)(struct xport *, enum xport_want);
	int	(*want_write)(struct xport *, enum xport_want);
	int	(*splice_fd)(struct xport *);
	const char *(*identity)(struct xport *);
	void	(*free)(struct xport *);
};

/* The part every transport shares; an implementation embeds it first. */
struct xport {
	const struct xport_ops	*ops;
	const struct xport_cbs	*cbs;
	void			*arg;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;	/* 0: a local peer */
};

/* The callbacks and their argument; none come before this is called. */
static inline void
xport_setcb(struct xport *x, const struct xport_cbs *cbs, void *arg)
{
	x->cbs = cbs;
	x->arg = arg;
}

static inline const struct sockaddr *
xport_peer(const struct xport *x)
{
	return x->peerlen > 0 ? (const struct sockaddr *)&x->peer : NULL;
}

static inline ssize_t
xport_read(struct xport *x, void *buf, size_t len)
{
	return x->ops->read(x, buf, len);
}

static inline ssize_t
xport_read_buf(struct xport *x, struct evbuffer *buf, size_t max)
{
	return x->ops->read_buf(x, buf, max);
}

static inline ssize_t
xport_write(struct xport *x, const void *buf, size_t len)
{
	return x->ops->write(x, buf, len);
}

static inline ssize_t
xport_write_buf(struct xport *x, struct evbuffer *buf, ev_ssize_t max)
{
	return x->ops->write_buf(x, buf, max);
}

static inline int
xport_want_read(struct xport *x, enum xport_want w)
{
	return x->ops->want_read(x, w);
}

static inline int
xport_want_write(struct xport *x, enum xport_want w)
{
	return x->ops->want_write(x, w);
}

static inline int
xport_splice_fd(struct xport *x)
{
	return x->ops->splice_fd(x);
}

static inline const char *
xport_identity(struct xport *x)
{
	return x->ops->identity(x);
}

static inline void
xport_free(struct xport *x)
{
	x->ops->free(x);
}

/*
 * The plain socket fd, nonblocking; sa/salen its peer (NULL, 0: local).
 * idle_s: the idle timeout of both directions.  ctx names its callbacks
 * in the slow-callback log (it must outlive the transport).  NULL if the
 * loop cannot take it; fd is then still the caller's.
 */
struct xport *xport_plain_new(struct event_base *, evutil_socket_t fd,
	    const struct sockaddr *sa, socklen_t salen, int idle_s,
	    const char *ctx);

#endif
