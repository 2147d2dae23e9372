/*
 * Orphans: brokerd is a child subreaper, so a process that a command
 * leaves behind (a grandchild that called setsid, say) becomes brokerd's
 * child when its parent dies, instead of init's.  Each orphan is tagged
 * with the commands running when it was found; once every one of them
 * has ended (its leader reaped), the orphan is killed, and it is reaped
 * by its own pid: known children's statuses are never taken.
 */
#ifndef BROKERD_ORPHANS_H
#define BROKERD_ORPHANS_H

#include <sys/types.h>

/* Whether pid is a command's leader, not yet reaped. */
typedef int (*orphans_known_fn)(pid_t);

/* Makes brokerd a subreaper; 0, or -1 (logged) when it cannot be one. */
int	orphans_init(void);
/*
 * Records the children that known() does not claim; next_seq is the
 * sequence number the next command will get.
 */
void	orphans_scan(orphans_known_fn known, unsigned long long next_seq);
/*
 * Reaps the orphans that exited and kills those found before the oldest
 * command still running started (oldest_seq: that command's number, or
 * the next one's when none runs).
 */
void	orphans_reap(unsigned long long oldest_seq);
/* Exit: kills and reaps every child known() does not claim. */
void	orphans_shutdown(orphans_known_fn known);

#endif
