/*
 * Admission: whether an accepted connection is served, decided in one
 * function before a byte of it is read.  Not while the daemon drains;
 * for network clients, at most limits.max_clients in all and
 * limits.max_clients_per_source from one address.  A refusal is counted
 * and logged, at most one line a second per reason.
 */
#ifndef BROKERD_ADMIT_H
#define BROKERD_ADMIT_H

#include <sys/socket.h>

#include "daemon/config.h"

struct srcent;

/* What an admitted connection holds until admit_release(). */
struct admit_slot {
	struct srcent	*src;		/* its source address's count */
	int		 client;	/* counts against max_clients */
};

/*
 * 0 if the connection from sa (peer: sa as text) is to be served; -1 if
 * it is refused (counted and logged: close it).  sa is NULL for a local
 * peer (the control socket), which only the drain refuses: an admin
 * always gets in.
 */
int	admit_check(const struct sockaddr *sa, const char *peer,
	    const struct limits *, int draining, struct admit_slot *);
void	admit_release(struct admit_slot *);
/*
 * After a refusal: the line a broker client is told before the close
 * (brokerd-protocol(7)), or NULL when it is closed without one.
 */
const char *admit_refusal_line(void);

#endif
