/* A configured command run for a broker request; see session_child.h. */
#include "autoconf.h"

#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "daemon/audit.h"
#include "daemon/bufio.h"
#include "daemon/child.h"
#include "daemon/cmdaccess.h"
#include "daemon/render.h"
#include "daemon/reply.h"
#include "daemon/server.h"
#include "daemon/session_child.h"
#include "daemon/splice.h"
#include "daemon/xport.h"

/* The request is over (its final line sent): the loop goes on. */
static void
request_end(struct session *s)
{
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

/*
 * Past limits.output_mb: the command is killed (its group, by child.c)
 * and the request ends with 413 after what was sent.  Returns 1 (stdout
 * stays open for child.c to drain).
 */
static int
output_limited(struct session *s, struct child *ch)
{
	int mb = s->cmd->limits.output_mb;

	stats_inc(STAT_children_output_limited);
	log_ctx(LOG_NOTICE, s->conn->ctx, "%s passed its output limit of %d "
	    "MB; killing it", s->cmd->name, mb);
	s->child = NULL;
	child_abandon(ch);
	reply_final(s, 413, "output limit of %d MB exceeded", mb);
	request_end(s);
	return 1;
}

/*
 * How much of the command's output may still be read (at most max); 0
 * when it is at its limit and one more byte is there: the limit passed.
 * -1: at the limit, and the pipe is at EOF or empty for now (*open).
 */
static ssize_t
output_room(struct session *s, int fd, size_t max, int *open)
{
	unsigned long long	lim = (unsigned long long)
				    s->cmd->limits.output_mb << 20;
	char			c;
	ssize_t			n;

	if (lim == 0 || s->cmd_out + max <= lim)
		return (ssize_t)max;
	if (s->cmd_out < lim)
		return (ssize_t)(lim - s->cmd_out);
	n = read(fd, &c, 1);
	if (n == 1)
		return 0;
	*open = n < 0 && (errno == EAGAIN || errno == EINTR);
	return -1;
}

/* df's output, kept for parsing up to DF_MAX; the rest is counted. */
static int
df_out(struct session *s, int fd)
{
	size_t	room = DF_MAX - evbuffer_get_length(s->dfout);
	ssize_t	n, lim;
	int	open = 0;

	if ((lim = output_room(s, fd, room > 0 ? room : READ_MORE,
	    &open)) <= 0)
		return lim == 0 ? output_limited(s, s->child) : open;
	if (room > 0)
		n = bufio_read(s->dfout, fd, (size_t)lim);
	else if ((n = bufio_read(s->rbuf, fd, (size_t)lim)) > 0) {
		s->dfdropped += (size_t)n;
		evbuffer_drain(s->rbuf, (size_t)n);
	}
	if (n > 0)
		s->cmd_out += (unsigned long long)n;
	return n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
}

static int
child_out(struct child *ch, int fd, void *arg)
{
	struct session	*s = arg;
	ssize_t		 n;
	int		 open = 0;

	if (s->cmd->output == OUTPUT_DF)
		return df_out(s, fd);
	/* The client is slower than the child: let the pipe fill up. */
	if (evbuffer_get_length(s->out) >= CONN_MAX) {
		(void)child_pause_stdout(ch, 1);	/* a delete */
		return 1;
	}
	if ((n = output_room(s, fd, CONN_MAX - evbuffer_get_length(s->out),
	    &open)) <= 0)
		return n == 0 ? output_limited(s, ch) : open;
	n = bufio_read(s->rbuf, fd, (size_t)n);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return 0;
	if (n < 0)
		return 1;
	s->cmd_out += (unsigned long long)n;
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
	request_end(s);
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
		    srv.cfg->limits.command_timeout_s,
		.limits = &cmd->limits, .envp = cmd->envp, .cwd = cmd->cwd
	};
	struct acl_peer	 peer = { xport_peer(s->conn->xport),
			    xport_identity(s->conn->xport) };
	char		 err[512];
	int		 code;

	audit_command(s, cmd->name);
	/* The audit line of reply_final() says why: no second log line. */
	if ((code = cmdaccess_check(cmd, &peer, err, sizeof(err))) != 0) {
		reply_final(s, code, "%s", err);
		return;
	}
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
	s->cmd_out = 0;
	if (cmd->input)
		s->input = INPUT_FORWARD;
}
