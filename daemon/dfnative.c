/*
 * DF --native; see dfnative.h.  A request owns its mounts job and one
 * slot per distinct mount point; a slot waits on the probe (a RISKY pool
 * job) in flight for its mount point.  Probes belong to this file, not
 * to requests, so a request that times out or goes away just unhooks its
 * slots and the probe finishes, or hangs, on its own.
 */
#include "autoconf.h"

#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/dfgnu.h"
#include "daemon/dfnative.h"
#include "daemon/dfparse.h"
#include "daemon/pool.h"
#include "daemon/watch.h"

#define MOUNTS_PATH	"/proc/self/mounts"
#define MOUNTS_MAX	(16 * 1024 * 1024)
#define DIR_SHOWN	100	/* bytes of a mount point in logs, replies */

struct dfn_slot;

struct dfn_probe {
	struct pool_job		 job;	/* first: the pool hands it back */
	LIST_ENTRY(dfn_probe)	 entry;	/* probes in flight */
	LIST_HEAD(, dfn_slot)	 waiters;
	char			*dir;
	/* dir for log lines and replies: escaped, truncated. */
	char			 shown[4 * DIR_SHOWN + 4];
	int			 delay_ms;	/* test hook */
	long long		 running_since; /* loop's view */
	/* Written by the worker. */
	const char		*call;		/* what failed */
	struct dfgnu_fsinfo	 info;
};

/* One distinct mount point of a request. */
struct dfn_slot {
	LIST_ENTRY(dfn_slot)	 entry;	/* on probe->waiters */
	struct dfn_req		*req;
	struct dfn_probe	*probe;		/* while waiting */
	const char		*dir;		/* in req->mounts */
	int			 abandoned;	/* the pool shut down */
	struct dfgnu_fsinfo	 info;
};

struct dfn_req {
	struct pool_job		 job;	/* reads the mount table */
	LIST_ENTRY(dfn_req)	 entry;
	char			 ctx[128];
	dfn_cb			 cb;
	void			*arg;
	struct event		*timer;
	int			 deadline_ms;
	int			 in_pool;	/* the mounts job is */
	int			 answered; /* cb called, or cancelled */
	/* Written by the mounts job. */
	int			 err;	/* errno, or -1: no table */
	struct dfgnu_mount	*mounts;
	size_t			 nmounts;
	/* Built on the loop when the mounts job is done. */
	struct dfn_slot		*slots;
	size_t			 nslots;
	size_t			*slot_of;	/* mount index -> slot */
	size_t			 pending;	/* slots not answered */
};

static struct event_base	*dbase;
static LIST_HEAD(, dfn_probe)	 probes = LIST_HEAD_INITIALIZER(probes);
static LIST_HEAD(, dfn_req)	 reqs = LIST_HEAD_INITIALIZER(reqs);
static char			*delay_mount;
static int			 delay_ms;

/* --- Work on the worker threads: only the job's own data --------------- */

