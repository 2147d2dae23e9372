/*
 * The broker protocol, server side: request lines in, replies out in
 * order, commands wired between the client and a child with backpressure
 * both ways.  See brokerd-protocol(7).
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/proto.h"
#include "daemon/bufio.h"
#include "daemon/child.h"
#include "daemon/dfnative.h"
#include "daemon/dfparse.h"
#include "daemon/reload.h"
#include "daemon/server.h"
#include "daemon/session.h"
#include "daemon/watch.h"
#include "daemon/xport.h"

/*
 * What a connection holds (brokerd(8), "Memory per connection"): CONN_MAX
 * of unparsed input and pending output together, plus one 4 KiB read and
 * the last reply; max_clients times that must fit the unit's MemoryMax.
 * Requests are taken while less than OUT_HIGH is pending, input is read
 * up to IN_MAX, and a command's output up to CONN_MAX, which streams
 * measurably faster than OUT_HIGH would.  A running command's input
 * (CHILD_STDIN_HIGH) and df output (DF_MAX) come on top, at most
 * limits.max_children times.
 */
#define CONN_MAX	(128 * 1024)
#define OUT_HIGH	(64 * 1024)
#define OUT_LOW		(32 * 1024)
#define IN_MAX		(64 * 1024)	/* unparsed input while busy */
#define COPY_MAX	(16 * 1024)	/* replies copied, not moved */
#define DF_MAX		(1024 * 1024)	/* df output we are willing to parse */
#define SLEEP_MAX_MS	10000
#define READ_MORE	(256 * 1024)	/* per read callback, beyond 4 KiB */
#define FIRST_READ	4096		/* read when readable; full: more? */
#define SPLICE_PIPE_SIZE (256 * 1024)	/* staging and stdin pipes, spliced */
#define STAGE_BATCH	(256 * 1024)	/* staged at most, then passed on */
#define WRITE_MAX	(256 * 1024)	/* per write callback */

enum input { INPUT_NONE, INPUT_FORWARD, INPUT_DISCARD };

/*
 * Who reads the socket: the read callback, into s->in, with the idle
 * timeout; the splice path (the callback only says it is readable),
 * with none; or nobody.
 */
enum rmode { READ_OFF, READ_BUF, READ_SPLICE };

/* What session_splice_in() did. */
enum { SPLICE_NO, SPLICE_WAIT, SPLICE_AGAIN, SPLICE_GONE };

int	session_splice = -1;		/* -1: decide per request */

struct session {
	struct conn		*conn;
	struct evbuffer		*in;	/* read, not parsed yet */
	struct evbuffer		*out;	/* on its way to the client */
	enum rmode		 rmode;
	int			 writing;	/* write interest armed */
	size_t			 wlow;	/* output this low: take more */
	int			 control;	/* on the control socket */
	struct proto_parser	 parser;
	struct event		*req_timer;
	struct config		*cfg;	/* held while a command runs */
	const struct command_spec *cmd;
	struct child		*child;
	struct evbuffer		*dfout;
	size_t			 dfdropped;
	struct dfn_req		*dfn;		/* DF --native in flight */
	struct reload_waiter	 reload;	/* RELOAD in flight */
	enum input		 input;
	/* Splice mode (see splice_wanted()) for the running command. */
	int			 splice;
	int			 stage[2];	/* staging pipe for input */
	size_t			 staged;	/* bytes in it */
	int			 stage_end;	/* END came: close stdin after */
	struct evbuffer		*rbuf;	/* child output */
	int			 running;
	int			 eof;
	int			 closing;
};

