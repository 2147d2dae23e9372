/*
 * The TLS transport (see xport.h and tls.h): OpenSSL's SSL_read and
 * SSL_write on the nonblocking socket, driven by this file's own events,
 * rather than libevent's bufferevent_openssl: the seam already has the
 * shape OpenSSL wants (a write not taken is offered again, first), and
 * the glue's extra buffer between the two measured slower on echo and
 * UPPER (tests/bench/RESULTS.md, "TLS transport").
 *
 * The socket's events follow what the service wants and what OpenSSL
 * needs: a read that must write first (or the reverse) waits for the
 * other direction, never spinning on the one it has.  Bytes OpenSSL
 * holds already (read ahead, or a record taken in part) make the read
 * callback come again by an event of its own.  The handshake comes
 * first, bounded in time; its failures are counted and logged, at most
 * one line a second, and the service then hears the connection broke.
 */
#include "autoconf.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/stats.h"
#include "daemon/tls.h"
#include "daemon/watch.h"
#include "daemon/xport.h"

#define HS_LOG_MS	1000	/* at most one failure line this often */
#define CN_LOG_MAX	64	/* bytes of a CN shown in log lines */
#define READ_CHUNK	(64 * 1024)

struct tls {
	struct xport		 x;	/* first: a struct xport * is ours */
	evutil_socket_t		 fd;
	SSL			*ssl;
	struct event		*rev, *wev;	/* the socket, persistent */
	struct event		*rtimer, *wtimer; /* idle, per direction */
	struct event		*hstimer;	/* the handshake's deadline */
	struct event		*pend;		/* a read can go on now */
	const struct timeval	*idle;		/* a libevent common timeout */
	struct timeval		 idle_tv;
	char			*ctx;
	size_t			 ctxsize;
	char			*cn;		/* verified client CN */
	void		       (*opened)(void *);
	void			*opened_arg;
	enum xport_want		 want_r, want_w; /* the service's */
	int			 rarmed, warmed; /* rev, wev added */
	int			 hs;		/* handshaking */
	int			 hs_want;	/* SSL_ERROR_WANT_READ/WRITE */
	int			 open;		/* handshake done */
	int			 failed;	/* errno of a broken one */
	int			 eof;		/* close_notify read */
	int			 drained;	/* the last read wanted more */
	int			 dead;		/* xport_free() was called */
	int			 read_wants_write, write_wants_read;
};

static unsigned		 ntls;		/* open after a handshake */
static long long	 hs_log_ms = -HS_LOG_MS;
static unsigned long	 hs_unlogged;

unsigned
tls_connections(void)
{
	return ntls;
}

static const char *
tls_ctx_name(void *arg)
{
	return ((struct tls *)arg)->ctx;
}

/* Arms the socket's events for what is wanted now; -1 if it cannot. */
static int
tls_sync(struct tls *t)
{
	int	r = 0, need_r, need_w;

	if (t->failed) {
		need_r = need_w = 0;
	} else if (t->hs) {
		need_r = t->hs_want == SSL_ERROR_WANT_READ;
		need_w = t->hs_want == SSL_ERROR_WANT_WRITE;
	} else {
		need_r = (t->want_r != XPORT_OFF && !t->read_wants_write) ||
		    t->write_wants_read;
		need_w = (t->want_w != XPORT_OFF && !t->write_wants_read) ||
		    t->read_wants_write;
	}
	if (need_r != t->rarmed) {
		r |= need_r ? event_add(t->rev, NULL) : event_del(t->rev);
		t->rarmed = need_r;
	}
	if (need_w != t->warmed) {
		r |= need_w ? event_add(t->wev, NULL) : event_del(t->wev);
		t->warmed = need_w;
	}
	return r != 0 ? -1 : 0;
}

/* Whether a read could make progress without the socket. */
static int
tls_readable(struct tls *t)
{
	return t->failed || t->eof || (t->open && !t->drained &&
	    SSL_has_pending(t->ssl));
}

static void
tls_kick(struct tls *t)
{
	if (t->want_r != XPORT_OFF && tls_readable(t))
		event_active(t->pend, EV_READ, 0);
}

