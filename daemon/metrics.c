/*
 * The metrics service: GET /metrics answers with the Prometheus text
 * format (metrics_text.c), served by libevent's own HTTP server, evhttp,
 * on every listener of service "metrics".  Any method but GET and HEAD
 * is 405, any path but /metrics 404; every response closes its
 * connection.
 *
 * Admission.  libevent 2.1 cannot hand evhttp a socket accepted elsewhere
 * (evhttp_get_request is static: libevent issue #496), so evhttp accepts
 * on the listener's own evconnlistener (listen.h's takeover: the listener
 * keeps its name, its reloads and its backoff on accept errors), and each
 * new connection is admitted right after its accept.  evhttp asks us for
 * the connection's bufferevent as it accepts (evhttp_set_bevcb); the
 * admission event made active there runs in the same pass of the loop,
 * after evhttp has set the connection up and before its first read can be
 * polled for, and calls admit_check() as every listener's accept does.  A
 * refused connection is freed unread; one the access lists deny is told
 * so first, in one "403 Forbidden" response.  evhttp's connection object
 * is the argument of the callbacks it sets on that bufferevent: a detail
 * of libevent's http.c (2.0 to 2.2) that nothing else gives us.
 *
 * Bounds.  The request line and the headers at most METRICS_MAX_HEADERS
 * bytes each (evhttp counts headers without their line ends), no body, evhttp's read and write timeout limits.request_timeout_s, and the
 * whole request due within limits.request_timeout_s of the accept (a
 * client trickling a header a second is closed then: evhttp's timeout
 * alone restarts with every byte).  A scrape is built in memory from the
 * counters, with no work per connection, and never waits.
 */
#include "autoconf.h"

#include <sys/queue.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/admit.h"
#include "daemon/conn.h"
#include "daemon/listen.h"
#include "daemon/metrics.h"
#include "daemon/metrics_text.h"
#include "daemon/server.h"
#include "daemon/watch.h"

#define METRICS_MAX_HEADERS	8192
#define METRICS_FORBIDDEN	"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n" \
				"Connection: close\r\n\r\n"

/* A metrics listener's HTTP server. */
struct mlisten {
	struct listener		*l;
	struct evhttp		*http;
};

/* A connection evhttp accepted: pending admission, then admitted. */
struct mconn {
	TAILQ_ENTRY(mconn)	 entry;		/* pending only */
	struct mlisten		*ml;		/* NULL: its listener closed */
	struct bufferevent	*bev;
	struct evhttp_connection *evcon;
	struct event		*deadline;
	struct admit_slot	 slot;
	int			 timeout_s;	/* its deadline */
	char			 ctx[16 + ADDR_STRLEN];
};

static TAILQ_HEAD(, mconn)	 pending = TAILQ_HEAD_INITIALIZER(pending);
static struct event_base	*mbase;
static struct event		*admit_ev;
static double			 start_time_s;

static const char *
mconn_ctx(void *arg)
{
	return ((struct mconn *)arg)->ctx;
}

/* evhttp is done with the connection (closed, timed out, refused). */
static void
metrics_closed(struct evhttp_connection *evcon, void *arg)
{
	struct mconn *mc = arg;

	(void)evcon;
	log_ctx(LOG_DEBUG, mc->ctx, "closing");
	event_free(mc->deadline);
	admit_release(&mc->slot);
	conn_count_other(SERVICE_METRICS, -1);
	/* The callback we may be in names it when it is slow. */
	watch_defer_free(mc, free);
}

static void
metrics_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct mconn *mc = arg;

	(void)fd;
	(void)what;
	log_ctx(LOG_INFO, mc->ctx, "no complete request in %d s, closing",
	    mc->timeout_s);
	stats_inc(STAT_connections_idle_closed);
	evhttp_connection_free(mc->evcon);
}
WATCH_EVENT_CB(metrics_deadline_cb, metrics_deadline, mconn_ctx)

