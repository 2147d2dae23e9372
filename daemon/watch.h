/*
 * Every libevent callback runs through one timing wrapper: the WATCH_*
 * macros define the function libevent calls, which times the real body on
 * CLOCK_MONOTONIC and reports it when it ran longer than the threshold.
 * Objects freed inside a callback go through watch_defer_free() so the
 * wrapper can still name their context afterwards.
 *
 * A wrapped callback called from inside another one (a transport's event
 * calling its service back: WATCH_XPORT_CB) is not timed again: it names
 * the time of the one around it, so the slow-callback line says which
 * service callback the time went to.  Counts, the histogram and deferred
 * frees stay the outermost wrapper's.
 */
#ifndef BROKERD_WATCH_H
#define BROKERD_WATCH_H

#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#define WATCH_NBUCKETS 6

struct watch_stats {
	unsigned long long	 calls;
	unsigned long long	 slow;
	unsigned long long	 hist[WATCH_NBUCKETS];
	unsigned long long	 sum_ns;	/* of every timed callback */
	long long		 slowest_ns;
	const char		*slowest_name;
};

typedef const char *(*watch_ctx_fn)(void *arg);

extern int watch_enabled;

void	watch_set_threshold_ms(int ms);
long long watch_start(const char *name, watch_ctx_fn ctx, void *arg);
void	watch_stop(long long t0);
void	watch_defer_free(void *p, void (*fn)(void *));
void	watch_get_stats(struct watch_stats *);
/* The wrapper name registered for a callback, for the debug report. */
void	watch_register(void (*fn)(void), const char *name);
const char *watch_name(void (*fn)(void));
/* How much of a wrapper's name is shown: all but its "_cb" suffix. */
int	watch_shown_len(const char *name);
const char *watch_bucket_name(int i);
/* Bucket i's upper bound in nanoseconds; -1 for the last (no bound). */
long long watch_bucket_le_ns(int i);
/* Frees whatever is deferred; called at shutdown. */
void	watch_flush(void);

/* Names every wrapper at start-up, so leftovers can be reported by name. */
#define WATCH_REGISTER(name)						\
static void __attribute__((constructor))				\
name##_register(void)							\
{									\
	watch_register((void (*)(void))name, #name);			\
}

#define WATCH_EVENT_CB(name, body, ctx)					\
static void								\
name(evutil_socket_t fd_, short what_, void *arg_)			\
{									\
	long long t0_ = watch_start(#name, (watch_ctx_fn)(ctx),		\
	    arg_);							\
	body(fd_, what_, arg_);						\
	watch_stop(t0_);						\
}									\
WATCH_REGISTER(name)

/* A transport's callback to its service (xport.h). */
#define WATCH_XPORT_CB(name, body, ctx)					\
static void								\
name(short what_, void *arg_)						\
{									\
	long long t0_ = watch_start(#name, (watch_ctx_fn)(ctx),		\
	    arg_);							\
	body(what_, arg_);						\
	watch_stop(t0_);						\
}									\
WATCH_REGISTER(name)

#define WATCH_BEV_DATA_CB(name, body, ctx)				\
static void								\
name(struct bufferevent *bev_, void *arg_)				\
{									\
	long long t0_ = watch_start(#name, (watch_ctx_fn)(ctx),		\
	    arg_);							\
	body(bev_, arg_);						\
	watch_stop(t0_);						\
}									\
WATCH_REGISTER(name)

#define WATCH_BEV_EVENT_CB(name, body, ctx)				\
static void								\
name(struct bufferevent *bev_, short what_, void *arg_)		\
{									\
	long long t0_ = watch_start(#name, (watch_ctx_fn)(ctx),		\
	    arg_);							\
	body(bev_, what_, arg_);					\
	watch_stop(t0_);						\
}									\
WATCH_REGISTER(name)

#define WATCH_LISTENER_CB(name, body, ctx)				\
static void								\
name(struct evconnlistener *l_, evutil_socket_t fd_,			\
    struct sockaddr *sa_, int len_, void *arg_)				\
{									\
	long long t0_ = watch_start(#name, (watch_ctx_fn)(ctx),		\
	    arg_);							\
	body(l_, fd_, sa_, len_, arg_);					\
	watch_stop(t0_);						\
}									\
WATCH_REGISTER(name)

#define WATCH_LISTENER_ERR_CB(name, body, ctx)				\
static void								\
name(struct evconnlistener *l_, void *arg_)				\
{									\
	long long t0_ = watch_start(#name, (watch_ctx_fn)(ctx),		\
	    arg_);							\
	body(l_, arg_);							\
	watch_stop(t0_);						\
}									\
WATCH_REGISTER(name)

#endif
