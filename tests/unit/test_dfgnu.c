/*
 * dfgnu.c, GNU df -hl emulation: sizes and use% against GNU df -h values,
 * mount table fixtures, and the table df would print from probe results.
 */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/dfgnu.h"
#include "daemon/dfparse.h"
#include "tests/tap.h"

#define GiB	(1024ULL * 1024 * 1024)

static const char *
human(unsigned long long n)
{
	static char buf[32];

	dfgnu_human(n, buf, sizeof(buf));
	return buf;
}

static const char *
pct(unsigned long long used, unsigned long long avail)
{
	static char buf[32];

	dfgnu_use_percent(used, avail, buf, sizeof(buf));
	return buf;
}

static void
test_human(void)
{
	is_str(human(0), "0", "0");
	is_str(human(1), "1", "1");
	is_str(human(1023), "1023", "1023: plain bytes");
	is_str(human(1024), "1.0K", "1024");
	is_str(human(1025), "1.1K", "1025 rounds up");
	is_str(human(1536), "1.5K", "1536 exact");
	is_str(human(1537), "1.6K", "1537 rounds up");
	is_str(human(4096), "4.0K", "4096");
	is_str(human(10188), "10K", "9.95K rounds up to 10K");
	is_str(human(10239), "10K", "10239");
	is_str(human(10240), "10K", "10240");
	is_str(human(10241), "11K", "10241: no decimal from 10 up, rounds "
	    "up");
	is_str(human(1048064), "1.0M", "1023.5K -> 1.0M");
	is_str(human(1048575), "1.0M", "1M - 1");
	is_str(human(1048576), "1.0M", "1M");
	is_str(human(1048577), "1.1M", "1M + 1");
	is_str(human(252 * GiB), "252G", "252 GiB exactly");
	is_str(human(252 * GiB + 1), "253G", "252 GiB + 1 rounds up");
	/* From df -B1 / df -h on a real machine. */
	is_str(human(270553174016ULL), "252G", "df: size of /");
	is_str(human(17163583488ULL), "16G", "df: used of /");
	is_str(human(85581697024ULL), "80G", "df: avail of /");
	is_str(human(12630458368ULL), "12G", "df: devtmpfs");
	is_str(human(1024 * GiB), "1.0T", "1 TiB");
	is_str(human(1024 * GiB - 1), "1.0T", "1 TiB - 1");
	is_str(human(~0ULL), "16E", "the largest value");
}

static void
test_percent(void)
{
	is_str(pct(0, 0), "-", "0 of 0: -");
	is_str(pct(0, 100), "0%", "nothing used");
	is_str(pct(1, 99), "1%", "1%%");
	is_str(pct(1, 199), "1%", "0.5%% rounds up");
	is_str(pct(50, 50), "50%", "half");
	is_str(pct(1, 0), "100%", "full");
	is_str(pct(17163583488ULL, 85581697024ULL), "17%", "df: use%% of /");
	is_str(pct(~0ULL / 2, ~0ULL / 2), "50%", "huge values: the double "
	    "fallback");
}

static const char mounts_fixture[] =
    "proc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n"
    "sysfs /sys sysfs rw,nosuid,nodev,noexec,relatime 0 0\n"
    "/dev/sda1 / ext4 rw,relatime 0 0\n"
    "/dev/sdb1 /mnt/my\\040disk ext4 rw,relatime 0 0\n"
    "server:/export /mnt/nfs nfs4 rw,vers=4.2 0 0\n"
    "tmpfs /run tmpfs rw,nosuid,nodev,size=1628456k 0 0\n"
    "devpts /dev/pts devpts rw,mode=620 0 0\n"
    "//srv/share /mnt/smb cifs rw 0 0\n"
    "systemd-1 /proc/sys/fs/binfmt_misc autofs rw 0 0\n"
    "none /mnt/none none rw 0 0\n"
    "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n"
    "/dev/sdc1 relative ext4 rw 0 0\n"
    "/dev/sdd1 /mnt/tab\\011and\\134back ext4 rw 0 0\n"
    "garbage\n"
    "\n";

