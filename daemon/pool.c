/*
 * Worker pool; see pool.h.  One mutex guards the queue, the completion
 * list, the worker list and the counters.  Lock order: the pool lock,
 * then (inside event_active) libevent's base lock; the loop thread never
 * holds a libevent lock while it takes ours, since libevent runs
 * callbacks unlocked.
 */
#include "autoconf.h"

#include <sys/queue.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/pool.h"
#include "daemon/watch.h"

struct worker {
	TAILQ_ENTRY(worker)	 entry;
	pthread_t		 tid;
	int			 id;
	struct pool_job		*job;	/* running, or NULL */
	int			 gone;	/* left its loop: join it */
	int			 detached; /* given up on at shutdown */
};

TAILQ_HEAD(job_list, pool_job);
TAILQ_HEAD(worker_list, worker);

static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 wake;		/* workers: a job, or leave */
static pthread_cond_t	 idle;		/* shutdown: a job ended */
static struct job_list	 queue = TAILQ_HEAD_INITIALIZER(queue);
static struct job_list	 finished = TAILQ_HEAD_INITIALIZER(finished);
static struct worker_list workers = TAILQ_HEAD_INITIALIZER(workers);
/* Detached at shutdown; kept so the resource report can name them. */
static struct worker_list stuck = TAILQ_HEAD_INITIALIZER(stuck);
static struct event	*done_ev;
static int		 initialized, stopping, next_id;
static int		 target;	/* threads wanted */
static int		 nactive;	/* threads not leaving */
static int		 nbusy, nrisky, nqueued, queue_max;
static unsigned long long ncompleted, nrejected;
static long long	 longest_wait_ns;
/* Context of the slowest done() of the last drain, for watch. */
static char		 done_ctx[160];

/* Called with the lock held. */
static int
risky_cap(void)
{
	return nactive > 1 ? nactive - 1 : 1;
}

/* The first eligible job: FIFO, but RISKY ones only below the cap. */
static struct pool_job *
take_job(void)
{
	struct pool_job *j;

	TAILQ_FOREACH(j, &queue, entry)
		if (j->class != POOL_RISKY || nrisky < risky_cap()) {
			TAILQ_REMOVE(&queue, j, entry);
			nqueued--;
			return j;
		}
	return NULL;
}

/*
 * Called with the lock held, while idle.  On a shrink, stay while the
 * others are all stuck in RISKY jobs: leaving would strand NORMAL work.
 */
static int
should_leave(void)
{
	if (stopping)
		return 1;
	return nactive > target && nactive - 1 - nrisky >= 1;
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;
	struct pool_job	*j;
	long long	 wait;
	int		 risky;

	pthread_mutex_lock(&lock);
	for (;;) {
		if (should_leave()) {
			nactive--;
			break;
		}
		if ((j = take_job()) == NULL) {
			pthread_cond_wait(&wake, &lock);
			continue;
		}
		risky = j->class == POOL_RISKY;
		w->job = j;
		nbusy++;
		nrisky += risky;
		j->state = POOL_JOB_RUNNING;
		j->started_ns = mono_ns();
		wait = j->started_ns - j->queued_ns;
		if (wait > longest_wait_ns)
			longest_wait_ns = wait;
		pthread_mutex_unlock(&lock);

		j->work(j);

		pthread_mutex_lock(&lock);
		w->job = NULL;
		if (w->detached) {
			/* Shutdown gave up on us: nobody waits for j now. */
			w->gone = 1;
			pthread_mutex_unlock(&lock);
			return NULL;
		}
		nbusy--;
		nrisky -= risky;
		ncompleted++;
		j->state = POOL_JOB_FINISHED;
		/* Only empty -> non-empty needs a wakeup: one drains all. */
		if (TAILQ_EMPTY(&finished))
			event_active(done_ev, EV_READ, 0);
		TAILQ_INSERT_TAIL(&finished, j, entry);
		pthread_cond_broadcast(&idle);
		if (risky || nactive > target)
			/* A RISKY slot freed up, or someone may leave now. */
			pthread_cond_broadcast(&wake);
	}
	w->gone = 1;
	pthread_cond_broadcast(&idle);
	if (!stopping)
		event_active(done_ev, EV_READ, 0);	/* to be joined */
	pthread_mutex_unlock(&lock);
	return NULL;
}

