/*
 * Accepted connections: admission (max_clients, per-source limit, drain),
 * the bufferevent, idle timeout, context strings, and closing.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>

#include "common/log.h"
#include "daemon/server.h"
#include "daemon/watch.h"

#define SRC_BUCKETS	1024
#define REFUSE_LOG_MS	1000	/* one line per reason at most this often */
#define MAX_SINGLE_IO	(256 * 1024)
#define NOTSENT_LOWAT	(16 * 1024)	/* see brokerd(8), LIMITS */

/* Connections per source address, for limits.max_clients_per_source. */
struct srcent {
	struct srcent	*next;
	int		 family;
	unsigned char	 addr[16];
	unsigned	 count;
};

static struct srcent *srcmap[SRC_BUCKETS];

enum refusal { REFUSE_DRAINING, REFUSE_MAX_CLIENTS, REFUSE_PER_SOURCE,
	REFUSE_N };

static const char *const refusal_text[REFUSE_N] = {
	"shutting down", "max_clients reached",
	"max_clients_per_source reached"
};

/* The log of each reason: when it was last written, what it left out. */
static struct {
	long long	 last_ms;
	unsigned long	 unlogged;
} refusal_log[REFUSE_N] = {
	{ -REFUSE_LOG_MS, 0 }, { -REFUSE_LOG_MS, 0 }, { -REFUSE_LOG_MS, 0 }
};

static size_t
src_key(const struct sockaddr *sa, int *family, unsigned char addr[16])
{
	memset(addr, 0, 16);
	*family = sa->sa_family;
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr, 16);
		return 16;
	}
	return 0;
}

