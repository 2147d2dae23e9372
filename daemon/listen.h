/*
 * Listening sockets: open per config entry, reconcile, back off on EMFILE.
 * The control socket is a listener too (listen_wrap), so every listener
 * pauses and retries the same way when accept() fails.
 */
#ifndef BROKERD_LISTEN_H
#define BROKERD_LISTEN_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/listener.h>

#include "common/util.h"
#include "daemon/config.h"

/* What a listener serves: opaque here, handed to its accept function. */
struct service;
struct listener;

/* A connection accepted on l (its svc serves it). */
typedef void (*listen_accept_fn)(struct listener *l, evutil_socket_t,
    const struct sockaddr *, int);

/* Admission's state of one listener (admit.c): its log, its rate. */
struct listen_gate {
	long long	 acl_log_ms;	/* last "access denied" line */
	unsigned long	 acl_unlogged;	/* refusals since then */
	long long	 rate_ms;	/* when tokens were last added */
	long long	 rate_tokens;	/* connections, in thousandths */
	int		 rate_limiting;	/* refusing: an episode */
	long long	 rate_refused_ms; /* the last refusal */
};

#define LISTEN_NAMELEN	256

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	LIST_ENTRY(listener)	 all;		/* every open listener */
	enum service_id		 service;
	const struct service	*svc;		/* handed to accept */
	char			*address;	/* as configured */
	int			 port;		/* as configured */
	char			 name[LISTEN_NAMELEN]; /* as bound, escaped */
	listen_accept_fn	 accept;
	struct evconnlistener	*lev;
	struct event		*backoff;
	int			 paused;
	int			 adopted;	/* passed by systemd */
	int			 keep;		/* listen_reconcile_*() only */
	void			*taken;		/* its takeover's state */
	/* Its entry in the current config (NULL: the control socket). */
	const struct listen_spec *spec;
	size_t			 spec_i;	/* its index there */
	const struct listen_spec *next_spec;	/* reconcile only */
	size_t			 next_i;
	struct listen_gate	 gate;
};
TAILQ_HEAD(listener_list, listener);

/* The addresses a listen entry resolved to (resolving may block). */
struct listen_addrs {
	struct sockaddr_storage	*addr;
	socklen_t		*len;
	size_t			 n;
};

/*
 * Connections go to fn with the service of their listener: services[id]
 * for a listen entry of service id (SERVICE_N entries).
 */
void	listen_init(struct event_base *, listen_accept_fn fn,
	    const struct service *const *services);
/*
 * A service that accepts by itself (metrics: evhttp does) takes each of
 * its listeners over once it is bound: attach gives it l->lev (and sets
 * l->taken), or fails (-1, err says why: the bind fails); detach, when
 * the listener closes, frees l->lev.  The listener keeps the rest: its
 * name, its place in reloads, its pause and backoff on accept errors.
 * l->accept is then the takeover's too, for what is accepted past it.
 */
struct listen_takeover {
	int	(*attach)(struct listener *, char *err, size_t errlen);
	void	(*detach)(struct listener *);
};
void	listen_set_takeover(enum service_id, const struct listen_takeover *);
/* getaddrinfo for spec; blocking and thread-safe: run it in the pool. */
int	listen_resolve(const struct listen_spec *, struct listen_addrs *,
	    char *err, size_t errlen);
void	listen_addrs_free(struct listen_addrs *);
/*
 * Binds every address, disabled, appending the listeners to out; a socket
 * passed by systemd for the same address is adopted instead.  On failure
 * nothing is left open and err says why.
 */
int	listen_bind(const struct listen_spec *, const struct listen_addrs *,
	    struct listener_list *out, char *err, size_t errlen);
/* Takes the sockets systemd passed (LISTEN_FDS); returns how many. */
int	listen_adopt_init(void);
/* Closes passed sockets that no listen entry claimed, logging each. */
void	listen_adopt_finish(void);
/* Enables and logs "listening on ..." for each. */
void	listen_enable(struct listener_list *);
/*
 * A reload in two steps.  First the entries of cfg that cur lacks are
 * bound into fresh (disabled; addrs[i] are cfg->listen[i]'s addresses);
 * on failure nothing changes and err says "file:line: why".  Then, if
 * the reload goes on, commit closes the listeners of cur that cfg no
 * longer has and moves fresh into cur, enabling them if asked; if not,
 * listen_free_all(fresh).  Kept listeners are never closed, so no
 * connection is refused; from the commit on, each listener's spec is its
 * entry in cfg (its lists and rate), which must become the current one.
 */
int	listen_reconcile_bind(struct listener_list *cur,
	    const struct config *cfg, const struct listen_addrs *addrs,
	    struct listener_list *fresh, char *err, size_t errlen);
void	listen_reconcile_commit(struct listener_list *cur,
	    struct listener_list *fresh, int enable);
/*
 * Takes fd, a socket already listening, as an enabled listener whose
 * connections go to fn rather than to listen_init's; name is escaped.
 * NULL if libevent cannot take it (fd is then still the caller's).
 */
struct listener *listen_wrap(evutil_socket_t fd, enum service_id,
	    const struct service *, const char *name, listen_accept_fn fn);
void	listen_free(struct listener *);
void	listen_free_all(struct listener_list *);
/*
 * The same, but first each listener's queue is accepted and handed on as
 * usual: closing a listener resets the connections still in its queue,
 * which their clients (a load balancer) took as established.  Returns
 * how many it took.
 */
int	listen_free_all_queued(struct listener_list *);
/* A connection closed: give every paused listener another chance now. */
void	listen_resume(void);

#endif