/* Requests per verb, for STATS; the last one counts every other word. */
static const char *const verbs[] = {
	"ping", "version", "df", "upper", "run", "stats", "sleep", "reload",
	"loglevel", "other"
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static unsigned long long verb_count[NVERBS];

static void	session_process(struct session *);
static void	stage_close(struct session *);
static void	session_fail(struct session *, int, const char *, ...)
		    LOG_PRINTF(3, 4);

static void
count_request(const char *verb)
{
	size_t i;

	stats_inc(STAT_requests);
	for (i = 0; i < NVERBS - 1; i++)
		if (strcasecmp(verb, verbs[i]) == 0)
			break;
	verb_count[i]++;
}

void
session_report(struct stats_out *out)
{
	char	key[64];
	size_t	i;

	for (i = 0; i < NVERBS; i++) {
		snprintf(key, sizeof(key), "requests.%s", verbs[i]);
		stats_kv(out, key, "%llu", verb_count[i]);
	}
}

static const char *
session_ctx(void *arg)
{
	return ((struct session *)arg)->conn->ctx;
}

/*
 * Who reads the socket from now on.  -1 if the loop cannot watch it: the
 * request is failed, and the caller must stop.
 */
static int
read_mode(struct session *s, enum rmode m)
{
	static const enum xport_want want[] = {
		[READ_OFF] = XPORT_OFF, [READ_BUF] = XPORT_ON,
		[READ_SPLICE] = XPORT_ON_UNTIMED
	};

	s->rmode = m;
	if (xport_want_read(s->conn->xport, want[m]) == 0 || m == READ_OFF)
		return 0;
	s->rmode = READ_OFF;
	session_fail(s, 500, "internal error: cannot watch the connection");
	return -1;
}

/* Stops the read callback of mode m, if that is the one armed. */
static void
read_stop(struct session *s, enum rmode m)
{
	if (s->rmode == m)
		(void)read_mode(s, READ_OFF);
}

/*
 * Output is pending: the write callback must come.  -1 if the loop
 * cannot watch the connection: it is closed, and the caller must stop.
 */
static int
session_kick(struct session *s)
{
	if (s->writing || evbuffer_get_length(s->out) == 0)
		return 0;
	if (xport_want_write(s->conn->xport, XPORT_ON) != 0) {
		log_ctx(LOG_ERR, s->conn->ctx, "cannot watch the connection");
		conn_close(s->conn);
		return -1;
	}
	s->writing = 1;
	return 0;
}

static void LOG_PRINTF(3, 4)
session_final(struct session *s, int code, const char *fmt, ...)
{
	struct evbuffer	*out = s->out;
	char		 text[512];
	va_list		 ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* bytes_out counts what is queued for the client. */
	if (code == 0)
		s->conn->bytes_out += (unsigned long long)evbuffer_add_printf(
		    out, text[0] ? "OK %s\n" : "OK\n", text);
	else {
		stats_count_error(code);
		s->conn->bytes_out += (unsigned long long)evbuffer_add_printf(
		    out, "ERR %d %s\n", code, text);
		log_ctx(code >= 500 ? LOG_WARNING : LOG_INFO, s->conn->ctx,
		    "ERR %d %s", code, text);
	}
}

/*
 * Frames the whole of buf as DATA (at most PROTO_MAX_FRAME each).  Small
 * replies are copied: moving their chains would queue the slack of many
 * small chains, which a client that does not read keeps.
 */
static void
session_data_to(struct session *s, struct evbuffer *buf, struct evbuffer *out)
{
	char		 hdr[PROTO_DATA_HDR_MAX];
	size_t		 n;

	while ((n = evbuffer_get_length(buf)) > 0) {
		if (n > PROTO_MAX_FRAME)
			n = PROTO_MAX_FRAME;
		evbuffer_add(out, hdr, proto_data_header(hdr, n));
		if (n <= COPY_MAX) {
			evbuffer_add(out, evbuffer_pullup(buf, (ev_ssize_t)n),
			    n);
			evbuffer_drain(buf, n);
		} else
			evbuffer_remove_buffer(buf, out, n);
		s->conn->bytes_out += n;
	}
}

static void
session_data(struct session *s, struct evbuffer *buf)
{
	session_data_to(s, buf, s->out);
}

/* A framing error: answer, then close once the answer is out. */
static void
session_fail(struct session *s, int code, const char *fmt, ...)
{
	char	text[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (s->child != NULL) {
		child_abandon(s->child);
		s->child = NULL;
	}
	stage_close(s);
	evtimer_del(s->req_timer);
	session_final(s, code, "%s", text);
	s->closing = 1;
	s->input = INPUT_NONE;
	read_stop(s, s->rmode);
	s->wlow = 0;
	if (evbuffer_get_length(s->out) == 0)
		conn_close(s->conn);
	else
		(void)session_kick(s);
}

static void
emit_stat(const char *key, const char *value, void *arg)
{
	evbuffer_add_printf(arg, "%s\t%s\n", key, value);
}

static void
reply_stats(struct session *s)
{
	struct evbuffer *buf = evbuffer_new();

	stats_report(emit_stat, buf);
	session_data(s, buf);
	evbuffer_free(buf);
	session_final(s, 0, "%s", "");
}

/* The DF table: header, escaped tab-separated rows, OK <rows>. */
static void
reply_table(struct session *s, struct df_table *t, const char *warning)
{
	struct evbuffer	*buf = evbuffer_new();
	char		*field = NULL;
	size_t		 i, cap = 0, need;
	int		 j;

	for (j = 0; j < DF_NFIELDS; j++)
		evbuffer_add_printf(buf, "%s%c", df_field_names[j],
		    j == DF_NFIELDS - 1 ? '\n' : '\t');
	for (i = 0; i < t->nrows; i++)
		for (j = 0; j < DF_NFIELDS; j++) {
			/* Escaping at most doubles it; df_escape keeps 2. */
			need = 2 * strlen(t->rows[i].field[j]) + 3;
			if (need > cap) {
				field = xreallocarray(field, need, 1);
				cap = need;
			}
			evbuffer_add(buf, field, df_escape(field, cap,
			    t->rows[i].field[j]));
			evbuffer_add(buf, j == DF_NFIELDS - 1 ? "\n" : "\t", 1);
		}
	free(field);
	session_data(s, buf);
	evbuffer_free(buf);
	if (warning != NULL) {
		log_ctx(LOG_WARNING, s->conn->ctx, "%s", warning);
		session_final(s, 0, "%zu warning: %s", t->nrows, warning);
	} else
		session_final(s, 0, "%zu", t->nrows);
}

/* warning: how it failed, if it did; errline: its first stderr line. */
static void
reply_df(struct session *s, const char *warning, const char *errline)
{
	struct df_table	 t;
	char		 err[256];
	size_t		 len = evbuffer_get_length(s->dfout);

	if (s->dfdropped > 0) {
		session_final(s, 502, "%s output is larger than %d bytes",
		    s->cmd->name, DF_MAX);
		return;
	}
	/* evbuffer_pullup() has no bytes to point at: NULL. */
	if (len == 0) {
		if (warning != NULL)
			session_final(s, 502, "%s", warning);
		else
			session_final(s, 502, "%s printed nothing%s%s",
			    s->cmd->name, *errline ? ": " : "", errline);
		return;
	}
	if (dfparse((const char *)evbuffer_pullup(s->dfout, -1), len, &t, err,
	    sizeof(err)) != 0) {
		if (warning != NULL)
			session_final(s, 502, "%s", warning);
		else
			session_final(s, 502, "%s: %s", s->cmd->name, err);
		return;
	}
	if (warning != NULL && t.nrows == 0)
		session_final(s, 502, "%s", warning);
	else
		reply_table(s, &t, warning);
	df_table_free(&t);
}

static void
native_done(struct df_table *t, int code, const char *err, void *arg)
{
	struct session *s = arg;

	s->dfn = NULL;
	if (t != NULL) {
		reply_table(s, t, NULL);
		df_table_free(t);
		free(t);
	} else
		session_final(s, code ? code : 500, "%s", err);
	s->running = 0;
	session_process(s);
}

static void
reload_finished(int ok, unsigned long generation, const char *errors,
    void *arg)
{
	struct session *s = arg;

	if (ok)
		session_final(s, 0, "generation %lu", generation);
	else
		session_final(s, 500, "%s", errors);
	s->running = 0;
	session_process(s);
}

/* df's output, kept for parsing up to DF_MAX; the rest is counted. */
static int
df_out(struct session *s, int fd)
{
	size_t	room = DF_MAX - evbuffer_get_length(s->dfout);
	ssize_t	n;

	if (room > 0)
		n = bufio_read(s->dfout, fd, room);
	else if ((n = bufio_read(s->rbuf, fd, READ_MORE)) > 0) {
		s->dfdropped += (size_t)n;
		evbuffer_drain(s->rbuf, (size_t)n);
	}
	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

static int
child_out(struct child *ch, int fd, void *arg)
{
	struct session	*s = arg;
	struct evbuffer	*out = s->out;
	ssize_t		 n;

	if (s->cmd->output == OUTPUT_DF)
		return df_out(s, fd);
	/* The client is slower than the child: let the pipe fill up. */
	if (evbuffer_get_length(out) >= CONN_MAX) {
		(void)child_pause_stdout(ch, 1);	/* a delete: cannot fail */
		return 1;
	}
	n = bufio_read(s->rbuf, fd, CONN_MAX - evbuffer_get_length(out));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return 0;
	if (n < 0)
		return 1;
	if (s->splice && evbuffer_get_length(out) == 0) {
		/*
		 * Nothing queued: write the frame now and leave only what the
		 * socket did not take to the write callback, so a stream that
		 * keeps up costs no write event per chunk.  An error is left
		 * for the write callback to find.  (Measured a gain only where
		 * the daemon shares its CPU with the child, as splicing.)
		 */
		session_data(s, s->rbuf);
		(void)xport_write_buf(s->conn->xport, out, -1);
	} else
		session_data(s, s->rbuf);
	if (evbuffer_get_length(out) >= CONN_MAX)
		(void)child_pause_stdout(ch, 1);	/* a delete: cannot fail */
	(void)session_kick(s);	/* closed on failure: the child is let go */
	return 1;
}

static void
child_drained(struct child *ch, void *arg)
{
	(void)ch;
	session_process(arg);
}

static void
child_done(struct child *ch, void *arg)
{
	struct session	*s = arg;
	const char	*name = s->cmd->name, *line = child_stderr_line(ch);
	char		 warning[400];
	int		 st = child_wait_status(ch);

	if (child_timed_out(ch)) {
		int t = s->cmd->timeout_s > 0 ? s->cmd->timeout_s :
		    s->cfg->limits.command_timeout_s;

		session_final(s, 504, "%s timed out after %d s", name, t);
	} else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		if (s->cmd->output == OUTPUT_DF)
			reply_df(s, NULL, line);
		else
			session_final(s, 0, "%s", "");
	} else {
		if (WIFEXITED(st))
			snprintf(warning, sizeof(warning),
			    "%s exited with status %d%s%s", name,
			    WEXITSTATUS(st), *line ? ": " : "", line);
		else
			snprintf(warning, sizeof(warning),
			    "%s killed by signal %d%s%s", name,
			    WTERMSIG(st), *line ? ": " : "", line);
		if (s->cmd->output == OUTPUT_DF)
			reply_df(s, warning, line);
		else
			session_final(s, 502, "%s", warning);
	}
	child_free(ch);
	s->child = NULL;
	stage_close(s);
	s->running = 0;
	s->cmd = NULL;
	config_unref(s->cfg);
	s->cfg = NULL;
	if (s->dfout != NULL) {
		evbuffer_free(s->dfout);
		s->dfout = NULL;
	}
	if (s->input == INPUT_FORWARD)
		s->input = INPUT_DISCARD;
	session_process(s);
}

static const struct child_cbs session_child_cbs = {
	child_out, child_drained, child_done
};

/*
 * Whether a command's input goes from the socket to its stdin by splice(2)
 * rather than through our buffers.  Splicing saves the daemon two copies
 * per byte, but hands the child pages to free and holds its stdin pipe's
 * lock for whole socket reads: when the child runs on another CPU it pays
 * more than the daemon saves (tests/bench/RESULTS.md).  So: splice when
 * the daemon may use only one CPU, which its children then share.
 */
static int
splice_wanted(void)
{
	cpu_set_t set;

	if (session_splice >= 0)
		return session_splice;
	return sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) == 1;
}

static void
start_command(struct session *s, const struct command_spec *cmd)
{
	struct child_opts o = {
		.name = cmd->name, .path = cmd->path, .argv = cmd->argv,
		.input = cmd->input, .ctx = s->conn->ctx,
		.timeout_s = cmd->timeout_s > 0 ? cmd->timeout_s :
		    srv.cfg->limits.command_timeout_s
	};
	char err[512];

	if (children_running() >= (unsigned)srv.cfg->limits.max_children) {
		session_final(s, 429, "busy: %u commands running",
		    children_running());
		return;
	}
	s->child = child_spawn(&o, &session_child_cbs, s, err, sizeof(err));
	if (s->child == NULL) {
		/* Out of fds or processes is ours (500), not the command's. */
		session_final(s, errno == EMFILE || errno == ENFILE ||
		    errno == ENOMEM || errno == EAGAIN ? 500 : 502, "%s", err);
		return;
	}
	s->running = 1;
	s->cfg = config_ref(srv.cfg);
	s->cmd = cmd;
	s->splice = splice_wanted();
	/*
	 * A spliced pipe buffer holds a whole socket fragment (up to 32 KiB
	 * from a loopback peer), not a page: fewer buffers keep the bytes
	 * the child's input can hold near what copying would.
	 */
	if (s->splice && cmd->input)
		(void)fcntl(child_stdin_fd(s->child), F_SETPIPE_SZ,
		    SPLICE_PIPE_SIZE);
	if (cmd->output == OUTPUT_DF)
		s->dfout = evbuffer_new();
	s->dfdropped = 0;
	if (cmd->input)
		s->input = INPUT_FORWARD;
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

static void
session_request(struct session *s, char *line, size_t len)
{
	const struct command_spec	*cmd;
	char				*w[3], esc[64];
	int				 n;
	long				 ms;

	if (memchr(line, '\0', len) != NULL) {
		count_request("other");
		session_final(s, 400, "NUL byte in request line");
		return;
	}
	if ((n = split(line, w, 3)) == 0)
		return;		/* blank lines are ignored */
	count_request(w[0]);
	if (log_enabled(LOG_DEBUG)) {
		str_escape(esc, sizeof(esc), w[0], strlen(w[0]), 32);
		log_ctx(LOG_DEBUG, s->conn->ctx, "request %s", esc);
	}
	/* UPPER and RUN always carry input up to END, even when refused. */
	if (strcasecmp(w[0], "UPPER") == 0 || strcasecmp(w[0], "RUN") == 0)
		s->input = INPUT_DISCARD;
	if (srv.draining) {
		session_final(s, 503, "shutting down");
		return;
	}
	if (strcasecmp(w[0], "PING") == 0 && n == 1)
		session_final(s, 0, "pong");
	else if (strcasecmp(w[0], "VERSION") == 0 && n == 1)
		session_final(s, 0, "brokerd %s", PACKAGE_VERSION);
	else if (strcasecmp(w[0], "STATS") == 0 && n == 1)
		reply_stats(s);
	else if (strcasecmp(w[0], "DF") == 0 && n == 2 &&
	    strcmp(w[1], "--native") == 0) {
		s->dfn = dfnative_start(srv.cfg->limits.request_timeout_s *
		    1000, native_done, s, s->conn->ctx);
		if (s->dfn == NULL)
			session_final(s, 429, "busy: the worker queue is full");
		else
			s->running = 1;
	} else if (strcasecmp(w[0], "RELOAD") == 0 && n == 1 &&
	    s->control) {
		s->running = 1;
		reload_request(&s->reload);
	} else if (strcasecmp(w[0], "LOGLEVEL") == 0 && n == 2 &&
	    s->control) {
		int level = log_levelbyname(w[1]);

		if (level < 0 || level > LOG_DEBUG)
			session_final(s, 400, "unknown log level");
		else {
			log_setlevel(level);
			log_notice("log level set to %s by %s",
			    log_levelname(level), s->conn->ctx);
			session_final(s, 0, "%s", log_levelname(level));
		}
	} else if (strcasecmp(w[0], "DF") == 0 && n == 1) {
		if ((cmd = config_command(srv.cfg, "df")) == NULL)
			session_final(s, 404, "no df command configured");
		else
			start_command(s, cmd);
	} else if (strcasecmp(w[0], "UPPER") == 0 && n == 1) {
		if ((cmd = config_command(srv.cfg, "upper")) == NULL)
			session_final(s, 404, "no upper command configured");
		else
			start_command(s, cmd);
	} else if (strcasecmp(w[0], "RUN") == 0 && n == 2) {
		if ((cmd = config_command(srv.cfg, w[1])) == NULL) {
			str_escape(esc, sizeof(esc), w[1], strlen(w[1]), 40);
			session_final(s, 404, "unknown command \"%s\"", esc);
		} else
			start_command(s, cmd);
	} else if (strcasecmp(w[0], "SLEEP") == 0 && srv.debug) {
		char *end;

		ms = n == 2 ? strtol(w[1], &end, 10) : -1;
		if (n != 2 || *end != '\0' || ms < 0 || ms > SLEEP_MAX_MS)
			session_final(s, 400, "usage: SLEEP <0-%d>",
			    SLEEP_MAX_MS);
		else {
			/* Blocks the loop on purpose: a slow callback. */
			usleep((useconds_t)ms * 1000);
			session_final(s, 0, "slept %ld ms", ms);
		}
	} else if (strcasecmp(w[0], "PING") == 0 ||
	    strcasecmp(w[0], "VERSION") == 0 ||
	    strcasecmp(w[0], "STATS") == 0 || strcasecmp(w[0], "DF") == 0 ||
	    strcasecmp(w[0], "UPPER") == 0 || strcasecmp(w[0], "RUN") == 0 ||
	    (s->control &&
	    (strcasecmp(w[0], "RELOAD") == 0 ||
	    strcasecmp(w[0], "LOGLEVEL") == 0)))
		session_final(s, 400, "wrong number of arguments for %s",
		    w[0]);
	else {
		str_escape(esc, sizeof(esc), w[0], strlen(w[0]), 40);
		session_final(s, 404, "unknown command \"%s\"", esc);
	}
}

static void
session_input_line(struct session *s, const char *line)
{
	if (*line == '\0')
		return;		/* blank lines are ignored here too */
	if (strcasecmp(line, "END") != 0) {
		session_fail(s, 400, "expected DATA or END");
		return;
	}
	/* Staged input is passed on first; stage_drain() closes then. */
	if (s->input == INPUT_FORWARD && s->child != NULL) {
		if (s->staged > 0)
			s->stage_end = 1;
		else
			child_close_stdin(s->child);
	}
	s->input = INPUT_NONE;
}

/* Whether input may be consumed now; otherwise reading waits. */
static int
session_can_consume(struct session *s)
{
	struct evbuffer *out = s->out, *cin;

	if (s->closing)
		return 0;
	if (s->input == INPUT_FORWARD) {
		cin = s->child != NULL ? child_stdin(s->child) : NULL;
		return cin == NULL || evbuffer_get_length(cin) <
		    CHILD_STDIN_HIGH;
	}
	if (s->input == INPUT_DISCARD)
		return 1;
	return !s->running && evbuffer_get_length(out) <= OUT_HIGH;
}

/*
 * Between input frames: moves the next line (a DATA header, END) from the
 * socket into the input buffer, and not one byte more, so the payload
 * after it can be spliced.  A line that is not all there yet, or is
 * longer than a header, is left to the read callback (SPLICE_NO).
 */
static int
read_line_exact(struct session *s, int sfd)
{
	char		 buf[PROTO_DATA_HDR_MAX], *nl;
	ssize_t		 n;
	size_t		 len;
	int		 flags = MSG_PEEK | MSG_DONTWAIT;

	for (;;) {
		n = recv(sfd, buf, sizeof(buf), flags);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return SPLICE_WAIT;
		if (n < 0) {
			log_ctx(LOG_DEBUG, s->conn->ctx, "read: %s",
			    strerror(errno));
			conn_close(s->conn);
			return SPLICE_GONE;
		}
		if (n == 0) {
			s->eof = 1;
			return SPLICE_AGAIN;
		}
		if (!(flags & MSG_PEEK))
			break;
		if ((nl = memchr(buf, '\n', (size_t)n)) == NULL)
			return SPLICE_NO;
		len = (size_t)(nl - buf) + 1;
		/* Take exactly the line: it is there, and ours alone. */
		flags = MSG_DONTWAIT;
		n = recv(sfd, buf, len, flags);
		if (n == (ssize_t)len)
			break;
		if (n > 0) {	/* cannot happen; keep the bytes anyway */
			len = (size_t)n;
			break;
		}
	}
	evbuffer_add(s->in, buf, (size_t)n);
	s->conn->bytes_in += (unsigned long long)n;
	return SPLICE_AGAIN;
}

/* Input staged for the child and its pipe, dropped. */
static void
stage_close(struct session *s)
{
	if (s->stage[0] >= 0) {
		close(s->stage[0]);
		close(s->stage[1]);
		s->stage[0] = s->stage[1] = -1;
	}
	s->staged = 0;
	s->stage_end = 0;
}

/*
 * Moves the staged input into the child's stdin pipe: 0 once all of it
 * is there, else -1 with errno (EAGAIN: stdin is full; EPIPE: closed).
 */
static int
stage_flush(struct session *s, int ifd)
{
	ssize_t n;

	while (s->staged > 0) {
		n = splice(s->stage[0], NULL, ifd, NULL, s->staged,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;	/* the bytes were there */
			return -1;
		}
		s->staged -= (size_t)n;
	}
	return 0;
}

/* Waits for room in the child's stdin; -1 once the request failed. */
static int
stdin_wait(struct session *s)
{
	if (child_stdin_wait(s->child) == 0)
		return 0;
	session_fail(s, 500, "internal error: cannot wait for %s's input",
	    s->cmd->name);
	return -1;
}

/*
 * Staged input goes to the child before anything else does: before its
 * stdin is closed at END, and before the bufferevent reads again.
 */
static int
stage_drain(struct session *s)
{
	int ifd = s->child != NULL ? child_stdin_fd(s->child) : -1;

	if (ifd < 0) {
		stage_close(s);
		return 0;
	}
	if (s->staged > 0 && stage_flush(s, ifd) != 0) {
		if (errno == EAGAIN)
			return stdin_wait(s);
		/* The child closed its stdin: drop the rest. */
		child_stdin_broken(s->child);
		stage_close(s);
		return 0;
	}
	if (s->stage_end) {
		s->stage_end = 0;
		child_close_stdin(s->child);
	}
	return 0;
}

/*
 * Input for a child, with nothing buffered: the socket is read here, not
 * by the read callback.  Lines and headers come in one at a time, and each
 * frame's payload goes from the socket into the child's stdin by
 * splice(2), never through our memory.  It goes by way of a staging pipe
 * of our own: splicing from a socket holds the destination pipe's lock
 * for the whole socket read, which the child, reading that pipe, would
 * wait on; moving buffers from pipe to pipe is quick.  The staging pipe
 * is passed on in batches of STAGE_BATCH, or whenever the socket runs
 * dry, so the child wakes up for a good amount of input each time.
 */
static int
session_splice_in(struct session *s)
{
	size_t			 left;
	ssize_t			 n;
	int			 sfd = xport_splice_fd(s->conn->xport), ifd, r;

	if (!s->splice || s->input != INPUT_FORWARD || s->child == NULL ||
	    s->closing)
		return SPLICE_NO;
	if ((ifd = child_stdin_fd(s->child)) < 0) {
		stage_close(s);		/* it broke: the rest is dropped */
		return SPLICE_NO;
	}
	if (s->eof || evbuffer_get_length(s->in) > 0) {
		/* Input in our buffer is next: what is staged first. */
		if (stage_flush(s, ifd) != 0)
			goto stdin_blocked;
		return SPLICE_NO;
	}
	read_stop(s, READ_BUF);
	for (;;) {
		if ((left = proto_frame_left(&s->parser)) == 0) {
			r = read_line_exact(s, sfd);
			if (r == SPLICE_AGAIN || r == SPLICE_GONE)
				return r;
			/* The socket is dry or the line incomplete. */
			if (stage_flush(s, ifd) != 0)
				goto stdin_blocked;
			if (r == SPLICE_WAIT && read_mode(s, READ_SPLICE) != 0)
				return SPLICE_GONE;
			return r;
		}
		/* What was read with the header goes first. */
		if (child_stdin_flush(s->child) > 0) {
			read_stop(s, READ_SPLICE);
			return stdin_wait(s) == 0 ? SPLICE_WAIT : SPLICE_GONE;
		}
		if (child_stdin_fd(s->child) < 0)
			return SPLICE_AGAIN;
		if (s->stage[0] < 0) {
			if (pipe2(s->stage, O_NONBLOCK | O_CLOEXEC) != 0) {
				log_ctx(LOG_WARNING, s->conn->ctx, "pipe: %s; "
				    "copying input instead", strerror(errno));
				s->stage[0] = s->stage[1] = -1;
				s->splice = 0;
				return SPLICE_NO;
			}
			(void)fcntl(s->stage[1], F_SETPIPE_SZ,
			    SPLICE_PIPE_SIZE);
		}
		/* At most STAGE_BATCH staged: the pipe holds fragments. */
		if (s->staged >= STAGE_BATCH && stage_flush(s, ifd) != 0)
			goto stdin_blocked;
		if (left > STAGE_BATCH - s->staged)
			left = STAGE_BATCH - s->staged;
		n = splice(sfd, NULL, s->stage[1], NULL, left,
		    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0) {
			proto_skip(&s->parser, (size_t)n);
			s->conn->bytes_in += (unsigned long long)n;
			stats_add(STAT_bytes_spliced, (unsigned long long)n);
			s->staged += (size_t)n;
			continue;
		}
		if (n == 0) {
			s->eof = 1;		/* mid-frame: answered later */
			return SPLICE_AGAIN;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			log_ctx(LOG_DEBUG, s->conn->ctx, "read: %s",
			    strerror(errno));
			conn_close(s->conn);
			return SPLICE_GONE;
		}
		/* The staging pipe is full, or the socket dry: tell apart. */
		if (s->staged > 0) {
			if (stage_flush(s, ifd) != 0)
				goto stdin_blocked;
			continue;
		}
		return read_mode(s, READ_SPLICE) == 0 ? SPLICE_WAIT :
		    SPLICE_GONE;
	}

stdin_blocked:
	if (errno == EAGAIN) {
		(void)read_mode(s, READ_OFF);
		return stdin_wait(s) == 0 ? SPLICE_WAIT : SPLICE_GONE;
	}
	/* The child closed its stdin: drop the rest. */
	child_stdin_broken(s->child);
	stage_close(s);
	return SPLICE_AGAIN;
}

/*
 * A line that started (a request line, a DATA header, END) must end
 * within request_timeout_s of its first byte, counted while the daemon
 * waits for the client: not while input it has not taken is pending.
 */
static int
req_timer_update(struct session *s)
{
	struct timeval tv = { srv.cfg->limits.request_timeout_s, 0 };

	if (s->closing || s->parser.linelen == 0 ||
	    evbuffer_get_length(s->in) > 0)
		evtimer_del(s->req_timer);
	else if (!evtimer_pending(s->req_timer, NULL) &&
	    evtimer_add(s->req_timer, &tv) != 0) {
		session_fail(s, 500, "internal error: cannot time the "
		    "request");
		return -1;
	}
	return 0;
}

static void
session_process_input(struct session *s)
{
	struct evbuffer		*in = s->in, *cin;
	struct evbuffer_iovec	 v;
	struct proto_event	 ev;
	size_t			 n;

again:
	if ((s->staged > 0 || s->stage_end) && stage_drain(s) != 0)
		return;
	while (evbuffer_get_length(in) > 0 && session_can_consume(s)) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		n = proto_feed(&s->parser, v.iov_base, v.iov_len, &ev);
		if (ev.kind == PROTO_DATA && ev.len > 0 &&
		    s->input == INPUT_FORWARD && s->child != NULL &&
		    (cin = child_stdin(s->child)) != NULL)
			evbuffer_remove_buffer(in, cin, n);
		else
			evbuffer_drain(in, n);
		switch (ev.kind) {
		case PROTO_NONE:
		case PROTO_DATA:
			if (s->input == INPUT_NONE &&
			    (ev.kind == PROTO_DATA ||
			    proto_in_frame(&s->parser)))
				session_fail(s, 400, "DATA frame outside a "
				    "request's input");
			break;
		case PROTO_LINE:
			if (s->input != INPUT_NONE)
				session_input_line(s, ev.line);
			else
				session_request(s, (char *)ev.line, ev.len);
			break;
		case PROTO_ERR_LONG:
			session_fail(s, 413, "request line longer than %zu "
			    "bytes", s->parser.max_line);
			break;
		case PROTO_ERR_FRAME:
			session_fail(s, 400, "malformed DATA frame header");
			break;
		}
		if (s->conn->closed)
			return;
	}
	if (s->closing)
		return;
	switch (session_splice_in(s)) {
	case SPLICE_GONE:
		return;
	case SPLICE_WAIT:
		(void)req_timer_update(s);
		return;
	case SPLICE_AGAIN:
		goto again;
	default:
		break;
	}
	read_stop(s, READ_SPLICE);
	if (req_timer_update(s) != 0)
		return;

	if (s->eof) {
		/* A refused request's input may be cut short: it was answered. */
		if (s->input == INPUT_DISCARD && !s->running)
			s->input = INPUT_NONE;
		if (s->input != INPUT_NONE) {
			session_fail(s, 400, "connection closed before END");
			return;
		}
		if (!s->running && evbuffer_get_length(in) == 0) {
			s->closing = 1;
			s->wlow = 0;
			if (evbuffer_get_length(s->out) == 0)
				conn_close(s->conn);
		}
		return;
	}
	if (!session_can_consume(s) && (evbuffer_get_length(in) >= IN_MAX ||
	    evbuffer_get_length(in) + evbuffer_get_length(s->out) >=
	    CONN_MAX))
		read_stop(s, READ_BUF);
	else if (!session_can_consume(s) && s->input == INPUT_FORWARD)
		read_stop(s, READ_BUF);
	else
		(void)read_mode(s, READ_BUF);	/* restarts the idle timer */
}

/* Whatever woke the session up: take input, then send what it made. */
static void
session_process(struct session *s)
{
	session_process_input(s);
	if (!s->conn->closed)
		(void)session_kick(s);
}

/*
 * How much more input to read at once: up to IN_MAX unparsed and CONN_MAX
 * with the output; for a command, what its stdin buffer has room for;
 * for input that is discarded, what the parser drops right away.
 */
static size_t
read_room(struct session *s)
{
	size_t		 in = evbuffer_get_length(s->in), held;
	struct evbuffer	*cin;

	if (s->input == INPUT_DISCARD)
		return READ_MORE;
	if (s->input == INPUT_FORWARD && s->child != NULL &&
	    (cin = child_stdin(s->child)) != NULL) {
		held = in + evbuffer_get_length(cin);
		return held < CHILD_STDIN_HIGH ? CHILD_STDIN_HIGH - held : 0;
	}
	held = in + evbuffer_get_length(s->out);
	if (in >= IN_MAX || held >= CONN_MAX)
		return 0;
	return IN_MAX - in < CONN_MAX - held ? IN_MAX - in : CONN_MAX - held;
}

/* Nothing read for idle_timeout_s (the transport stopped reading). */
static void
session_read_idle(struct session *s)
{
	s->rmode = READ_OFF;
	if (s->running) {
		/* Busy on the client's behalf: not idle. */
		(void)read_mode(s, READ_BUF);
		return;
	}
	log_ctx(LOG_INFO, s->conn->ctx, "idle for %d s, closing",
	    s->conn->idle_s);
	stats_inc(STAT_connections_idle_closed);
	conn_close(s->conn);
}

static void
session_read(short what, void *arg)
{
	struct session	*s = arg;
	size_t		 room;
	ssize_t		 n, more;

	if (what & XPORT_TIMEOUT) {
		session_read_idle(s);
		return;
	}
	/* The splice path reads for itself. */
	if (s->rmode == READ_SPLICE) {
		session_process(s);
		return;
	}
	n = xport_read_buf(s->conn->xport, s->in, FIRST_READ);
	if (n == 0) {
		s->eof = 1;
		read_stop(s, READ_BUF);
		session_process(s);
		return;
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_ctx(LOG_DEBUG, s->conn->ctx, "read: %s", strerror(errno));
		conn_close(s->conn);
		return;
	}
	/*
	 * A full read: more, while we can use it.  EOF and errors are left
	 * for the next read to find.  Input for a child is spliced instead,
	 * frame by frame.
	 */
	if (n == FIRST_READ && session_can_consume(s) &&
	    (room = read_room(s)) > 0 &&
	    !(s->splice && s->input == INPUT_FORWARD) &&
	    (more = xport_read_buf(s->conn->xport, s->in,
	    room < READ_MORE ? room : READ_MORE)) > 0)
		n += more;
	s->conn->bytes_in += (unsigned long long)n;
	session_process(s);
}
WATCH_XPORT_CB(session_read_cb, session_read, session_ctx)

static void
session_write(short what, void *arg)
{
	struct session	*s = arg;
	ssize_t		 n;

	if (what & XPORT_TIMEOUT) {
		/* A client that takes none of its reply is gone, busy or not. */
		log_ctx(LOG_INFO, s->conn->ctx, "client read nothing for %d s, "
		    "closing", s->conn->idle_s);
		stats_inc(STAT_connections_idle_closed);
		conn_close(s->conn);
		return;
	}
	n = xport_write_buf(s->conn->xport, s->out, WRITE_MAX);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		log_ctx(LOG_DEBUG, s->conn->ctx, "write: %s", strerror(errno));
		conn_close(s->conn);
		return;
	}
	if (evbuffer_get_length(s->out) == 0) {
		(void)xport_want_write(s->conn->xport, XPORT_OFF);
		s->writing = 0;
	}
	if (n == 0 || evbuffer_get_length(s->out) > s->wlow)
		return;
	if (s->closing) {
		if (evbuffer_get_length(s->out) == 0)
			conn_close(s->conn);
		return;
	}
	if (s->child != NULL && child_pause_stdout(s->child, 0) != 0) {
		session_fail(s, 500, "internal error: cannot read %s's output",
		    s->cmd->name);
		return;
	}
	session_process(s);
}
WATCH_XPORT_CB(session_write_cb, session_write, session_ctx)

