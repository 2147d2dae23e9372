/*
 * brokerctl's output of df and stats replies: the DATA of the reply is
 * collected whole, split into tab-separated fields, and printed as an
 * aligned table or as JSON.
 */
#include "autoconf.h"

#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dftext.h"
#include "common/util.h"
#include "client/client.h"

#define TABLE_MAX	(1024 * 1024)	/* df/stats replies are held whole */
#define DF_NCOLS	6

struct table {
	char		**f;		/* nrows * ncols fields */
	size_t		 nrows;
};

static char	*tbuf;		/* collected DATA of a df/stats reply */
static size_t	 tlen;

static const char *df_keys[] = {
	"filesystem", "size", "used", "avail", "use%", "mounted_on"
};
static const char *df_titles[] = {
	"Filesystem", "Size", "Used", "Avail", "Use%", "Mounted on"
};

void
output_collect(const char *buf, size_t len)
{
	if (len > TABLE_MAX - tlen)
		errx(EXIT_PROTO, "reply from %s larger than %d bytes",
		    conn_peer(), TABLE_MAX);
	if (tbuf == NULL)
		tbuf = xmalloc(TABLE_MAX + 1);
	memcpy(tbuf + tlen, buf, len);
	tlen += len;
}

/*
 * Splits tbuf into rows of exactly ncols tab-separated fields (the last
 * field of a stats line keeps any further tabs).  Fields point into tbuf.
 */
static void
table_parse(struct table *t, size_t ncols, int df)
{
	char	*line, *end, *nl, *tab;
	size_t	 i;

	memset(t, 0, sizeof(*t));
	if (tbuf == NULL)
		tbuf = xmalloc(1);
	end = tbuf + tlen;
	for (line = tbuf; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		*nl = '\0';
		t->f = xreallocarray(t->f, (t->nrows + 1) * ncols,
		    sizeof(char *));
		for (i = 0; i < ncols; i++) {
			t->f[t->nrows * ncols + i] = line;
			tab = strchr(line, '\t');
			if (i + 1 < ncols) {
				if (tab == NULL)
					errx(EXIT_PROTO, "malformed line %zu "
					    "in reply from %s", t->nrows + 1,
					    conn_peer());
				*tab = '\0';
				line = tab + 1;
			} else if (df && tab != NULL)
				errx(EXIT_PROTO, "malformed line %zu in reply "
				    "from %s", t->nrows + 1, conn_peer());
		}
		if (df)
			for (i = 0; i < ncols; i++)
				df_unescape(t->f[t->nrows * ncols + i]);
		t->nrows++;
	}
}

/*
 * Prints s to fp with control characters escaped, or only measures it
 * when fp is NULL; a backslash is itself, as in df.  UTF-8 continuation
 * bytes take no column.
 */
static int
disp(const char *s, FILE *fp)
{
	char	esc[8];
	int	w = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\t' || *s == '\n' || *s == '\r')
			(void)snprintf(esc, sizeof(esc), "\\%c", *s == '\t' ?
			    't' : *s == '\n' ? 'n' : 'r');
		else if ((unsigned char)*s < ' ' || *s == 0x7f)
			(void)snprintf(esc, sizeof(esc), "\\x%02x",
			    (unsigned char)*s);
		else {
			w += (*s & 0xc0) != 0x80;
			if (fp != NULL)
				putc(*s, fp);
			continue;
		}
		w += (int)strlen(esc);
		if (fp != NULL)
			fputs(esc, fp);
	}
	return w;
}

/* Prints s padded to width, right-aligned or left-aligned. */
static void
disp_put(const char *s, int width, int right)
{
	int	pad = width - disp(s, NULL);

	if (right && pad > 0)
		printf("%*s", pad, "");
	(void)disp(s, stdout);
	if (!right && pad > 0)
		printf("%*s", pad, "");
}

/* Length of the valid UTF-8 sequence at s, 0 when invalid. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned long	cp;
	size_t		n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	/* The terminating NUL fails this test, so no overrun. */
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* JSON must be UTF-8: invalid bytes become U+FFFD. */
static void
json_str(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t	n;

	putchar('"');
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			printf("\\%c", *s);
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			printf("\\u%04x", *s);
			s++;
		} else if ((n = utf8_len(s)) == 0) {
			fputs("\\ufffd", stdout);
			s++;
		} else {
			fwrite(s, 1, n, stdout);
			s += n;
		}
	}
	putchar('"');
}

/* Skips a run of digits; how many there were. */
static size_t
digits(const char **s)
{
	const char *p = *s;

	while (**s >= '0' && **s <= '9')
		(*s)++;
	return (size_t)(*s - p);
}

/* A number as JSON writes it: -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? */
static int
is_json_number(const char *s)
{
	const char *p = s;
	size_t	n;

	if (*p == '-')
		p++;
	if ((n = digits(&p)) == 0 || (n > 1 && p[-(long)n] == '0'))
		return 0;
	if (*p == '.') {
		p++;
		if (digits(&p) == 0)
			return 0;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (digits(&p) == 0)
			return 0;
	}
	return *p == '\0';
}

static void
df_json(const struct table *t)
{
	char	**row;
	size_t	  r, i;

	fputs("[", stdout);
	for (r = 1; r < t->nrows; r++) {
		row = t->f + r * DF_NCOLS;
		fputs(r > 1 ? ",\n  {" : "\n  {", stdout);
		for (i = 0; i < DF_NCOLS; i++) {
			json_str(df_keys[i]);
			fputs(": ", stdout);
			json_str(row[i]);
			fputs(i + 1 < DF_NCOLS ? ", " : "}", stdout);
		}
	}
	fputs(t->nrows > 1 ? "\n]\n" : "]\n", stdout);
}

