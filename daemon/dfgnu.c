/*
 * GNU "df -hl" emulation; see dfgnu.h.  The choices follow GNU
 * coreutils' df.c and gnulib's mountlist.c and human.c, so that DF
 * --native prints what df -hl prints on the same machine.
 */
#include "autoconf.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "daemon/dfgnu.h"
#include "daemon/dfparse.h"

/* GNU mountlist.c: file systems df skips unless -a is given. */
static int
fs_dummy(const char *type)
{
	static const char *const dummy[] = {
		"autofs", "proc", "subfs", "debugfs", "devpts", "fusectl",
		"fuse.portal", "mqueue", "rpc_pipefs", "sysfs", "devfs",
		"kernfs", "ignore", "none"
	};
	size_t i;

	for (i = 0; i < sizeof(dummy) / sizeof(dummy[0]); i++)
		if (strcmp(type, dummy[i]) == 0)
			return 1;
	return 0;
}

/* GNU mountlist.c: what df -l counts as remote (and never stats). */
static int
fs_remote(const char *name, const char *type)
{
	static const char *const remote[] = {
		"acfs", "afs", "coda", "auristorfs", "fhgfs", "gpfs", "ibrix",
		"ocfs2", "vxfs"
	};
	size_t i;

	if (strchr(name, ':') != NULL || strcmp(name, "-hosts") == 0)
		return 1;
	if (name[0] == '/' && name[1] == '/' && (strcmp(type, "smbfs") == 0 ||
	    strcmp(type, "smb3") == 0 || strcmp(type, "cifs") == 0))
		return 1;
	for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if (strcmp(type, remote[i]) == 0)
			return 1;
	return 0;
}

/* The kernel writes space, tab, newline and backslash as \ooo. */
static void
unescape(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
			    (s[3] - '0'));
			s += 3;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

int
dfgnu_parse_mounts(const char *text, size_t len, struct dfgnu_mount **out,
    size_t *n)
{
	struct dfgnu_mount	*m = NULL;
	char			*buf, *line, *next, *p, *name, *dir, *type;
	size_t			 count = 0;
	int			 valid = 0;

	buf = xmalloc(len + 1);
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (line = buf; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		p = line;
		if ((name = df_token(&p)) == NULL ||
		    (dir = df_token(&p)) == NULL ||
		    (type = df_token(&p)) == NULL)
			continue;
		valid++;
		unescape(name);
		unescape(dir);
		unescape(type);
		/* Relative ones show up with network namespaces. */
		if (dir[0] != '/' || fs_dummy(type) || fs_remote(name, type))
			continue;
		m = xreallocarray(m, count + 1, sizeof(*m));
		m[count].fsname = xstrdup(name);
		m[count].dir = xstrdup(dir);
		m[count].type = xstrdup(type);
		count++;
	}
	free(buf);
	*out = m;
	*n = count;
	return valid > 0 ? 0 : -1;
}

void
dfgnu_mounts_free(struct dfgnu_mount *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m[i].fsname);
		free(m[i].dir);
		free(m[i].type);
	}
	free(m);
}

/*
 * gnulib human_readable() with human_autoscale | human_SI |
 * human_base_1024 and the default human_ceiling: the digits dropped are
 * tracked as tenths plus a rounding state, so the result is exact.
 */
void
dfgnu_human(unsigned long long n, char *buf, size_t size)
{
	static const char	 power[] = "KMGTPEZY";
	unsigned long long	 amt = n;
	unsigned		 tenths = 0, rounding = 0, r10, r2;
	int			 exp = 0;

	if (amt < 1024) {
		snprintf(buf, size, "%llu", amt);
		return;
	}
	do {
		r10 = (unsigned)(amt % 1024) * 10 + tenths;
		r2 = (r10 % 1024) * 2 + (rounding >> 1);
		amt /= 1024;
		tenths = r10 / 1024;
		rounding = r2 < 1024 ? (r2 + rounding) != 0 :
		    2 + (1024 < r2 + rounding);
		exp++;
	} while (amt >= 1024 && exp < (int)sizeof(power) - 1);
	if (amt < 10) {
		if (rounding > 0) {
			tenths++;
			rounding = 0;
			if (tenths == 10) {
				amt++;
				tenths = 0;
			}
		}
		if (amt < 10) {
			snprintf(buf, size, "%llu.%u%c", amt, tenths,
			    power[exp - 1]);
			return;
		}
	}
	if (tenths + rounding > 0) {
		amt++;
		if (amt == 1024 && exp < (int)sizeof(power) - 1) {
			snprintf(buf, size, "1.0%c", power[exp]);
			return;
		}
	}
	snprintf(buf, size, "%llu%c", amt, power[exp - 1]);
}

