/* The verb table and the verbs; see verbs.h and brokerd-protocol(7). */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/audit.h"
#include "daemon/dfnative.h"
#include "daemon/reload.h"
#include "daemon/render.h"
#include "daemon/reply.h"
#include "daemon/server.h"
#include "daemon/session_child.h"
#include "daemon/verbs.h"

#define SLEEP_MAX_MS	10000
#define STR(x)		#x
#define XSTR(x)		STR(x)

typedef void (*verb_fn)(struct session *, char **w, int nargs);

/*
 * A row.  Verbs are case-insensitive; the names are STATS' keys.  A verb
 * with input is followed by DATA frames and END even when it is refused,
 * and that input is discarded.
 */
struct verb {
	const char	*name;
	int		 min_args, max_args;
	unsigned	 where;		/* VERB_BROKER | VERB_CONTROL ... */
	int		 input;
	const char	*usage;		/* arity errors say "usage: ..." */
	verb_fn		 fn;		/* w[0] is the verb as it came */
};

static void	verb_ping(struct session *, char **, int);
static void	verb_version(struct session *, char **, int);
static void	verb_df(struct session *, char **, int);
static void	verb_upper(struct session *, char **, int);
static void	verb_run(struct session *, char **, int);
static void	verb_stats(struct session *, char **, int);
static void	verb_sleep(struct session *, char **, int);
static void	verb_reload(struct session *, char **, int);
static void	verb_loglevel(struct session *, char **, int);
static void	verb_commands(struct session *, char **, int);

#define ANYWHERE	(VERB_BROKER | VERB_CONTROL)

