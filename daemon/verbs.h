/*
 * The broker protocol's verbs: one table, whose rows (name, arity, where
 * allowed, handler) dispatch, the arity errors and STATS' requests per
 * verb all read.
 */
#ifndef BROKERD_VERBS_H
#define BROKERD_VERBS_H

#include <stddef.h>

#include "daemon/session_int.h"
#include "daemon/stats.h"

/* A request line (no LF); answers it or starts what answers it. */
void	verbs_dispatch(struct session *, char *line, size_t len);
/* requests.<verb> for STATS. */
void	verbs_report(struct stats_out *);

#endif
