/*
 * reload.c: a run of reloads refused because the worker queue is full,
 * each waiter asking again from its callback as a pipelining control
 * client does (session.c), must be answered from the loop one at a time:
 * never from inside reload_request(), so the stack stays flat however
 * long the run.  The queue is held full by a job blocked on a gate.
 */
#include "autoconf.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/pool.h"
#include "daemon/reload.h"
#include "daemon/server.h"
#include "tests/tap.h"

#define RUN	10000

static pthread_mutex_t	gate_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	gate_cv = PTHREAD_COND_INITIALIZER;
static int		gate_open, gate_inside;

static void
blocker_work(struct pool_job *j)
{
	(void)j;
	pthread_mutex_lock(&gate_mtx);
	gate_inside++;
	pthread_cond_broadcast(&gate_cv);
	while (!gate_open)
		pthread_cond_wait(&gate_cv, &gate_mtx);
	pthread_mutex_unlock(&gate_mtx);
}

static void
blocker_done(struct pool_job *j)
{
	(void)j;
}

struct client {
	struct reload_waiter	 w;
	int			 answered;
	int			 refused;	/* "the worker queue is full" */
	int			 inside_request; /* answered synchronously */
	uintptr_t		 top, deepest;	/* stack addresses */
};

static int	in_request;

static void
ask(struct client *c)
{
	in_request++;
	reload_request(&c->w);
	in_request--;
}

static void
answered(int ok, unsigned long generation, const char *errors, void *arg)
{
	struct client	*c = arg;
	char		 here;
	uintptr_t	 sp = (uintptr_t)&here;

	(void)generation;
	c->answered++;
	if (!ok && errors != NULL &&
	    strcmp(errors, "the worker queue is full") == 0)
		c->refused++;
	if (in_request)
		c->inside_request++;
	if (c->top == 0)
		c->top = c->deepest = sp;
	if (sp < c->deepest)
		c->deepest = sp;
	/* The next pipelined RELOAD, asked for from the answer. */
	if (c->answered < RUN)
		ask(c);
}

int
main(void)
{
	struct pool_job	 blocker = { 0 }, queued = { 0 };
	struct client	 c = { 0 }, gone = { 0 };
	int		 turns = 0;

	log_init("test_reload", 1, LOG_DAEMON);
	log_setlevel(LOG_CRIT);
	if (evthread_use_pthreads() != 0)
		bail("evthread_use_pthreads");
	if ((srv.base = event_base_new()) == NULL)
		bail("event_base_new");
	srv.config_file = "/nonexistent/brokerd.conf";
	if (pool_init(srv.base, 1, 1) != 0)
		bail("pool_init");
	blocker.work = queued.work = blocker_work;
	blocker.done = queued.done = blocker_done;
	blocker.name = queued.name = "blocker";
	if (pool_submit(&blocker) != 0)
		bail("submit blocker");
	pthread_mutex_lock(&gate_mtx);
	while (gate_inside == 0)
		pthread_cond_wait(&gate_cv, &gate_mtx);
	pthread_mutex_unlock(&gate_mtx);
	if (pool_submit(&queued) != 0)
		bail("submit the job that fills the queue");

	c.w.fn = answered;
	c.w.arg = &c;
	ask(&c);
	is_int(c.answered, 0, "a reload refused for a full queue is not "
	    "answered from inside reload_request()");
	while (c.answered < RUN && turns++ < 10 * RUN)
		event_base_loop(srv.base, EVLOOP_ONCE);
	is_int(c.refused, RUN, "%d reloads asked for in a row from their own "
	    "answers: each refused (\"the worker queue is full\")", RUN);
	is_int(c.inside_request, 0, "none of them answered synchronously");
	ok(c.top - c.deepest < 16 * 1024, "the stack stayed flat: %lu bytes "
	    "between the first answer and the deepest", (unsigned long)(c.top -
	    c.deepest));
	ok(turns <= 2 * RUN, "one loop turn per answer (%d turns)", turns);

	/* A waiter that goes away before its answer is never called. */
	gone.w.fn = answered;
	gone.w.arg = &gone;
	reload_request(&gone.w);
	reload_cancel(&gone.w);
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	is_int(gone.answered, 0, "a cancelled waiter is not called back");

	pthread_mutex_lock(&gate_mtx);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cv);
	pthread_mutex_unlock(&gate_mtx);
	pool_shutdown(5000);
	reload_shutdown();
	event_base_free(srv.base);
	libevent_global_shutdown();
	return done_testing();
}