/*
 * What a failed SSL_read/SSL_write (r) means: EAGAIN (and what to wait
 * for), 0 for the end of the stream, or the errno of a broken one.
 */
static int
tls_io_error(struct tls *t, int r, int writing)
{
	int	e = SSL_get_error(t->ssl, r), err = errno;

	switch (e) {
	case SSL_ERROR_WANT_READ:
		if (writing)
			t->write_wants_read = 1;
		else
			t->drained = 1;
		break;
	case SSL_ERROR_WANT_WRITE:
		if (!writing)
			t->read_wants_write = 1;
		break;
	case SSL_ERROR_ZERO_RETURN:
		t->eof = 1;
		return 0;
	case SSL_ERROR_SYSCALL:
		t->failed = err != 0 ? err : ECONNRESET;
		break;
	default:
		t->failed = EPROTO;
		break;
	}
	ERR_clear_error();
	if (t->failed)
		return t->failed;
	if (tls_sync(t) != 0) {
		t->failed = ENOMEM;
		return t->failed;
	}
	return EAGAIN;
}

/* Before any SSL call: what a read or write says without one. */
static int
tls_blocked(struct tls *t, ssize_t *ret)
{
	if (t->failed) {
		errno = t->failed;
		*ret = -1;
		return 1;
	}
	if (t->hs) {
		errno = EAGAIN;
		*ret = -1;
		return 1;
	}
	return 0;
}

static ssize_t
tls_read(struct xport *x, void *buf, size_t len)
{
	struct tls	*t = (struct tls *)x;
	ssize_t		 ret;
	int		 n, e;

	if (tls_blocked(t, &ret))
		return ret;
	if (t->eof)
		return 0;
	if (len > INT_MAX)
		len = INT_MAX;
	ERR_clear_error();
	if ((n = SSL_read(t->ssl, buf, (int)len)) > 0) {
		t->drained = 0;
		t->read_wants_write = 0;
		return n;
	}
	if ((e = tls_io_error(t, n, 0)) == 0)
		return 0;
	errno = e;
	return -1;
}

static ssize_t
tls_read_buf(struct xport *x, struct evbuffer *buf, size_t max)
{
	struct tls		*t = (struct tls *)x;
	struct evbuffer_iovec	 v;
	size_t			 total = 0, want;
	ssize_t			 ret;
	int			 n, e = 0;

	if (tls_blocked(t, &ret))
		return ret;
	while (total < max && !t->eof) {
		want = max - total < READ_CHUNK ? max - total : READ_CHUNK;
		if (evbuffer_reserve_space(buf, (ev_ssize_t)want, &v, 1) < 1) {
			e = ENOMEM;
			break;
		}
		if (v.iov_len > want)
			v.iov_len = want;
		ERR_clear_error();
		if ((n = SSL_read(t->ssl, v.iov_base, (int)v.iov_len)) <= 0) {
			evbuffer_commit_space(buf, NULL, 0);
			e = tls_io_error(t, n, 0);
			break;
		}
		t->drained = 0;
		t->read_wants_write = 0;
		v.iov_len = (size_t)n;
		evbuffer_commit_space(buf, &v, 1);
		total += (size_t)n;
	}
	/* What broke the loop is said on the next call, if bytes came. */
	if (total > 0 || t->eof)
		return (ssize_t)total;
	errno = e;
	return -1;
}

static ssize_t
tls_write(struct xport *x, const void *buf, size_t len)
{
	struct tls	*t = (struct tls *)x;
	ssize_t		 ret;
	int		 n;

	if (tls_blocked(t, &ret))
		return ret;
	if (len == 0)
		return 0;
	if (len > INT_MAX)
		len = INT_MAX;
	ERR_clear_error();
	if ((n = SSL_write(t->ssl, buf, (int)len)) > 0) {
		t->write_wants_read = 0;
		return n;
	}
	errno = tls_io_error(t, n, 1);
	if (errno == 0)
		errno = EPIPE;
	return -1;
}

/*
 * One SSL_write per contiguous piece, up to max: with partial writes on,
 * each returns once a record is out, and a record not out yet is retried
 * from the same first bytes of buf (a chain only grows at its end).
 */
