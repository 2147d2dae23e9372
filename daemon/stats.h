/* Counters, declared once: the struct, the STATS reply and the dump. */
#ifndef BROKERD_STATS_H
#define BROKERD_STATS_H

#define STATS_COUNTERS(X)						\
	X(connections_accepted)						\
	X(connections_refused_max_clients)				\
	X(connections_refused_per_source)				\
	X(connections_refused_draining)					\
	X(connections_idle_closed)					\
	X(accept_errors)						\
	X(bytes_in)							\
	X(bytes_out)							\
	X(bytes_spliced)						\
	X(requests)							\
	X(children_spawned)						\
	X(children_failed)						\
	X(children_killed)						\
	X(orphans_killed)						\
	X(reloads_ok)							\
	X(reloads_failed)

struct stats {
#define X(name) unsigned long long name;
	STATS_COUNTERS(X)
#undef X
};

extern struct stats stats;

/* Requests per verb and errors per code. */
void	stats_count_request(const char *verb);
void	stats_count_error(int code);
/* Every statistic as key/value pairs: the STATS reply and the dump. */
void	stats_report(void (*emit)(const char *key, const char *value,
	    void *arg), void *arg);

#endif
