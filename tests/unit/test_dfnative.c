/*
 * dfnative.c: the pure helpers against GNU df -h values and mount table
 * fixtures, then the request flow on the real pool and /proc/self/mounts:
 * a table, a deadline naming the hung mount, single-flight, cancel.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/util.h"
#include "daemon/dfnative.h"
#include "daemon/dfparse.h"
#include "daemon/pool.h"
#include "daemon/watch.h"
#include "tests/tap.h"

#define GiB	(1024ULL * 1024 * 1024)

static const char *
human(unsigned long long n)
{
	static char buf[32];

	dfn_human(n, buf, sizeof(buf));
	return buf;
}

static const char *
pct(unsigned long long used, unsigned long long avail)
{
	static char buf[32];

	dfn_use_percent(used, avail, buf, sizeof(buf));
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
	struct dfn_mount	*m;
	size_t			 n;

	ok(dfn_parse_mounts(mounts_fixture, strlen(mounts_fixture), &m,
	    &n) == 0, "parse the fixture");
	is_int((long long)n, 5, "5 local, real entries kept");
	if (n != 5) {
		skip(8, "wrong number of entries");
		dfn_mounts_free(m, n);
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
	dfn_mounts_free(m, n);

	ok(dfn_parse_mounts("", 0, &m, &n) != 0 && n == 0, "an empty table "
	    "is an error");
	free(m);
	ok(dfn_parse_mounts("proc /proc proc rw 0 0\n", 23, &m, &n) == 0 &&
	    n == 0, "only pseudo file systems: no entries, no error");
	free(m);
}

static struct dfn_mount tm[] = {
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

static const struct dfn_fsinfo ti[] = {
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

	t = dfn_build_table(tm, ti, sizeof(tm) / sizeof(tm[0]));
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

	t = dfn_build_table(NULL, NULL, 0);
	ok(t != NULL && t->nrows == 0, "no mounts: an empty table");
	df_table_free(t);
	free(t);
}

/* --- The request flow, on the real pool ------------------------------- */

struct result {
	int		 called;
	int		 code;
	char		 err[256];
	struct df_table	*t;
};

static struct event_base *base;

static void
result_cb(struct df_table *t, int code, const char *err, void *arg)
{
	struct result *r = arg;

	r->called++;
	r->code = code;
	snprintf(r->err, sizeof(r->err), "%s", err != NULL ? err : "");
	r->t = t;
}

static void
result_clear(struct result *r)
{
	if (r->t != NULL) {
		df_table_free(r->t);
		free(r->t);
	}
	memset(r, 0, sizeof(*r));
}

