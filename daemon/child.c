/*
 * Children: their pipes on the loop, timeouts, reaping; see child.h.
 * Starting one is child_spawn.c's.
 */
#include "autoconf.h"

#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/child.h"
#include "daemon/orphans.h"
#include "daemon/stats.h"
#include "daemon/watch.h"

#define STDERR_KEEP	4096
#define KILL_GRACE_S	2

struct child {
	LIST_ENTRY(child)	 entry;
	pid_t			 pid;
	unsigned long long	 seq;		/* in order of spawning */
	char			*name;
	char			 ctx[128];
	long long		 started_ms;
	struct bufferevent	*in, *err;
	struct event		*inwait;	/* stdin writable: owner's */
	int			 outfd;		/* stdout, -1 once closed */
	struct event		*outev;
	int			 out_paused;
	struct event		*timer;
	const struct child_cbs	*cbs;
	void			*arg;		/* NULL once abandoned */
	char			 errbuf[STDERR_KEEP + 1];
	size_t			 errlen;
	size_t			 errdropped;
	char			 errline[256];
	int			 status;
	int			 reaped;
	int			 close_in;	/* stdin: close when drained */
	int			 timed_out;
	int			 killing;	/* TERM sent, KILL armed */
	int			 finished;
};

#define DISCARD_MAX	CHILD_PIPE_SIZE	/* per callback, for an orphan */

static LIST_HEAD(, child)	 children = LIST_HEAD_INITIALIZER(children);
static struct event_base	*cbase;
static unsigned			 nrunning;
static unsigned long long	 next_seq = 1;

void
child_init(struct event_base *base)
{
	cbase = base;
}

struct event_base *
child_base(void)
{
	return cbase;
}

static const char *
child_ctx(void *arg)
{
	return ((struct child *)arg)->ctx;
}

pid_t
child_pid(const struct child *c)
{
	return c->pid;
}

int
child_timed_out(const struct child *c)
{
	return c->timed_out;
}

int
child_wait_status(const struct child *c)
{
	return c->status;
}

const char *
child_stderr_line(const struct child *c)
{
	return c->errline;
}

struct evbuffer *
child_stdin(struct child *c)
{
	return c->in != NULL ? bufferevent_get_output(c->in) : NULL;
}

int
child_stdin_fd(struct child *c)
{
	return c->in != NULL ? bufferevent_getfd(c->in) : -1;
}

static void
close_stdin_now(struct child *c)
{
	if (c->inwait != NULL) {
		event_free(c->inwait);
		c->inwait = NULL;
	}
	if (c->in != NULL) {
		bufferevent_free(c->in);	/* closes the fd: EOF for it */
		c->in = NULL;
	}
}

void
child_stdin_broken(struct child *c)
{
	close_stdin_now(c);
}

size_t
child_stdin_flush(struct child *c)
{
	struct evbuffer	*buf;
	int		 n, e;

	if (c->in == NULL)
		return 0;
	buf = bufferevent_get_output(c->in);
	if (evbuffer_get_length(buf) == 0)
		return 0;
	/* libevent keeps the output frozen at its start outside its writes. */
	evbuffer_unfreeze(buf, 1);
	n = evbuffer_write(buf, bufferevent_getfd(c->in));
	e = errno;
	evbuffer_freeze(buf, 1);
	errno = e;
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		log_ctx(LOG_DEBUG, c->ctx, "stdin: %s", strerror(errno));
		close_stdin_now(c);
		return 0;
	}
	return evbuffer_get_length(buf);
}

void
child_close_stdin(struct child *c)
{
	c->close_in = 1;
	if (c->in != NULL &&
	    evbuffer_get_length(bufferevent_get_output(c->in)) == 0)
		close_stdin_now(c);
}

int
child_pause_stdout(struct child *c, int pause)
{
	c->out_paused = pause;
	if (c->outfd < 0)
		return 0;
	if (pause)
		return event_del(c->outev);
	return event_add(c->outev, NULL);
}

static void
close_stdout(struct child *c)
{
	if (c->outfd < 0)
		return;
	if (c->outev != NULL) {
		event_free(c->outev);
		c->outev = NULL;
	}
	close(c->outfd);
	c->outfd = -1;
}

static void
signal_group(struct child *c, int sig)
{
	/* Only while the leader is unreaped: its pgid cannot be recycled. */
	if (!c->reaped && killpg(c->pid, sig) != 0 && errno != ESRCH)
		log_ctx(LOG_WARNING, c->ctx, "killpg %d: %s", (int)c->pid,
		    strerror(errno));
}

