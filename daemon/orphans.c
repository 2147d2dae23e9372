/* Orphans of commands: found, killed when their commands end, reaped. */
#include "autoconf.h"

#include <sys/prctl.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/orphans.h"
#include "daemon/stats.h"

#define SHUTDOWN_ROUNDS	50

struct orphan {
	LIST_ENTRY(orphan)	 entry;
	pid_t			 pid;
	unsigned long long	 tag;	/* commands before this may own it */
	int			 killed;
};

static LIST_HEAD(, orphan)	 orphans = LIST_HEAD_INITIALIZER(orphans);
static int			 enabled;

int
orphans_init(void)
{
	char	path[64];
	FILE	*f;

	/* Without the children lists we could not find them to reap. */
	snprintf(path, sizeof(path), "/proc/self/task/%d/children",
	    (int)getpid());
	if ((f = fopen(path, "re")) == NULL) {
		log_notice("orphans of commands go to init: %s: %s", path,
		    strerror(errno));
		return -1;
	}
	fclose(f);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) {
		log_notice("orphans of commands go to init: "
		    "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
		return -1;
	}
	enabled = 1;
	return 0;
}

static struct orphan *
orphan_find(pid_t pid)
{
	struct orphan *o;

	LIST_FOREACH(o, &orphans, entry)
		if (o->pid == pid)
			return o;
	return NULL;
}

/* Calls fn for every child of every thread of ours. */
static void
children_each(void (*fn)(pid_t, void *), void *arg)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[300];
	FILE		*f;
	long		 pid;

	if ((d = opendir("/proc/self/task")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children",
		    de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		while (fscanf(f, "%ld", &pid) == 1)
			if (pid > 0)
				fn((pid_t)pid, arg);
		fclose(f);
	}
	closedir(d);
}

struct scan {
	orphans_known_fn	 known;
	unsigned long long	 tag;
	int			 found;
};

static void
scan_one(pid_t pid, void *arg)
{
	struct scan	*sc = arg;
	struct orphan	*o;

	if (sc->known(pid) || orphan_find(pid) != NULL)
		return;
	o = xcalloc(1, sizeof(*o));
	o->pid = pid;
	o->tag = sc->tag;
	LIST_INSERT_HEAD(&orphans, o, entry);
	sc->found++;
	log_debug("orphan pid %d adopted", (int)pid);
}

void
orphans_scan(orphans_known_fn known, unsigned long long next_seq)
{
	struct scan sc = { known, next_seq, 0 };

	if (enabled)
		children_each(scan_one, &sc);
}

static void
orphan_kill(struct orphan *o)
{
	o->killed = 1;
	stats_inc(STAT_orphans_killed);
	log_notice("killing pid %d, left behind by a command that ended",
	    (int)o->pid);
	/* Unreaped, it keeps its pid and group: neither can be recycled. */
	if (getpgid(o->pid) == o->pid)
		(void)killpg(o->pid, SIGKILL);
	(void)kill(o->pid, SIGKILL);
}

void
orphans_reap(unsigned long long oldest_seq)
{
	struct orphan	*o, *next;
	int		 status = 0;
	pid_t		 r;

	for (o = LIST_FIRST(&orphans); o != NULL; o = next) {
		next = LIST_NEXT(o, entry);
		r = waitpid(o->pid, &status, WNOHANG);
		if (r == o->pid || (r < 0 && errno == ECHILD)) {
			log_debug("orphan pid %d reaped, status 0x%x",
			    (int)o->pid, status);
			LIST_REMOVE(o, entry);
			free(o);
			continue;
		}
		if (!o->killed && o->tag <= oldest_seq)
			orphan_kill(o);
	}
}

void
orphans_shutdown(orphans_known_fn known)
{
	struct orphan	*o;
	struct scan	 sc = { known, 0, 0 };
	int		 round;

	if (!enabled)
		return;
	/* Killing one may hand us its children: until none is left. */
	for (round = 0; round < SHUTDOWN_ROUNDS; round++) {
		sc.found = 0;
		children_each(scan_one, &sc);
		if (LIST_EMPTY(&orphans))
			break;
		while ((o = LIST_FIRST(&orphans)) != NULL) {
			if (!o->killed)
				orphan_kill(o);
			while (waitpid(o->pid, NULL, 0) < 0 && errno == EINTR)
				;
			LIST_REMOVE(o, entry);
			free(o);
		}
	}
}
