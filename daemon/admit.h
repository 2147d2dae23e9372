/*
 * Admission: whether an accepted connection is served, decided in one
 * function before a byte of it is read.  Not while the daemon drains;
 * for network clients, only peers the listener's access lists allow (its
 * own allow and deny, else the top-level ones), at most its
 * max_connections_per_second, at most limits.max_clients in all and
 * limits.max_clients_per_source from one address.  A refusal is counted
 * and logged, at most one line a second per reason (per listener for the
 * access lists; one line per episode for the rate).
 */
#ifndef BROKERD_ADMIT_H
#define BROKERD_ADMIT_H

#include <sys/socket.h>

#include "daemon/config.h"

struct acl;
struct listener;
struct srcent;

/* What an admitted connection holds until admit_release(). */
struct admit_slot {
	struct srcent	*src;		/* its source address's count */
	int		 client;	/* counts against max_clients */
};

enum admit_result {
	ADMIT_OK,
	ADMIT_REFUSED,		/* close it */
	ADMIT_DENIED,		/* by the access lists: tell it, close it */
	ADMIT_TOO_MANY		/* max_clients_per_source: tell it, close it */
};

/*
 * Whether the connection from sa (peer: sa as text) accepted on l is to
 * be served; a refusal is counted and logged.  sa is NULL for a local
 * peer (the control socket, l NULL), which only the drain refuses: an
 * admin always gets in.
 */
enum admit_result admit_check(struct listener *l, const struct sockaddr *sa,
	    const char *peer, const struct limits *, int draining,
	    struct admit_slot *);
/*
 * Once a transport verified the peer's name cn (TLS), the lists again:
 * the entries "cn:NAME" can decide now.  Refusals are counted
 * (connections_refused_acl) and logged (ctx names the connection), one
 * line a second.
 */
enum admit_result admit_identity(const struct acl *allow,
	    const struct acl *deny, const struct sockaddr *sa, const char *cn,
	    const char *ctx);
void	admit_release(struct admit_slot *);
/*
 * Tells a refused peer why (line: one "ERR ..." line) before its close,
 * dropping what it sent so that the close is no reset.
 */
void	admit_tell(int fd, const char *line);
/*
 * After a refusal: the line a broker client is told before the close
 * (brokerd-protocol(7)), or NULL when it is closed without one.
 */
const char *admit_refusal_line(void);

#endif