/* Our hold on its bufferevent ends; evhttp's own may go on. */
static void
pending_drop(struct mconn *mc)
{
	TAILQ_REMOVE(&pending, mc, entry);
	bufferevent_decref(mc->bev);
	free(mc);
}

static void
admit_one(struct mconn *mc)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len = sizeof(ss);
	struct sockaddr		*sa = (struct sockaddr *)&ss;
	struct timeval		 tv = { srv.cfg->limits.request_timeout_s, 0 };
	bufferevent_event_cb	 eventcb;
	char			 peer[ADDR_STRLEN];
	void			*evcon;
	evutil_socket_t		 fd;
	enum admit_result	 r;

	/* No callbacks: evhttp freed the connection (its listener closed). */
	bufferevent_getcb(mc->bev, NULL, NULL, &eventcb, &evcon);
	if (mc->ml == NULL || eventcb == NULL || evcon == NULL) {
		pending_drop(mc);
		return;
	}
	mc->evcon = evcon;
	fd = bufferevent_getfd(mc->bev);
	if (fd < 0 || getpeername(fd, sa, &len) != 0 || (mc->deadline =
	    evtimer_new(mbase, metrics_deadline_cb, mc)) == NULL) {
		/* The peer left already, or no memory for its timer. */
		evhttp_connection_free(mc->evcon);
		pending_drop(mc);
		return;
	}
	addr_format(sa, len, peer, sizeof(peer));
	r = admit_check(mc->ml->l, sa, peer, &srv.cfg->limits, srv.draining,
	    &mc->slot);
	if (r == ADMIT_DENIED)
		/* Told why, as a broker client is: nothing was sent before. */
		(void)!write(fd, METRICS_FORBIDDEN, strlen(METRICS_FORBIDDEN));
	if (r != ADMIT_OK || evtimer_add(mc->deadline, &tv) != 0) {
		event_free(mc->deadline);
		admit_release(&mc->slot);	/* a refusal holds none */
		evhttp_connection_free(mc->evcon);
		pending_drop(mc);
		return;
	}
	snprintf(mc->ctx, sizeof(mc->ctx), "metrics %s", peer);
	mc->timeout_s = (int)tv.tv_sec;
	evhttp_connection_set_timeout(mc->evcon, tv.tv_sec);
	evhttp_connection_set_closecb(mc->evcon, metrics_closed, mc);
	stats_inc(STAT_connections_accepted);
	conn_count_other(SERVICE_METRICS, 1);
	log_ctx(LOG_DEBUG, mc->ctx, "connection accepted");
	TAILQ_REMOVE(&pending, mc, entry);
	bufferevent_decref(mc->bev);
}

static void
metrics_admit(evutil_socket_t fd, short what, void *arg)
{
	struct mconn *mc;

	(void)fd;
	(void)what;
	(void)arg;
	while ((mc = TAILQ_FIRST(&pending)) != NULL)
		admit_one(mc);
}
WATCH_EVENT_CB(metrics_admit_cb, metrics_admit, NULL)

/* evhttp accepted a connection and wants its bufferevent. */
static struct bufferevent *
metrics_bev(struct event_base *base, void *arg)
{
	struct mconn *mc = xcalloc(1, sizeof(*mc));

	mc->ml = arg;
	snprintf(mc->ctx, sizeof(mc->ctx), "metrics");
	/*
	 * Without it evhttp would make one itself, for a connection never
	 * admitted; it fails only where xcalloc would, out of memory.
	 */
	if ((mc->bev = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		fatalx("out of memory for a metrics connection");
	/* Ours until admitted, even if evhttp gives it up first. */
	bufferevent_incref(mc->bev);
	TAILQ_INSERT_TAIL(&pending, mc, entry);
	event_active(admit_ev, EV_TIMEOUT, 0);
	return mc->bev;
}

/*
 * A reply with its length, then the end of the connection.  For HEAD the
 * body is left out here: evhttp 2.1 would send it.
 */
static void
metrics_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, struct evbuffer *body)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	char			 len[32];

	snprintf(len, sizeof(len), "%zu", evbuffer_get_length(body));
	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Content-Length", len);
	evhttp_add_header(h, "Connection", "close");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD)
		evbuffer_drain(body, evbuffer_get_length(body));
	evhttp_send_reply(req, code, reason, body);
}