static void
test_parse_mounts(void)
{
	struct dfgnu_mount	*m;
	size_t			 n;

	ok(dfgnu_parse_mounts(mounts_fixture, strlen(mounts_fixture), &m,
	    &n) == 0, "parse the fixture");
	is_int((long long)n, 5, "5 local, real entries kept");
	if (n != 5) {
		skip(8, "wrong number of entries");
		dfgnu_mounts_free(m, n);
		return;
	}
	is_str(m[0].dir, "/", "/ kept");
	is_str(m[1].dir, "/mnt/my disk", "\\040 decoded to a space");
	is_str(m[1].fsname, "/dev/sdb1", "its device");
	is_str(m[2].dir, "/run", "tmpfs kept");
	is_str(m[2].type, "tmpfs", "its type");
	is_str(m[3].dir, "/sys/fs/cgroup", "cgroup2 kept (no blocks: "
	    "dropped later, like df)");
	is_str(m[4].dir, "/mnt/tab\tand\\back", "\\011 and \\134 decoded");
	ok(1, "nfs, cifs, proc, sysfs, devpts, autofs, none and relative "
	    "mount points filtered");
	dfgnu_mounts_free(m, n);

	ok(dfgnu_parse_mounts("", 0, &m, &n) != 0 && n == 0, "an empty table "
	    "is an error");
	free(m);
	ok(dfgnu_parse_mounts("proc /proc proc rw 0 0\n", 23, &m, &n) == 0 &&
	    n == 0, "only pseudo file systems: no entries, no error");
	free(m);
}

static struct dfgnu_mount tm[] = {
	{ "/dev/vda", "/", "ext4" },
	{ "tmpfs", "/dev/shm", "tmpfs" },
	{ "tmpfs", "/dev/shm", "tmpfs" },		/* listed twice */
	{ "/dev/vda", "/srv/bind", "ext4" },		/* bind of / */
	{ "cgroup2", "/sys/fs/cgroup", "cgroup2" },	/* no blocks */
	{ "/dev/sdb1", "/mnt/secret", "ext4" },		/* EACCES */
	{ "overlay", "/var/lib/x", "overlay" },
	{ "/dev/sdc1", "/var/lib/x", "ext4" },		/* mounted over */
	{ "rootish", "/a/b", "tmpfs" },
	{ "/dev/sdd1", "/a/b/c", "ext4" },		/* a real name wins */
	{ "/dev/sde1", "/empty", "ext4" },		/* used 0, avail 0 */
};

static const struct dfgnu_fsinfo ti[] = {
	{ 0, 1, 1, 66053021, 61863036, 20894945, 4096 },
	{ 0, 1, 2, 6170914, 6170914, 6170914, 4096 },
	{ 0, 1, 2, 6170914, 6170914, 6170914, 4096 },
	{ 0, 1, 1, 66053021, 61863036, 20894945, 4096 },
	{ 0, 1, 3, 0, 0, 0, 4096 },
	{ 13, 0, 0, 0, 0, 0, 0 },
	{ 0, 1, 5, 1000, 500, 400, 1024 },
	{ 0, 1, 5, 1000, 500, 400, 1024 },
	{ 0, 1, 6, 4, 2, 2, 1024 },
	{ 0, 1, 6, 4, 2, 2, 1024 },
	{ 0, 1, 7, 10, 10, 0, 1024 },
};

static void
test_build_table(void)
{
	struct df_table	*t;
	const char	*want[][DF_NFIELDS] = {
		{ "/dev/vda", "252G", "16G", "80G", "17%", "/" },
		{ "tmpfs", "24G", "0", "24G", "0%", "/dev/shm" },
		{ "/dev/sdc1", "1000K", "500K", "400K", "56%", "/var/lib/x" },
		{ "/dev/sdd1", "4.0K", "2.0K", "2.0K", "50%", "/a/b/c" },
		{ "/dev/sde1", "10K", "0", "0", "-", "/empty" },
	};
	size_t		 i, nwant = sizeof(want) / sizeof(want[0]);
	int		 j, same;

	t = dfgnu_build_table(tm, ti, sizeof(tm) / sizeof(tm[0]));
	is_int((long long)t->nrows, (long long)nwant, "one row per device, "
	    "no row for no blocks or an error");
	for (i = 0; i < nwant && i < t->nrows; i++) {
		same = 1;
		for (j = 0; j < DF_NFIELDS; j++)
			if (strcmp(t->rows[i].field[j], want[i][j]) != 0) {
				diag("row %zu %s: got '%s', want '%s'", i,
				    df_field_names[j], t->rows[i].field[j],
				    want[i][j]);
				same = 0;
			}
		ok(same, "row %zu: %s", i, want[i][DF_MOUNT]);
	}
	df_table_free(t);
	free(t);

	t = dfgnu_build_table(NULL, NULL, 0);
	ok(t != NULL && t->nrows == 0, "no mounts: an empty table");
	df_table_free(t);
	free(t);
}

int
main(void)
{
	test_human();
	test_percent();
	test_parse_mounts();
	test_build_table();
	return done_testing();
}