static const struct xport_cbs session_cbs = {
	session_read_cb, session_write_cb
};

static void
session_req_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	session_fail(s, 504, "request timed out");
}
WATCH_EVENT_CB(session_req_timeout_cb, session_req_timeout, session_ctx)

static void
session_free(struct conn *c)
{
	struct session *s = c->state;

	if (s->child != NULL)
		child_abandon(s->child);
	if (s->dfn != NULL)
		dfnative_cancel(s->dfn);
	reload_cancel(&s->reload);
	if (s->req_timer != NULL)
		event_free(s->req_timer);
	stage_close(s);
	if (s->rbuf != NULL)
		evbuffer_free(s->rbuf);
	if (s->in != NULL)
		evbuffer_free(s->in);
	if (s->out != NULL)
		evbuffer_free(s->out);
	proto_free(&s->parser);
	if (s->dfout != NULL)
		evbuffer_free(s->dfout);
	config_unref(s->cfg);
	/* Callbacks of ours may still be on the stack: free after them. */
	watch_defer_free(s, free);
	c->state = NULL;
}

static int
session_busy(struct conn *c)
{
	struct session *s = c->state;

	/*
	 * A refused request whose END never comes does not hold a drain; a
	 * reply still in the output buffer does, or its end would be lost.
	 */
	return s->running || s->input == INPUT_FORWARD ||
	    evbuffer_get_length(s->out) > 0;
}

