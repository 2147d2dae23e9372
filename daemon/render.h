/*
 * The replies that carry tables: STATS (key<TAB>value lines) and DF
 * (a header line and escaped, tab-separated rows; brokerd-protocol(7)).
 */
#ifndef BROKERD_RENDER_H
#define BROKERD_RENDER_H

#include "daemon/dfparse.h"
#include "daemon/session_int.h"

void	render_stats(struct session *);
/* COMMANDS: "name<TAB>input<TAB>output" per command of cfg, "OK <n>". */
void	render_commands(struct session *, const struct config *cfg);
/* The table, then "OK <rows>", with the warning if there is one. */
void	render_table(struct session *, const struct df_table *,
	    const char *warning);
/*
 * The df command's output (s->dfout) parsed into the table.  warning:
 * how the command failed, if it did; errline: its first stderr line.
 */
void	render_df(struct session *, const char *warning, const char *errline);

#endif