static void
child_finish_check(struct child *c)
{
	size_t i;

	if (c->finished || !c->reaped || c->outfd >= 0 || c->err != NULL)
		return;
	c->finished = 1;
	nrunning--;
	if (c->timer != NULL)
		evtimer_del(c->timer);
	close_stdin_now(c);
	/* The first stderr line goes into replies; the rest only to logs. */
	for (i = 0; i < c->errlen && c->errbuf[i] != '\n'; i++)
		;
	str_escape(c->errline, sizeof(c->errline), c->errbuf, i, 200);
	if (c->errlen > 0) {
		char esc[STDERR_KEEP * 2];

		str_escape(esc, sizeof(esc), c->errbuf, c->errlen, STDERR_KEEP);
		log_ctx(LOG_INFO, c->ctx, "%s stderr%s: %s", c->name,
		    c->errdropped ? " (truncated)" : "", esc);
	}
	if (c->arg != NULL)
		c->cbs->done(c, c->arg);
	else
		child_free(c);
}

/* An orphan's stdout: read and drop, a bounded amount per call. */
static int
discard_stdout(int fd)
{
	static char	buf[64 * 1024];
	size_t		total = 0;
	ssize_t		n;

	while (total < DISCARD_MAX) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			total += (size_t)n;
		else if (n == 0)
			return 0;
		else if (errno == EINTR)
			continue;
		else
			return errno == EAGAIN ? 1 : 0;
	}
	return 1;
}

static void
child_out_ready(evutil_socket_t fd, short what, void *arg)
{
	struct child	*c = arg;
	int		 open;

	(void)what;
	open = c->arg != NULL ? c->cbs->out(c, fd, c->arg) :
	    discard_stdout(fd);
	/* The owner may have closed it already (abandon, then finish). */
	if (!open && c->outfd == fd) {
		close_stdout(c);
		child_finish_check(c);
	}
}
WATCH_EVENT_CB(child_out_ready_cb, child_out_ready, child_ctx)

static void
child_pipe_event(struct bufferevent *bev, short what, void *arg)
{
	struct child *c = arg;

	if (what & BEV_EVENT_ERROR)
		log_ctx(LOG_DEBUG, c->ctx, "pipe: %s", strerror(errno));
	if (bev == c->in) {
		/* The child closed its stdin (EPIPE): drop further input. */
		close_stdin_now(c);
		if (c->arg != NULL)
			c->cbs->drained(c, c->arg);
		return;
	}
	if (bev == c->err) {
		bufferevent_free(c->err);
		c->err = NULL;
	}
	child_finish_check(c);
}
WATCH_BEV_EVENT_CB(child_pipe_event_cb, child_pipe_event, child_ctx)

static void
child_err_read(struct bufferevent *bev, void *arg)
{
	struct child	*c = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 n = evbuffer_get_length(in), room;

	room = STDERR_KEEP - c->errlen;
	if (room > 0)
		c->errlen += (size_t)evbuffer_remove(in, c->errbuf + c->errlen,
		    n < room ? n : room);
	c->errdropped += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
}
WATCH_BEV_DATA_CB(child_err_read_cb, child_err_read, child_ctx)

static void
child_in_write(struct bufferevent *bev, void *arg)
{
	struct child *c = arg;

	if (c->close_in &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		close_stdin_now(c);
		return;
	}
	if (c->arg != NULL)
		c->cbs->drained(c, c->arg);
}
WATCH_BEV_DATA_CB(child_in_write_cb, child_in_write, child_ctx)

static void
child_in_ready(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;

	(void)fd;
	(void)what;
	if (c->arg != NULL)
		c->cbs->drained(c, c->arg);
}
WATCH_EVENT_CB(child_in_ready_cb, child_in_ready, child_ctx)

int
child_stdin_wait(struct child *c)
{
	if (c->in == NULL)
		return 0;
	return event_add(c->inwait, NULL);
}

/* TERM to the group first, KILL after the grace: one step per call. */
static void
kill_step(struct child *c)
{
	struct timeval tv = { KILL_GRACE_S, 0 };

	if (!c->killing) {
		if (c->arg != NULL) {
			c->timed_out = 1;
			log_ctx(LOG_WARNING, c->ctx, "%s (pid %d) timed out; "
			    "sending SIGTERM to its process group", c->name,
			    (int)c->pid);
		}
		c->killing = 1;
		stats_inc(STAT_children_killed);
		signal_group(c, SIGTERM);
	} else {
		log_ctx(LOG_WARNING, c->ctx, "%s (pid %d) still running %d s "
		    "after SIGTERM; sending SIGKILL", c->name, (int)c->pid,
		    KILL_GRACE_S);
		signal_group(c, SIGKILL);
	}
	if (evtimer_add(c->timer, &tv) != 0) {
		/* No grace can be waited for: it ends now. */
		log_ctx(LOG_ERR, c->ctx, "%s (pid %d): cannot arm its timer; "
		    "sending SIGKILL", c->name, (int)c->pid);
		signal_group(c, SIGKILL);
	}
}

