/* dfparse.c on fixtures: GNU, POSIX, BSD wrapping, spaces, errors. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dfparse.h"
#include "tests/tap.h"

static int
parse(const char *text, struct df_table *t, char *err)
{
	return dfparse(text, strlen(text), t, err, 256);
}

int
main(void)
{
	struct df_table	t;
	char		err[256], esc[64];
	size_t		n;

	ok(parse("Filesystem      Size  Used Avail Use% Mounted on\n"
	    "/dev/vda        252G   16G   80G  17% /\n"
	    "tmpfs            12G     0   12G   0% /sys/fs/cgroup\n", &t,
	    err) == 0, "GNU df -h output");
	is_int((long long)t.nrows, 2, "two rows");
	is_str(t.rows[0].field[DF_FS], "/dev/vda", "filesystem");
	is_str(t.rows[0].field[DF_SIZE], "252G", "size");
	is_str(t.rows[0].field[DF_USED], "16G", "used");
	is_str(t.rows[0].field[DF_AVAIL], "80G", "avail");
	is_str(t.rows[0].field[DF_USE], "17%", "use%%");
	is_str(t.rows[1].field[DF_MOUNT], "/sys/fs/cgroup", "mounted on");
	df_table_free(&t);

	ok(parse("Filesystem     1024-blocks    Used Available Capacity "
	    "Mounted on\n/dev/sda1         10000    5000      5000      50% "
	    "/mnt/my disk  two\n", &t, err) == 0 && t.nrows == 1,
	    "POSIX -P header with Capacity");
	is_str(t.nrows ? t.rows[0].field[DF_MOUNT] : "", "/mnt/my disk  two",
	    "mount point with spaces kept whole");
	df_table_free(&t);

	ok(parse("Filesystem  Size Used Avail Capacity  Mounted on\n"
	    "server.example.com:/export/a/very/long/path\n"
	    "             100G  40G   60G    40%    /net/a\n"
	    "/dev/ada0p2   20G  10G   10G    50%    /\n", &t, err) == 0 &&
	    t.nrows == 2, "BSD style: a long name wrapped onto its own line");
	is_str(t.nrows ? t.rows[0].field[DF_FS] : "",
	    "server.example.com:/export/a/very/long/path", "wrapped name");
	is_str(t.nrows ? t.rows[0].field[DF_AVAIL] : "", "60G",
	    "wrapped row's avail");
	is_str(t.nrows > 1 ? t.rows[1].field[DF_MOUNT] : "", "/",
	    "next row intact");
	df_table_free(&t);

	ok(parse("Filesystem Size Used Avail Use% Mounted on\n", &t, err) == 0
	    && t.nrows == 0, "header only: an empty table");
	df_table_free(&t);

	ok(parse("df: /mnt/x: Permission denied\n", &t, err) != 0 &&
	    strstr(err, "no df table") != NULL, "error text is no table");
	ok(parse("", &t, err) != 0, "empty output is an error");
	ok(parse("Filesystem Size Used Avail Use% Mounted on\n/dev/x 1 2\n",
	    &t, err) != 0 && strstr(err, "line 2") != NULL,
	    "a short row is an error naming the line");
	ok(parse("Filesystem Size Used Avail Use% Mounted on\n"
	    "/dev/x 1 2 3 lots /\n", &t, err) != 0, "bad use%% rejected");
	ok(parse("Filesystem Size Used Avail Use% Mounted on\n/dev/averylong"
	    "\n", &t, err) != 0, "output ending inside a wrapped row");
	ok(dfparse("Filesystem Size Used Avail Use% Mounted on\n/d 1 1 1 1% "
	    "/\0x\n", 52, &t, err, sizeof(err)) != 0, "NUL bytes rejected");
	ok(parse("Filesystem Size Used Avail Use% Mounted on\r\n"
	    "/dev/x 1G 0 1G 0% /\r\n", &t, err) == 0 && t.nrows == 1 &&
	    strcmp(t.rows[0].field[DF_MOUNT], "/") == 0, "CRLF tolerated");
	df_table_free(&t);
	ok(parse("Filesystem Size Used Avail Use% Mounted on\n"
	    "none 0 0 0 - /proc\n", &t, err) == 0, "use%% of - accepted");
	df_table_free(&t);

	n = df_escape(esc, sizeof(esc), "a\tb\\c\nd");
	esc[n] = '\0';
	is_str(esc, "a\\tb\\\\c\\nd", "escaping of tab, backslash, newline");
	is_int((int)df_unescape(esc), 7, "df_unescape: length back to 7");
	is_str(esc, "a\tb\\c\nd", "df_unescape undoes df_escape");
	strcpy(esc, "\\x\\\\t\\");
	is_int((int)df_unescape(esc), 5, "df_unescape: other escapes kept");
	is_str(esc, "\\x\\t\\", "a lone or unknown backslash stays");
	n = df_escape(esc, 6, "ab\\cd");
	esc[n] = '\0';
	is_str(esc, "ab\\\\", "df_escape never splits a pair (size 6)");
	n = df_escape(esc, 4, "ab\\cd");
	esc[n] = '\0';
	is_str(esc, "ab", "df_escape stops before a pair that cannot fit (size 4)");
	return done_testing();
}
