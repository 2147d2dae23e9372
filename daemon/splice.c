/*
 * Command input by splice(2); see splice.h.  Lines and headers come in
 * one at a time, and each frame's payload goes from the socket into the
 * child's stdin never through our memory.  It goes by way of a staging
 * pipe of our own: splicing from a socket holds the destination pipe's
 * lock for the whole socket read, which the child, reading that pipe,
 * would wait on; moving buffers from pipe to pipe is quick.  The staging
 * pipe is passed on in batches of STAGE_BATCH, or whenever the socket
 * runs dry, so the child wakes up for a good amount of input each time.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proto.h"
#include "daemon/child.h"
#include "daemon/reply.h"
#include "daemon/splice.h"
#include "daemon/stats.h"
#include "daemon/xport.h"

#define SPLICE_PIPE_SIZE (256 * 1024)	/* staging and stdin pipes */
#define STAGE_BATCH	(256 * 1024)	/* staged at most, then passed on */

static int	mode = -1;

void
splice_set_mode(int m)
{
	mode = m;
}

/*
 * Splicing saves the daemon two copies per byte, but hands the child
 * pages to free and holds its stdin pipe's lock for whole socket reads:
 * when the child runs on another CPU it pays more than the daemon saves
 * (tests/bench/RESULTS.md).  So: splice when the daemon may use only one
 * CPU, which its children then share.
 */
int
splice_wanted(void)
{
	cpu_set_t set;

	if (mode >= 0)
		return mode;
	return sched_getaffinity(0, sizeof(set), &set) == 0 &&
	    CPU_COUNT(&set) == 1;
}

/*
 * A spliced pipe buffer holds a whole socket fragment (up to 32 KiB from
 * a loopback peer), not a page: fewer buffers keep the bytes the child's
 * input can hold near what copying would.
 */
void
splice_prepare(struct session *s)
{
	if (s->splice && s->cmd->input)
		(void)fcntl(child_stdin_fd(s->child), F_SETPIPE_SZ,
		    SPLICE_PIPE_SIZE);
}

void
splice_close(struct session *s)
{
	if (s->stage[0] >= 0) {
		close(s->stage[0]);
		close(s->stage[1]);
		s->stage[0] = s->stage[1] = -1;
	}
	s->staged = 0;
	s->stage_end = 0;
}

void
splice_end(struct session *s)
{
	if (s->staged > 0)
		s->stage_end = 1;	/* splice_drain() closes then */
	else
		child_close_stdin(s->child);
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

/* stage_flush() failed: wait for stdin, or drop the rest if it broke. */
static enum splice_result
stdin_blocked(struct session *s)
{
	if (errno == EAGAIN)
		return SPLICE_WAIT_STDIN;
	child_stdin_broken(s->child);
	splice_close(s);
	return SPLICE_AGAIN;
}

/*
 * Staged input goes to the child before anything else does: before its
 * stdin is closed at END, and before the read callback reads again.
 */
enum splice_result
splice_drain(struct session *s)
{
	int ifd = s->child != NULL ? child_stdin_fd(s->child) : -1;

	if (ifd < 0) {
		splice_close(s);
		return SPLICE_NO;
	}
	if (s->staged > 0 && stage_flush(s, ifd) != 0)
		return stdin_blocked(s) == SPLICE_WAIT_STDIN ?
		    SPLICE_WAIT_STDIN : SPLICE_NO;
	if (s->stage_end) {
		s->stage_end = 0;
		child_close_stdin(s->child);
	}
	return SPLICE_NO;
}

/*
 * Between input frames: moves the next line (a DATA header, END) from the
 * socket into the input buffer, and not one byte more, so the payload
 * after it can be spliced.  A line that is not all there yet, or is
 * longer than a header, is left to the read callback (SPLICE_NO).
 */
static enum splice_result
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
			return SPLICE_WAIT_SOCKET;
		if (n < 0) {
			reply_gone(s, "read");
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

/* The staging pipe, made on first use; -1 (splicing off) if it cannot. */
static int
stage_open(struct session *s)
{
	if (s->stage[0] >= 0)
		return 0;
	if (pipe2(s->stage, O_NONBLOCK | O_CLOEXEC) != 0) {
		log_ctx(LOG_WARNING, s->conn->ctx, "pipe: %s; copying input "
		    "instead", strerror(errno));
		s->stage[0] = s->stage[1] = -1;
		s->splice = 0;
		return -1;
	}
	(void)fcntl(s->stage[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);
	return 0;
}

/*
 * Input for a child, with nothing buffered: the socket is read here, not
 * by the read callback.
 */
enum splice_result
splice_in(struct session *s)
{
	enum splice_result	r;
	size_t			left;
	ssize_t			n;
	int			sfd = xport_splice_fd(s->conn->xport), ifd;

	if (!s->splice || sfd < 0 || s->input != INPUT_FORWARD ||
	    s->child == NULL || s->closing)
		return SPLICE_NO;
	if ((ifd = child_stdin_fd(s->child)) < 0) {
		splice_close(s);	/* it broke: the rest is dropped */
		return SPLICE_NO;
	}
	/* Input in our buffer is next: what is staged goes first. */
	if (s->eof || evbuffer_get_length(s->in) > 0)
		return stage_flush(s, ifd) != 0 ? stdin_blocked(s) :
		    SPLICE_NO;
	for (;;) {
		if ((left = proto_frame_left(&s->parser)) == 0) {
			r = read_line_exact(s, sfd);
			if (r == SPLICE_AGAIN || r == SPLICE_GONE)
				return r;
			/* The socket is dry or the line incomplete. */
			if (stage_flush(s, ifd) != 0)
				return stdin_blocked(s);
			return r;
		}
		/* What was read with the header goes first. */
		if (child_stdin_flush(s->child) > 0)
			return SPLICE_WAIT_STDIN;
		if (child_stdin_fd(s->child) < 0)
			return SPLICE_AGAIN;
		if (stage_open(s) != 0)
			return SPLICE_NO;
		/* At most STAGE_BATCH staged: the pipe holds fragments. */
		if (s->staged >= STAGE_BATCH && stage_flush(s, ifd) != 0)
			return stdin_blocked(s);
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
			reply_gone(s, "read");
			return SPLICE_GONE;
		}
		/* The staging pipe is full, or the socket dry: tell apart. */
		if (s->staged == 0)
			return SPLICE_WAIT_SOCKET;
		if (stage_flush(s, ifd) != 0)
			return stdin_blocked(s);
	}
}
