/* The file descriptor limit at start-up; see fdlimit.h. */
#include "autoconf.h"

#include <sys/resource.h>

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/fdlimit.h"

/* Descriptors open now (listeners, the loop's, syslog's...); -1 if unknown. */
static long
fds_open(void)
{
	struct dirent	*de;
	DIR		*dir;
	long		 n = 0;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;		/* the directory's own */
}

void
fdlimit_check(const struct config *cfg)
{
	struct rlimit		 rl;
	rlim_t			 old;
	long			 own = fds_open();
	unsigned long long	 need;
	const char		*env;

	if (own < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("cannot check the file descriptor limit");
		return;
	}
	need = (unsigned long long)own + (unsigned long long)
	    cfg->limits.max_clients + (unsigned long long)FDLIMIT_PER_CHILD *
	    (unsigned long long)cfg->limits.max_children;
	if (rl.rlim_cur == RLIM_INFINITY || need <= rl.rlim_cur)
		return;
	/* The hard limit is ours to take: up to it, or to what we need. */
	old = rl.rlim_cur;
	/* Tests that run out of fds on purpose keep the limit they set. */
	if ((env = getenv("BROKERD_NOFILE")) != NULL &&
	    strcmp(env, "keep") == 0)
		rl.rlim_max = rl.rlim_cur;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need)
		rl.rlim_cur = (rlim_t)need;
	else
		rl.rlim_cur = rl.rlim_max;
	if (rl.rlim_cur > old) {
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_info("raised RLIMIT_NOFILE from %llu to %llu",
			    (unsigned long long)old,
			    (unsigned long long)rl.rlim_cur);
		else {
			log_warn("cannot raise RLIMIT_NOFILE from %llu to %llu",
			    (unsigned long long)old,
			    (unsigned long long)rl.rlim_cur);
			rl.rlim_cur = old;
		}
	}
	if (need <= rl.rlim_cur)
		return;
	log_warnx("limits.max_clients %d plus the daemon's own file "
	    "descriptors (%ld open, %d per command for limits.max_children "
	    "%d) need %llu, more than RLIMIT_NOFILE %llu (hard limit "
	    "%llu): raise LimitNOFILE= or ulimit -n, or lower "
	    "limits.max_clients", cfg->limits.max_clients, own,
	    FDLIMIT_PER_CHILD, cfg->limits.max_children, need,
	    (unsigned long long)rl.rlim_cur,
	    (unsigned long long)rl.rlim_max);
}