static int
run_until(const int *what, int want, int ms)
{
	long long end = mono_ms() + ms;

	while (*what < want && mono_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	watch_flush();
	return *what >= want;
}

static void
count_root_probe(const struct pool_job *j, void *arg)
{
	if (strcmp(j->name, "statvfs") == 0 && strcmp(j->ctx, "/") == 0)
		(*(int *)arg)++;
}

static int
root_probes(void)
{
	int n = 0;

	pool_foreach_job(count_root_probe, &n);
	return n;
}

static int
pool_idle(void)
{
	struct pool_stats st;

	pool_get_stats(&st);
	return st.busy == 0 && st.queued == 0;
}

static void
wait_idle(int ms)
{
	long long end = mono_ms() + ms;

	while (!pool_idle() && mono_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	usleep(5000);
	event_base_loop(base, EVLOOP_NONBLOCK);
	watch_flush();
}

static int
has_mount(const struct df_table *t, const char *dir)
{
	size_t i;

	for (i = 0; t != NULL && i < t->nrows; i++)
		if (strcmp(t->rows[i].field[DF_MOUNT], dir) == 0)
			return 1;
	return 0;
}

static int
root_listed(void)
{
	FILE	*f = fopen("/proc/self/mounts", "r");
	char	 line[4096], dev[1024], dir[1024];
	int	 found = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%1023s %1023s", dev, dir) == 2 &&
		    strcmp(dir, "/") == 0 && strchr(dev, ':') == NULL)
			found = 1;
	fclose(f);
	return found;
}

static void
test_flow(void)
{
	struct result	 a, b;
	struct dfn_req	*ra, *rb;
	long long	 t0;
	int		 n, i, cancelled_calls = 0;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	pool_init(base, 3, 64);
	dfnative_init(base);

	ok(dfnative_start(5000, result_cb, &a, "test a") != NULL, "start");
	run_until(&a.called, 1, 5000);
	ok(a.called == 1 && a.code == 0 && a.t != NULL, "a table comes back "
	    "(code %d %s)", a.code, a.err);
	ok(a.t != NULL && a.t->nrows > 0, "with rows (%zu)",
	    a.t != NULL ? a.t->nrows : 0);
	result_clear(&a);
	wait_idle(2000);

	if (!root_listed()) {
		skip(9, "/ is not a local mount in /proc/self/mounts here");
		goto out;
	}

	/* / hangs for 600 ms; the deadline is 150 ms. */
	dfnative_set_test_delay("/", 600);
	t0 = mono_ms();
	ra = dfnative_start(150, result_cb, &a, "test a");
	for (i = 0; i < 2000 && root_probes() == 0; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	rb = dfnative_start(150, result_cb, &b, "test b");
	ok(ra != NULL && rb != NULL, "two requests while / hangs");
	run_until(&a.called, 1, 2000);
	is_int(a.code, 504, "the first times out with 504 after %lld ms",
	    mono_ms() - t0);
	is_str(a.err, "statvfs on / timed out", "naming the hung mount");
	run_until(&b.called, 1, 2000);
	is_int(b.code, 504, "the second too");
	n = root_probes();
	is_int(n, 1, "single-flight: one statvfs of / in the pool");
	ok(mono_ms() - t0 < 550, "both answered before / did");
	wait_idle(3000);
	result_clear(&a);
	result_clear(&b);

	/* Cancelled while waiting on the hung probe: no callback. */
	rb = dfnative_start(5000, result_cb, &b, "test b");
	for (i = 0; i < 2000 && root_probes() == 0; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	dfnative_cancel(rb);
	/* Cancelled before its mounts job even ran. */
	dfnative_cancel(dfnative_start(5000, result_cb, &b, "test c"));
	wait_idle(3000);
	cancelled_calls = b.called;
	is_int(cancelled_calls, 0, "cancelled requests get no callback");

	dfnative_set_test_delay(NULL, 0);
	dfnative_start(5000, result_cb, &a, "test a");
	ok(run_until(&a.called, 1, 5000) && a.code == 0 && has_mount(a.t, "/"),
	    "the next request gets / again");
	result_clear(&a);

	/* Shut down under a request waiting on a slow probe. */
	dfnative_set_test_delay("/", 200);
	dfnative_start(5000, result_cb, &a, "test a");
	for (i = 0; i < 2000 && root_probes() == 0; i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	pool_shutdown(2000);
	dfnative_shutdown();
	watch_flush();
	ok(a.called == 1 && (a.code == 0 || a.code == 503), "shutdown: the "
	    "request is answered exactly once (code %d)", a.code);
	result_clear(&a);
	return;
out:
	pool_shutdown(1000);
	dfnative_shutdown();
	watch_flush();
}

static pthread_mutex_t	gate_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	gate_cv = PTHREAD_COND_INITIALIZER;
static int		gate_open, gate_in, blocker_done;

static void
blocker_work(struct pool_job *j)
{
	(void)j;
	pthread_mutex_lock(&gate_mtx);
	gate_in = 1;
	while (!gate_open)
		pthread_cond_wait(&gate_cv, &gate_mtx);
	pthread_mutex_unlock(&gate_mtx);
}

static void
blocker_done_cb(struct pool_job *j)
{
	(void)j;
	blocker_done = 1;
}

static void
test_queue_full(void)
{
	struct pool_job	 blocker;
	struct result	 a, b;
	struct dfn_req	*r;
	int		 in = 0, i;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&blocker, 0, sizeof(blocker));
	blocker.work = blocker_work;
	blocker.done = blocker_done_cb;
	blocker.name = "blocker";
	pool_init(base, 1, 1);
	dfnative_init(base);
	pool_submit(&blocker);
	for (i = 0; i < 5000 && !in; i++) {
		usleep(1000);
		pthread_mutex_lock(&gate_mtx);
		in = gate_in;
		pthread_mutex_unlock(&gate_mtx);
	}
	ok(dfnative_start(1000, result_cb, &a, "first") != NULL, "the only "
	    "worker is busy: a request is queued");
	r = dfnative_start(1000, result_cb, &b, "second");
	ok(r == NULL, "the next one is refused: the queue is full");
	pthread_mutex_lock(&gate_mtx);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mtx);
	/* 0, or 429 if its probes find the queue of 1 full. */
	run_until(&a.called, 1, 5000);
	ok(a.called == 1 && (a.code == 0 || a.code == 429),
	    "the queued one is answered once the worker is free (code %d)",
	    a.code);
	ok(blocker_done && b.called == 0, "the refused one never calls back");
	result_clear(&a);
	pool_shutdown(1000);
	dfnative_shutdown();
	watch_flush();
}

/* Mount points a request will probe, and the first of them. */
static size_t
local_mounts(char *first, size_t size)
{
	struct dfn_mount	*m;
	FILE			*f = fopen("/proc/self/mounts", "r");
	char			 buf[65536];
	size_t			 len, n = 0;

	if (f == NULL)
		return 0;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (dfn_parse_mounts(buf, len, &m, &n) != 0)
		return 0;
	if (n > 0)
		snprintf(first, size, "%s", m[0].dir);
	dfn_mounts_free(m, n);
	return n;
}

static void
test_fan_out_full(void)
{
	struct pool_job	 blocker;
	struct result	 a;
	char		 first[4096];
	int		 i, in = 0;

	if (local_mounts(first, sizeof(first)) < 4) {
		skip(2, "fewer than 4 local mounts here");
		return;
	}
	memset(&a, 0, sizeof(a));
	memset(&blocker, 0, sizeof(blocker));
	blocker.work = blocker_work;
	blocker.done = blocker_done_cb;
	blocker.name = "blocker";
	gate_open = gate_in = blocker_done = 0;
	/*
	 * One worker held by a NORMAL job, the other stuck 300 ms in the
	 * first probe (and the RISKY cap is 1 anyway): a queue of 2 cannot
	 * take every probe, so the request fails half-way with 429.
	 */
	pool_init(base, 2, 2);
	dfnative_init(base);
	pool_submit(&blocker);
	for (i = 0; i < 5000 && !in; i++) {
		usleep(1000);
		pthread_mutex_lock(&gate_mtx);
		in = gate_in;
		pthread_mutex_unlock(&gate_mtx);
	}
	dfnative_set_test_delay(first, 300);
	ok(dfnative_start(5000, result_cb, &a, "fan-out") != NULL, "start");
	run_until(&a.called, 1, 5000);
	ok(a.called == 1 && a.code == 429 && strcmp(a.err, "busy: the "
	    "worker queue is full") == 0, "the queue fills during the fan-out: "
	    "429 (code %d %s)", a.code, a.err);
	pthread_mutex_lock(&gate_mtx);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mtx);
	wait_idle(3000);
	result_clear(&a);
	pool_shutdown(1000);
	dfnative_shutdown();
	watch_flush();
}

int
main(void)
{
	test_human();
	test_percent();
	test_parse_mounts();
	test_build_table();

	if (evthread_use_pthreads() != 0)
		bail("evthread_use_pthreads failed");
	if ((base = event_base_new()) == NULL)
		bail("event_base_new failed");
	test_flow();
	test_queue_full();
	test_fan_out_full();
	event_base_free(base);
	libevent_global_shutdown();
	return done_testing();
}
