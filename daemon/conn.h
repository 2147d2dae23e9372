/*
 * Accepted connections, whatever they serve: admission, the transport
 * (xport.h), the context string of their log lines, byte counts, the
 * drain, and closing.  A
 * listener carries its service (a struct service that brokerd.c hands
 * over); conn.c calls the service's hooks and names none of them.
 */
#ifndef BROKERD_CONN_H
#define BROKERD_CONN_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "common/util.h"
#include "daemon/admit.h"
#include "daemon/config.h"
#include "daemon/stats.h"

struct conn;
struct listener;
struct xport;

/* A service's hooks, called on the loop thread. */
struct service {
	enum service_id	 id;		/* its name in logs and STATS */
	/* Takes the new connection over; -1 if it cannot (it is closed). */
	int		(*start)(struct conn *);
	/* The drain began (may be NULL). */
	void		(*drain)(struct conn *);
	/*
	 * Whether it holds the drain: a request or a flush in progress, or
	 * a first request that may still come (conn_recent).
	 */
	int		(*busy)(struct conn *);
	/* The connection is closing: free what start() made. */
	void		(*free)(struct conn *);
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	const struct service	*svc;
	void			*state;		/* the service's */
	struct xport		*xport;		/* its bytes: conn.c's */
	/* "echo 1.2.3.4:5", and " cn=NAME" after a TLS client cert. */
	char			 ctx[16 + ADDR_STRLEN + 80];
	struct admit_slot	 slot;
	int			 idle_s;	/* its transport's timeout */
	unsigned long long	 bytes_in;
	unsigned long long	 bytes_out;
	long long		 rx_ms;		/* accepted; bytes last read */
	int			 closed;
	/* Lists with cn: entries, to ask again once TLS names the peer. */
	struct acl		*allow, *deny;
	int			 recheck;
};

/* Listener l accepted fd from sa: its service, its transport. */
void	 conn_accept(struct listener *l, evutil_socket_t,
	    const struct sockaddr *sa, int socklen);
/* The control socket accepted fd; peer names it ("uid 0 pid 42"). */
void	 conn_accept_local(const struct service *, evutil_socket_t,
	    const char *peer);
/* Any time, also from inside the service's callbacks; freed after them. */
void	 conn_close(struct conn *);
/* what ("read", "write") failed with errno: logged (debug), closed. */
void	 conn_broken(struct conn *, const char *what);
/* For watch.h: the context of a callback whose argument is a conn. */
const char *conn_ctx(void *conn);

/*
 * The drain waits for the first request of a connection (for echo: its
 * data) while its client connected or last sent bytes less than this
 * long ago: a balancer sends a request right after it connects.
 */
#define CONN_DRAIN_QUIET_MS	1000
/* Whether c's client connected or sent within CONN_DRAIN_QUIET_MS. */
int	 conn_recent(const struct conn *);

/* The drain: every service's drain hook; then how many are busy. */
void	 conn_drain_all(void);
int	 conn_busy_count(void);
void	 conn_close_all(void);
unsigned conn_count(void);
unsigned conn_count_service(enum service_id);
/*
 * A connection served outside conn.c (metrics: evhttp's) opened (+1) or
 * closed (-1): counted in connections and connections.<service>.
 */
void	 conn_count_other(enum service_id, int delta);
void	 conn_foreach(void (*fn)(const struct conn *, void *), void *arg);
/* connections, connections.<service>, tls_connections for STATS. */
void	 conn_report(struct stats_out *);

#endif
