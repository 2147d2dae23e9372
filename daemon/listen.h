/* Listening sockets: open per config entry, reconcile, back off on EMFILE. */
#ifndef BROKERD_LISTEN_H
#define BROKERD_LISTEN_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/listener.h>

#include "common/util.h"
#include "daemon/config.h"

typedef void (*listen_accept_fn)(enum service, evutil_socket_t,
    const struct sockaddr *, int);

struct listener {
	TAILQ_ENTRY(listener)	 entry;
	enum service		 service;
	char			*address;	/* as configured */
	int			 port;		/* as configured */
	char			 name[ADDR_STRLEN]; /* as bound */
	struct evconnlistener	*lev;
	struct event		*backoff;
	int			 paused;
	int			 adopted;	/* passed by systemd */
	int			 keep;		/* reconcile scratch */
};
TAILQ_HEAD(listener_list, listener);

/* The addresses a listen entry resolved to (resolving may block). */
struct listen_addrs {
	struct sockaddr_storage	*addr;
	socklen_t		*len;
	size_t			 n;
};

void	listen_init(struct event_base *, listen_accept_fn);
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
void	listen_free(struct listener *);
void	listen_free_all(struct listener_list *);
/* A connection closed: give paused listeners another chance now. */
void	listen_resume(struct listener_list *);

#endif
