/* Accepted connections; see conn.h. */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/conn.h"
#include "daemon/listen.h"
#include "daemon/server.h"
#include "daemon/tls.h"
#include "daemon/watch.h"
#include "daemon/xport.h"

#define NOTSENT_LOWAT	(16 * 1024)	/* see brokerd(8), LIMITS */

TAILQ_HEAD(conn_list, conn);

static struct conn_list	conns = TAILQ_HEAD_INITIALIZER(conns);
static unsigned		nconns;
static unsigned		nconns_svc[SERVICE_N];

const char *
conn_ctx(void *arg)
{
	return ((struct conn *)arg)->ctx;
}

/*
 * The TLS handshake is done: lists with cn: entries are asked again, now
 * with the verified name (admit.c let the peer through for them).
 */
static void
conn_tls_opened(void *arg)
{
	static const char	 refusal[] = "ERR 403 access denied\n";
	struct conn		*c = arg;
	enum admit_result	 r;

	if (!c->recheck)
		return;
	c->recheck = 0;
	r = admit_identity(c->allow, c->deny, xport_peer(c->xport),
	    xport_identity(c->xport), c->ctx);
	acl_unref(c->allow);
	acl_unref(c->deny);
	c->allow = c->deny = NULL;
	if (r == ADMIT_OK)
		return;
	if (c->svc->id == SERVICE_BROKER)
		(void)xport_write(c->xport, refusal, sizeof(refusal) - 1);
	conn_close(c);
}

/* ls: the listener's entry (its TLS context, its lists); NULL: local. */
static void
conn_new(const struct service *svc, evutil_socket_t fd, const char *peer,
    const struct sockaddr *sa, socklen_t salen, struct admit_slot *slot,
    const struct listen_spec *ls)
{
	struct ssl_ctx_st	*tls = ls != NULL && ls->tls != NULL ?
				    ls->tls->ctx : NULL;
	struct conn		*c;

	c = xcalloc(1, sizeof(*c));
	c->svc = svc;
	c->slot = *slot;
	snprintf(c->ctx, sizeof(c->ctx), "%s %s", config_service_name(svc->id),
	    peer);
	c->idle_s = srv.cfg->limits.idle_timeout_s;
	c->rx_ms = mono_ms();
	/*
	 * Its timeouts count from now.  libevent adds them to the time it
	 * read when the loop woke, and the listener accepts until its queue
	 * is empty: a connection that came in while earlier callbacks ran
	 * would get them early by as long as those took.
	 */
	event_base_update_cache_time(srv.base);
	if (tls != NULL)
		c->xport = xport_tls_new(srv.base, tls, fd, sa, salen,
		    c->idle_s, srv.cfg->limits.request_timeout_s, c->ctx,
		    sizeof(c->ctx), conn_tls_opened, c);
	else
		c->xport = xport_plain_new(srv.base, fd, sa, salen, c->idle_s,
		    c->ctx);
	if (c->xport == NULL) {
		/* Out of memory for its events: this one fails, not us. */
		log_ctx(LOG_ERR, c->ctx, "cannot set up the connection");
		stats_inc(STAT_accept_errors);
		close(fd);
		admit_release(&c->slot);
		free(c);
		return;
	}
	if (tls != NULL && (acl_has(ls->allow, ACL_CN) ||
	    acl_has(ls->deny, ACL_CN))) {
		c->allow = acl_ref(ls->allow);
		c->deny = acl_ref(ls->deny);
		c->recheck = 1;
	}
	TAILQ_INSERT_TAIL(&conns, c, entry);
	nconns++;
	nconns_svc[svc->id]++;
	stats_inc(STAT_connections_accepted);
	log_ctx(LOG_DEBUG, c->ctx, "connection accepted");
	if (svc->start(c) != 0) {
		log_ctx(LOG_ERR, c->ctx, "cannot set up the connection");
		stats_inc(STAT_accept_errors);
		conn_close(c);
	}
}

