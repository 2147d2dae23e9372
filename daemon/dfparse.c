/*
 * df(1) output -> records.  Columns are found by the header (GNU -h,
 * 1K-blocks, POSIX -P with Capacity); the mount point is the rest of the
 * line, so it may hold spaces; a filesystem name alone on its line (BSD
 * style wrapping) continues on the next one.
 */
#include "autoconf.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "daemon/dfparse.h"

const char *const df_field_names[DF_NFIELDS] = {
	"filesystem", "size", "used", "avail", "use%", "mounted_on"
};

char *
df_token(char **pp)
{
	char *p = *pp, *start;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return *pp = p, NULL;
	start = p;
	while (*p != '\0' && *p != ' ' && *p != '\t')
		p++;
	if (*p != '\0')
		*p++ = '\0';
	*pp = p;
	return start;
}

static int
is_header(char *line)
{
	char	*p = line, *t;
	int	 n = 0;

	if ((t = df_token(&p)) == NULL || strcasecmp(t, "Filesystem") != 0)
		return 0;
	while ((t = df_token(&p)) != NULL)
		n++;
	/* Size Used Avail Use% Mounted on: at least five more words. */
	return n >= 5;
}

static void
add_row(struct df_table *t, char *fields[DF_NFIELDS])
{
	struct df_row	*r;
	int		 i;

	t->rows = xreallocarray(t->rows, t->nrows + 1, sizeof(*t->rows));
	r = &t->rows[t->nrows++];
	for (i = 0; i < DF_NFIELDS; i++)
		r->field[i] = xstrdup(fields[i]);
}

static int
valid_use(const char *s)
{
	size_t n = strlen(s);

	if (strcmp(s, "-") == 0)
		return 1;
	if (n < 2 || s[n - 1] != '%')
		return 0;
	while (--n > 0)
		if (!isdigit((unsigned char)s[n - 1]))
			return 0;
	return 1;
}

int
dfparse(const char *text, size_t len, struct df_table *t, char *err,
    size_t errlen)
{
	char	*buf, *line, *next, *p, *pending = NULL;
	char	*f[DF_NFIELDS];
	int	 header = 0, i, lineno = 0;

	t->rows = NULL;
	t->nrows = 0;
	buf = xmalloc(len + 1);
	if (len > 0)		/* text may be NULL then */
		memcpy(buf, text, len);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "df output contains NUL bytes");
		goto fail;
	}
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (line[0] != '\0' && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if (!header) {
			char *copy = xstrdup(line);

			header = is_header(copy);
			free(copy);
			if (!header && strspn(line, " \t") != strlen(line)) {
				char esc[128];

				str_escape(esc, sizeof(esc), line,
				    strlen(line), 80);
				snprintf(err, errlen, "no df table in output "
				    "(line %d: %s)", lineno, esc);
				goto fail;
			}
			continue;
		}
		p = line;
		if (pending != NULL) {
			f[DF_FS] = pending;
			i = 1;
		} else {
			if ((f[DF_FS] = df_token(&p)) == NULL)
				continue;	/* blank line */
			i = 1;
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == '\0') {
				/* A long name alone: the row continues. */
				pending = f[DF_FS];
				continue;
			}
		}
		for (; i < DF_MOUNT; i++)
			if ((f[i] = df_token(&p)) == NULL)
				break;
		while (*p == ' ' || *p == '\t')
			p++;
		if (i < DF_MOUNT || *p == '\0' || !valid_use(f[DF_USE])) {
			snprintf(err, errlen, "df output line %d is not a "
			    "table row", lineno);
			goto fail;
		}
		f[DF_MOUNT] = p;
		add_row(t, f);
		pending = NULL;
	}
	if (pending != NULL) {
		snprintf(err, errlen, "df output ends inside a row");
		goto fail;
	}
	if (!header) {
		snprintf(err, errlen, "no df table in output (empty)");
		goto fail;
	}
	free(buf);
	return 0;
fail:
	free(buf);
	df_table_free(t);
	return -1;
}

void
df_table_free(struct df_table *t)
{
	size_t	i;
	int	j;

	for (i = 0; i < t->nrows; i++)
		for (j = 0; j < DF_NFIELDS; j++)
			free(t->rows[i].field[j]);
	free(t->rows);
	t->rows = NULL;
	t->nrows = 0;
}
