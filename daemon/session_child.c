/* A configured command run for a broker request; see session_child.h. */
#include "autoconf.h"

#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>

#include <event2/buffer.h>

#include "daemon/audit.h"
#include "daemon/bufio.h"
#include "daemon/child.h"
#include "daemon/render.h"
#include "daemon/reply.h"
#include "daemon/server.h"
#include "daemon/session_child.h"
#include "daemon/splice.h"
#include "daemon/xport.h"

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
	ssize_t		 n;

	if (s->cmd->output == OUTPUT_DF)
		return df_out(s, fd);
	/* The client is slower than the child: let the pipe fill up. */
	if (evbuffer_get_length(s->out) >= CONN_MAX) {
		(void)child_pause_stdout(ch, 1);	/* a delete */
		return 1;
	}
	n = bufio_read(s->rbuf, fd, CONN_MAX - evbuffer_get_length(s->out));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return 0;
	if (n < 0)
		return 1;
	if (s->splice && evbuffer_get_length(s->out) == 0) {
		/*
		 * Nothing queued: write the frame now and leave only what the
		 * socket did not take to the write callback, so a stream that
		 * keeps up costs no write event per chunk.  (Measured a gain
		 * only where the daemon shares its CPU with the child, as
		 * splicing.)
		 */
		reply_data(s, s->rbuf);
		reply_flush(s);
	} else
		reply_data(s, s->rbuf);
	if (evbuffer_get_length(s->out) >= CONN_MAX)
		(void)child_pause_stdout(ch, 1);	/* a delete */
	(void)reply_kick(s);	/* closed on failure: the child is let go */
	return 1;
}

static void
child_drained(struct child *ch, void *arg)
{
	struct session *s = arg;

	(void)ch;
	s->resume(s);
}

/* The final line: OK, or how the command failed. */
static void
child_reply(struct session *s, struct child *ch)
{
	const char	*name = s->cmd->name, *line = child_stderr_line(ch);
	char		 warning[400];
	int		 st = child_wait_status(ch);

	audit_status(s, st);
	if (child_timed_out(ch)) {
		int t = s->cmd->timeout_s > 0 ? s->cmd->timeout_s :
		    s->cfg->limits.command_timeout_s;

		reply_final(s, 504, "%s timed out after %d s", name, t);
		return;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		if (s->cmd->output == OUTPUT_DF)
			render_df(s, NULL, line);
		else
			reply_final(s, 0, "%s", "");
		return;
	}
	if (WIFEXITED(st))
		snprintf(warning, sizeof(warning), "%s exited with status "
		    "%d%s%s", name, WEXITSTATUS(st), *line ? ": " : "", line);
	else
		snprintf(warning, sizeof(warning), "%s killed by signal "
		    "%d%s%s", name, WTERMSIG(st), *line ? ": " : "", line);
	if (s->cmd->output == OUTPUT_DF)
		render_df(s, warning, line);
	else
		reply_final(s, 502, "%s", warning);
}

static void
child_done(struct child *ch, void *arg)
{
	struct session *s = arg;

	child_reply(s, ch);
	child_free(ch);
	s->child = NULL;
	splice_close(s);
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
	s->resume(s);
}

static const struct child_cbs session_child_cbs = {
	child_out, child_drained, child_done
};

void
session_child_start(struct session *s, const struct command_spec *cmd)
{
	struct child_opts o = {
		.name = cmd->name, .path = cmd->path, .argv = cmd->argv,
		.input = cmd->input, .ctx = s->conn->ctx,
		.timeout_s = cmd->timeout_s > 0 ? cmd->timeout_s :
		    srv.cfg->limits.command_timeout_s
	};
	char err[512];

	audit_command(s, cmd->name);
	if (children_running() >= (unsigned)srv.cfg->limits.max_children) {
		reply_final(s, 429, "busy: %u commands running",
		    children_running());
		return;
	}
	if (cmd->output == OUTPUT_DF && (s->dfout = evbuffer_new()) == NULL) {
		reply_final(s, 500, "internal error: out of memory");
		return;
	}
	s->child = child_spawn(&o, &session_child_cbs, s, err, sizeof(err));
	if (s->child == NULL) {
		/* Out of fds or processes is ours (500), not the command's. */
		reply_final(s, errno == EMFILE || errno == ENFILE ||
		    errno == ENOMEM || errno == EAGAIN ? 500 : 502, "%s", err);
		if (s->dfout != NULL) {
			evbuffer_free(s->dfout);
			s->dfout = NULL;
		}
		return;
	}
	s->running = 1;
	s->cfg = config_ref(srv.cfg);
	s->cmd = cmd;
	s->splice = splice_wanted() && xport_splice_fd(s->conn->xport) >= 0;
	splice_prepare(s);
	s->dfdropped = 0;
	if (cmd->input)
		s->input = INPUT_FORWARD;
}