static int
read_file(const char *path, char **out, size_t *outlen)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0;
	ssize_t	 r;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	for (;;) {
		if (cap - len < 4096) {
			if (cap >= MOUNTS_MAX) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap ? cap * 2 : 16384;
			buf = xreallocarray(buf, cap, 1);
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	*out = buf;
	*outlen = len;
	return 0;
fail:
	saved = errno;
	close(fd);
	free(buf);
	errno = saved;
	return -1;
}

/* A 36-character UUID at the end, as in /dev/disk/by-uuid names. */
static int
uuid_suffix(const char *s)
{
	size_t len = strlen(s);

	return len > 36 &&
	    strspn(s + len - 36, "-0123456789abcdefABCDEF") == 36;
}

static void
mounts_work(struct pool_job *j)
{
	struct dfn_req	*r = (struct dfn_req *)j;
	char		*buf, *real;
	size_t		 len, i;

	if (read_file(MOUNTS_PATH, &buf, &len) != 0) {
		r->err = errno;
		return;
	}
	if (dfgnu_parse_mounts(buf, len, &r->mounts, &r->nmounts) != 0)
		r->err = -1;
	free(buf);
	/* df shows /dev/mapper/luks-<uuid> as the /dev/dm-N it points to. */
	for (i = 0; i < r->nmounts; i++)
		if (uuid_suffix(r->mounts[i].fsname) &&
		    (real = realpath(r->mounts[i].fsname, NULL)) != NULL) {
			free(r->mounts[i].fsname);
			r->mounts[i].fsname = real;
		}
}

static void
probe_work(struct pool_job *j)
{
	struct dfn_probe	*p = (struct dfn_probe *)j;
	struct stat		 st;
	struct statvfs		 vfs;
	struct timespec		 ts;

	if (p->delay_ms > 0) {
		ts.tv_sec = p->delay_ms / 1000;
		ts.tv_nsec = (long)(p->delay_ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	if (stat(p->dir, &st) != 0) {
		p->call = "stat";
		p->info.err = errno;
		return;
	}
	p->info.have_dev = 1;
	p->info.dev = st.st_dev;
	if (statvfs(p->dir, &vfs) != 0) {
		p->call = "statvfs";
		p->info.err = errno;
		return;
	}
	p->info.frsize = vfs.f_frsize != 0 ? vfs.f_frsize : vfs.f_bsize;
	p->info.blocks = vfs.f_blocks;
	p->info.bfree = vfs.f_bfree;
	p->info.bavail = vfs.f_bavail;
}

/* --- Requests, on the loop --------------------------------------------- */

static const char *
req_ctx(void *arg)
{
	return ((struct dfn_req *)arg)->ctx;
}

/* Unhooks the slots still waiting; their probes carry on alone. */
static void
req_detach(struct dfn_req *r)
{
	size_t k;

	for (k = 0; k < r->nslots; k++)
		if (r->slots[k].probe != NULL) {
			LIST_REMOVE(&r->slots[k], entry);
			r->slots[k].probe = NULL;
		}
}

static void
req_free(struct dfn_req *r)
{
	LIST_REMOVE(r, entry);
	req_detach(r);
	if (r->timer != NULL)
		event_free(r->timer);
	dfgnu_mounts_free(r->mounts, r->nmounts);
	free(r->slots);
	free(r->slot_of);
	/* We may be inside r's own timer callback: free after it. */
	watch_defer_free(r, free);
}

static void
req_answer(struct dfn_req *r, struct df_table *t, int code, const char *err)
{
	r->answered = 1;
	evtimer_del(r->timer);
	req_detach(r);
	r->cb(t, code, err, r->arg);
	if (!r->in_pool)
		req_free(r);
}

static void
req_complete(struct dfn_req *r)
{
	struct dfgnu_fsinfo	*info;
	struct df_table		*t;
	size_t			 i;

	for (i = 0; i < r->nslots; i++)
		if (r->slots[i].abandoned) {
			req_answer(r, NULL, 503, "shutting down");
			return;
		}
	info = xcalloc(r->nmounts > 0 ? r->nmounts : 1, sizeof(*info));
	for (i = 0; i < r->nmounts; i++)
		info[i] = r->slots[r->slot_of[i]].info;
	t = dfgnu_build_table(r->mounts, info, r->nmounts);
	free(info);
	log_ctx(LOG_DEBUG, r->ctx, "DF --native: %zu rows from %zu mounts",
	    t->nrows, r->nmounts);
	req_answer(r, t, 0, NULL);
}

static void
probe_done(struct pool_job *j)
{
	struct dfn_probe	*p = (struct dfn_probe *)j;
	struct dfn_slot		*s;
	struct dfn_req		*r;
	double			 took;

	LIST_REMOVE(p, entry);
	if (!j->abandoned) {
		took = (double)(mono_ns() - j->started_ns) / 1e9;
		if (p->info.err == EACCES || p->info.err == ENOENT)
			/* df -l is silent about these too. */
			log_debug("DF --native: %s %s: %s", p->call, p->shown,
			    strerror(p->info.err));
		else if (p->info.err != 0)
			log_warnx("DF --native: %s %s: %s", p->call, p->shown,
			    strerror(p->info.err));
		if (took >= 1.0)
			log_info("DF --native: statvfs on %s answered after "
			    "%.3f s", p->shown, took);
	}
	/* Answering may start or cancel requests: pop one at a time. */
	while ((s = LIST_FIRST(&p->waiters)) != NULL) {
		LIST_REMOVE(s, entry);
		s->probe = NULL;
		if (j->abandoned)
			s->abandoned = 1;
		else
			s->info = p->info;
		r = s->req;
		if (--r->pending == 0)
			req_complete(r);
	}
	free(p->dir);
	free(p);
}

/* Joins the probe in flight for the slot's mount point, or starts one. */
static int
probe_attach(struct dfn_slot *s)
{
	struct dfn_probe *p;

	LIST_FOREACH(p, &probes, entry)
		if (strcmp(p->dir, s->dir) == 0)
			break;
	if (p == NULL) {
		p = xcalloc(1, sizeof(*p));
		p->dir = xstrdup(s->dir);
		str_escape(p->shown, sizeof(p->shown), p->dir, strlen(p->dir),
		    DIR_SHOWN);
		LIST_INIT(&p->waiters);
		p->job.work = probe_work;
		p->job.done = probe_done;
		p->job.class = POOL_RISKY;
		p->job.name = "statvfs";
		str_escape(p->job.ctx, sizeof(p->job.ctx), p->dir,
		    strlen(p->dir), DIR_SHOWN);
		if (delay_mount != NULL && strcmp(delay_mount, p->dir) == 0)
			p->delay_ms = delay_ms;
		if (pool_submit(&p->job) != 0) {
			free(p->dir);
			free(p);
			return -1;
		}
		LIST_INSERT_HEAD(&probes, p, entry);
	}
	s->probe = p;
	LIST_INSERT_HEAD(&p->waiters, s, entry);
	return 0;
}

static void
req_fan_out(struct dfn_req *r)
{
	size_t i, k, n = r->nmounts > 0 ? r->nmounts : 1;

	/* Sized once: slots are linked into probe lists, never moved. */
	r->slots = xcalloc(n, sizeof(*r->slots));
	r->slot_of = xcalloc(n, sizeof(*r->slot_of));
	for (i = 0; i < r->nmounts; i++) {
		for (k = 0; k < r->nslots; k++)
			if (strcmp(r->slots[k].dir, r->mounts[i].dir) == 0)
				break;
		if (k == r->nslots) {
			r->slots[k].req = r;
			r->slots[k].dir = r->mounts[i].dir;
			r->nslots++;
		}
		r->slot_of[i] = k;
	}
	r->pending = r->nslots;
	for (k = 0; k < r->nslots; k++)
		if (probe_attach(&r->slots[k]) != 0) {
			log_ctx(LOG_WARNING, r->ctx, "DF --native: the worker "
			    "queue is full after %zu of %zu mount points", k,
			    r->nslots);
			req_answer(r, NULL, 429, "busy: the worker queue is "
			    "full");
			return;
		}
	if (r->pending == 0)
		req_complete(r);
}

static void
mounts_done(struct pool_job *j)
{
	struct dfn_req	*r = (struct dfn_req *)j;
	char		 err[256];

	r->in_pool = 0;
	if (r->answered)
		req_free(r);	/* timed out or cancelled meanwhile */
	else if (j->abandoned)
		req_answer(r, NULL, 503, "shutting down");
	else if (r->err != 0) {
		snprintf(err, sizeof(err), "cannot read %s: %s", MOUNTS_PATH,
		    r->err > 0 ? strerror(r->err) : "no mount entries");
		log_ctx(LOG_WARNING, r->ctx, "DF --native: %s", err);
		req_answer(r, NULL, 500, err);
	} else
		req_fan_out(r);
}

/* Records, on the loop, which probes a worker has started. */
static void
note_running(const struct pool_job *j, void *arg)
{
	(void)arg;
	if (j->done == probe_done && j->state == POOL_JOB_RUNNING)
		((struct dfn_probe *)(uintptr_t)j)->running_since =
		    j->started_ns;
}

static void
dfn_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct dfn_req		*r = arg;
	struct dfn_slot		*s, *slow = NULL;
	char			 err[sizeof(slow->probe->shown) + 64];
	size_t			 k;

	(void)fd;
	(void)what;
	if (r->answered)
		return;
	if (r->slots == NULL)
		snprintf(err, sizeof(err), "reading %s timed out",
		    MOUNTS_PATH);
	else {
		/* Name the probe running longest: that is the hung one. */
		pool_foreach_job(note_running, NULL);
		for (k = 0; k < r->nslots; k++) {
			s = &r->slots[k];
			if (s->probe == NULL)
				continue;
			if (slow == NULL || (s->probe->running_since != 0 &&
			    (slow->probe->running_since == 0 ||
			    s->probe->running_since <
			    slow->probe->running_since)))
				slow = s;
		}
		if (slow == NULL)	/* cannot be: pending > 0 */
			snprintf(err, sizeof(err), "timed out");
		else if (slow->probe->running_since != 0)
			snprintf(err, sizeof(err), "statvfs on %s timed out",
			    slow->probe->shown);
		else
			snprintf(err, sizeof(err), "statvfs on %s timed out "
			    "(still queued: the workers are busy)",
			    slow->probe->shown);
	}
	log_ctx(LOG_WARNING, r->ctx, "DF --native: %s after %d ms", err,
	    r->deadline_ms);
	req_answer(r, NULL, 504, err);
}
WATCH_EVENT_CB(dfn_timeout_cb, dfn_timeout, req_ctx)

void
dfnative_init(struct event_base *base)
{
	dbase = base;
}

struct dfn_req *
dfnative_start(int deadline_ms, dfn_cb cb, void *arg, const char *ctx)
{
	struct dfn_req	*r = xcalloc(1, sizeof(*r));
	struct timeval	 tv;

	snprintf(r->ctx, sizeof(r->ctx), "%s", ctx != NULL ? ctx : "df");
	r->cb = cb;
	r->arg = arg;
	r->deadline_ms = deadline_ms;
	r->job.work = mounts_work;
	r->job.done = mounts_done;
	r->job.class = POOL_NORMAL;
	r->job.name = "mounts";
	snprintf(r->job.ctx, sizeof(r->job.ctx), "%s", r->ctx);
	if ((r->timer = evtimer_new(dbase, dfn_timeout_cb, r)) == NULL) {
		log_ctx(LOG_WARNING, r->ctx, "DF --native: evtimer_new failed");
		free(r);
		return NULL;
	}
	if (pool_submit(&r->job) != 0) {
		event_free(r->timer);
		free(r);
		return NULL;
	}
	r->in_pool = 1;
	LIST_INSERT_HEAD(&reqs, r, entry);
	tv.tv_sec = deadline_ms / 1000;
	tv.tv_usec = (deadline_ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
	return r;
}

void
dfnative_cancel(struct dfn_req *r)
{
	if (r == NULL)
		return;
	if (!r->answered) {
		r->answered = 1;
		evtimer_del(r->timer);
		req_detach(r);
	}
	if (!r->in_pool)
		req_free(r);
}

void
dfnative_shutdown(void)
{
	struct dfn_req		*r;
	struct dfn_probe	*p;
	int			 nstuck = 0;

	/* Each turn takes r off the list; a cb may take others too. */
	while ((r = LIST_FIRST(&reqs)) != NULL) {
		if (r->in_pool) {
			/* Its job is stuck in a detached thread: it keeps r. */
			LIST_REMOVE(r, entry);
			event_free(r->timer);
			r->timer = NULL;
			continue;
		}
		if (!r->answered)
			req_answer(r, NULL, 503, "shutting down");
		else
			req_free(r);
	}
	/* Probes still here are in detached threads: theirs to keep. */
	while ((p = LIST_FIRST(&probes)) != NULL) {
		LIST_REMOVE(p, entry);
		nstuck++;
	}
	if (nstuck > 0)
		log_debug("DF --native: %d probes left to stuck threads",
		    nstuck);
	free(delay_mount);
	delay_mount = NULL;
}

void
dfnative_set_test_delay(const char *mount, int ms)
{
	free(delay_mount);
	delay_mount = mount != NULL ? xstrdup(mount) : NULL;
	delay_ms = ms;
	if (mount != NULL) {
		char shown[4 * DIR_SHOWN + 4];

		str_escape(shown, sizeof(shown), mount, strlen(mount),
		    DIR_SHOWN);
		log_notice("DF --native: test hook: statvfs on %s sleeps %d "
		    "ms first", shown, ms);
	}
}