static unsigned
src_hash(const unsigned char *addr)
{
	unsigned h = 2166136261u;
	int	 i;

	for (i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h % SRC_BUCKETS;
}

static struct srcent *
src_get(const struct sockaddr *sa)
{
	struct srcent	*e;
	unsigned char	 addr[16];
	int		 family;
	unsigned	 h;

	if (src_key(sa, &family, addr) == 0)
		return NULL;
	h = src_hash(addr);
	for (e = srcmap[h]; e != NULL; e = e->next)
		if (e->family == family && memcmp(e->addr, addr, 16) == 0)
			return e;
	e = xcalloc(1, sizeof(*e));
	e->family = family;
	memcpy(e->addr, addr, 16);
	e->next = srcmap[h];
	srcmap[h] = e;
	return e;
}

static void
src_unlink(struct srcent *e)
{
	struct srcent **pp;

	for (pp = &srcmap[src_hash(e->addr)]; *pp != NULL;
	    pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			free(e);
			return;
		}
}

static void
src_put(struct srcent *e)
{
	if (e != NULL && --e->count == 0)
		src_unlink(e);
}


const char *
conn_ctx(void *arg)
{
	return ((struct conn *)arg)->ctx;
}

/*
 * Closes a connection that is not served.  A flood of them must not
 * flood syslog: one line per reason a second, counting the ones left
 * out since the last (STATS counts every one).
 */
static void
refuse(int fd, const char *peer, enum refusal why)
{
	long long	now = mono_ms();

	close(fd);
	if (now - refusal_log[why].last_ms < REFUSE_LOG_MS) {
		refusal_log[why].unlogged++;
		return;
	}
	if (refusal_log[why].unlogged > 0)
		log_info("%s: closing connection from %s (%lu more since the "
		    "last message)", refusal_text[why], peer,
		    refusal_log[why].unlogged);
	else
		log_info("%s: closing connection from %s", refusal_text[why],
		    peer);
	refusal_log[why].last_ms = now;
	refusal_log[why].unlogged = 0;
}

static void
conn_new(enum service service, evutil_socket_t fd, const char *peer,
    const struct sockaddr *sa, int socklen, struct srcent *src)
{
	const struct limits	*lim = &srv.cfg->limits;
	struct conn		*c;
	struct timeval		 idle;

	c = xcalloc(1, sizeof(*c));
	c->service = service;
	if (sa != NULL) {
		c->peerlen = (socklen_t)socklen < sizeof(c->peer) ?
		    (socklen_t)socklen : sizeof(c->peer);
		memcpy(&c->peer, sa, c->peerlen);
	}
	snprintf(c->ctx, sizeof(c->ctx), "%s %s", config_service_name(service),
	    peer);
	c->fd = fd;
	/* Echo drives the socket itself; the other services use a bev. */
	if (service != SERVICE_ECHO) {
		c->bev = bufferevent_socket_new(srv.base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			log_ctx(LOG_ERR, c->ctx, "cannot create bufferevent");
			close(fd);
			free(c);
			if (src != NULL && src->count == 0)
				src_unlink(src);
			return;
		}
		bufferevent_set_max_single_read(c->bev, MAX_SINGLE_IO);
		bufferevent_set_max_single_write(c->bev, MAX_SINGLE_IO);
		idle.tv_sec = lim->idle_timeout_s;
		idle.tv_usec = 0;
		bufferevent_set_timeouts(c->bev, &idle, &idle);
	}
	if (src != NULL)
		src->count++;
	c->src = src;
	c->started_ms = mono_ms();
	TAILQ_INSERT_TAIL(&srv.conns, c, entry);
	srv.nconns++;
	srv.nconns_svc[service]++;
	stats_inc(STAT_connections_accepted);
	log_ctx(LOG_DEBUG, c->ctx, "connection accepted");
	switch (service) {
	case SERVICE_ECHO:
		echo_start(c);
		break;
	case SERVICE_BROKER:
	case SERVICE_CONTROL:
		session_start(c);
		break;
	case SERVICE_N:
		break;
	}
}

void
conn_accept(enum service service, evutil_socket_t fd,
    const struct sockaddr *sa, int socklen)
{
	const struct limits	*lim = &srv.cfg->limits;
	struct srcent		*src;
	char			 peer[ADDR_STRLEN];
	int			 on = 1, lowat = NOTSENT_LOWAT;

	addr_format(sa, (socklen_t)socklen, peer, sizeof(peer));
	if (srv.draining) {
		stats_inc(STAT_connections_refused_draining);
		refuse(fd, peer, REFUSE_DRAINING);
		return;
	}
	if (srv.nconns - srv.nconns_svc[SERVICE_CONTROL] >=
	    (unsigned)lim->max_clients) {
		stats_inc(STAT_connections_refused_max_clients);
		refuse(fd, peer, REFUSE_MAX_CLIENTS);
		return;
	}
	src = src_get(sa);
	if (src != NULL && src->count >= (unsigned)lim->max_clients_per_source) {
		stats_inc(STAT_connections_refused_per_source);
		refuse(fd, peer, REFUSE_PER_SOURCE);
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
	conn_new(service, fd, peer, sa, socklen, src);
}

/* Control connections: exempt from max_clients, so an admin gets in. */
void
conn_accept_control(evutil_socket_t fd, const char *peer)
{
	if (srv.draining) {
		refuse(fd, peer, REFUSE_DRAINING);
		return;
	}
	conn_new(SERVICE_CONTROL, fd, peer, NULL, 0, NULL);
}

/* Drain: echo stops reading and flushes; sessions refuse new requests. */
void
conn_drain_all(void)
{
	struct conn *c, *tmp;

	for (c = TAILQ_FIRST(&srv.conns); c != NULL; c = tmp) {
		tmp = TAILQ_NEXT(c, entry);
		if (c->svc_drain != NULL)
			c->svc_drain(c);
	}
}

int
conn_busy_count(void)
{
	struct conn	*c;
	int		 n = 0;

	TAILQ_FOREACH(c, &srv.conns, entry)
		if (c->svc_busy != NULL && c->svc_busy(c))
			n++;
	return n;
}

static void
conn_free(void *arg)
{
	free(arg);
}

void
conn_close(struct conn *c)
{
	if (c->closed)
		return;
	c->closed = 1;
	log_ctx(LOG_DEBUG, c->ctx, "closing");
	if (c->svc_free != NULL)
		c->svc_free(c);
	if (c->bev != NULL) {
		bufferevent_free(c->bev);	/* closes the fd */
		c->bev = NULL;
	} else
		close(c->fd);
	src_put(c->src);
	TAILQ_REMOVE(&srv.conns, c, entry);
	srv.nconns--;
	srv.nconns_svc[c->service]--;
	stats_add(STAT_bytes_in, c->bytes_in);
	stats_add(STAT_bytes_out, c->bytes_out);
	/* A paused listener may be waiting for exactly this fd. */
	listen_resume();
	watch_defer_free(c, conn_free);
}

unsigned
conn_count(void)
{
	return srv.nconns;
}

unsigned
conn_count_service(enum service service)
{
	return srv.nconns_svc[service];
}

void
conn_report(struct stats_out *out)
{
	char	key[64];
	int	i;

	stats_kv(out, "connections", "%u", srv.nconns);
	for (i = 0; i < SERVICE_N; i++) {
		snprintf(key, sizeof(key), "connections.%s",
		    config_service_name((enum service)i));
		stats_kv(out, key, "%u", srv.nconns_svc[i]);
	}
}

void
conn_close_all(void)
{
	struct conn *c;

	while ((c = TAILQ_FIRST(&srv.conns)) != NULL)
		conn_close(c);
	watch_flush();
}
