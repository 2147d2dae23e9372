/*
 * Fuzzes the df(1) output parser (daemon/dfparse.c) and the escaping
 * used when its table goes on the wire (common/dftext.c), both ways.  On
 * success every row must have all six fields, none holding a line break;
 * on failure the message is set and the table empty.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dfparse.h"
#include "tests/fuzz/fuzz.h"


static void
check_escape(const char *s, size_t size)
{
	char	*dst = malloc(size);
	size_t	 n, i;

	CHECK(dst != NULL);
	n = df_escape(dst, size, s);
	CHECK(n < size || (size == 0 && n == 0));
	for (i = 0; i < n; i++) {
		CHECK(dst[i] != '\t' && dst[i] != '\n' && dst[i] != '\0');
		/* A backslash always starts a whole escape pair. */
		if (dst[i] == '\\') {
			CHECK(i + 1 < n && strchr("tn\\", dst[i + 1]) != NULL);
			i++;
		}
	}
	/* Unescaped, it gives back s, or a prefix of s when cut short. */
	if (size > 0) {
		dst[n] = '\0';
		CHECK(df_unescape(dst) <= strlen(s));
		CHECK(strncmp(dst, s, strlen(dst)) == 0);
	}
	free(dst);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct df_table	 t = { (struct df_row *)1, 99 };
	char		 err[256];
	size_t		 i;
	int		 j, r;

	memset(err, 0, sizeof(err));
	/* The daemon passes no bytes as NULL (evbuffer_pullup, empty). */
	r = dfparse(size > 0 ? (const char *)data : NULL, size, &t, err,
	    sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r != 0) {
		CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)));
		CHECK(t.rows == NULL && t.nrows == 0);
		return 0;
	}
	CHECK(t.nrows == 0 || t.rows != NULL);
	for (i = 0; i < t.nrows; i++)
		for (j = 0; j < DF_NFIELDS; j++) {
			const char *f = t.rows[i].field[j];

			CHECK(f != NULL && strchr(f, '\n') == NULL);
			/* Only the mount point may hold blanks. */
			if (j != DF_MOUNT)
				CHECK(f[0] != '\0' &&
				    strpbrk(f, " \t") == NULL);
			else
				CHECK(f[0] != '\0' && f[0] != ' ' &&
				    f[0] != '\t');
			check_escape(f, 1 + (size_t)(i * DF_NFIELDS +
			    (size_t)j) % 16);
			check_escape(f, 4096);
		}
	df_table_free(&t);
	CHECK(t.rows == NULL && t.nrows == 0);
	return 0;
}