/*
 * The seed's view: mount point and available space, the mount points
 * padded to 25 columns or to the longest one.
 */
static void
df_free_space(const struct table *t)
{
	char	**row;
	size_t	  r;
	int	  w = 25;

	for (r = 1; r < t->nrows; r++)
		if (disp(t->f[r * DF_NCOLS + 5], NULL) > w)
			w = disp(t->f[r * DF_NCOLS + 5], NULL);
	if (!opt.quiet)
		puts("Free space:");
	for (r = 1; r < t->nrows; r++) {
		row = t->f + r * DF_NCOLS;
		disp_put(row[5], w, 0);
		fputs(": ", stdout);
		disp_put(row[3], 0, 0);
		putchar('\n');
	}
}

static void
df_all(const struct table *t)
{
	char	**row;
	size_t	  r, i;
	int	  w[DF_NCOLS];

	for (i = 0; i < DF_NCOLS; i++) {
		w[i] = disp(df_titles[i], NULL);
		for (r = 1; r < t->nrows; r++)
			if (disp(t->f[r * DF_NCOLS + i], NULL) > w[i])
				w[i] = disp(t->f[r * DF_NCOLS + i], NULL);
	}
	w[DF_NCOLS - 1] = 0;	/* no trailing blanks */
	for (r = 0; r < t->nrows; r++) {
		row = r == 0 ? (char **)df_titles : t->f + r * DF_NCOLS;
		for (i = 0; i < DF_NCOLS; i++) {
			if (i > 0)
				putchar(' ');
			/* Sizes right-aligned, names left, as df does. */
			disp_put(row[i], w[i], i > 0 && i < DF_NCOLS - 1);
		}
		putchar('\n');
	}
}

void
output_df(int all)
{
	struct table	t;
	size_t		i;

	table_parse(&t, DF_NCOLS, 1);
	if (t.nrows == 0)
		errx(EXIT_PROTO, "df reply from %s has no header",
		    conn_peer());
	for (i = 0; i < DF_NCOLS; i++)
		if (strcmp(t.f[i], df_keys[i]) != 0)
			errx(EXIT_PROTO, "unexpected df header from %s",
			    conn_peer());
	if (opt.json)
		df_json(&t);
	else if (!all)
		df_free_space(&t);
	else
		df_all(&t);
	free(t.f);
}

void
output_stats(void)
{
	struct table	t;
	size_t		r;
	int		w = 0;

	table_parse(&t, 2, 0);
	if (opt.json) {
		fputs("{", stdout);
		for (r = 0; r < t.nrows; r++) {
			fputs(r > 0 ? ",\n  " : "\n  ", stdout);
			json_str(t.f[2 * r]);
			fputs(": ", stdout);
			/* A version such as "2.0" stays a string. */
			if (strcmp(t.f[2 * r], "version") != 0 &&
			    is_json_number(t.f[2 * r + 1]))
				fputs(t.f[2 * r + 1], stdout);
			else
				json_str(t.f[2 * r + 1]);
		}
		fputs(t.nrows > 0 ? "\n}\n" : "}\n", stdout);
	} else {
		for (r = 0; r < t.nrows; r++)
			if (disp(t.f[2 * r], NULL) > w)
				w = disp(t.f[2 * r], NULL);
		for (r = 0; r < t.nrows; r++) {
			disp_put(t.f[2 * r], w + 2, 0);
			disp_put(t.f[2 * r + 1], 0, 0);
			putchar('\n');
		}
	}
	free(t.f);
}

void
output_commands(int header)
{
	static const char *const titles[] = { "Command", "Input", "Output" };
	struct table	t;
	size_t		r, c;
	int		w[3];

	table_parse(&t, 3, 0);
	if (opt.json) {
		fputs("[", stdout);
		for (r = 0; r < t.nrows; r++) {
			fputs(r > 0 ? ",\n  {\"name\": " : "\n  {\"name\": ",
			    stdout);
			json_str(t.f[3 * r]);
			printf(", \"input\": %s, \"output\": ",
			    strcmp(t.f[3 * r + 1], "yes") == 0 ? "true" :
			    "false");
			json_str(t.f[3 * r + 2]);
			fputs("}", stdout);
		}
		fputs(t.nrows > 0 ? "\n]\n" : "]\n", stdout);
		free(t.f);
		return;
	}
	/* Without the header, one command a line, name first (completion). */
	for (c = 0; c < 3; c++) {
		w[c] = header ? (int)strlen(titles[c]) : 0;
		for (r = 0; r < t.nrows; r++)
			if (disp(t.f[3 * r + c], NULL) > w[c])
				w[c] = disp(t.f[3 * r + c], NULL);
	}
	if (header)
		printf("%-*s  %-*s  %s\n", w[0], titles[0], w[1], titles[1],
		    titles[2]);
	for (r = 0; r < t.nrows; r++) {
		disp_put(t.f[3 * r], w[0] + 2, 0);
		disp_put(t.f[3 * r + 1], w[1] + 2, 0);
		disp_put(t.f[3 * r + 2], 0, 0);
		putchar('\n');
	}
	free(t.f);
}
