/* Daemon-wide state, owned by the event loop thread. */
#ifndef BROKERD_SERVER_H
#define BROKERD_SERVER_H

#include <event2/event.h>

#include "daemon/config.h"
#include "daemon/listen.h"

struct server {
	struct event_base	*base;
	struct config		*cfg;		/* the current snapshot */
	unsigned long		 generation;
	const char		*config_file;
	int			 foreground;
	int			 debug;
	int			 draining;
	long long		 start_ms;
	struct listener_list	 listeners;
};

extern struct server srv;

#endif
