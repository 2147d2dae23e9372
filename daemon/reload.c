/* Configuration (re)loading; see reload.h. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "daemon/control.h"
#include "daemon/listen.h"
#include "daemon/notify.h"
#include "daemon/pool.h"
#include "daemon/privdrop.h"
#include "daemon/reload.h"
#include "daemon/server.h"
#include "daemon/stats.h"
#include "daemon/tls.h"
#include "daemon/watch.h"

TAILQ_HEAD(waiter_list, reload_waiter);

struct reload_job {
	struct pool_job		 job;
	char			*file;
	struct config		*cfg;	/* given (start-up) or loaded */
	struct config_errors	 errs;
	struct listen_addrs	*addrs;	/* one per cfg->listen entry */
	size_t			 naddrs;
	int			 initial;
	void		       (*initial_done)(int);
};

static struct waiter_list	current = TAILQ_HEAD_INITIALIZER(current);
static struct waiter_list	next = TAILQ_HEAD_INITIALIZER(next);
/* Refused at once (queue full): answered from the loop, not the caller. */
static struct waiter_list	refused = TAILQ_HEAD_INITIALIZER(refused);
static struct event		*refused_ev;
static int			running, again;
/* Who asked for the reload running, and for the one due after it. */
static char			who_now[96], who_next[96];

static void	reload_start(void);

int
reload_busy(void)
{
	return running;
}

static void
add_error_text(struct config_errors *errs, const char *text)
{
	errs->msg = xreallocarray(errs->msg, errs->n + 1, sizeof(char *));
	errs->msg[errs->n++] = xstrdup(text);
}

static void
add_error(struct config_errors *errs, const char *file, int line,
    const char *msg)
{
	char buf[600];

	snprintf(buf, sizeof(buf), "%s:%d: %s", file, line, msg);
	add_error_text(errs, buf);
}

/* On a worker thread: only the job's own data. */
static void
reload_work(struct pool_job *pj)
{
	struct reload_job	*rj = (struct reload_job *)pj;
	char			 err[256];
	size_t			 i;

	if (rj->cfg == NULL)
		rj->cfg = config_load(rj->file, &rj->errs);
	if (rj->cfg == NULL)
		return;
	/* Certificates and keys, read anew by every reload. */
	tls_config_prepare(rj->cfg, &rj->errs);
	rj->naddrs = rj->cfg->nlisten;
	rj->addrs = xcalloc(rj->naddrs, sizeof(*rj->addrs));
	for (i = 0; i < rj->cfg->nlisten; i++)
		if (listen_resolve(&rj->cfg->listen[i], &rj->addrs[i], err,
		    sizeof(err)) != 0)
			add_error(&rj->errs, rj->cfg->file,
			    rj->cfg->listen[i].line, err);
}

static void
job_free(struct reload_job *rj, int keep_cfg)
{
	size_t i;

	for (i = 0; i < rj->naddrs; i++)
		listen_addrs_free(&rj->addrs[i]);
	free(rj->addrs);
	if (!keep_cfg)
		config_unref(rj->cfg);
	config_errors_free(&rj->errs);
	free(rj->file);
	free(rj);
}

/*
 * Binds what is new, then (only if the control socket also follows)
 * closes what is gone.
 */
static int
apply_listeners(struct reload_job *rj, char *err, size_t errlen)
{
	struct listener_list	 fresh = TAILQ_HEAD_INITIALIZER(fresh);
	const struct config	*cfg = rj->cfg;
	char			 why[256];

	if (listen_reconcile_bind(&srv.listeners, cfg, rj->addrs, &fresh, err,
	    errlen) != 0)
		return -1;
	if (!rj->initial && control_reconcile(cfg, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "%s: control socket: %s", cfg->file, why);
		listen_free_all(&fresh);
		return -1;
	}
	/* At start-up the caller enables everything once it is ready. */
	listen_reconcile_commit(&srv.listeners, &fresh, !rj->initial);
	return 0;
}

static void
apply_settings(const struct config *cfg)
{
	log_setfacility(cfg->log_facility);
	log_setlevel(srv.debug ? LOG_DEBUG : cfg->log_level);
	watch_set_threshold_ms(cfg->slow_callback_ms);
	pool_resize(cfg->workers);
}

static void
finish_list(struct waiter_list *list, int ok, const char *errors)
{
	struct reload_waiter *w;

	/* A waiter may queue itself again: take one at a time. */
	while ((w = TAILQ_FIRST(list)) != NULL) {
		TAILQ_REMOVE(list, w, entry);
		w->queued = 0;
		w->fn(ok, srv.generation, errors, w->arg);
	}
}

static void
finish_waiters(int ok, const char *errors)
{
	finish_list(&current, ok, errors);
}

/*
 * Answers the reloads refused because the queue was full.  A waiter that
 * asks again at once lands on a fresh list, answered on the next turn of
 * the loop: a pipelined run of refused RELOADs loops, never recurses.
 */
static void
refused_answer(evutil_socket_t fd, short what, void *arg)
{
	struct waiter_list list = TAILQ_HEAD_INITIALIZER(list);

	(void)fd;
	(void)what;
	(void)arg;
	TAILQ_CONCAT(&list, &refused, entry);
	finish_list(&list, 0, "the worker queue is full");
}
WATCH_EVENT_CB(refused_answer_cb, refused_answer, NULL)

static void
refuse_waiters(void)
{
	struct timeval tv = { 0, 0 };

	if (TAILQ_EMPTY(&current))
		return;
	if (refused_ev == NULL &&
	    (refused_ev = evtimer_new(srv.base, refused_answer_cb, NULL)) ==
	    NULL) {
		/* Cannot defer: answer now (one level of recursion each). */
		finish_waiters(0, "the worker queue is full");
		return;
	}
	TAILQ_CONCAT(&refused, &current, entry);
	if (evtimer_add(refused_ev, &tv) != 0)
		refused_answer(-1, 0, NULL);	/* now, as above */
}

