/*
 * DF --native: the df table computed in the daemon.  /proc/self/mounts is
 * read in a NORMAL pool job, then stat(2) + statvfs(2) run in one RISKY
 * job per mount point, so a hung mount costs one worker and a 504, never
 * the loop.  At most one probe per mount point is in flight across all
 * requests (single-flight): a request for a mount already being probed
 * waits for that probe instead of submitting another, so a hung mount
 * never piles up jobs.
 */
#ifndef BROKERD_DFNATIVE_H
#define BROKERD_DFNATIVE_H

#include <sys/types.h>

#include <stddef.h>

#include <event2/event.h>

#include "daemon/dfparse.h"

struct dfn_req;

/*
 * t is NULL on error; otherwise the callee owns it (df_table_free(t),
 * then free(t)).  code: 0; 504 when the deadline passed first (err names
 * the slow mount point); 429 when the pool queue filled up while the
 * request was being fanned out; 503 when the pool shut down under it;
 * 500 otherwise.  Never called from inside dfnative_start().  After it
 * returns the request is gone: do not cancel it.
 */
typedef void (*dfn_cb)(struct df_table *t, int code, const char *err,
	    void *arg);

void	dfnative_init(struct event_base *);
/* NULL if the pool queue is full (answer 429). */
struct dfn_req *dfnative_start(int deadline_ms, dfn_cb cb, void *arg,
	    const char *ctx);
/* The requester is gone: cb is never called; the rest is freed later. */
void	dfnative_cancel(struct dfn_req *);
/* After pool_shutdown(): frees what is left, except probes still stuck. */
void	dfnative_shutdown(void);
/*
 * Test hook, honoured only because brokerd calls it in debug mode alone:
 * the probe of mount point `mount' sleeps ms milliseconds before it
 * calls stat(2).  NULL clears it.
 */
void	dfnative_set_test_delay(const char *mount, int ms);

/* Pure helpers, unit-tested. */

struct dfn_mount {
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
int	dfn_parse_mounts(const char *text, size_t len,
	    struct dfn_mount **out, size_t *n);
void	dfn_mounts_free(struct dfn_mount *, size_t n);

/* What the probe of one mount point found. */
struct dfn_fsinfo {
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
struct df_table *dfn_build_table(const struct dfn_mount *mounts,
	    const struct dfn_fsinfo *info, size_t n);

/*
 * Like GNU df -h: powers of 1024, K M G T P E, one decimal below 10,
 * always rounded up; plain bytes below 1024.
 */
void	dfn_human(unsigned long long bytes, char *buf, size_t size);
/* ceil(used * 100 / (used + avail)) and "%", or "-" if both are 0. */
void	dfn_use_percent(unsigned long long used, unsigned long long avail,
	    char *buf, size_t size);

#endif
