/*
 * Loading a configuration: the file is read, parsed and its listener
 * addresses resolved in the worker pool; the loop thread then binds new
 * listeners first, and only if all of that worked swaps the snapshot in.
 * SIGHUPs coalesce, but one that arrives during a reload causes another.
 * A waiter is never called back from inside reload_request(); a reload
 * that ends after the drain began is discarded.
 */
#ifndef BROKERD_RELOAD_H
#define BROKERD_RELOAD_H

#include <sys/queue.h>

#include "daemon/config.h"

typedef void (*reload_fn)(int ok, unsigned long generation,
    const char *errors, void *arg);

struct reload_waiter {
	TAILQ_ENTRY(reload_waiter)	 entry;
	reload_fn			 fn;
	void				*arg;
	int				 queued;
	const char			*who;	/* who asked, for the log */
};

/* Start-up: resolve and bind cfg's listeners; done(1) when serving. */
void	reload_start_initial(struct config *cfg, void (*done)(int ok));
/*
 * A reload that starts after this call; w (may be NULL) hears the end.
 * The log says who asked: w->who, or SIGHUP when there is no w.
 */
void	reload_request(struct reload_waiter *w);
void	reload_cancel(struct reload_waiter *w);
int	reload_busy(void);
/* Exit: answers waiters still due an answer, frees what is left. */
void	reload_shutdown(void);

#endif
