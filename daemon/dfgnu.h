/*
 * GNU "df -hl" emulation for DF --native: which /proc/self/mounts entries
 * df looks at, which of them it shows, and how it prints sizes and use%.
 * Pure: no I/O, no pool; dfnative.c feeds it what the workers found.
 */
#ifndef BROKERD_DFGNU_H
#define BROKERD_DFGNU_H

#include <sys/types.h>

#include <stddef.h>

#include "daemon/dfparse.h"

struct dfgnu_mount {
	char	*fsname;		/* device, octal escapes decoded */
	char	*dir;			/* mount point, decoded */
	char	*type;
};

/*
 * /proc/self/mounts text -> entries in file order, minus the ones GNU
 * "df -l" leaves out before it looks at them: remote file systems, dummy
 * ones (proc, sysfs, devpts, autofs, ...) and relative mount points.
 * -1 if there is no valid line at all.
 */
int	dfgnu_parse_mounts(const char *text, size_t len,
	    struct dfgnu_mount **out, size_t *n);
void	dfgnu_mounts_free(struct dfgnu_mount *, size_t n);

/* What the probe of one mount point found. */
struct dfgnu_fsinfo {
	int		 err;		/* errno of stat or statvfs, or 0 */
	int		 have_dev;	/* stat worked: dev is set */
	dev_t		 dev;		/* st_dev of the mount point */
	/* In units of frsize bytes. */
	unsigned long long blocks, bfree, bavail;
	unsigned long long frsize;
};

/*
 * Rows as GNU df -hl prints them: entries whose probe failed are left
 * out, one row per device (the GNU choice among duplicates), no row for
 * a file system with no blocks.  info[i] belongs to mounts[i].
 */
struct df_table *dfgnu_build_table(const struct dfgnu_mount *mounts,
	    const struct dfgnu_fsinfo *info, size_t n);

/*
 * Like GNU df -h: powers of 1024, K M G T P E, one decimal below 10,
 * always rounded up; plain bytes below 1024.
 */
void	dfgnu_human(unsigned long long bytes, char *buf, size_t size);
/* ceil(used * 100 / (used + avail)) and "%", or "-" if both are 0. */
void	dfgnu_use_percent(unsigned long long used, unsigned long long avail,
	    char *buf, size_t size);

#endif