void
reload_shutdown(void)
{
	if (refused_ev != NULL) {
		event_free(refused_ev);
		refused_ev = NULL;
	}
	finish_list(&refused, 0, "shutting down");
}

static void
reload_done(struct pool_job *pj)
{
	struct reload_job	*rj = (struct reload_job *)pj;
	struct config		*old;
	char			 err[512], *joined = NULL;
	size_t			 i, len = 0;
	int			 initial = rj->initial, ok;

	if (pj->abandoned) {
		job_free(rj, initial);
		running = 0;
		finish_waiters(0, "shutting down");
		return;
	}
	/*
	 * The drain has closed the listeners and the control socket: a
	 * reload must not open them again.  (No drain can begin before
	 * start-up is done: signals are handled from then on.)
	 */
	if (srv.draining && !initial) {
		log_notice("reload of %s finished after the drain began; "
		    "discarded", rj->file);
		job_free(rj, 0);
		running = 0;
		again = 0;
		TAILQ_CONCAT(&current, &next, entry);
		finish_waiters(0, "shutting down");
		return;
	}
	/* apply_listeners() already says "file:line: ...". */
	if (rj->errs.n == 0 && apply_listeners(rj, err, sizeof(err)) != 0)
		add_error_text(&rj->errs, err);
	ok = rj->errs.n == 0;
	if (!ok) {
		for (i = 0; i < rj->errs.n; i++) {
			log_err("%s", rj->errs.msg[i]);
			len += strlen(rj->errs.msg[i]) + 2;
		}
		joined = xcalloc(1, len + 1);
		for (i = 0; i < rj->errs.n; i++) {
			strcat(joined, i ? "; " : "");
			strcat(joined, rj->errs.msg[i]);
		}
	}
	if (initial) {
		void (*done)(int) = rj->initial_done;

		job_free(rj, 1);
		free(joined);
		running = 0;
		done(ok);
		return;
	}
	if (ok) {
		int restart = privdrop_changed(srv.cfg, rj->cfg);

		old = srv.cfg;
		srv.cfg = rj->cfg;
		rj->cfg = NULL;
		config_unref(old);
		apply_settings(srv.cfg);
		srv.generation++;
		stats_inc(STAT_reloads_ok);
		log_notice("reloaded configuration (generation %lu), asked "
		    "by %s%s", srv.generation, who_now, restart ? "; user and "
		    "group take effect only at a restart" : "");
	} else {
		stats_inc(STAT_reloads_failed);
		log_err("reload failed; still serving generation %lu (asked "
		    "by %s)", srv.generation, who_now);
	}
	job_free(rj, 0);
	notify_ready();
	running = 0;
	finish_waiters(ok, joined);
	free(joined);
	if (again && !srv.draining) {
		again = 0;
		TAILQ_CONCAT(&current, &next, entry);
		snprintf(who_now, sizeof(who_now), "%s", who_next);
		who_next[0] = '\0';
		reload_start();
	}
}

static void
submit(struct reload_job *rj)
{
	rj->job.work = reload_work;
	rj->job.done = reload_done;
	rj->job.class = POOL_NORMAL;
	rj->job.name = "reload";
	snprintf(rj->job.ctx, sizeof(rj->job.ctx), "%s", rj->file);
	running = 1;
	if (pool_submit(&rj->job) != 0) {
		log_err("reload of %s: the worker queue is full", rj->file);
		running = 0;
		if (!rj->initial) {
			stats_inc(STAT_reloads_failed);
			notify_ready();
			refuse_waiters();
		}
		job_free(rj, rj->initial);
	}
}

static void
reload_start(void)
{
	struct reload_job *rj = xcalloc(1, sizeof(*rj));

	rj->file = xstrdup(srv.config_file);
	notify_reloading();
	log_info("reloading %s, asked by %s", srv.config_file, who_now);
	submit(rj);
}

void
reload_start_initial(struct config *cfg, void (*done)(int))
{
	struct reload_job *rj = xcalloc(1, sizeof(*rj));

	rj->file = xstrdup(cfg->file);
	rj->cfg = cfg;
	rj->initial = 1;
	rj->initial_done = done;
	submit(rj);
	if (!running)
		done(0);
}

void
reload_request(struct reload_waiter *w)
{
	const char *who = w != NULL && w->who != NULL ? w->who : "SIGHUP";

	if (running) {
		/* The running one may have read the file already. */
		again = 1;
		if (who_next[0] == '\0')
			snprintf(who_next, sizeof(who_next), "%s", who);
		else if (strstr(who_next, " and others") == NULL &&
		    strcmp(who_next, who) != 0 &&
		    strlen(who_next) + 12 < sizeof(who_next))
			strcat(who_next, " and others");
		if (w != NULL) {
			TAILQ_INSERT_TAIL(&next, w, entry);
			w->queued = 1;
		}
		return;
	}
	if (w != NULL) {
		TAILQ_INSERT_TAIL(&current, w, entry);
		w->queued = 1;
	}
	snprintf(who_now, sizeof(who_now), "%s", who);
	reload_start();
}

static int
list_remove(struct waiter_list *list, struct reload_waiter *w)
{
	struct reload_waiter *x;

	TAILQ_FOREACH(x, list, entry)
		if (x == w) {
			TAILQ_REMOVE(list, w, entry);
			w->queued = 0;
			return 1;
		}
	return 0;
}

void
reload_cancel(struct reload_waiter *w)
{
	if (w->queued && !list_remove(&current, w) &&
	    !list_remove(&refused, w))
		list_remove(&next, w);
}
