/* Statistics: the counters and the report; see stats.h. */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "daemon/pool.h"
#include "daemon/stats.h"
#include "daemon/watch.h"

static const int codes[] = { 400, 403, 404, 413, 429, 500, 502, 503, 504 };
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static unsigned long long	counter[STAT_N];
static unsigned long long	code_count[NCODES];
static const stats_section_fn	*sections;
static size_t			 nsections;

static const char *const counter_name[STAT_N] = {
#define X(name) #name,
	STATS_COUNTERS(X)
#undef X
};

void
stats_init(const stats_section_fn *list, size_t n)
{
	sections = list;
	nsections = n;
}

void
stats_add(enum stat_counter which, unsigned long long n)
{
	counter[which] += n;
}

void
stats_count_error(int code)
{
	size_t i;

	for (i = 0; i < NCODES; i++)
		if (codes[i] == code)
			code_count[i]++;
}

void
stats_kv(struct stats_out *out, const char *key, const char *fmt, ...)
{
	char	val[320];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	out->emit(key, val, out->arg);
}

void
stats_report_pool(struct stats_out *out)
{
	struct pool_stats ps;

	pool_get_stats(&ps);
	stats_kv(out, "pool.threads", "%d", ps.threads);
	stats_kv(out, "pool.busy", "%d", ps.busy);
	stats_kv(out, "pool.queued", "%llu", ps.queued);
	stats_kv(out, "pool.completed", "%llu", ps.completed);
	stats_kv(out, "pool.rejected", "%llu", ps.rejected);
	stats_kv(out, "pool.longest_wait_s", "%.6f", ps.longest_wait_s);
}

void
stats_report_callbacks(struct stats_out *out)
{
	struct watch_stats	ws;
	char			key[64];
	int			i;

	watch_get_stats(&ws);
	stats_kv(out, "callbacks", "%llu", ws.calls);
	stats_kv(out, "slow_callbacks", "%llu", ws.slow);
	if (ws.slowest_name != NULL)
		stats_kv(out, "slowest_callback", "%.*s %.6f s",
		    watch_shown_len(ws.slowest_name), ws.slowest_name,
		    (double)ws.slowest_ns / 1e9);
	else
		stats_kv(out, "slowest_callback", "- 0 s");
	for (i = 0; i < WATCH_NBUCKETS; i++) {
		snprintf(key, sizeof(key), "callbacks%s", watch_bucket_name(i));
		stats_kv(out, key, "%llu", ws.hist[i]);
	}
}

void
stats_report_counters(struct stats_out *out)
{
	size_t i;

	for (i = 0; i < STAT_N; i++)
		stats_kv(out, counter_name[i], "%llu", counter[i]);
}

void
stats_report_errors(struct stats_out *out)
{
	char	key[64];
	size_t	i;

	for (i = 0; i < NCODES; i++) {
		snprintf(key, sizeof(key), "errors.%d", codes[i]);
		stats_kv(out, key, "%llu", code_count[i]);
	}
}

void
stats_report(stats_emit_fn emit, void *arg)
{
	struct stats_out	out = { emit, arg };
	size_t			i;

	for (i = 0; i < nsections; i++)
		sections[i](&out);
}
