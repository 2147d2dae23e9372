/* The administrative unix socket (brokerctl reload / stats). */
#ifndef BROKERD_CONTROL_H
#define BROKERD_CONTROL_H

#include <event2/util.h>

#include "daemon/config.h"

struct service;

/* Peer names a control connection in logs: "control uid 0 pid 42". */
typedef void (*control_accept_fn)(const struct service *, evutil_socket_t,
    const char *peer);

/* Connections that pass the credentials check go to fn, for svc. */
void	control_init(control_accept_fn fn, const struct service *svc);
#define CONTROL_LIVE	(-2)

/*
 * Opens cfg's control socket.  CONTROL_LIVE if another daemon answers
 * there (a live socket is never stolen), -1 if it cannot be created or
 * its directory is not safe (see safepath_dir_open), or something other
 * than a socket is at the path.
 */
int	control_open(const struct config *, char *err, size_t errlen);
/*
 * A new path: opens it, then closes the old one (kept on failure, which
 * is logged, not returned, unless another daemon answers there).  The
 * same path: mode and group are changed in place, on the inode we made,
 * never through a name that may lead elsewhere by now.  No socket yet
 * (disabled): tries to open one, logging a failure without returning it.
 */
int	control_reconcile(const struct config *, char *err, size_t errlen);
/* Stops accepting and removes the socket file if it is still ours. */
void	control_close(void);
const char *control_path(void);

#endif