void
conn_accept(struct listener *l, evutil_socket_t fd,
    const struct sockaddr *sa, int socklen)
{
	const struct service	*svc = l->svc;
	struct admit_slot	 slot;
	char			 peer[ADDR_STRLEN];
	int			 on = 1, lowat = NOTSENT_LOWAT;
	/* A TLS client would read plain text as a broken record. */
	int			 plain_broker = svc->id == SERVICE_BROKER &&
			    (l->spec == NULL || l->spec->tls == NULL);

	addr_format(sa, (socklen_t)socklen, peer, sizeof(peer));
	/* Listeners hand over only what the drain serves (drain.h). */
	switch (admit_check(l, sa, peer, &srv.cfg->limits, 0, &slot)) {
	case ADMIT_OK:
		break;
	case ADMIT_DENIED:
		if (plain_broker)
			admit_tell(fd, "ERR 403 access denied\n");
		/* FALLTHROUGH */
	case ADMIT_TOO_MANY:
		if (plain_broker)
			admit_tell(fd, "ERR 429 too many connections from "
			    "your address\n");
		/* FALLTHROUGH */
	default:
		close(fd);
		return;
	}
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
		/*
		 * Unsent bytes the kernel queues for a client, which it
		 * otherwise takes up to its autotuned send buffer (4 MiB)
		 * from a client that does not read: ours count too.
		 */
		setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat,
		    sizeof(lowat));
	}
	conn_new(svc, fd, peer, sa, (socklen_t)socklen, &slot, l->spec);
}

void
conn_accept_local(const struct service *svc, evutil_socket_t fd,
    const char *peer)
{
	struct admit_slot slot;

	if (admit_check(NULL, NULL, peer, &srv.cfg->limits, 0,
	    &slot) != ADMIT_OK) {
		close(fd);
		return;
	}
	conn_new(svc, fd, peer, NULL, 0, &slot, NULL);
}

void
conn_drain_all(void)
{
	struct conn *c, *tmp;

	for (c = TAILQ_FIRST(&conns); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, entry);
		if (c->svc->drain != NULL)
			c->svc->drain(c);
	}
}

int
conn_recent(const struct conn *c)
{
	return mono_ms() - c->rx_ms < CONN_DRAIN_QUIET_MS;
}

int
conn_busy_count(void)
{
	struct conn	*c;
	int		 n = 0;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->svc->busy(c))
			n++;
	return n;
}

void
conn_close(struct conn *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	log_ctx(LOG_DEBUG, c->ctx, "closing");
	if (c->state != NULL)
		c->svc->free(c);
	xport_free(c->xport);
	acl_unref(c->allow);
	acl_unref(c->deny);
	admit_release(&c->slot);
	TAILQ_REMOVE(&conns, c, entry);
	nconns--;
	nconns_svc[c->svc->id]--;
	stats_add(STAT_bytes_in, c->bytes_in);
	stats_add(STAT_bytes_out, c->bytes_out);
	/* A paused listener may be waiting for exactly this fd. */
	listen_resume();
	watch_defer_free(c, free);
}

void
conn_broken(struct conn *c, const char *what)
{
	log_ctx(LOG_DEBUG, c->ctx, "%s: %s", what, strerror(errno));
	conn_close(c);
}

void
conn_close_all(void)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&conns)) != NULL)
		conn_close(c);
	watch_flush();
}

unsigned
conn_count(void)
{
	return nconns;
}

unsigned
conn_count_service(enum service_id id)
{
	return nconns_svc[id];
}

void
conn_count_other(enum service_id id, int delta)
{
	nconns += (unsigned)delta;
	nconns_svc[id] += (unsigned)delta;
	/* A paused listener may be waiting for exactly this fd. */
	if (delta < 0)
		listen_resume();
}

void
conn_foreach(void (*fn)(const struct conn *, void *), void *arg)
{
	struct conn *c;

	TAILQ_FOREACH(c, &conns, entry)
		fn(c, arg);
}

void
conn_report(struct stats_out *out)
{
	char	key[64];
	int	i;

	stats_kv(out, "connections", "%u", nconns);
	for (i = 0; i < SERVICE_N; i++) {
		snprintf(key, sizeof(key), "connections.%s",
		    config_service_name((enum service_id)i));
		stats_kv(out, key, "%u", nconns_svc[i]);
	}
	stats_kv(out, "tls_connections", "%u", tls_connections());
}