static int
spawn_worker(void)
{
	struct worker	*w = xcalloc(1, sizeof(*w));
	sigset_t	 all, old;
	int		 r;

	pthread_mutex_lock(&lock);
	w->id = ++next_id;
	TAILQ_INSERT_TAIL(&workers, w, entry);
	nactive++;
	pthread_mutex_unlock(&lock);

	/* Threads inherit the mask: signals must keep going to the loop. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&w->tid, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		log_warnx("worker pool: pthread_create: %s", strerror(r));
		pthread_mutex_lock(&lock);
		TAILQ_REMOVE(&workers, w, entry);
		nactive--;
		pthread_mutex_unlock(&lock);
		free(w);
		return -1;
	}
	return 0;
}

/* Joins the threads that left after a shrink. */
static void
reap_workers(void)
{
	struct worker_list	 dead = TAILQ_HEAD_INITIALIZER(dead);
	struct worker		*w, *tmp;

	pthread_mutex_lock(&lock);
	/* glibc's queue.h has no TAILQ_FOREACH_SAFE. */
	for (w = TAILQ_FIRST(&workers); w != NULL; w = tmp) {
		tmp = TAILQ_NEXT(w, entry);
		if (w->gone) {
			TAILQ_REMOVE(&workers, w, entry);
			TAILQ_INSERT_TAIL(&dead, w, entry);
		}
	}
	pthread_mutex_unlock(&lock);
	while ((w = TAILQ_FIRST(&dead)) != NULL) {
		TAILQ_REMOVE(&dead, w, entry);
		pthread_join(w->tid, NULL);
		log_debug("worker pool: thread %d left", w->id);
		free(w);
	}
}

/* Runs done() for every job on the list, timing each for watch. */
static void
deliver(struct job_list *list)
{
	struct pool_job	*j;
	char		 what[sizeof(done_ctx)];
	long long	 t0, d, slowest = -1;

	while ((j = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, j, entry);
		j->state = POOL_JOB_IDLE;
		/* done() may free j: name it first. */
		snprintf(what, sizeof(what), "%s %s",
		    j->name != NULL ? j->name : "job", j->ctx);
		t0 = mono_ns();
		j->done(j);
		d = mono_ns() - t0;
		if (d > slowest) {
			slowest = d;
			memcpy(done_ctx, what, sizeof(done_ctx));
		}
	}
}

static const char *
pool_done_ctx(void *arg)
{
	(void)arg;
	return done_ctx[0] != '\0' ? done_ctx : NULL;
}

static void
pool_done(evutil_socket_t fd, short what, void *arg)
{
	struct job_list list = TAILQ_HEAD_INITIALIZER(list);

	(void)fd;
	(void)what;
	(void)arg;
	done_ctx[0] = '\0';
	pthread_mutex_lock(&lock);
	TAILQ_CONCAT(&list, &finished, entry);
	pthread_mutex_unlock(&lock);
	reap_workers();
	deliver(&list);
}
WATCH_EVENT_CB(pool_done_cb, pool_done, pool_done_ctx)

int
pool_init(struct event_base *base, int threads, int qmax)
{
	pthread_condattr_t	attr;
	int			i;

	if (initialized) {
		log_warnx("worker pool: already initialized");
		return -1;
	}
	pthread_condattr_init(&attr);
	/* Shutdown waits against a monotonic deadline. */
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&idle, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&wake, NULL);
	if ((done_ev = event_new(base, -1, 0, pool_done_cb, NULL)) == NULL) {
		log_warnx("worker pool: cannot create the completion event");
		return -1;
	}
	stopping = 0;
	target = threads > 0 ? threads : 1;
	queue_max = qmax > 0 ? qmax : 1;
	nactive = nbusy = nrisky = nqueued = 0;
	ncompleted = nrejected = 0;
	longest_wait_ns = 0;
	initialized = 1;
	for (i = 0; i < target; i++)
		if (spawn_worker() != 0)
			break;
	if (i == 0) {
		event_free(done_ev);
		done_ev = NULL;
		initialized = 0;
		return -1;
	}
	if (i < target)
		log_warnx("worker pool: started %d of %d threads", i, target);
	log_debug("worker pool: %d threads, queue of %d", i, queue_max);
	return 0;
}

int
pool_submit(struct pool_job *j)
{
	if (!initialized || stopping)
		return -1;
	if (j->state != POOL_JOB_IDLE) {
		log_warnx("worker pool: %s (%s) submitted twice", j->name,
		    j->ctx);
		return -1;
	}
	pthread_mutex_lock(&lock);
	if (nqueued >= queue_max) {
		nrejected++;
		pthread_mutex_unlock(&lock);
		log_debug("worker pool: queue full (%d), %s (%s) rejected",
		    queue_max, j->name, j->ctx);
		return -1;
	}
	j->state = POOL_JOB_QUEUED;
	j->abandoned = 0;
	j->queued_ns = mono_ns();
	j->started_ns = 0;
	TAILQ_INSERT_TAIL(&queue, j, entry);
	nqueued++;
	pthread_cond_signal(&wake);
	pthread_mutex_unlock(&lock);
	return 0;
}