void
dfgnu_use_percent(unsigned long long used, unsigned long long avail,
    char *buf, size_t size)
{
	unsigned long long	total = used + avail, pct;
	double			p;

	if (used == 0 && avail == 0) {
		snprintf(buf, size, "-");
		return;
	}
	if (used <= ULLONG_MAX / 100 && total >= used)
		pct = used * 100 / total + (used * 100 % total != 0);
	else {
		/* Too big for integers; df falls back on a double too. */
		p = (double)used * 100 / ((double)used + (double)avail);
		pct = (unsigned long long)p;
		if ((double)pct < p)
			pct++;
	}
	snprintf(buf, size, "%llu%%", pct);
}

static void
add_row(struct df_table *t, const struct dfgnu_mount *m,
    const struct dfgnu_fsinfo *f)
{
	struct df_row		*r;
	char			 buf[32];
	unsigned long long	 size = f->blocks * f->frsize;
	unsigned long long	 avail = f->bavail * f->frsize, used;

	t->rows = xreallocarray(t->rows, t->nrows + 1, sizeof(*t->rows));
	r = &t->rows[t->nrows++];
	r->field[DF_FS] = xstrdup(m->fsname);
	dfgnu_human(size, buf, sizeof(buf));
	r->field[DF_SIZE] = xstrdup(buf);
	if (f->bfree > f->blocks) {
		/* More free than total: df shows it negative, use% "-". */
		used = (f->bfree - f->blocks) * f->frsize;
		buf[0] = '-';
		dfgnu_human(used, buf + 1, sizeof(buf) - 1);
		r->field[DF_USED] = xstrdup(buf);
		r->field[DF_USE] = xstrdup("-");
	} else {
		used = (f->blocks - f->bfree) * f->frsize;
		dfgnu_human(used, buf, sizeof(buf));
		r->field[DF_USED] = xstrdup(buf);
		dfgnu_use_percent(used, avail, buf, sizeof(buf));
		r->field[DF_USE] = xstrdup(buf);
	}
	dfgnu_human(avail, buf, sizeof(buf));
	r->field[DF_AVAIL] = xstrdup(buf);
	r->field[DF_MOUNT] = xstrdup(m->dir);
}

struct df_table *
dfgnu_build_table(const struct dfgnu_mount *m,
    const struct dfgnu_fsinfo *info, size_t n)
{
	struct df_table			*t = xcalloc(1, sizeof(*t));
	const struct dfgnu_mount	*seen, *me;
	size_t				*keep, nkeep = 0, i, k;

	keep = xcalloc(n > 0 ? n : 1, sizeof(*keep));
	/*
	 * GNU df's filter_mount_list(): one entry per device, in the place
	 * of the first one seen; a later entry takes that place if it has a
	 * real device name ('/') and the first has not, if its mount point
	 * is shorter, or if it is another device over the same mount point.
	 */
	for (i = 0; i < n; i++) {
		if (!info[i].have_dev)
			continue;
		for (k = 0; k < nkeep; k++)
			if (info[keep[k]].dev == info[i].dev)
				break;
		if (k == nkeep) {
			keep[nkeep++] = i;
			continue;
		}
		seen = &m[keep[k]];
		me = &m[i];
		if ((strchr(me->fsname, '/') != NULL &&
		    strchr(seen->fsname, '/') == NULL) ||
		    strlen(seen->dir) > strlen(me->dir) ||
		    (strcmp(seen->fsname, me->fsname) != 0 &&
		    strcmp(me->dir, seen->dir) == 0))
			keep[k] = i;
	}
	for (k = 0; k < nkeep; k++) {
		i = keep[k];
		/* No blocks: pseudo file systems like cgroup; df skips. */
		if (info[i].err == 0 && info[i].blocks > 0)
			add_row(t, &m[i], &info[i]);
	}
	free(keep);
	return t;
}
