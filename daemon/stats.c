/* Statistics: the STATS reply and the SIGUSR1 dump share this list. */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "daemon/command.h"
#include "daemon/pool.h"
#include "daemon/server.h"
#include "daemon/stats.h"
#include "daemon/watch.h"

static const char *const verbs[] = {
	"ping", "version", "df", "upper", "run", "stats", "sleep", "reload",
	"loglevel", "other"
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))
static const int codes[] = { 400, 404, 413, 429, 500, 502, 503, 504 };
#define NCODES (sizeof(codes) / sizeof(codes[0]))

static unsigned long long verb_count[NVERBS];
static unsigned long long code_count[NCODES];

void
stats_count_request(const char *verb)
{
	size_t i;

	stats.requests++;
	for (i = 0; i < NVERBS - 1; i++)
		if (strcasecmp(verb, verbs[i]) == 0)
			break;
	verb_count[i]++;
}

void
stats_count_error(int code)
{
	size_t i;

	for (i = 0; i < NCODES; i++)
		if (codes[i] == code)
			code_count[i]++;
}

struct child_emit {
	void	(*emit)(const char *, const char *, void *);
	void	*arg;
	int	 n;
};

static void
emit_child(pid_t pid, const char *name, long long age_ms, void *arg)
{
	struct child_emit	*ce = arg;
	char			 key[32], val[128];

	snprintf(key, sizeof(key), "child.%d", ce->n++);
	snprintf(val, sizeof(val), "pid %d command %s age %.3f s", (int)pid,
	    name, (double)age_ms / 1000.0);
	ce->emit(key, val, ce->arg);
}

void
stats_report(void (*emit)(const char *, const char *, void *), void *arg)
{
	struct watch_stats	 ws;
	struct pool_stats	 ps;
	struct listener		*l;
	struct child_emit	 ce = { emit, arg, 0 };
	char			 key[64], val[320];
	size_t			 i;
	int			 n = 0;

#define KV(k, ...) do {							\
	snprintf(val, sizeof(val), __VA_ARGS__);			\
	emit(k, val, arg);						\
} while (0)
	KV("version", "%s", PACKAGE_VERSION);
	KV("uptime_s", "%lld", (mono_ms() - srv.start_ms) / 1000);
	KV("config_file", "%s", srv.config_file);
	KV("config_generation", "%lu", srv.generation);
	TAILQ_FOREACH(l, &srv.listeners, entry) {
		snprintf(key, sizeof(key), "listener.%d", n++);
		KV(key, "%s %s", config_service_name(l->service), l->name);
	}
	KV("connections", "%u", srv.nconns);
	KV("connections.echo", "%u", srv.nconns_svc[SERVICE_ECHO]);
	KV("connections.broker", "%u", srv.nconns_svc[SERVICE_BROKER]);
	KV("connections.control", "%u", srv.nconns_svc[SERVICE_CONTROL]);
	KV("children_running", "%u", children_running());
	children_foreach(emit_child, &ce);
	pool_get_stats(&ps);
	KV("pool.threads", "%d", ps.threads);
	KV("pool.busy", "%d", ps.busy);
	KV("pool.queued", "%llu", ps.queued);
	KV("pool.completed", "%llu", ps.completed);
	KV("pool.rejected", "%llu", ps.rejected);
	KV("pool.longest_wait_s", "%.6f", ps.longest_wait_s);
#define X(name) KV(#name, "%llu", stats.name);
	STATS_COUNTERS(X)
#undef X
	for (i = 0; i < NVERBS; i++) {
		snprintf(key, sizeof(key), "requests.%s", verbs[i]);
		KV(key, "%llu", verb_count[i]);
	}
	for (i = 0; i < NCODES; i++) {
		snprintf(key, sizeof(key), "errors.%d", codes[i]);
		KV(key, "%llu", code_count[i]);
	}
	watch_get_stats(&ws);
	KV("callbacks", "%llu", ws.calls);
	KV("slow_callbacks", "%llu", ws.slow);
	if (ws.slowest_name != NULL) {
		size_t len = strlen(ws.slowest_name);

		/* The same name as in the slow-callback warning. */
		if (len > 3 && strcmp(ws.slowest_name + len - 3, "_cb") == 0)
			len -= 3;
		KV("slowest_callback", "%.*s %.6f s", (int)len, ws.slowest_name,
		    (double)ws.slowest_ns / 1e9);
	} else
		KV("slowest_callback", "- 0 s");
	for (i = 0; i < WATCH_NBUCKETS; i++) {
		snprintf(key, sizeof(key), "callbacks%s", watch_bucket_name(
		    (int)i));
		KV(key, "%llu", ws.hist[i]);
	}
#undef KV
}
