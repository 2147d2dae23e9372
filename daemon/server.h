/* Daemon-wide state, owned by the event loop thread. */
#ifndef BROKERD_SERVER_H
#define BROKERD_SERVER_H

#include <event2/event.h>

#include "daemon/config.h"
#include "daemon/listen.h"

/*
 * The drain (drain.h): not draining; failing health checks, still
 * serving (limits.drain_delay_s); listeners closed, finishing.
 */
enum drain_phase { DRAIN_NONE, DRAIN_DELAY, DRAIN_CLOSING };

struct server {
	struct event_base	*base;
	struct config		*cfg;		/* the current snapshot */
	unsigned long		 generation;
	const char		*config_file;
	int			 foreground;
	int			 debug;
	enum drain_phase	 draining;
	long long		 start_ms;
	struct listener_list	 listeners;
};

extern struct server srv;

#endif