static void
metrics_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	const char		*path;
	struct evbuffer		*body;

	(void)arg;
	if ((body = evbuffer_new()) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		evbuffer_add_printf(body, "method not allowed\n");
		metrics_reply(req, HTTP_BADMETHOD, "Method Not Allowed",
		    "text/plain", body);
	} else if (path == NULL || strcmp(path, "/metrics") != 0) {
		evbuffer_add_printf(body, "not found: try /metrics\n");
		metrics_reply(req, HTTP_NOTFOUND, "Not Found", "text/plain",
		    body);
	} else {
		metrics_text_render(body, start_time_s);
		metrics_reply(req, HTTP_OK, "OK", METRICS_TEXT_TYPE, body);
	}
	evbuffer_free(body);
}

/* evhttp's callbacks have their own shape: timed here as WATCH_* do. */
static void
metrics_request_cb(struct evhttp_request *req, void *arg)
{
	long long t0 = watch_start("metrics_request_cb", NULL, NULL);

	metrics_request(req, arg);
	watch_stop(t0);
}
WATCH_REGISTER(metrics_request_cb)

/*
 * A connection accepted by the listener's own code rather than evhttp's
 * (a drain that takes its listen queue): evhttp cannot be handed one.
 */
static void
metrics_stray(struct listener *l, evutil_socket_t fd,
    const struct sockaddr *sa, int len)
{
	(void)l;
	(void)sa;
	(void)len;
	close(fd);
}

static int
metrics_attach(struct listener *l, char *err, size_t errlen)
{
	struct mlisten *ml = xcalloc(1, sizeof(*ml));

	ml->l = l;
	if ((ml->http = evhttp_new(mbase)) == NULL) {
		snprintf(err, errlen, "cannot set up HTTP on %s", l->name);
		free(ml);
		return -1;
	}
	evhttp_set_max_headers_size(ml->http, METRICS_MAX_HEADERS);
	evhttp_set_max_body_size(ml->http, 0);
	/* Ours answer 405; evhttp's own refusal of a method is a 501. */
	evhttp_set_allowed_methods(ml->http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
	    EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_timeout(ml->http, srv.cfg->limits.request_timeout_s);
	evhttp_set_bevcb(ml->http, metrics_bev, ml);
	evhttp_set_gencb(ml->http, metrics_request_cb, ml);
	if (evhttp_bind_listener(ml->http, l->lev) == NULL) {
		snprintf(err, errlen, "cannot set up HTTP on %s", l->name);
		evhttp_free(ml->http);
		free(ml);
		return -1;
	}
	l->taken = ml;
	l->accept = metrics_stray;
	return 0;
}

/* Its listener closes: so do its connections, evhttp's with it. */
static void
metrics_detach(struct listener *l)
{
	struct mlisten	*ml = l->taken;
	struct mconn	*mc;

	TAILQ_FOREACH(mc, &pending, entry)
		if (mc->ml == ml)
			mc->ml = NULL;
	evhttp_free(ml->http);
	free(ml);
	l->taken = NULL;
	l->lev = NULL;
}

static const struct listen_takeover metrics_takeover = {
	metrics_attach, metrics_detach
};

void
metrics_init(struct event_base *base)
{
	struct timespec ts;

	mbase = base;
	if ((admit_ev = event_new(base, -1, 0, metrics_admit_cb,
	    NULL)) == NULL)
		fatalx("cannot create the metrics admission event");
	clock_gettime(CLOCK_REALTIME, &ts);
	start_time_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	listen_set_takeover(SERVICE_METRICS, &metrics_takeover);
}

void
metrics_shutdown(void)
{
	struct mconn *mc;

	while ((mc = TAILQ_FIRST(&pending)) != NULL)
		pending_drop(mc);
	if (admit_ev != NULL)
		event_free(admit_ev);
	admit_ev = NULL;
}
