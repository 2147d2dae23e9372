/*
 * pool.c: more jobs than threads with a queue limit, RISKY jobs never
 * taking every worker, resize, shutdown.  Jobs block on gates the test
 * opens, so every count checked is exact, not a matter of timing.
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
#include "daemon/pool.h"
#include "daemon/watch.h"
#include "tests/tap.h"

struct gate {
	pthread_mutex_t	 mtx;
	pthread_cond_t	 cv;
	int		 open;
	int		 inside;	/* jobs blocked on it now */
	int		 most;		/* most ever inside at once */
};

struct tjob {
	struct pool_job	 job;
	struct gate	*gate;		/* NULL: return at once */
	int		 worked;
	int		 done;
	int		 abandoned;
	int		 chain;		/* done() submits one more */
};

static struct event_base	*base;
static int			 delivered;

static void
gate_init(struct gate *g)
{
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mtx, NULL);
	pthread_cond_init(&g->cv, NULL);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mtx);
	g->open = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mtx);
}

static int
gate_inside(struct gate *g)
{
	int n;

	pthread_mutex_lock(&g->mtx);
	n = g->inside;
	pthread_mutex_unlock(&g->mtx);
	return n;
}

static int
gate_worked(struct gate *g, struct tjob *j)
{
	int n;

	pthread_mutex_lock(&g->mtx);
	n = j->worked;
	pthread_mutex_unlock(&g->mtx);
	return n;
}

static void
tjob_work(struct pool_job *pj)
{
	struct tjob *j = (struct tjob *)pj;

	if (j->gate != NULL) {
		pthread_mutex_lock(&j->gate->mtx);
		j->gate->inside++;
		if (j->gate->inside > j->gate->most)
			j->gate->most = j->gate->inside;
		while (!j->gate->open)
			pthread_cond_wait(&j->gate->cv, &j->gate->mtx);
		j->gate->inside--;
		/* Under the gate lock: the stuck-job test reads it racily. */
		j->worked++;
		pthread_mutex_unlock(&j->gate->mtx);
		return;
	}
	j->worked++;
}

static struct tjob	*new_job(enum pool_class, struct gate *);

static void
tjob_done(struct pool_job *pj)
{
	struct tjob *j = (struct tjob *)pj;

	j->done++;
	j->abandoned += pj->abandoned;
	delivered++;
	if (j->chain) {
		/* done() runs on the loop: submitting from it is allowed. */
		j->chain = 0;
		if (pool_submit(&new_job(POOL_NORMAL, NULL)->job) != 0)
			diag("chained submit refused");
	}
}

/* Every job made, so the test can check and free them all. */
static struct tjob	**all;
static size_t		  nall;

static struct tjob *
new_job(enum pool_class class, struct gate *g)
{
	struct tjob *j = xcalloc(1, sizeof(*j));

	j->job.work = tjob_work;
	j->job.done = tjob_done;
	j->job.class = class;
	j->job.name = class == POOL_RISKY ? "risky" : "normal";
	snprintf(j->job.ctx, sizeof(j->job.ctx), "job %zu", nall);
	j->gate = g;
	all = xreallocarray(all, nall + 1, sizeof(*all));
	all[nall++] = j;
	return j;
}

static void
free_jobs(void)
{
	size_t i;

	for (i = 0; i < nall; i++)
		free(all[i]);
	free(all);
	all = NULL;
	nall = 0;
	delivered = 0;
}

