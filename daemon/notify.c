/* systemd notifications: READY, RELOADING, STOPPING, STATUS, WATCHDOG. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "common/log.h"
#include "daemon/notify.h"
#include "daemon/watch.h"

static notify_status_fn	status_fn;

#ifdef HAVE_LIBSYSTEMD
static struct event *watchdog;

static void
watchdog_ping(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}
WATCH_EVENT_CB(watchdog_cb, watchdog_ping, NULL)

static void
notify_send(const char *msg)
{
	int r = sd_notify(0, msg);

	if (r < 0)
		log_warnx("sd_notify: %s", strerror(-r));
}
#endif

void
notify_init(struct event_base *base, notify_status_fn fn)
{
#ifdef HAVE_LIBSYSTEMD
	uint64_t	usec;
	struct timeval	tv;
#endif

	status_fn = fn;
#ifdef HAVE_LIBSYSTEMD
	if (sd_watchdog_enabled(0, &usec) <= 0)
		return;
	/* Ping at half the interval, from the loop: a stuck loop is caught. */
	usec /= 2;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	/* Start-up: without the pings systemd would kill us later anyway. */
	if ((watchdog = event_new(base, -1, EV_PERSIST, watchdog_cb,
	    NULL)) == NULL || event_add(watchdog, &tv) != 0)
		fatalx("cannot start the systemd watchdog timer");
	log_info("systemd watchdog: pinging every %.3f s", (double)usec / 1e6);
#else
	(void)base;
#endif
}

void
notify_ready(void)
{
#ifdef HAVE_LIBSYSTEMD
	notify_send("READY=1");
	notify_status();
#endif
}

void
notify_reloading(void)
{
#ifdef HAVE_LIBSYSTEMD
	struct timespec	ts;
	char		msg[96];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL);
	notify_send(msg);
#endif
}

void
notify_stopping(void)
{
#ifdef HAVE_LIBSYSTEMD
	notify_send("STOPPING=1");
#endif
}

void
notify_status(void)
{
#ifdef HAVE_LIBSYSTEMD
	char msg[160];

	if (status_fn == NULL)
		return;
	memcpy(msg, "STATUS=", 7);
	status_fn(msg + 7, sizeof(msg) - 7);
	sd_notify(0, msg);
#endif
}

void
notify_shutdown(void)
{
#ifdef HAVE_LIBSYSTEMD
	if (watchdog != NULL) {
		event_free(watchdog);
		watchdog = NULL;
	}
#endif
}
