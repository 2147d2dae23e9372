/*
 * Who may run a configured command, and how many of it may run at once:
 * a command's allow and deny lists (brokerd.conf(5)) narrow what its
 * listener let in, and max_running bounds its instances alongside
 * limits.max_children.  Checked when a request would spawn the command.
 */
#ifndef BROKERD_CMDACCESS_H
#define BROKERD_CMDACCESS_H

#include <stddef.h>

#include "daemon/acl.h"
#include "daemon/config.h"
#include "daemon/stats.h"

/*
 * 0 if peer may start cmd now; else the reply code (403, 429) with its
 * text in msg.  A peer without an address (the control socket, local
 * admins) is not subject to the lists.
 */
int	cmdaccess_check(const struct command_spec *, const struct acl_peer *,
	    char *msg, size_t size);
/* Instances of the command name running (or being reaped). */
unsigned cmdaccess_running(const char *name);
/* command.NAME.running and .max_running (0: none) for STATS. */
void	cmdaccess_report(struct stats_out *);

#endif