static ssize_t
tls_write_buf(struct xport *x, struct evbuffer *buf, ev_ssize_t max)
{
	struct tls		*t = (struct tls *)x;
	struct evbuffer_iovec	 v;
	size_t			 total = 0, limit, len;
	ssize_t			 ret;
	int			 n, e;

	if (tls_blocked(t, &ret))
		return ret;
	limit = evbuffer_get_length(buf);
	if (max >= 0 && (size_t)max < limit)
		limit = (size_t)max;
	while (total < limit) {
		if (evbuffer_peek(buf, -1, NULL, &v, 1) < 1)
			break;
		len = v.iov_len < limit - total ? v.iov_len : limit - total;
		if (len > INT_MAX)
			len = INT_MAX;
		ERR_clear_error();
		if ((n = SSL_write(t->ssl, v.iov_base, (int)len)) <= 0) {
			e = tls_io_error(t, n, 1);
			if (total > 0)
				break;
			errno = e != 0 ? e : EPIPE;
			return -1;
		}
		t->write_wants_read = 0;
		evbuffer_drain(buf, (size_t)n);
		total += (size_t)n;
	}
	return (ssize_t)total;
}

static int
tls_want_read(struct xport *x, enum xport_want w)
{
	struct tls *t = (struct tls *)x;

	t->want_r = w;
	if (w == XPORT_OFF || t->hs)
		(void)evtimer_del(t->rtimer);
	else if (w == XPORT_ON) {
		if (evtimer_add(t->rtimer, t->idle) != 0)
			return -1;
	} else
		(void)evtimer_del(t->rtimer);
	tls_kick(t);
	return tls_sync(t);
}

static int
tls_want_write(struct xport *x, enum xport_want w)
{
	struct tls *t = (struct tls *)x;

	t->want_w = w;
	if (w == XPORT_ON && !t->hs) {
		if (evtimer_add(t->wtimer, t->idle) != 0)
			return -1;
	} else
		(void)evtimer_del(t->wtimer);
	/* A broken one says so to whichever callback is armed. */
	if (t->failed && w != XPORT_OFF)
		event_active(t->pend, EV_WRITE, 0);
	return tls_sync(t);
}

static int
tls_splice_fd(struct xport *x)
{
	(void)x;
	return -1;	/* the bytes on the socket are records */
}

static const char *
tls_identity(struct xport *x)
{
	return ((struct tls *)x)->cn;
}

static void
tls_release(void *arg)
{
	struct tls *t = arg;

	free(t->cn);
	free(t);
}

