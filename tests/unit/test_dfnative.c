/*
 * dfnative.c: the request flow on the real pool and /proc/self/mounts: a
 * table, a deadline naming the hung mount, single-flight, cancel, a full
 * queue.  What goes into the table is test_dfgnu's.
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
#include "daemon/dfgnu.h"
#include "daemon/dfnative.h"
#include "daemon/dfparse.h"
#include "daemon/pool.h"
#include "daemon/watch.h"
#include "tests/tap.h"

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
	struct dfgnu_mount	*m;
	FILE			*f = fopen("/proc/self/mounts", "r");
	char			 buf[65536];
	size_t			 len, n = 0;

	if (f == NULL)
		return 0;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (dfgnu_parse_mounts(buf, len, &m, &n) != 0)
		return 0;
	if (n > 0)
		snprintf(first, size, "%s", m[0].dir);
	dfgnu_mounts_free(m, n);
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
