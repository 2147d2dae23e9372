/* Daemon-wide state, owned by the event loop thread. */
#ifndef BROKERD_SERVER_H
#define BROKERD_SERVER_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <event2/bufferevent.h>

#include "common/util.h"
#include "daemon/config.h"
#include "daemon/listen.h"
#include "daemon/stats.h"

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	enum service		 service;
	evutil_socket_t		 fd;
	struct bufferevent	*bev;		/* NULL for echo */
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	char			 ctx[16 + ADDR_STRLEN];	/* "echo 1.2.3.4:5" */
	struct srcent		*src;
	void			*svc;		/* the service's state */
	void		       (*svc_free)(struct conn *);
	void		       (*svc_drain)(struct conn *);
	int		       (*svc_busy)(struct conn *);
	unsigned long long	 bytes_in;
	unsigned long long	 bytes_out;
	long long		 started_ms;
	int			 closed;
};
TAILQ_HEAD(conn_list, conn);

struct server {
	struct event_base	*base;
	struct config		*cfg;		/* the current snapshot */
	unsigned long		 generation;
	const char		*config_file;
	int			 foreground;
	int			 debug;
	int			 draining;
	long long		 start_ms;
	struct listener_list	 listeners;
	struct conn_list	 conns;
	unsigned		 nconns;
	unsigned		 nconns_svc[SERVICE_N];
};

extern struct server srv;

/* conn.c */
void		 conn_accept(enum service, evutil_socket_t,
		    const struct sockaddr *, int socklen);
void		 conn_accept_control(evutil_socket_t, const char *peer);
void		 conn_close(struct conn *);
void		 conn_drain_all(void);
/* Connections with a request or a flush in progress. */
int		 conn_busy_count(void);
const char	*conn_ctx(void *conn);
void		 conn_close_all(void);
unsigned	 conn_count(void);
unsigned	 conn_count_service(enum service);
/* connections, connections.<service> for STATS. */
void		 conn_report(struct stats_out *);

/* Services. */
void		 echo_start(struct conn *);
void		 session_start(struct conn *);
/* requests.<verb> for STATS. */
void		 session_report(struct stats_out *);
/* 0: stream command data by copying instead of splice(2) (tests). */
extern int	 session_splice;

#endif