static void
tls_events_free(struct tls *t)
{
	struct event	*evs[] = { t->rev, t->wev, t->rtimer, t->wtimer,
			    t->hstimer, t->pend };
	size_t		 i;

	for (i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
}

static void
tls_free(struct xport *x)
{
	struct tls *t = (struct tls *)x;

	t->dead = 1;
	if (t->open) {
		ntls--;
		/* A close_notify if the socket takes it now; not waited for. */
		if (!t->failed) {
			ERR_clear_error();
			(void)SSL_shutdown(t->ssl);
		}
	}
	ERR_clear_error();
	tls_events_free(t);
	SSL_free(t->ssl);
	close(t->fd);
	/* We may be inside one of t's callbacks: free after it. */
	watch_defer_free(t, tls_release);
}

/*
 * The service's callbacks; nothing of t may be used after them if dead.
 * After a read, records OpenSSL holds already (read ahead with the last
 * handshake message, say, or a close_notify behind the data) bring the
 * read callback again: the socket will not.
 */
static void
tls_call_read(struct tls *t, short what)
{
	if (what == XPORT_READ && t->want_r == XPORT_ON)
		(void)evtimer_add(t->rtimer, t->idle);
	t->x.cbs->read(what, t->x.arg);
	if (!t->dead)
		tls_kick(t);
}

static void
tls_call_write(struct tls *t, short what)
{
	if (what == XPORT_WRITE && t->want_w == XPORT_ON)
		(void)evtimer_add(t->wtimer, t->idle);
	t->x.cbs->write(what, t->x.arg);
}

/* Handshake failures: counted, logged with the peer, one line a second. */
static void
tls_hs_failed(struct tls *t, const char *why)
{
	long long now = mono_ms();

	stats_inc(STAT_tls_handshake_failures);
	if (now - hs_log_ms >= HS_LOG_MS) {
		if (hs_unlogged > 0)
			log_ctx(LOG_NOTICE, t->ctx, "TLS handshake failed: %s "
			    "(and %lu more since the last message)", why,
			    hs_unlogged);
		else
			log_ctx(LOG_NOTICE, t->ctx, "TLS handshake failed: %s",
			    why);
		hs_log_ms = now;
		hs_unlogged = 0;
	} else
		hs_unlogged++;
	t->hs = 0;
	t->failed = ECONNABORTED;
	(void)evtimer_del(t->hstimer);
	(void)tls_sync(t);
	/* The service hears it from the loop, as any other broken one. */
	event_active(t->pend, EV_READ, 0);
}

/* The verified client certificate's subject CN, if it has one. */
static void
tls_peer_cn(struct tls *t)
{
	char	esc[4 * CN_LOG_MAX + 8];
	size_t	used;

	if ((t->cn = tls_ssl_peer_cn(t->ssl)) == NULL)
		return;
	str_escape(esc, sizeof(esc), t->cn, strlen(t->cn), CN_LOG_MAX);
	used = strlen(t->ctx);
	snprintf(t->ctx + used, t->ctxsize - used, " cn=%s", esc);
}

static void
tls_handshake(struct tls *t)
{
	char	why[256];
	int	r, e;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_do_handshake(t->ssl)) != 1) {
		e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			t->hs_want = e;
			if (tls_sync(t) != 0)
				tls_hs_failed(t, "cannot watch the connection");
			return;
		}
		tls_ssl_reason(t->ssl, r, why, sizeof(why));
		ERR_clear_error();
		tls_hs_failed(t, why);
		return;
	}
	t->hs = 0;
	t->open = 1;
	ntls++;
	stats_inc(STAT_tls_handshakes);
	(void)evtimer_del(t->hstimer);
	tls_peer_cn(t);
	if (log_enabled(LOG_DEBUG))
		log_ctx(LOG_DEBUG, t->ctx, "TLS handshake done: %s, %s",
		    SSL_get_version(t->ssl), SSL_get_cipher_name(t->ssl));
	if (t->opened != NULL) {
		t->opened(t->opened_arg);
		if (t->dead)
			return;
	}
	/* What the service asked for meanwhile, with its timers now. */
	if (t->want_r == XPORT_ON)
		(void)evtimer_add(t->rtimer, t->idle);
	if (t->want_w == XPORT_ON)
		(void)evtimer_add(t->wtimer, t->idle);
	if (tls_sync(t) != 0) {
		t->failed = ENOMEM;
		event_active(t->pend, EV_READ, 0);
		return;
	}
	tls_kick(t);
}

/* Nothing may follow the service's callback once t is freed. */
static void
tls_on_read(evutil_socket_t fd, short what, void *arg)
{
	struct tls	*t = arg;

	(void)fd;
	(void)what;
	if (t->hs) {
		tls_handshake(t);
		return;
	}
	if (t->write_wants_read) {
		t->write_wants_read = 0;
		if (tls_sync(t) == 0 && t->want_w != XPORT_OFF)
			tls_call_write(t, XPORT_WRITE);
		/* Level-triggered: a read, if still wanted, comes next. */
		return;
	}
	if (t->want_r != XPORT_OFF)
		tls_call_read(t, XPORT_READ);
}
WATCH_EVENT_CB(xport_tls_read_cb, tls_on_read, tls_ctx_name)

static void
tls_on_write(evutil_socket_t fd, short what, void *arg)
{
	struct tls *t = arg;

	(void)fd;
	(void)what;
	if (t->hs) {
		tls_handshake(t);
		return;
	}
	if (t->read_wants_write) {
		t->read_wants_write = 0;
		if (tls_sync(t) == 0 && t->want_r != XPORT_OFF)
			tls_call_read(t, XPORT_READ);
		return;
	}
	if (t->want_w != XPORT_OFF)
		tls_call_write(t, XPORT_WRITE);
}
WATCH_EVENT_CB(xport_tls_write_cb, tls_on_write, tls_ctx_name)