static void
child_timer(evutil_socket_t fd, short what, void *arg)
{
	struct child	*c = arg;
	struct timeval	 tv = { KILL_GRACE_S, 0 };
	int		 avail = 0;

	(void)fd;
	(void)what;
	if (!c->reaped) {
		kill_step(c);
		return;
	}
	/*
	 * Output still in the pipe, or an owner holding it back for a slow
	 * client, is not a missing EOF: the owner bounds that.
	 */
	if (c->outfd >= 0 && c->arg != NULL && (c->out_paused ||
	    (ioctl(c->outfd, FIONREAD, &avail) == 0 && avail > 0))) {
		if (evtimer_add(c->timer, &tv) != 0)
			log_ctx(LOG_ERR, c->ctx, "%s: cannot arm its timer; "
			    "waiting for EOF unbounded", c->name);
		return;
	}
	/*
	 * The leader is gone but something outside its group still holds a
	 * pipe open: stop waiting for EOF.
	 */
	close_stdout(c);
	if (c->err != NULL) {
		bufferevent_free(c->err);
		c->err = NULL;
	}
	child_finish_check(c);
}
WATCH_EVENT_CB(child_timer_cb, child_timer, child_ctx)

void
child_abandon(struct child *c)
{
	struct timeval tv = { 0, 0 };

	c->arg = NULL;
	if (c->finished) {
		child_free(c);
		return;
	}
	close_stdin_now(c);
	/* Drain what is left; the owner may have paused it. */
	if (c->outfd >= 0 && c->out_paused && child_pause_stdout(c, 0) != 0) {
		close_stdout(c);	/* cannot drain it: EPIPE for them */
		if (c->reaped) {
			child_finish_check(c);
			return;
		}
	}
	if (!c->reaped && !c->killing) {
		/* Let the timer send TERM now and KILL after the grace. */
		evtimer_del(c->timer);
		if (evtimer_add(c->timer, &tv) != 0)
			kill_step(c);
	}
}

void
child_free(struct child *c)
{
	if (!c->finished) {
		child_abandon(c);
		return;
	}
	LIST_REMOVE(c, entry);
	if (c->timer != NULL)
		event_free(c->timer);
	close_stdin_now(c);
	close_stdout(c);
	if (c->err != NULL)
		bufferevent_free(c->err);
	free(c->name);
	/* We may be inside one of c's own callbacks: free after it. */
	watch_defer_free(c, free);
}

int
child_watch(struct child *c, struct bufferevent *in, int outfd,
    struct bufferevent *err)
{
	c->in = in;
	c->outfd = outfd;
	c->err = err;
	if ((in != NULL && (c->inwait = event_new(cbase,
	    bufferevent_getfd(in), EV_WRITE, child_in_ready_cb, c)) == NULL) ||
	    (c->outev = event_new(cbase, outfd, EV_READ | EV_PERSIST,
	    child_out_ready_cb, c)) == NULL ||
	    (c->timer = evtimer_new(cbase, child_timer_cb, c)) == NULL)
		return -1;
	return 0;
}

/* Our ends on the loop, and the timeout. */
static int
child_arm(struct child *c, int timeout_s)
{
	struct timeval tv = { timeout_s, 0 };

	if (c->in != NULL) {
		bufferevent_setcb(c->in, NULL, child_in_write_cb,
		    child_pipe_event_cb, c);
		bufferevent_setwatermark(c->in, EV_WRITE,
		    CHILD_STDIN_HIGH / 4, 0);
		if (bufferevent_enable(c->in, EV_WRITE) != 0)
			return -1;
	}
	if (event_add(c->outev, NULL) != 0)
		return -1;
	bufferevent_setcb(c->err, child_err_read_cb, NULL,
	    child_pipe_event_cb, c);
	if (bufferevent_enable(c->err, EV_READ) != 0 ||
	    evtimer_add(c->timer, &tv) != 0)
		return -1;
	return 0;
}

/* Our ends closed: the child sees EOF and EPIPE; it is not reaped here. */
static void
child_unwatch(struct child *c)
{
	close_stdin_now(c);
	close_stdout(c);
	if (c->err != NULL) {
		bufferevent_free(c->err);
		c->err = NULL;
	}
}

void
child_release(struct child *c)
{
	child_unwatch(c);
	if (c->timer != NULL)
		event_free(c->timer);
	free(c->name);
	free(c);
}

struct child *
child_new(const struct child_opts *o, const struct child_cbs *cbs, void *arg)
{
	struct child *c = xcalloc(1, sizeof(*c));

	c->name = xstrdup(o->name);
	snprintf(c->ctx, sizeof(c->ctx), "%s", o->ctx);
	c->cbs = cbs;
	c->arg = arg;
	c->outfd = -1;
	return c;
}

