/* df(1) output -> records.  Pure; no I/O. */
#ifndef BROKERD_DFPARSE_H
#define BROKERD_DFPARSE_H

#include <stddef.h>

#include "common/dftext.h"	/* df_escape */

enum { DF_FS, DF_SIZE, DF_USED, DF_AVAIL, DF_USE, DF_MOUNT, DF_NFIELDS };

struct df_row {
	char	*field[DF_NFIELDS];
};

struct df_table {
	struct df_row	*rows;
	size_t		 nrows;
};

extern const char *const df_field_names[DF_NFIELDS];

/* 0 on success (possibly no rows); -1 with err set if there is no table. */
int	dfparse(const char *text, size_t len, struct df_table *,
	    char *err, size_t errlen);
void	df_table_free(struct df_table *);
/*
 * Splits the next blank-separated (space, tab) word off *pp, NUL-
 * terminating it in place, and moves *pp past it; NULL at the end of the
 * string.  df output and /proc/self/mounts lines are both split by it.
 */
char	*df_token(char **pp);

#endif
