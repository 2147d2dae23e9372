/*
 * Statistics: the counters, declared once (the enum, the STATS reply and
 * the SIGUSR1 dump all come from STATS_COUNTERS), and the report both of
 * those print, made of sections that the daemon hands in: the owner of
 * each part (configuration, connections, children, requests per verb)
 * says what it shows.
 */
#ifndef BROKERD_STATS_H
#define BROKERD_STATS_H

#include <stddef.h>

#include "common/log.h"

#define STATS_COUNTERS(X)						\
	X(connections_accepted)						\
	X(connections_refused_max_clients)				\
	X(connections_refused_per_source)				\
	X(connections_refused_draining)					\
	X(connections_refused_acl)					\
	X(connections_refused_rate)					\
	X(connections_idle_closed)					\
	X(accept_errors)						\
	X(bytes_in)							\
	X(bytes_out)							\
	X(bytes_spliced)						\
	X(requests)							\
	X(requests_abandoned)						\
	X(children_spawned)						\
	X(children_failed)						\
	X(children_killed)						\
	X(children_output_limited)					\
	X(requests_refused_acl)						\
	X(orphans_killed)						\
	X(reloads_ok)							\
	X(reloads_failed)						\
	X(tls_handshakes)						\
	X(tls_handshake_failures)

enum stat_counter {
#define X(name) STAT_##name,
	STATS_COUNTERS(X)
#undef X
	STAT_N
};

void	stats_add(enum stat_counter, unsigned long long n);
#define stats_inc(stat)	stats_add((stat), 1)
/* ERR replies per code (errors.400, ...). */
void	stats_count_error(int code);

/* Where a report goes, one key and value at a time. */
typedef void (*stats_emit_fn)(const char *key, const char *value,
	    void *arg);
struct stats_out {
	stats_emit_fn	 emit;
	void		*arg;
};
void	stats_kv(struct stats_out *, const char *key, const char *fmt, ...)
	    LOG_PRINTF(3, 4);

/*
 * A part of the report.  The daemon lists them in order (stats_init);
 * each comes from the owner of what it shows.
 */
typedef void (*stats_section_fn)(struct stats_out *);

void	stats_init(const stats_section_fn *sections, size_t n);
/* Every statistic as key/value pairs: the STATS reply and the dump. */
void	stats_report(stats_emit_fn, void *arg);

/* stats.c's own: counters, errors per code, pool, callback timings. */
void	stats_report_counters(struct stats_out *);
void	stats_report_errors(struct stats_out *);
void	stats_report_pool(struct stats_out *);
void	stats_report_callbacks(struct stats_out *);

#endif