/* In the order of STATS. */
static const struct verb verbs[] = {
	{ "ping", 0, 0, ANYWHERE, 0, NULL, verb_ping },
	{ "version", 0, 0, ANYWHERE, 0, NULL, verb_version },
	{ "df", 0, 1, ANYWHERE, 0, NULL, verb_df },
	{ "upper", 0, 0, ANYWHERE, 1, NULL, verb_upper },
	{ "run", 1, 1, ANYWHERE, 1, NULL, verb_run },
	{ "stats", 0, 0, ANYWHERE, 0, NULL, verb_stats },
	{ "sleep", 1, 1, ANYWHERE | VERB_DEBUG, 0,
	    "SLEEP <0-" XSTR(SLEEP_MAX_MS) ">", verb_sleep },
	{ "reload", 0, 0, VERB_CONTROL, 0, NULL, verb_reload },
	{ "loglevel", 1, 1, VERB_CONTROL, 0, NULL, verb_loglevel },
	{ "commands", 0, 0, ANYWHERE, 0, NULL, verb_commands },
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

/* Requests per row, and one more for every other word. */
static unsigned long long counts[NVERBS + 1];

void
verbs_report(struct stats_out *out)
{
	char	key[64];
	size_t	i;

	for (i = 0; i <= NVERBS; i++) {
		snprintf(key, sizeof(key), "requests.%s",
		    i < NVERBS ? verbs[i].name : "other");
		stats_kv(out, key, "%llu", counts[i]);
	}
}

/* The row named word, wherever it is allowed; NULL if none. */
static const struct verb *
verb_find(const char *word)
{
	size_t i;

	for (i = 0; i < NVERBS; i++)
		if (strcasecmp(word, verbs[i].name) == 0)
			return &verbs[i];
	return NULL;
}

static void
verb_count(const struct verb *v)
{
	stats_inc(STAT_requests);
	counts[v != NULL ? (size_t)(v - verbs) : NVERBS]++;
}

static int
verb_allowed(const struct verb *v, const struct session *s)
{
	return (v->where & s->where) != 0 &&
	    (!(v->where & VERB_DEBUG) || srv.debug);
}

/*
 * Splits line into at most max words; returns the count, -1 if more.
 * Only spaces separate (brokerd-protocol(7)): a tab is part of a word.
 */
static int
split(char *line, char **w, int max)
{
	int n = 0;

	for (;;) {
		while (*line == ' ')
			line++;
		if (*line == '\0')
			return n;
		if (n == max)
			return -1;
		w[n++] = line;
		while (*line != '\0' && *line != ' ')
			line++;
		if (*line != '\0')
			*line++ = '\0';
	}
}

void
verbs_dispatch(struct session *s, char *line, size_t len)
{
	const struct verb	*v;
	char			*w[3], esc[64];
	int			 n, allowed, first;

	if (memchr(line, '\0', len) != NULL) {
		audit_begin(s, NULL, NULL, s->line_in);
		s->requests++;
		verb_count(NULL);
		reply_final(s, 400, "NUL byte in request line");
		return;
	}
	if ((n = split(line, w, 3)) == 0)
		return;		/* blank lines are ignored */
	first = s->requests++ == 0;
	v = verb_find(w[0]);
	audit_begin(s, w[0], n > 1 ? w[1] : NULL, s->line_in);
	verb_count(v);
	if (log_enabled(LOG_DEBUG)) {
		str_escape(esc, sizeof(esc), w[0], strlen(w[0]), 32);
		log_ctx(LOG_DEBUG, s->conn->ctx, "request %s", esc);
	}
	allowed = v != NULL && verb_allowed(v, s);
	if (allowed && v->input)
		s->input = INPUT_DISCARD;	/* until END, unless taken */
	/*
	 * Draining: the health check fails from the start; the listeners
	 * close later, and from then on only a connection's first request
	 * is served (a balancer cannot retry it elsewhere).
	 */
	if (srv.draining && allowed && v->fn == verb_ping) {
		reply_final(s, 503, "draining");
		return;
	}
	if (srv.draining == DRAIN_CLOSING && !first) {
		reply_final(s, 503, "shutting down");
		return;
	}
	if (!allowed) {
		str_escape(esc, sizeof(esc), w[0], strlen(w[0]), 40);
		reply_final(s, 404, "unknown command \"%s\"", esc);
		return;
	}
	if (n < 0 || n - 1 < v->min_args || n - 1 > v->max_args) {
		if (v->usage != NULL)
			reply_final(s, 400, "usage: %s", v->usage);
		else
			reply_final(s, 400, "wrong number of arguments for %s",
			    w[0]);
		return;
	}
	v->fn(s, w, n - 1);
}

/* A request that ran on has ended: the loop goes on. */
static void
verb_done(struct session *s)
{
	s->running = 0;
	s->resume(s);
}

static void
verb_ping(struct session *s, char **w, int nargs)
{
	(void)w;
	(void)nargs;
	reply_final(s, 0, "pong");
}

static void
verb_version(struct session *s, char **w, int nargs)
{
	(void)w;
	(void)nargs;
	reply_final(s, 0, "brokerd %s", PACKAGE_VERSION);
}

static void
verb_stats(struct session *s, char **w, int nargs)
{
	(void)w;
	(void)nargs;
	render_stats(s);
}

static void
verb_commands(struct session *s, char **w, int nargs)
{
	(void)w;
	(void)nargs;
	render_commands(s, srv.cfg);
}

static void
native_done(struct df_table *t, int code, const char *err, void *arg)
{
	struct session *s = arg;

	s->dfn = NULL;
	if (t != NULL) {
		render_table(s, t, NULL);
		df_table_free(t);
		free(t);
	} else
		reply_final(s, code ? code : 500, "%s", err);
	verb_done(s);
}

/* A configured command by its name; 404 with what if there is none. */
static void
start_named(struct session *s, const char *name, const char *what)
{
	const struct command_spec *cmd;

	if ((cmd = config_command(srv.cfg, name)) == NULL)
		reply_final(s, 404, "%s", what);
	else
		session_child_start(s, cmd);
}

/* DF: the df command's table; DF --native: computed in the daemon. */
static void
verb_df(struct session *s, char **w, int nargs)
{
	if (nargs == 0) {
		start_named(s, "df", "no df command configured");
		return;
	}
	if (strcmp(w[1], "--native") != 0) {
		reply_final(s, 400, "wrong number of arguments for %s", w[0]);
		return;
	}
	s->dfn = dfnative_start(srv.cfg->limits.request_timeout_s * 1000,
	    native_done, s, s->conn->ctx);
	if (s->dfn == NULL)
		reply_final(s, 429, "busy: the worker queue is full");
	else
		s->running = 1;
}

static void
verb_upper(struct session *s, char **w, int nargs)
{
	(void)w;
	(void)nargs;
	start_named(s, "upper", "no upper command configured");
}

static void
verb_run(struct session *s, char **w, int nargs)
{
	char what[96], esc[64];

	(void)nargs;
	str_escape(esc, sizeof(esc), w[1], strlen(w[1]), 40);
	snprintf(what, sizeof(what), "unknown command \"%s\"", esc);
	start_named(s, w[1], what);
}

/* Debug mode: blocks the loop on purpose, for a slow callback. */
static void
verb_sleep(struct session *s, char **w, int nargs)
{
	char	*end;
	long	 ms;

	(void)nargs;
	ms = strtol(w[1], &end, 10);
	if (*end != '\0' || ms < 0 || ms > SLEEP_MAX_MS) {
		reply_final(s, 400, "usage: SLEEP <0-%d>", SLEEP_MAX_MS);
		return;
	}
	usleep((useconds_t)ms * 1000);
	reply_final(s, 0, "slept %ld ms", ms);
}

static void
reload_finished(int ok, unsigned long generation, const char *errors,
    void *arg)
{
	struct session *s = arg;

	if (ok)
		reply_final(s, 0, "generation %lu", generation);
	else {
		audit_logged(s);	/* reload.c logged each error */
		reply_final(s, 500, "%s", errors);
	}
	verb_done(s);
}

/* Never answered from inside reload_request(): running is set first. */
static void
verb_reload(struct session *s, char **w, int nargs)
{
	(void)w;
	(void)nargs;
	s->running = 1;
	s->reload.fn = reload_finished;
	s->reload.arg = s;
	s->reload.who = s->conn->ctx;
	reload_request(&s->reload);
}

static void
verb_loglevel(struct session *s, char **w, int nargs)
{
	char	names[128], esc[64];
	size_t	len = 0;
	int	level = log_levelbyname(w[1]), i;

	(void)nargs;
	if (level < 0 || level > LOG_DEBUG) {
		for (i = LOG_EMERG; i <= LOG_DEBUG && len < sizeof(names); i++)
			len += (size_t)snprintf(names + len, sizeof(names) -
			    len, "%s%s", i > LOG_EMERG ? ", " : "",
			    log_levelname(i));
		str_escape(esc, sizeof(esc), w[1], strlen(w[1]), 32);
		reply_final(s, 400, "unknown log level \"%s\"; one of %s",
		    esc, names);
		return;
	}
	log_setlevel(level);
	log_always(LOG_NOTICE, "log level set to %s by %s",
	    log_levelname(level), s->conn->ctx);
	reply_final(s, 0, "%s", log_levelname(level));
}
