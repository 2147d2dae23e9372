/* systemd notifications (sd_notify); no-ops without libsystemd. */
#ifndef BROKERD_NOTIFY_H
#define BROKERD_NOTIFY_H

#include <event2/event.h>

#include <stddef.h>

/* The text of STATUS=, written into buf: the daemon's to say. */
typedef void (*notify_status_fn)(char *buf, size_t size);

/* Starts WATCHDOG=1 pings when the service manager asks for them. */
void	notify_init(struct event_base *, notify_status_fn);
void	notify_ready(void);
/* RELOADING=1 with MONOTONIC_USEC, as systemd expects. */
void	notify_reloading(void);
void	notify_stopping(void);
/* STATUS= with the status function's text. */
void	notify_status(void);
void	notify_shutdown(void);

#endif
