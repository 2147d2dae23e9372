/*
 * DF --native: the df table computed in the daemon.  /proc/self/mounts is
 * read in a NORMAL pool job, then stat(2) + statvfs(2) run in one RISKY
 * job per mount point, so a hung mount costs one worker and a 504, never
 * the loop.  At most one probe per mount point is in flight across all
 * requests (single-flight): a request for a mount already being probed
 * waits for that probe instead of submitting another, so a hung mount
 * never piles up jobs.  What df would make of the mount table and the
 * probes' results is dfgnu.c's business.
 */
#ifndef BROKERD_DFNATIVE_H
#define BROKERD_DFNATIVE_H

#include <event2/event.h>

#include "daemon/dfparse.h"

struct dfn_req;

/*
 * t is NULL on error; otherwise the callee owns it (df_table_free(t),
 * then free(t)).  code: 0; 504 when the deadline passed first (err names
 * the slow mount point); 429 when the pool queue filled up while the
 * request was being fanned out; 503 when the pool shut down under it;
 * 500 otherwise.  Never called from inside dfnative_start().  After it
 * returns the request is gone: do not cancel it.
 */
typedef void (*dfn_cb)(struct df_table *t, int code, const char *err,
	    void *arg);

void	dfnative_init(struct event_base *);
/* NULL if the pool queue is full (answer 429). */
struct dfn_req *dfnative_start(int deadline_ms, dfn_cb cb, void *arg,
	    const char *ctx);
/* The requester is gone: cb is never called; the rest is freed later. */
void	dfnative_cancel(struct dfn_req *);
/* After pool_shutdown(): frees what is left, except probes still stuck. */
void	dfnative_shutdown(void);
/*
 * Test hook, honoured only because brokerd calls it in debug mode alone:
 * the probe of mount point `mount' sleeps ms milliseconds before it
 * calls stat(2).  NULL clears it.
 */
void	dfnative_set_test_delay(const char *mount, int ms);

#endif
