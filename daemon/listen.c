/* Listening sockets. */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "common/log.h"
#include "daemon/listen.h"
#include "daemon/stats.h"
#include "daemon/watch.h"

#define BACKOFF_MS	100
#define EMFILE_LOG_S	10
#define QUEUE_MAX	4096	/* accepted at close, per listener: SOMAXCONN */

static struct event_base	*lbase;
static listen_accept_fn		 accept_fn;
static const struct service *const *services;
static LIST_HEAD(, listener)	 all_listeners =
    LIST_HEAD_INITIALIZER(all_listeners);
static long long		 last_emfile_log_ms = -EMFILE_LOG_S * 1000LL;
static unsigned long long	 emfile_suppressed;
static const struct listen_takeover *takeover[SERVICE_N];

void
listen_init(struct event_base *base, listen_accept_fn fn,
    const struct service *const *svcs)
{
	lbase = base;
	accept_fn = fn;
	services = svcs;
}

void
listen_set_takeover(enum service_id id, const struct listen_takeover *t)
{
	takeover[id] = t;
}

static const char *
listener_ctx(void *arg)
{
	return ((struct listener *)arg)->name;
}

static void
listener_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct listener *l = arg;

	(void)lev;
	l->accept(l, fd, sa, len);
}
WATCH_LISTENER_CB(listener_accept_cb, listener_accept, listener_ctx)

/* Accepting again; if the loop cannot, again after the backoff. */
static void
listener_unpause(struct listener *l)
{
	struct timeval tv = { 0, BACKOFF_MS * 1000 };

	l->paused = 0;
	evtimer_del(l->backoff);
	if (evconnlistener_enable(l->lev) == 0)
		return;
	l->paused = 1;
	if (evtimer_add(l->backoff, &tv) != 0)
		log_warnx("cannot resume accepting on %s", l->name);
}

static void
listener_backoff(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	if (l->paused)
		listener_unpause(l);
}
WATCH_EVENT_CB(listener_backoff_cb, listener_backoff, listener_ctx)

static void
listener_error(struct evconnlistener *lev, void *arg)
{
	struct listener *l = arg;
	struct timeval	 tv = { 0, BACKOFF_MS * 1000 };
	int		 e = errno;
	long long	 now = mono_ms();

	(void)lev;
	/*
	 * libevent leaves the listener enabled after an accept error; with
	 * a level-triggered epoll an EMFILE would then spin the loop.  Pause
	 * and retry after a short backoff or when a connection closes.
	 */
	stats_inc(STAT_accept_errors);
	l->paused = 1;
	evconnlistener_disable(l->lev);
	/* Without the timer a closing connection resumes it (listen_resume). */
	(void)evtimer_add(l->backoff, &tv);
	if (now - last_emfile_log_ms >= EMFILE_LOG_S * 1000LL) {
		if (emfile_suppressed > 0)
			log_warnx("accept on %s: %s; pausing accepts for "
			    "%d ms (%llu more accept errors since the last "
			    "message)", l->name, strerror(e), BACKOFF_MS,
			    emfile_suppressed);
		else
			log_warnx("accept on %s: %s; pausing accepts for "
			    "%d ms", l->name, strerror(e), BACKOFF_MS);
		last_emfile_log_ms = now;
		emfile_suppressed = 0;
	} else
		emfile_suppressed++;
}
WATCH_LISTENER_ERR_CB(listener_error_cb, listener_error, listener_ctx)

/* Backlog 0 below: fd is already listening (SOMAXCONN, or systemd's). */
static int
listener_attach(struct listener *l, evutil_socket_t fd, unsigned flags)
{
	/* The timer first: a failure leaves fd open and the caller's. */
	if ((l->backoff = evtimer_new(lbase, listener_backoff_cb, l)) == NULL)
		return -1;
	l->lev = evconnlistener_new(lbase, listener_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | flags, 0, fd);
	if (l->lev == NULL) {
		event_free(l->backoff);
		return -1;
	}
	evconnlistener_set_error_cb(l->lev, listener_error_cb);
	LIST_INSERT_HEAD(&all_listeners, l, all);
	return 0;
}