static int
session_start(struct conn *c, int control)
{
	struct session *s = xcalloc(1, sizeof(*s));

	c->state = s;
	s->conn = c;
	s->control = control;
	s->reload.fn = reload_finished;
	s->reload.arg = s;
	s->stage[0] = s->stage[1] = -1;
	s->wlow = OUT_LOW;
	proto_init(&s->parser, (size_t)srv.cfg->limits.max_line,
	    PROTO_MAX_FRAME);
	s->req_timer = evtimer_new(srv.base, session_req_timeout_cb, s);
	s->rbuf = evbuffer_new();
	s->in = evbuffer_new();
	s->out = evbuffer_new();
	if (s->req_timer == NULL || s->rbuf == NULL || s->in == NULL ||
	    s->out == NULL)
		return -1;
	xport_setcb(c->xport, &session_cbs, s);
	s->rmode = READ_BUF;
	return xport_want_read(c->xport, XPORT_ON);
}

static int
session_start_broker(struct conn *c)
{
	return session_start(c, 0);
}

static int
session_start_control(struct conn *c)
{
	return session_start(c, 1);
}

const struct service session_broker_service = {
	SERVICE_BROKER, session_start_broker, NULL, session_busy, session_free
};

const struct service session_control_service = {
	SERVICE_CONTROL, session_start_control, NULL, session_busy,
	session_free
};