void
pool_resize(int threads)
{
	int old, n;

	if (!initialized || stopping)
		return;
	if (threads < 1)
		threads = 1;
	reap_workers();
	pthread_mutex_lock(&lock);
	old = target;
	target = threads;
	n = nactive;
	if (n > target)
		pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);
	for (; n < threads; n++)
		if (spawn_worker() != 0)
			break;
	if (old != threads)
		log_info("worker pool: %d threads (was %d)", threads, old);
}

void
pool_shutdown(int timeout_ms)
{
	struct job_list		 abandon = TAILQ_HEAD_INITIALIZER(abandon);
	struct job_list		 list = TAILQ_HEAD_INITIALIZER(list);
	struct worker_list	 join = TAILQ_HEAD_INITIALIZER(join);
	struct worker		*w;
	struct pool_job		*j;
	struct timespec		 ts;
	pthread_t		*detach = NULL;
	long long		 deadline, now;
	size_t			 ndetach = 0, i;
	int			 n = 0;

	if (!initialized)
		return;
	deadline = mono_ns() + (long long)(timeout_ms > 0 ? timeout_ms : 0) *
	    1000000LL;
	pthread_mutex_lock(&lock);
	stopping = 1;
	TAILQ_CONCAT(&abandon, &queue, entry);
	nqueued = 0;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&lock);

	while ((j = TAILQ_FIRST(&abandon)) != NULL) {
		TAILQ_REMOVE(&abandon, j, entry);
		j->state = POOL_JOB_IDLE;
		j->abandoned = 1;
		n++;
		j->done(j);
	}
	if (n > 0)
		log_debug("worker pool: %d queued jobs abandoned", n);

	pthread_mutex_lock(&lock);
	ts.tv_sec = deadline / 1000000000LL;
	ts.tv_nsec = deadline % 1000000000LL;
	while (nbusy > 0)
		if (pthread_cond_timedwait(&idle, &lock, &ts) == ETIMEDOUT)
			break;
	now = mono_ns();
	while ((w = TAILQ_FIRST(&workers)) != NULL) {
		TAILQ_REMOVE(&workers, w, entry);
		if (w->job == NULL) {
			TAILQ_INSERT_TAIL(&join, w, entry);
			continue;
		}
		/* Its job may write to itself any time: it keeps it. */
		w->detached = 1;
		TAILQ_INSERT_TAIL(&stuck, w, entry);
		detach = xreallocarray(detach, ndetach + 1, sizeof(*detach));
		detach[ndetach++] = w->tid;
		log_warnx("worker pool: thread %d still in %s (%s) after "
		    "%.3f s; detaching it", w->id, w->job->name, w->job->ctx,
		    (double)(now - w->job->started_ns) / 1e9);
	}
	TAILQ_CONCAT(&list, &finished, entry);
	pthread_mutex_unlock(&lock);

	for (i = 0; i < ndetach; i++)
		pthread_detach(detach[i]);
	free(detach);
	deliver(&list);
	/* Every thread left here is idle and was told to leave. */
	while ((w = TAILQ_FIRST(&join)) != NULL) {
		TAILQ_REMOVE(&join, w, entry);
		pthread_join(w->tid, NULL);
		free(w);
	}
	pthread_mutex_lock(&lock);
	/* The detached threads no longer count. */
	nactive = nbusy = nrisky = 0;
	pthread_mutex_unlock(&lock);
	event_free(done_ev);
	done_ev = NULL;
	if (ndetach == 0) {
		pthread_cond_destroy(&wake);
		pthread_cond_destroy(&idle);
	}
	initialized = 0;
	log_debug("worker pool: shut down (%zu threads detached)", ndetach);
}

void
pool_get_stats(struct pool_stats *st)
{
	struct pool_job	*j;
	long long	 longest;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&lock);
	st->threads = nactive;
	st->busy = nbusy;
	st->queued = (unsigned long long)nqueued;
	st->completed = ncompleted;
	st->rejected = nrejected;
	longest = longest_wait_ns;
	/* A job still waiting counts too: a stalled queue must show. */
	if ((j = TAILQ_FIRST(&queue)) != NULL &&
	    mono_ns() - j->queued_ns > longest)
		longest = mono_ns() - j->queued_ns;
	pthread_mutex_unlock(&lock);
	st->longest_wait_s = (double)longest / 1e9;
}

void
pool_foreach_job(void (*fn)(const struct pool_job *, void *), void *arg)
{
	struct pool_job	*j;
	struct worker	*w;

	pthread_mutex_lock(&lock);
	TAILQ_FOREACH(j, &queue, entry)
		fn(j, arg);
	TAILQ_FOREACH(w, &workers, entry)
		if (w->job != NULL)
			fn(w->job, arg);
	TAILQ_FOREACH(w, &stuck, entry)
		if (w->job != NULL)
			fn(w->job, arg);
	pthread_mutex_unlock(&lock);
}
