/*
 * A fixed set of worker threads for blocking work (config parsing,
 * getaddrinfo, statvfs), fed by a bounded FIFO queue.  Results come back
 * to the loop thread: a finished job goes on a locked completion list and
 * one event, made active from the worker, runs every done() on the loop.
 *
 * Ownership: the job belongs to whoever submitted it, but from
 * pool_submit() until its done() runs the pool and a worker thread use
 * it.  A requester that goes away meanwhile (client gone, request timed
 * out) must not free the job: it sets a "cancelled" flag of its own, and
 * done() -- which always runs, exactly once per accepted job -- sees the
 * flag, drops the result and frees the job.  The single exception is
 * pool_shutdown(): a job still running when its deadline passes never
 * gets done(), because its thread may still write to it; leave it alone.
 *
 * work() runs on a worker thread and may touch only the job's own data
 * (typically the job is the first member of a bigger struct).  done()
 * runs on the loop thread and may do anything, including pool_submit().
 *
 * RISKY jobs (statvfs on a mount that may hang) occupy at most threads-1
 * workers at once, so a NORMAL job such as reload parsing always finds a
 * worker.  With a single worker RISKY jobs still run, and the guarantee
 * is gone: configure workers >= 2 for it.
 *
 * Every function is for the loop thread only.
 */
#ifndef BROKERD_POOL_H
#define BROKERD_POOL_H

#include <sys/queue.h>

#include <event2/event.h>

enum pool_class { POOL_NORMAL, POOL_RISKY };	/* RISKY: may hang */

/* Values of pool_job.state, readable from pool_foreach_job(). */
enum pool_job_state {
	POOL_JOB_IDLE,		/* not in the pool: new, or done */
	POOL_JOB_QUEUED,
	POOL_JOB_RUNNING,
	POOL_JOB_FINISHED	/* work() returned; done() is due */
};

struct pool_job {
	TAILQ_ENTRY(pool_job)	 entry;		/* pool-private */
	/* On a worker thread: blocking work, only on the job's own data. */
	void	(*work)(struct pool_job *);
	/* On the loop thread, exactly once per accepted job. */
	void	(*done)(struct pool_job *);
	enum pool_class		 class;
	const char		*name;	/* "reload", "statvfs": static */
	char			 ctx[128]; /* "broker 127.0.0.1:5555", "/" */
	/* Pool-private; started_ns is 0 while the job is queued. */
	long long		 queued_ns, started_ns;
	int			 abandoned; /* done() without work() */
	int			 state;	/* enum pool_job_state */
};

struct pool_stats {
	int			 threads, busy;
	unsigned long long	 queued, completed, rejected;
	/* Longest time a job waited for a worker, queued ones included. */
	double			 longest_wait_s;
};

/*
 * evthread_use_pthreads() must have been called before the base was
 * created.  -1 if not even one thread could be started.
 */
int	pool_init(struct event_base *, int threads, int queue_max);
/* 0, or -1 if the queue is full (counted) or the pool is shut down. */
int	pool_submit(struct pool_job *);
/* Grows at once; surplus threads leave as they finish their job. */
void	pool_resize(int threads);
/*
 * Queued jobs get done() with abandoned set; running ones get up to
 * timeout_ms to finish (their done() runs here).  Then every thread is
 * joined; one still stuck in its job is detached and logged.
 */
void	pool_shutdown(int timeout_ms);
void	pool_get_stats(struct pool_stats *);
/*
 * Calls fn for every queued and running job, for the debug resource
 * report.  It runs with the pool locked: fn must not call the pool.
 */
void	pool_foreach_job(void (*fn)(const struct pool_job *, void *),
	    void *arg);

#endif