/* Runs the loop until *what reaches want or ms pass. */
static int
run_until(const int *what, int want, int ms)
{
	long long end = mono_ms() + ms;

	while (*what < want && mono_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	event_base_loop(base, EVLOOP_NONBLOCK);
	return *what >= want;
}

static int
stat_threads(void)
{
	struct pool_stats st;

	pool_get_stats(&st);
	return st.threads;
}

/* Waits (looping) until the pool reports n threads. */
static int
wait_threads(int n, int ms)
{
	long long end = mono_ms() + ms;

	while (stat_threads() != n && mono_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
	return stat_threads() == n;
}

static int
wait_inside(struct gate *g, int n, int ms)
{
	long long end = mono_ms() + ms;

	while (gate_inside(g) < n && mono_ms() < end)
		usleep(1000);
	return gate_inside(g) == n;
}

static int
all_once(size_t from, size_t to, int want_worked)
{
	size_t i;

	for (i = from; i < to; i++)
		if (all[i]->done != 1 || all[i]->worked != want_worked)
			return 0;
	return 1;
}

static int
untouched(size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to; i++)
		if (all[i]->done != 0 || all[i]->worked != 0)
			return 0;
	return 1;
}

static void
test_queue_limit(void)
{
	struct pool_stats	st;
	struct gate		g;
	int			i, accepted = 0, refused = 0;

	gate_init(&g);
	ok(pool_init(base, 3, 8) == 0, "pool_init: 3 threads, queue of 8");
	for (i = 0; i < 3; i++)
		pool_submit(&new_job(POOL_NORMAL, &g)->job);
	ok(wait_inside(&g, 3, 5000), "three jobs running, one per thread");
	/* Workers are all busy now: the queue alone decides. */
	for (i = 0; i < 12; i++) {
		struct tjob *j = new_job(POOL_NORMAL, &g);

		if (i == 0)
			j->chain = 1;
		if (pool_submit(&j->job) == 0)
			accepted++;
		else
			refused++;
	}
	is_int(accepted, 8, "8 more jobs queued");
	is_int(refused, 4, "4 refused: the queue is full");
	pool_get_stats(&st);
	is_int(st.threads, 3, "stats: threads");
	is_int(st.busy, 3, "stats: busy");
	is_int((long long)st.queued, 8, "stats: queued");
	is_int((long long)st.rejected, 4, "stats: rejected");
	ok(pool_submit(&all[0]->job) != 0, "a job in the pool cannot be "
	    "submitted again");
	usleep(20000);
	pool_get_stats(&st);
	ok(st.longest_wait_s >= 0.015, "longest wait counts queued jobs "
	    "(%.3f s)", st.longest_wait_s);

	gate_open(&g);
	/* 3 + 8 accepted, plus the one the first queued job chains. */
	run_until(&delivered, 12, 5000);
	ok(delivered >= 12, "every accepted job delivered (%d)", delivered);
	usleep(20000);
	event_base_loop(base, EVLOOP_NONBLOCK);
	is_int(delivered, 12, "and nothing delivered twice");
	/* 0-2 ran first, 3-10 were queued, 11-14 refused, 15 chained. */
	ok(all_once(0, 11, 1) && all_once(15, 16, 1) && nall == 16,
	    "each accepted job ran once and got its result once");
	ok(untouched(11, 15), "refused jobs never ran and got no result");
	pool_get_stats(&st);
	is_int((long long)st.completed, 12, "stats: completed");
	is_int(st.busy, 0, "stats: idle again");
	pool_shutdown(1000);
	is_int(stat_threads(), 0, "shutdown: no thread left");
	free_jobs();
}

static void
test_risky(void)
{
	struct pool_stats	 st;
	struct gate		 g;
	struct tjob		*normal;
	int			 i;

	gate_init(&g);
	pool_init(base, 3, 16);
	for (i = 0; i < 3; i++)
		pool_submit(&new_job(POOL_RISKY, &g)->job);
	normal = new_job(POOL_NORMAL, NULL);
	pool_submit(&normal->job);
	ok(run_until(&normal->done, 1, 5000), "3 threads, 3 hung RISKY jobs: "
	    "a NORMAL job still completes");
	ok(wait_inside(&g, 2, 1000), "two RISKY jobs running");
	usleep(50000);
	is_int(gate_inside(&g), 2, "never three");
	pool_get_stats(&st);
	is_int(st.busy, 2, "stats: 2 busy");
	is_int((long long)st.queued, 1, "stats: the third RISKY job waits");
	gate_open(&g);
	ok(run_until(&delivered, 4, 5000), "all delivered once the mounts "
	    "answer");
	is_int(g.most, 2, "at most threads-1 RISKY jobs at once");
	pool_shutdown(1000);
	free_jobs();

	/* One thread: RISKY jobs run anyway (no guarantee possible). */
	pool_init(base, 1, 4);
	pool_submit(&new_job(POOL_RISKY, NULL)->job);
	ok(run_until(&delivered, 1, 5000), "with one thread a RISKY job runs");
	pool_shutdown(1000);
	free_jobs();
}

static void
test_resize(void)
{
	struct gate	g, h;
	int		i;

	gate_init(&g);
	pool_init(base, 2, 16);
	pool_resize(5);
	is_int(stat_threads(), 5, "grow: 5 threads at once");
	for (i = 0; i < 5; i++)
		pool_submit(&new_job(POOL_NORMAL, &g)->job);
	ok(wait_inside(&g, 5, 5000), "5 jobs run side by side");
	/* Shrink while all are busy: they leave as their jobs end. */
	pool_resize(2);
	usleep(20000);
	is_int(stat_threads(), 5, "shrink waits for running jobs");
	gate_open(&g);
	ok(run_until(&delivered, 5, 5000), "their results delivered");
	ok(wait_threads(2, 5000), "then 2 threads");

	gate_init(&h);
	for (i = 0; i < 4; i++)
		pool_submit(&new_job(POOL_NORMAL, &h)->job);
	ok(wait_inside(&h, 2, 5000), "2 jobs run after the shrink");
	usleep(50000);
	is_int(gate_inside(&h), 2, "and no more than 2");
	gate_open(&h);
	ok(run_until(&delivered, 9, 5000), "the rest run too");
	is_int(h.most, 2, "at most 2 at once");

	/* Shrink below the RISKY cap while a RISKY job hangs. */
	gate_init(&g);
	pool_resize(3);
	pool_submit(&new_job(POOL_RISKY, &g)->job);
	pool_submit(&new_job(POOL_RISKY, &g)->job);
	ok(wait_inside(&g, 2, 5000), "2 RISKY jobs hang on 3 threads");
	pool_resize(2);
	usleep(50000);
	event_base_loop(base, EVLOOP_NONBLOCK);
	is_int(stat_threads(), 3, "the idle thread stays: it is the only one "
	    "free for NORMAL work");
	pool_submit(&new_job(POOL_NORMAL, NULL)->job);
	ok(run_until(&delivered, 10, 5000), "and a NORMAL job still runs");
	gate_open(&g);
	ok(run_until(&delivered, 12, 5000), "RISKY jobs end");
	ok(wait_threads(2, 5000), "then the pool is down to 2");
	pool_shutdown(1000);
	free_jobs();
}

static void *
opener(void *arg)
{
	usleep(100000);
	gate_open(arg);
	return NULL;
}

static void
count_job(const struct pool_job *j, void *arg)
{
	(void)j;
	(*(int *)arg)++;
}

static void
test_shutdown(void)
{
	struct gate	 g, stuck;
	struct tjob	*hung;
	pthread_t	 t;
	int		 i, n = 0;

	gate_init(&g);
	pool_init(base, 2, 16);
	for (i = 0; i < 5; i++)
		pool_submit(&new_job(POOL_NORMAL, &g)->job);
	wait_inside(&g, 2, 5000);
	pool_foreach_job(count_job, &n);
	is_int(n, 5, "foreach sees 2 running and 3 queued jobs");
	/* The running ones end 100 ms into a 5 s shutdown deadline. */
	pthread_create(&t, NULL, opener, &g);
	pool_shutdown(5000);
	pthread_join(t, NULL);
	ok(all_once(0, 2, 1), "running jobs finished, their done() ran");
	ok(all_once(2, 5, 0), "queued jobs got done() without running");
	ok(all[2]->abandoned && all[4]->abandoned && !all[0]->abandoned,
	    "abandoned is set only on the queued ones");
	is_int(stat_threads(), 0, "every thread joined");
	ok(pool_submit(&new_job(POOL_NORMAL, NULL)->job) != 0,
	    "no submit after shutdown");
	free_jobs();

	/* A job stuck past the deadline: detached, done() never runs. */
	gate_init(&stuck);
	pool_init(base, 2, 16);
	hung = new_job(POOL_RISKY, &stuck);
	pool_submit(&hung->job);
	pool_submit(&new_job(POOL_NORMAL, NULL)->job);
	run_until(&delivered, 1, 5000);
	wait_inside(&stuck, 1, 5000);
	pool_shutdown(100);
	is_int(hung->done, 0, "a job stuck past the deadline gets no done()");
	n = 0;
	pool_foreach_job(count_job, &n);
	is_int(n, 1, "the resource report still sees it");
	gate_open(&stuck);
	for (i = 0; i < 500 && gate_worked(&stuck, hung) == 0; i++)
		usleep(1000);
	usleep(20000);		/* let the detached thread return */
	is_int(gate_worked(&stuck, hung), 1, "its detached thread ends when "
	    "it unblocks");
	n = 0;
	pool_foreach_job(count_job, &n);
	is_int(n, 0, "and the report no longer lists it");
	free_jobs();
}

int
main(void)
{
	if (evthread_use_pthreads() != 0)
		bail("evthread_use_pthreads failed");
	if ((base = event_base_new()) == NULL)
		bail("event_base_new failed");
	test_queue_limit();
	test_risky();
	test_resize();
	test_shutdown();
	watch_flush();
	event_base_free(base);
	libevent_global_shutdown();
	return done_testing();
}