struct listener *
listen_wrap(evutil_socket_t fd, enum service_id service,
    const struct service *svc, const char *name, listen_accept_fn fn)
{
	struct listener *l = xcalloc(1, sizeof(*l));

	l->service = service;
	l->svc = svc;
	l->address = xstrdup(name);
	l->accept = fn;
	str_escape(l->name, sizeof(l->name), name, strlen(name), 200);
	if (listener_attach(l, fd, 0) != 0) {
		free(l->address);
		free(l);
		return NULL;
	}
	return l;
}

static int
bind_one(const struct sockaddr *sa, socklen_t salen, char *err, size_t errlen)
{
	char	name[ADDR_STRLEN];
	int	fd, on = 1;

	addr_format(sa, salen, name, sizeof(name));
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0) {
		snprintf(err, errlen, "socket for %s: %s", name,
		    strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
	    (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) != 0)) {
		snprintf(err, errlen, "setsockopt on %s: %s", name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, sa, salen) != 0) {
		snprintf(err, errlen, "cannot bind %s: %s", name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, SOMAXCONN) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Sockets passed by systemd (LISTEN_FDS), until a listener claims them. */
static int	*adopt_fds;
static int	 adopt_n;

int
listen_adopt_init(void)
{
#ifdef HAVE_LIBSYSTEMD
	int i, n = sd_listen_fds(1);

	if (n < 0) {
		log_warnx("sd_listen_fds: %s", strerror(-n));
		return 0;
	}
	adopt_fds = xcalloc((size_t)n, sizeof(int));
	for (i = 0; i < n; i++)
		adopt_fds[i] = SD_LISTEN_FDS_START + i;
	adopt_n = n;
	return n;
#else
	return 0;
#endif
}

static int
adopt_take(const struct sockaddr *sa, socklen_t len)
{
#ifdef HAVE_LIBSYSTEMD
	int i, fd;

	for (i = 0; i < adopt_n; i++) {
		if ((fd = adopt_fds[i]) < 0 ||
		    sd_is_socket_sockaddr(fd, SOCK_STREAM, sa, len, 1) <= 0)
			continue;
		adopt_fds[i] = -1;
		/* evconnlistener_new leaves the socket as it is: a blocking
		 * listener would stall the loop. */
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
			log_warn("fcntl on passed socket %d", fd);
		return fd;
	}
#else
	(void)sa;
	(void)len;
#endif
	return -1;
}

void
listen_adopt_finish(void)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	char			name[ADDR_STRLEN];
	int			i;

	for (i = 0; i < adopt_n; i++) {
		if (adopt_fds[i] < 0)
			continue;
		len = sizeof(ss);
		if (getsockname(adopt_fds[i], (struct sockaddr *)&ss,
		    &len) == 0)
			addr_format((struct sockaddr *)&ss, len, name,
			    sizeof(name));
		else
			snprintf(name, sizeof(name), "fd %d", adopt_fds[i]);
		log_warnx("passed socket %s matches no listen entry; closing "
		    "it", name);
		close(adopt_fds[i]);
	}
	free(adopt_fds);
	adopt_fds = NULL;
	adopt_n = 0;
}

static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr);
	return 0;
}