/* Bytes held by OpenSSL, or a broken connection to be told of. */
static void
tls_on_pending(evutil_socket_t fd, short what, void *arg)
{
	struct tls *t = arg;

	(void)fd;
	(void)what;
	if (t->want_r != XPORT_OFF && (t->failed || tls_readable(t)))
		tls_call_read(t, XPORT_READ);
	else if (t->failed && t->want_w != XPORT_OFF)
		tls_call_write(t, XPORT_WRITE);
}
WATCH_EVENT_CB(xport_tls_pending_cb, tls_on_pending, tls_ctx_name)

static void
tls_on_rtimer(evutil_socket_t fd, short what, void *arg)
{
	struct tls *t = arg;

	(void)fd;
	(void)what;
	t->want_r = XPORT_OFF;
	(void)tls_sync(t);
	t->x.cbs->read(XPORT_TIMEOUT, t->x.arg);
}
WATCH_EVENT_CB(xport_tls_rtimer_cb, tls_on_rtimer, tls_ctx_name)

static void
tls_on_wtimer(evutil_socket_t fd, short what, void *arg)
{
	struct tls *t = arg;

	(void)fd;
	(void)what;
	t->want_w = XPORT_OFF;
	(void)tls_sync(t);
	t->x.cbs->write(XPORT_TIMEOUT, t->x.arg);
}
WATCH_EVENT_CB(xport_tls_wtimer_cb, tls_on_wtimer, tls_ctx_name)

static void
tls_on_hstimer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	tls_hs_failed(arg, "not done within limits.request_timeout_s");
}
WATCH_EVENT_CB(xport_tls_hstimer_cb, tls_on_hstimer, tls_ctx_name)

static const struct xport_ops tls_ops = {
	tls_read, tls_read_buf, tls_write, tls_write_buf,
	tls_want_read, tls_want_write, tls_splice_fd, tls_identity,
	tls_free
};

struct xport *
xport_tls_new(struct event_base *base, struct ssl_ctx_st *sslctx,
    evutil_socket_t fd, const struct sockaddr *sa, socklen_t salen,
    int idle_s, int handshake_s, char *ctx, size_t ctxsize,
    void (*opened)(void *), void *arg)
{
	struct tls	*t = xcalloc(1, sizeof(*t));
	struct timeval	 tv = { idle_s, 0 }, hs = { handshake_s, 0 };

	t->x.ops = &tls_ops;
	if (sa != NULL) {
		t->x.peerlen = salen < sizeof(t->x.peer) ? salen :
		    sizeof(t->x.peer);
		memcpy(&t->x.peer, sa, t->x.peerlen);
	}
	t->fd = fd;
	t->ctx = ctx;
	t->ctxsize = ctxsize;
	t->opened = opened;
	t->opened_arg = arg;
	t->hs = 1;
	t->hs_want = SSL_ERROR_WANT_READ;	/* the ClientHello */
	t->idle_tv = tv;
	if ((t->idle = event_base_init_common_timeout(base, &tv)) == NULL)
		t->idle = &t->idle_tv;
	t->rev = event_new(base, fd, EV_READ | EV_PERSIST, xport_tls_read_cb,
	    t);
	t->wev = event_new(base, fd, EV_WRITE | EV_PERSIST,
	    xport_tls_write_cb, t);
	t->rtimer = evtimer_new(base, xport_tls_rtimer_cb, t);
	t->wtimer = evtimer_new(base, xport_tls_wtimer_cb, t);
	t->hstimer = evtimer_new(base, xport_tls_hstimer_cb, t);
	t->pend = event_new(base, -1, 0, xport_tls_pending_cb, t);
	ERR_clear_error();
	if (t->rev == NULL || t->wev == NULL || t->rtimer == NULL ||
	    t->wtimer == NULL || t->hstimer == NULL || t->pend == NULL ||
	    (t->ssl = SSL_new(sslctx)) == NULL || SSL_set_fd(t->ssl, fd) != 1 ||
	    evtimer_add(t->hstimer, &hs) != 0 || tls_sync(t) != 0)
		goto fail;
	SSL_set_accept_state(t->ssl);
	return &t->x;
fail:
	ERR_clear_error();
	if (t->ssl != NULL)
		SSL_free(t->ssl);
	tls_events_free(t);
	free(t);
	return NULL;
}
