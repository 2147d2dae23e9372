/*
 * The Prometheus text exposition format (version 0.0.4) of what STATS
 * shows.  It reads the same report sections STATS does, so a counter
 * added to STATS_COUNTERS (stats.h) or a verb added to the verb table
 * appears here with nothing more to write; what the format needs beyond
 * a key and a value (a type, a help line, labels) is decided per section.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "daemon/child.h"
#include "daemon/conn.h"
#include "daemon/metrics_text.h"
#include "daemon/server.h"
#include "daemon/stats.h"
#include "daemon/verbs.h"
#include "daemon/watch.h"

#define PREFIX	"brokerd_"

/* Help lines of the STATS_COUNTERS; a counter not listed gets a plain one. */
static const struct {
	const char	*key;
	const char	*help;
} counter_help[] = {
	{ "connections_accepted", "Connections admitted on any listener." },
	{ "connections_refused_max_clients",
	    "Connections refused: limits.max_clients reached." },
	{ "connections_refused_per_source",
	    "Connections refused: limits.max_clients_per_source reached." },
	{ "connections_refused_draining",
	    "Connections refused while shutting down." },
	{ "connections_refused_acl",
	    "Connections refused by the access lists." },
	{ "connections_refused_rate",
	    "Connections refused: max_connections_per_second reached." },
	{ "connections_idle_closed",
	    "Connections closed after limits.idle_timeout_s." },
	{ "accept_errors", "Failed accepts and connection set-ups." },
	{ "bytes_in", "Bytes received on closed connections." },
	{ "bytes_out", "Bytes sent on closed connections." },
	{ "bytes_spliced", "Bytes moved by splice(2)." },
	{ "requests_abandoned",
	    "Requests stopped: their client went away while they ran." },
	{ "children_spawned", "Commands started." },
	{ "children_failed", "Commands that could not start or failed." },
	{ "children_killed", "Commands killed (timeout, client gone)." },
	{ "children_output_limited", "Commands killed at their output_mb." },
	{ "requests_refused_acl",
	    "Requests refused by a command's access lists." },
	{ "orphans_killed", "Processes left behind by commands, killed." },
	{ "reloads_ok", "Configuration reloads that took effect." },
	{ "reloads_failed", "Configuration reloads refused." },
	{ "tls_handshakes", "TLS handshakes done." },
	{ "tls_handshake_failures", "TLS handshakes that failed." },
};

/* What one section of the report becomes. */
struct render {
	struct evbuffer	*out;
	int		 begun;		/* the family's header is out */
};

/* A value as STATS prints it: digits, maybe a fraction; nothing else. */
static int
numeric(const char *v)
{
	char *end;

	if (*v == '\0' || strchr("0123456789", *v) == NULL)
		return 0;
	(void)strtod(v, &end);
	return *end == '\0';
}

