/* The drain; see drain.h. */
#include "autoconf.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/child.h"
#include "daemon/conn.h"
#include "daemon/control.h"
#include "daemon/drain.h"
#include "daemon/listen.h"
#include "daemon/notify.h"
#include "daemon/server.h"
#include "daemon/watch.h"

#define DRAIN_TICK_MS	50

static struct event	*delay_timer, *tick, *deadline;
static int		 killed;
static long long	 delay_end_ms;	/* end of drain_delay_s */
static long long	 end_ms;	/* ... + shutdown_timeout_s */

/* Poll for the end of running work, bounded by the deadline. */
static void
drain_check(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (conn_busy_count() == 0 && children_running() == 0)
		event_base_loopbreak(srv.base);
}
WATCH_EVENT_CB(drain_check_cb, drain_check, NULL)

static void
drain_expire(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { 1, 0 };

	(void)fd;
	(void)what;
	(void)arg;
	if (killed) {
		event_base_loopbreak(srv.base);
		return;
	}
	log_warnx("shutdown_timeout_s reached with %d requests running; "
	    "terminating %u children", conn_busy_count(), children_running());
	killed = 1;
	children_signal(SIGTERM);
	/* What ignores SIGTERM gets SIGKILL when the loop ends. */
	if (evtimer_add(deadline, &tv) != 0)
		event_base_loopbreak(srv.base);
}
WATCH_EVENT_CB(drain_expire_cb, drain_expire, NULL)

/* The second part: stop accepting, finish what was accepted. */
static void
drain_close(const char *why)
{
	struct timeval	tv = { 0, DRAIN_TICK_MS * 1000 };
	struct timeval	dl = { srv.cfg->limits.shutdown_timeout_s, 0 };
	int		queued;

	srv.draining = DRAIN_CLOSING;
	end_ms = mono_ms() + dl.tv_sec * 1000LL;
	queued = listen_free_all_queued(&srv.listeners);
	control_close();
	conn_drain_all();
	tick = event_new(srv.base, -1, EV_PERSIST, drain_check_cb, NULL);
	deadline = evtimer_new(srv.base, drain_expire_cb, NULL);
	if (tick == NULL || deadline == NULL || event_add(tick, &tv) != 0 ||
	    evtimer_add(deadline, &dl) != 0) {
		/* Nothing could end the drain: end it now, as a 2nd signal. */
		log_warnx("cannot time the drain; exiting now");
		event_base_loopbreak(srv.base);
	}
	/* Logged once the listeners are closed: readers may rely on it. */
	if (queued > 0)
		log_notice("%s, draining (at most %d s; %d connections taken "
		    "from the listen queues)", why, (int)dl.tv_sec, queued);
	else
		log_notice("%s, draining (at most %d s)", why, (int)dl.tv_sec);
	notify_status();
}

static void
drain_delay_over(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	drain_close("drain_delay_s is over");
}
WATCH_EVENT_CB(drain_delay_cb, drain_delay_over, NULL)

void
drain_begin(int sig)
{
	const struct limits	*lim = &srv.cfg->limits;
	struct timeval		 tv = { 0, 0 };
	char			 why[64];
	int			 delay;

	/* An admin at a terminal wants it gone; no balancer sends SIGINT. */
	delay = sig == SIGINT ? 0 : lim->drain_delay_s;
	srv.draining = DRAIN_DELAY;
	delay_end_ms = mono_ms() + delay * 1000LL;
	end_ms = delay_end_ms + lim->shutdown_timeout_s * 1000LL;
	notify_stopping();
	snprintf(why, sizeof(why), "received %s", strsignal(sig));
	if (delay == 0) {
		drain_close(why);
		return;
	}
	tv.tv_sec = delay;
	if ((delay_timer = evtimer_new(srv.base, drain_delay_cb, NULL)) ==
	    NULL || evtimer_add(delay_timer, &tv) != 0) {
		log_warnx("cannot time drain_delay_s; closing the listeners "
		    "now");
		drain_close(why);
		return;
	}
	log_notice("%s: failing health checks (PING) for %d s "
	    "(limits.drain_delay_s), still serving; then draining", why,
	    delay);
	notify_status();
}

long long
drain_left_ms(void)
{
	long long left = end_ms - mono_ms();

	return left > 0 ? left : 0;
}

void
drain_status(char *buf, size_t size)
{
	long long left = (delay_end_ms - mono_ms() + 999) / 1000;

	if (srv.draining == DRAIN_DELAY)
		snprintf(buf, size, "draining: failing health checks for "
		    "%lld s more, still serving; connections: %u",
		    left > 0 ? left : 0, conn_count());
	else
		snprintf(buf, size, "draining: not accepting; connections: "
		    "%u, commands running: %u", conn_count(),
		    children_running());
}

void
drain_shutdown(void)
{
	if (delay_timer != NULL)
		event_free(delay_timer);
	if (tick != NULL)
		event_free(tick);
	if (deadline != NULL)
		event_free(deadline);
	delay_timer = tick = deadline = NULL;
}
