/*
 * The privilege drop: started as root with user set, brokerd opens its
 * listeners, control socket, pidfile and log, then becomes that user for
 * good, and so does every command it runs (brokerd.8, SECURITY).
 */
#ifndef BROKERD_PRIVDROP_H
#define BROKERD_PRIVDROP_H

#include "daemon/config.h"

/*
 * At the end of start-up.  As root: drops to cfg's user and group, or
 * warns (once) that there is none; fatal if root could be regained.
 * Not as root: nothing to drop (a user that is not us is noted).
 */
void	privdrop_apply(const struct config *cfg);
/* Whether a reload from old to new changes user or group (restart). */
int	privdrop_changed(const struct config *old, const struct config *new);

#endif