static void
family(struct evbuffer *out, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(out, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX
	    "%s %s\n", name, help, name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void
label_value(struct evbuffer *out, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(out, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, v, 1);
	}
}

static void
sample(struct evbuffer *out, const char *name, const char *label,
    const char *lvalue, const char *value)
{
	evbuffer_add_printf(out, PREFIX "%s", name);
	if (label != NULL) {
		evbuffer_add_printf(out, "{%s=\"", label);
		label_value(out, lvalue);
		evbuffer_add(out, "\"}", 2);
	}
	evbuffer_add_printf(out, " %s\n", value);
}

/*
 * STATS_COUNTERS: brokerd_<name>_total.  requests is left out: the
 * requests section has it by verb, and the sum of those is the total.
 */
static void
emit_counter(const char *key, const char *value, void *arg)
{
	struct render	*r = arg;
	const char	*help = NULL;
	char		 name[96], plain[160];
	size_t		 i;

	if (strcmp(key, "requests") == 0 || !numeric(value))
		return;
	for (i = 0; i < sizeof(counter_help) / sizeof(counter_help[0]); i++)
		if (strcmp(counter_help[i].key, key) == 0)
			help = counter_help[i].help;
	if (help == NULL) {
		snprintf(plain, sizeof(plain), "The STATS counter %s.", key);
		help = plain;
	}
	snprintf(name, sizeof(name), "%s_total", key);
	family(r->out, name, "counter", help);
	sample(r->out, name, NULL, NULL, value);
}

/* requests.<verb> and errors.<code>: one family with a label. */
static void
emit_labelled(struct render *r, const char *key, const char *value,
    const char *prefix, const char *name, const char *label,
    const char *type, const char *help)
{
	size_t n = strlen(prefix);

	if (strncmp(key, prefix, n) != 0 || key[n] == '\0' ||
	    !numeric(value))
		return;
	if (!r->begun) {
		family(r->out, name, type, help);
		r->begun = 1;
	}
	sample(r->out, name, label, key + n, value);
}

static void
emit_request(const char *key, const char *value, void *arg)
{
	emit_labelled(arg, key, value, "requests.", "requests_total", "verb",
	    "counter", "Requests by verb (\"other\": no such verb).");
}

static void
emit_error(const char *key, const char *value, void *arg)
{
	emit_labelled(arg, key, value, "errors.", "errors_total", "code",
	    "counter", "ERR replies by code.");
}

static void emit_known(const char *, const char *, void *);

/* connections.SERVICE as labels; the section's other keys are known. */
static void
emit_connection(const char *key, const char *value, void *arg)
{
	if (strncmp(key, "connections.", 12) != 0) {
		emit_known(key, value, arg);
		return;
	}
	emit_labelled(arg, key, value, "connections.", "connections",
	    "service", "gauge", "Open connections by service.");
}

/* Gauges and counters of sections whose keys are few and known. */
static const struct {
	const char	*key;
	const char	*name;
	const char	*type;
	const char	*help;
} known[] = {
	{ "children_running", "children_running", "gauge",
	    "Commands running now." },
	{ "pool.threads", "pool_threads", "gauge", "Worker pool threads." },
	{ "pool.busy", "pool_busy", "gauge", "Worker threads in a job." },
	{ "pool.queued", "pool_queued", "gauge",
	    "Jobs waiting for a worker." },
	{ "pool.completed", "pool_completed_total", "counter",
	    "Jobs the pool finished." },
	{ "pool.rejected", "pool_rejected_total", "counter",
	    "Jobs refused: the queue was full." },
	{ "pool.longest_wait_s", "pool_longest_wait_seconds", "gauge",
	    "Longest wait of a job for a worker." },
	{ "slow_callbacks", "slow_callbacks_total", "counter",
	    "Callbacks longer than slow_callback_ms." },
	{ "tls_connections", "tls_connections", "gauge",
	    "TLS connections open now, their handshake done." },
};

static void
emit_known(const char *key, const char *value, void *arg)
{
	struct render	*r = arg;
	size_t		 i;

	if (!numeric(value))
		return;
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(known[i].key, key) == 0) {
			family(r->out, known[i].name, known[i].type,
			    known[i].help);
			sample(r->out, known[i].name, NULL, NULL, value);
		}
}

static void
section(struct evbuffer *out, stats_section_fn fn, stats_emit_fn emit)
{
	struct render		r = { out, 0 };
	struct stats_out	so = { emit, &r };

	fn(&so);
}

/* The callback durations: cumulative buckets, their sum and count. */
static void
histogram(struct evbuffer *out)
{
	struct watch_stats	ws;
	unsigned long long	cum = 0;
	long long		le;
	int			i;

	watch_get_stats(&ws);
	family(out, "callback_duration_seconds", "histogram",
	    "Time the event loop spent in each callback.");
	for (i = 0; i < WATCH_NBUCKETS; i++) {
		cum += ws.hist[i];
		if ((le = watch_bucket_le_ns(i)) >= 0)
			evbuffer_add_printf(out, PREFIX
			    "callback_duration_seconds_bucket{le=\"%g\"} "
			    "%llu\n", (double)le / 1e9, cum);
		else
			evbuffer_add_printf(out, PREFIX
			    "callback_duration_seconds_bucket{le=\"+Inf\"} "
			    "%llu\n", cum);
	}
	evbuffer_add_printf(out, PREFIX "callback_duration_seconds_sum %.9f\n"
	    PREFIX "callback_duration_seconds_count %llu\n",
	    (double)ws.sum_ns / 1e9, cum);
}

void
metrics_text_render(struct evbuffer *out, double start_time_s)
{
	family(out, "build_info", "gauge", "The version running (always 1).");
	evbuffer_add_printf(out, PREFIX "build_info{version=\"");
	label_value(out, PACKAGE_VERSION);
	evbuffer_add_printf(out, "\"} 1\n");
	family(out, "start_time_seconds", "gauge",
	    "When the daemon started, in seconds since the epoch.");
	evbuffer_add_printf(out, PREFIX "start_time_seconds %.3f\n",
	    start_time_s);
	family(out, "config_generation", "gauge",
	    "The configuration in use: 1 at start, one more per reload.");
	evbuffer_add_printf(out, PREFIX "config_generation %lu\n",
	    srv.generation);
	family(out, "draining", "gauge",
	    "1 while the daemon drains (limits.drain_delay_s), else 0.");
	evbuffer_add_printf(out, PREFIX "draining %d\n",
	    srv.draining != DRAIN_NONE);
	section(out, conn_report, emit_connection);
	section(out, children_report, emit_known);
	section(out, stats_report_pool, emit_known);
	section(out, stats_report_counters, emit_counter);
	section(out, verbs_report, emit_request);
	section(out, stats_report_errors, emit_error);
	section(out, stats_report_callbacks, emit_known);
	histogram(out);
}