int
listen_resolve(const struct listen_spec *spec, struct listen_addrs *out,
    char *err, size_t errlen)
{
	struct addrinfo	 hints, *res, *ai, *p;
	char		 port[8];
	int		 r;

	memset(out, 0, sizeof(*out));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%d", spec->port);
	r = getaddrinfo(strcmp(spec->address, "*") == 0 ? NULL :
	    spec->address, port, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", spec->address,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		int dup = 0;

		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof(struct sockaddr_storage))
			continue;
		/* Resolvers repeat addresses (two ::1 lines in /etc/hosts). */
		for (p = res; p != ai; p = p->ai_next)
			if (p->ai_addrlen == ai->ai_addrlen &&
			    memcmp(p->ai_addr, ai->ai_addr,
			    ai->ai_addrlen) == 0)
				dup = 1;
		if (dup)
			continue;
		out->addr = xreallocarray(out->addr, out->n + 1,
		    sizeof(*out->addr));
		out->len = xreallocarray(out->len, out->n + 1,
		    sizeof(*out->len));
		memset(&out->addr[out->n], 0, sizeof(out->addr[out->n]));
		memcpy(&out->addr[out->n], ai->ai_addr, ai->ai_addrlen);
		out->len[out->n++] = ai->ai_addrlen;
	}
	freeaddrinfo(res);
	if (out->n == 0) {
		snprintf(err, errlen, "%s resolves to no IPv4 or IPv6 address",
		    spec->address);
		return -1;
	}
	return 0;
}

void
listen_addrs_free(struct listen_addrs *a)
{
	free(a->addr);
	free(a->len);
	memset(a, 0, sizeof(*a));
}

int
listen_bind(const struct listen_spec *spec, const struct listen_addrs *addrs,
    struct listener_list *out, char *err, size_t errlen)
{
	struct listener_list	 opened = TAILQ_HEAD_INITIALIZER(opened);
	struct listener		*l;
	struct sockaddr_storage	 ss;
	socklen_t		 sslen;
	char			 name[ADDR_STRLEN];
	size_t			 i;
	int			 fd, adopted;

	for (i = 0; i < addrs->n; i++) {
		const struct sockaddr *sa = (const void *)&addrs->addr[i];

		addr_format(sa, addrs->len[i], name, sizeof(name));
		adopted = 0;
		if ((fd = adopt_take(sa, addrs->len[i])) >= 0)
			adopted = 1;
		else if ((fd = bind_one(sa, addrs->len[i], err, errlen)) < 0)
			goto fail;
		l = xcalloc(1, sizeof(*l));
		l->service = spec->service;
		l->svc = services[spec->service];
		l->address = xstrdup(spec->address);
		l->port = spec->port;
		l->spec = spec;
		l->adopted = adopted;
		l->accept = accept_fn;
		sslen = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sslen) == 0)
			addr_format((struct sockaddr *)&ss, sslen, l->name,
			    sizeof(l->name));
		else
			snprintf(l->name, sizeof(l->name), "%s", name);
		if (listener_attach(l, fd, LEV_OPT_DISABLED) != 0) {
			snprintf(err, errlen, "evconnlistener for %s failed",
			    name);
			close(fd);
			free(l->address);
			free(l);
			goto fail;
		}
		TAILQ_INSERT_TAIL(&opened, l, entry);
		if (takeover[spec->service] != NULL &&
		    takeover[spec->service]->attach(l, err, errlen) != 0)
			goto fail;
		if (adopted)
			log_info("adopted socket %s from systemd (%s)",
			    l->name, config_service_name(spec->service));
		if (!is_loopback(sa))
			log_notice("%s listener on non-loopback address %s",
			    config_service_name(spec->service), l->name);
	}
	while ((l = TAILQ_FIRST(&opened)) != NULL) {
		TAILQ_REMOVE(&opened, l, entry);
		TAILQ_INSERT_TAIL(out, l, entry);
	}
	return 0;
fail:
	listen_free_all(&opened);
	return -1;
}

void
listen_enable(struct listener_list *list)
{
	struct listener *l;

	TAILQ_FOREACH(l, list, entry) {
		if (evconnlistener_enable(l->lev) != 0)
			log_warnx("cannot enable listener %s", l->name);
		log_info("listening on %s (%s)", l->name,
		    config_service_name(l->service));
	}
}

