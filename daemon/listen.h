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
	int			 mark;		/* reconcile scratch */
};
TAILQ_HEAD(listener_list, listener);

void	listen_init(struct event_base *, listen_accept_fn);
/*
 * Resolves spec and binds every address it names, disabled, appending them
 * to out.  On failure nothing is left open and err says why.
 */
int	listen_open(const struct listen_spec *, struct listener_list *out,
	    char *err, size_t errlen);
void	listen_enable(struct listener_list *);
void	listen_free(struct listener *);
void	listen_free_all(struct listener_list *);
/* A connection closed: give paused listeners another chance now. */
void	listen_resume(struct listener_list *);

#endif
