/*
 * child.c's side of starting a command, for child_spawn.c: the record of
 * a child before it runs, and handing the process over once it does.
 */
#ifndef BROKERD_CHILD_INT_H
#define BROKERD_CHILD_INT_H

#include <sys/types.h>

#include <event2/bufferevent.h>

#include "daemon/child.h"

/* Our ends of the pipes: bigger, fewer wakeups per megabyte streamed. */
#define CHILD_PIPE_SIZE	(1024 * 1024)

struct event_base *child_base(void);

struct child *child_new(const struct child_opts *, const struct child_cbs *,
	    void *arg);
/*
 * Takes over our ends of the pipes (in is NULL without input; outfd is
 * nonblocking) and makes the events that watch them, before the command
 * runs, so that running out of memory fails only the request.  -1 if
 * one cannot be made: child_release() frees what was.
 */
int	child_watch(struct child *, struct bufferevent *in, int outfd,
	    struct bufferevent *err);
/* A child that never ran: its pipes and events, freed. */
void	child_release(struct child *);
/* It runs as pid: watched from now on.  -1: it could not be; killed. */
int	child_started(struct child *, pid_t pid, int timeout_s);

#endif