static int
same_spec(const struct listener *l, const struct listen_spec *s)
{
	return l->service == s->service && l->port == s->port &&
	    strcmp(l->address, s->address) == 0;
}

int
listen_reconcile_bind(struct listener_list *cur, const struct config *cfg,
    const struct listen_addrs *addrs, struct listener_list *fresh,
    char *err, size_t errlen)
{
	struct listener	*l;
	char		 why[256];
	size_t		 i;
	int		 found;

	TAILQ_FOREACH(l, cur, entry) {
		l->keep = 0;
		l->next_spec = NULL;
	}
	for (i = 0; i < cfg->nlisten; i++) {
		found = 0;
		TAILQ_FOREACH(l, cur, entry)
			if (same_spec(l, &cfg->listen[i])) {
				l->keep = 1;
				found = 1;
				/* Entries alike (port 0): the same index. */
				if (l->next_spec == NULL || i == l->spec_i) {
					l->next_spec = &cfg->listen[i];
					l->next_i = i;
				}
			}
		if (found)
			continue;
		if (listen_bind(&cfg->listen[i], &addrs[i], fresh, why,
		    sizeof(why)) != 0) {
			snprintf(err, errlen, "%s:%d: %s", cfg->file,
			    cfg->listen[i].line, why);
			listen_free_all(fresh);
			return -1;
		}
		TAILQ_FOREACH(l, fresh, entry)
			if (l->spec == &cfg->listen[i])
				l->spec_i = i;
	}
	return 0;
}

void
listen_reconcile_commit(struct listener_list *cur,
    struct listener_list *fresh, int enable)
{
	struct listener *l, *tmp;

	for (l = TAILQ_FIRST(cur); l != NULL; l = tmp) {
		tmp = TAILQ_NEXT(l, entry);
		if (l->keep) {
			l->spec = l->next_spec;
			l->spec_i = l->next_i;
		} else {
			log_info("closing listener %s (%s)", l->name,
			    config_service_name(l->service));
			TAILQ_REMOVE(cur, l, entry);
			listen_free(l);
		}
	}
	if (enable)
		listen_enable(fresh);
	while ((l = TAILQ_FIRST(fresh)) != NULL) {
		TAILQ_REMOVE(fresh, l, entry);
		TAILQ_INSERT_TAIL(cur, l, entry);
	}
}

void
listen_free(struct listener *l)
{
	LIST_REMOVE(l, all);
	if (l->taken != NULL)
		takeover[l->service]->detach(l);
	else
		evconnlistener_free(l->lev);
	event_free(l->backoff);
	free(l->address);
	free(l);
}

void
listen_free_all(struct listener_list *list)
{
	struct listener *l;

	while ((l = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, l, entry);
		listen_free(l);
	}
}

/* Accepts what waits in l's queue; returns how many. */
static int
listener_take_queue(struct listener *l)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd, lfd, n = 0, tries;

	lfd = evconnlistener_get_fd(l->lev);
	for (tries = 0; tries < QUEUE_MAX; tries++) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* Reset while it waited: the next one. */
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				stats_inc(STAT_accept_errors);
				log_warnx("accept on %s: %s; closing it with "
				    "connections in its queue", l->name,
				    strerror(errno));
			}
			break;
		}
		n++;
		l->accept(l, fd, (struct sockaddr *)&ss, (int)len);
	}
	if (n > 0)
		log_info("took %d connections from the queue of %s (%s)", n,
		    l->name, config_service_name(l->service));
	return n;
}

int
listen_free_all_queued(struct listener_list *list)
{
	struct listener	*l;
	int		 n = 0;

	while ((l = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, l, entry);
		evconnlistener_disable(l->lev);
		n += listener_take_queue(l);
		listen_free(l);
	}
	return n;
}

void
listen_resume(void)
{
	struct listener *l;

	LIST_FOREACH(l, &all_listeners, all)
		if (l->paused)
			listener_unpause(l);
}