int
child_started(struct child *c, pid_t pid, int timeout_s)
{
	nrunning++;
	c->pid = pid;
	c->seq = next_seq++;
	c->started_ms = mono_ms();
	LIST_INSERT_HEAD(&children, c, entry);
	if (child_arm(c, timeout_s) != 0) {
		/* It runs unwatched: kill it; SIGCHLD reaps and frees it. */
		log_ctx(LOG_ERR, c->ctx, "%s (pid %d): cannot watch its "
		    "pipes; killing it", c->name, (int)pid);
		stats_inc(STAT_children_failed);
		c->arg = NULL;
		c->killing = 1;
		child_unwatch(c);
		signal_group(c, SIGKILL);
		return -1;
	}
	stats_inc(STAT_children_spawned);
	log_ctx(LOG_DEBUG, c->ctx, "started %s (pid %d)", c->name, (int)pid);
	return 0;
}

/* A command's leader, not reaped yet: its pid is still its own. */
static int
child_known(pid_t pid)
{
	struct child *c;

	LIST_FOREACH(c, &children, entry)
		if (c->pid == pid && !c->reaped)
			return 1;
	return 0;
}

/* The oldest command whose leader is unreaped, or the next one. */
static unsigned long long
oldest_running(void)
{
	struct child		*c;
	unsigned long long	 oldest = next_seq;

	LIST_FOREACH(c, &children, entry)
		if (!c->reaped && c->seq < oldest)
			oldest = c->seq;
	return oldest;
}

void
children_reap(void)
{
	struct child	*c, *next;
	siginfo_t	 si;

	/* Before the leaders are reaped: what they left counts as theirs. */
	orphans_scan(child_known, next_seq);
	for (c = LIST_FIRST(&children); c != NULL; c = next) {
		next = LIST_NEXT(c, entry);
		if (c->reaped)
			continue;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG |
		    WNOWAIT) != 0 || si.si_pid != c->pid)
			continue;
		/*
		 * The leader is a zombie, so its pgid is still ours: kill
		 * what it left behind in its group (they would hold the
		 * pipes open), then reap it.
		 */
		(void)killpg(c->pid, SIGKILL);
		if (waitpid(c->pid, &c->status, 0) != c->pid)
			continue;
		c->reaped = 1;
		log_ctx(LOG_DEBUG, c->ctx, "%s (pid %d) exited, status 0x%x",
		    c->name, (int)c->pid, c->status);
		if (c->outfd >= 0 || c->err != NULL) {
			/* EOF is due at once; bound the wait if it is not. */
			struct timeval tv = { KILL_GRACE_S, 0 };

			if (evtimer_add(c->timer, &tv) != 0)
				log_ctx(LOG_ERR, c->ctx, "%s: cannot arm its "
				    "timer; waiting for EOF unbounded",
				    c->name);
		}
		child_finish_check(c);
	}
	orphans_reap(oldest_running());
}

void
children_signal(int sig)
{
	struct child *c;

	LIST_FOREACH(c, &children, entry)
		signal_group(c, sig);
}

unsigned
children_running(void)
{
	return nrunning;
}

void
children_foreach(void (*fn)(pid_t, const char *, long long, void *), void *arg)
{
	struct child	*c;
	long long	 now = mono_ms();

	LIST_FOREACH(c, &children, entry)
		if (!c->finished)
			fn(c->pid, c->name, now - c->started_ms, arg);
}

void
children_shutdown(void)
{
	struct child *c;

	while ((c = LIST_FIRST(&children)) != NULL) {
		if (!c->reaped) {
			signal_group(c, SIGKILL);
			while (waitpid(c->pid, &c->status, 0) < 0 &&
			    errno == EINTR)
				;
			c->reaped = 1;
		}
		if (!c->finished) {
			c->finished = 1;
			nrunning--;
		}
		c->arg = NULL;
		child_free(c);
	}
	orphans_shutdown(child_known);
}

struct child_emit {
	struct stats_out	*out;
	int			 n;
};

static void
emit_child(pid_t pid, const char *name, long long age_ms, void *arg)
{
	struct child_emit	*ce = arg;
	char			 key[32];

	snprintf(key, sizeof(key), "child.%d", ce->n++);
	stats_kv(ce->out, key, "pid %d command %s age %.3f s", (int)pid, name,
	    (double)age_ms / 1000.0);
}

void
children_report(struct stats_out *out)
{
	struct child_emit ce = { out, 0 };

	stats_kv(out, "children_running", "%u", children_running());
	children_foreach(emit_child, &ce);
}
