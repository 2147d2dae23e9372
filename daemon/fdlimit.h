/*
 * The file descriptor limit at start-up: what limits.max_clients and
 * max_children may need, against RLIMIT_NOFILE, raised to its hard limit
 * when that helps, with one warning when even that is not enough.
 */
#ifndef BROKERD_FDLIMIT_H
#define BROKERD_FDLIMIT_H

#include "daemon/config.h"

/* Our ends of a command's pipes, and a splice staging pipe. */
#define FDLIMIT_PER_CHILD	5

void	fdlimit_check(const struct config *);

#endif
