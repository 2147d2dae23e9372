/* Admission of accepted connections; see admit.h. */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/acl.h"
#include "daemon/admit.h"
#include "daemon/listen.h"
#include "daemon/stats.h"

#define SRC_BUCKETS	1024
#define REFUSE_LOG_MS	1000	/* one line per reason at most this often */

/* Connections per source address, for limits.max_clients_per_source. */
struct srcent {
	struct srcent	*next;
	int		 family;
	unsigned char	 addr[16];
	unsigned	 count;
};

static struct srcent	*srcmap[SRC_BUCKETS];
static unsigned		 nclients;

enum refusal { REFUSE_DRAINING, REFUSE_MAX_CLIENTS, REFUSE_PER_SOURCE,
	REFUSE_N };

static const char *const refusal_text[REFUSE_N] = {
	"shutting down", "max_clients reached",
	"max_clients_per_source reached"
};

static const enum stat_counter refusal_stat[REFUSE_N] = {
	STAT_connections_refused_draining,
	STAT_connections_refused_max_clients,
	STAT_connections_refused_per_source
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

/*
 * A flood of refusals must not flood syslog: one line per reason a
 * second, counting the ones left out since the last (STATS counts every
 * one).
 */
static void
refuse_log(enum refusal why, const char *peer)
{
	long long now = mono_ms();

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

/* Local peers are no clients: their refusals are logged, not counted. */
static enum admit_result
refuse(enum refusal why, const struct sockaddr *sa, const char *peer,
    struct srcent *src)
{
	if (src != NULL && src->count == 0)
		src_unlink(src);
	if (sa != NULL)
		stats_inc(refusal_stat[why]);
	refuse_log(why, peer);
	return ADMIT_REFUSED;
}

/* Not in l's lists: counted, logged once a second per listener. */
static enum admit_result
deny(struct listener *l, const char *peer)
{
	struct listen_gate	*g = &l->gate;
	long long		 now = mono_ms();

	stats_inc(STAT_connections_refused_acl);
	if (g->acl_log_ms != 0 && now - g->acl_log_ms < REFUSE_LOG_MS) {
		g->acl_unlogged++;
		return ADMIT_DENIED;
	}
	if (g->acl_unlogged > 0)
		log_notice("access denied: closing connection from %s on %s "
		    "(%lu more since the last message)", peer, l->name,
		    g->acl_unlogged);
	else
		log_notice("access denied: closing connection from %s on %s",
		    peer, l->name);
	g->acl_log_ms = now;
	g->acl_unlogged = 0;
	return ADMIT_DENIED;
}

/*
 * max_connections_per_second: a bucket of that many connections, filled
 * at that rate.  An empty bucket refuses; one line per episode, which
 * ends after a second without a refusal (a steady flood lets one in now
 * and then: that is still the same episode).
 */
static int
rate_ok(struct listener *l, int max_cps)
{
	struct listen_gate	*g = &l->gate;
	long long		 now = mono_ms(), cap = max_cps * 1000LL;

	if (g->rate_ms == 0)
		g->rate_tokens = cap;
	else
		g->rate_tokens += (now - g->rate_ms) * max_cps;
	if (g->rate_tokens > cap)
		g->rate_tokens = cap;
	g->rate_ms = now;
	if (g->rate_tokens >= 1000) {
		g->rate_tokens -= 1000;
		if (now - g->rate_refused_ms >= 1000)
			g->rate_limiting = 0;
		return 1;
	}
	stats_inc(STAT_connections_refused_rate);
	if (!g->rate_limiting)
		log_notice("%s: more than max_connections_per_second = %d; "
		    "refusing new connections until the rate falls", l->name,
		    max_cps);
	g->rate_limiting = 1;
	g->rate_refused_ms = now;
	return 0;
}

enum admit_result
admit_check(struct listener *l, const struct sockaddr *sa, const char *peer,
    const struct limits *lim, int draining, struct admit_slot *slot)
{
	const struct listen_spec	*ls = l != NULL ? l->spec : NULL;
	struct acl_peer			 p = { sa, NULL };
	struct srcent			*src;

	memset(slot, 0, sizeof(*slot));
	if (draining)
		return refuse(REFUSE_DRAINING, sa, peer, NULL);
	if (sa == NULL)
		return ADMIT_OK;
	/*
	 * A TLS peer that only a cn: entry can let in is let through to its
	 * handshake: conn.c asks again with its name (admit_identity).
	 */
	if (ls != NULL && !acl_permits(ls->allow, ls->deny, &p) &&
	    (ls->tls == NULL || !acl_has(ls->allow, ACL_CN) ||
	    (ls->deny != NULL && acl_match(ls->deny, &p))))
		return deny(l, peer);
	if (ls != NULL && ls->max_cps > 0 && !rate_ok(l, ls->max_cps))
		return ADMIT_REFUSED;
	if (nclients >= (unsigned)lim->max_clients)
		return refuse(REFUSE_MAX_CLIENTS, sa, peer, NULL);
	src = src_get(sa);
	if (src != NULL && src->count >= (unsigned)lim->max_clients_per_source)
	{
		(void)refuse(REFUSE_PER_SOURCE, sa, peer, src);
		return ADMIT_TOO_MANY;
	}
	if (src != NULL)
		src->count++;
	slot->src = src;
	slot->client = 1;
	nclients++;
	return ADMIT_OK;
}

enum admit_result
admit_identity(const struct acl *allow, const struct acl *deny,
    const struct sockaddr *sa, const char *cn, const char *ctx)
{
	static long long	 log_ms;
	static unsigned long	 unlogged;
	struct acl_peer		 p = { sa, cn };
	long long		 now = mono_ms();

	if (acl_permits(allow, deny, &p))
		return ADMIT_OK;
	stats_inc(STAT_connections_refused_acl);
	if (log_ms != 0 && now - log_ms < REFUSE_LOG_MS) {
		unlogged++;
		return ADMIT_DENIED;
	}
	if (unlogged > 0)
		log_ctx(LOG_NOTICE, ctx, "access denied after the TLS "
		    "handshake: closing (%lu more since the last message)",
		    unlogged);
	else
		log_ctx(LOG_NOTICE, ctx, "access denied after the TLS "
		    "handshake: closing");
	log_ms = now;
	unlogged = 0;
	return ADMIT_DENIED;
}

void
admit_release(struct admit_slot *slot)
{
	if (slot->src != NULL && --slot->src->count == 0)
		src_unlink(slot->src);
	if (slot->client)
		nclients--;
	memset(slot, 0, sizeof(*slot));
}

/*
 * A refused broker client is told why: one line the socket takes at once
 * (nothing was written before), then our end is shut; what it sent is
 * dropped so that the close sends no reset over the line.
 */
void
admit_tell(int fd, const char *line)
{
	char	buf[512];
	int	i;

	if (write(fd, line, strlen(line)) < 0)
		return;
	(void)shutdown(fd, SHUT_WR);
	for (i = 0; i < 8 && read(fd, buf, sizeof(buf)) > 0; i++)
		;
}
