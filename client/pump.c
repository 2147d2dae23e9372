/*
 * brokerctl's duplex pump.  A single poll(2) loop moves bytes both ways at
 * once: the daemon streams a command's output while its input is still
 * arriving, so a client that wrote everything before reading would
 * deadlock once both socket buffers filled.  At most one input frame and
 * one read chunk are held at a time, so memory stays flat for any stream.
 */
#include "autoconf.h"

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proto.h"
#include "common/util.h"
#include "client/client.h"

#ifndef MIN
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#endif

#define READ_CHUNK	(64 * 1024)
#define REPLY_LINE_MAX	(64 * 1024)	/* ERR 500 of RELOAD lists errors */

/* The payload sits at obuf + PROTO_DATA_HDR_MAX; its header goes before. */
static void
frame_out(struct pump *p, size_t n)
{
	char	hdr[PROTO_DATA_HDR_MAX];
	size_t	hlen;

	if (!p->framed) {
		p->ooff = PROTO_DATA_HDR_MAX;
		p->olen = n;
		return;
	}
	hlen = proto_data_header(hdr, n);
	p->ooff = PROTO_DATA_HDR_MAX - hlen;
	memcpy(p->obuf + p->ooff, hdr, hlen);
	p->olen = hlen + n;
}

/* Produces the next output chunk; called only when obuf is empty. */
static void
out_fill(struct pump *p)
{
	const struct piece *pc;
	size_t	n;

	switch (p->state) {
	case OUT_REQUEST:
		n = strlen(p->request);
		memcpy(p->obuf, p->request, n);
		p->ooff = 0;
		p->olen = n;
		p->state = p->after_request;
		break;
	case OUT_TEXT:
		/* One piece per write: echo sends each MSG separately. */
		while (p->pi < p->npieces && p->poff == p->pieces[p->pi].len) {
			p->pi++;
			p->poff = 0;
		}
		if (p->pi < p->npieces) {
			pc = &p->pieces[p->pi];
			n = pc->len - p->poff;
			if (n > INPUT_FRAME)
				n = INPUT_FRAME;
			memcpy(p->obuf + PROTO_DATA_HDR_MAX, pc->buf + p->poff,
			    n);
			p->poff += n;
			frame_out(p, n);
			break;
		}
		p->state = OUT_END;
		/* FALLTHROUGH */
	case OUT_END:
		if (p->framed) {
			memcpy(p->obuf, "END\n", 4);
			p->ooff = 0;
			p->olen = 4;
			p->state = OUT_IDLE;
		} else
			p->state = OUT_SHUT;
		break;
	case OUT_STDIN:
	case OUT_SHUT:
	case OUT_IDLE:
		break;
	}
}

static void
stdin_read(struct pump *p)
{
	ssize_t	n;

	n = read(STDIN_FILENO, p->obuf + PROTO_DATA_HDR_MAX, INPUT_FRAME);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		err(EXIT_ERR, "stdin");
	}
	p->last = mono_ms();
	if (n == 0)
		p->state = OUT_END;
	else
		frame_out(p, (size_t)n);
}

/* Echo's half-close; with TLS a close_notify, after which we read on. */
static void
sock_shutdown(struct pump *p)
{
	if (conn_shutdown(p->conn) == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		err(EXIT_PROTO, "shutdown %s", conn_peer());
	}
	vlog("sent the end of the data");
	p->state = OUT_IDLE;
	p->last = mono_ms();
}

static void
sock_write(struct pump *p)
{
	ssize_t	n;

	n = conn_write(p->conn, p->obuf + p->ooff, p->olen);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		/* The daemon may have answered and closed: read that first. */
		p->werr = errno;
		p->olen = 0;
		p->state = OUT_IDLE;
		vlog("send: %s", strerror(errno));
		return;
	}
	vlog("sending %zd bytes", n);
	if (!p->framed) {
		if (p->sent < ECHO_HEAD)
			memcpy(p->head + p->sent, p->obuf + p->ooff,
			    MIN((size_t)n, ECHO_HEAD - (size_t)p->sent));
		p->sent += (unsigned long long)n;
	}
	p->ooff += (size_t)n;
	p->olen -= (size_t)n;
	p->last = mono_ms();
}

/* Whether a reply line is the request line itself. */
static int
is_request(const struct pump *p, const struct proto_event *ev)
{
	size_t	len = strlen(p->request);

	return len > 0 && ev->len == len - 1 &&
	    memcmp(ev->line, p->request, ev->len) == 0;
}

static void
reply_feed(struct pump *p, const char *buf, size_t len)
{
	struct proto_event ev;
	const char *text;
	char	esc[256];
	size_t	used;
	int	code;

	while (len > 0 && !p->done) {
		used = proto_feed(&p->parser, buf, len, &ev);
		buf += used;
		len -= used;
		switch (ev.kind) {
		case PROTO_NONE:
			break;
		case PROTO_DATA:
			if (ev.len > 0)
				p->sink(ev.data, ev.len);
			break;
		case PROTO_LINE:
			code = proto_parse_final(ev.line, &text);
			if (code < 0 && is_request(p, &ev))
				errx(EXIT_PROTO, "%s sent the request back: "
				    "an echo service, not brokerd's broker "
				    "(see -p)", conn_peer());
			if (code < 0) {
				str_escape(esc, sizeof(esc), ev.line, ev.len,
				    80);
				errx(EXIT_PROTO, "unexpected reply from "
				    "%s: \"%s\"", conn_peer(), esc);
			}
			p->code = code;
			p->text = xstrdup(text);
			p->done = 1;
			break;
		case PROTO_ERR_LONG:
			errx(EXIT_PROTO, "reply line from %s too long",
			    conn_peer());
		case PROTO_ERR_FRAME:
			errx(EXIT_PROTO, "malformed DATA frame from %s",
			    conn_peer());
		}
	}
}

/*
 * An echo service sends back what it got, in order, and no more: the first
 * ECHO_HEAD bytes are compared, the rest counted.  brokerd's broker port
 * answers "hello" with nothing, and "hello\n" with an ERR line.
 */
static void
echo_check(struct pump *p, const char *buf, size_t n)
{
	char	esc[256];
	size_t	k = 0;

	if (p->echoed < ECHO_HEAD)
		k = MIN(n, ECHO_HEAD - (size_t)p->echoed);
	if (p->echoed + n > p->sent ||
	    memcmp(buf, p->head + p->echoed, k) != 0) {
		str_escape(esc, sizeof(esc), buf, n, 80);
		errx(EXIT_PROTO, "%s is not an echo service: it sent \"%s\"",
		    conn_peer(), esc);
	}
	p->echoed += n;
}

static void
sock_read(struct pump *p)
{
	static char buf[READ_CHUNK];
	ssize_t	n;

	n = conn_read(p->conn, buf, sizeof(buf));
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		if (p->werr != 0)
			errx(EXIT_PROTO, "send to %s: %s", conn_peer(),
			    strerror(p->werr));
		err(EXIT_PROTO, "receive from %s", conn_peer());
	}
	if (n == 0) {
		if (p->werr != 0)
			errx(EXIT_PROTO, "send to %s: %s", conn_peer(),
			    strerror(p->werr));
		if (p->framed)
			errx(EXIT_PROTO, "%s closed the connection before "
			    "the reply was complete", conn_peer());
		if (p->state != OUT_IDLE || p->olen > 0 ||
		    p->echoed != p->sent)
			errx(EXIT_PROTO, "%s closed the connection having "
			    "echoed %llu of the %llu bytes sent: is it the "
			    "echo service?", conn_peer(), p->echoed, p->sent);
		p->done = 1;
		return;
	}
	vlog("received %zd bytes", n);
	p->last = mono_ms();
	if (p->framed)
		reply_feed(p, buf, (size_t)n);
	else {
		echo_check(p, buf, (size_t)n);
		p->sink(buf, (size_t)n);
	}
}

/*
 * The -t limit counts from the last byte moved, and not while waiting on
 * stdin: a slow typist is not a silent daemon.
 */
void
pump_run(struct pump *p)
{
	struct pollfd pfd[2];
	long long deadline;
	nfds_t	nfd;
	int	want_stdin, writing, r;

	p->last = mono_ms();
	while (!p->done) {
		if (p->olen == 0 && p->state != OUT_STDIN &&
		    p->state != OUT_IDLE)
			out_fill(p);
		want_stdin = p->state == OUT_STDIN && p->olen == 0;
		writing = p->olen > 0 || p->state == OUT_SHUT;
		pfd[0].fd = conn_fd(p->conn);
		pfd[0].events = conn_events(p->conn, writing);
		pfd[0].revents = 0;
		nfd = 1;
		if (want_stdin) {
			pfd[1].fd = STDIN_FILENO;
			pfd[1].events = POLLIN;
			pfd[1].revents = 0;
			nfd = 2;
		}
		deadline = -1;
		if (opt.timeout_ms >= 0 && !want_stdin) {
			deadline = p->last + opt.timeout_ms;
			if (mono_ms() >= deadline)
				errx(EXIT_TIMEOUT, "timed out waiting for %s",
				    conn_peer());
		}
		/* Bytes TLS already decrypted: poll would not wake for them. */
		r = poll(pfd, nfd, conn_pending(p->conn) ? 0 :
		    mono_left_ms(deadline));
		if (r == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_ERR, "poll");
		}
		if (conn_readable(p->conn, pfd[0].revents))
			sock_read(p);
		if (!p->done && writing &&
		    conn_writable(p->conn, pfd[0].revents)) {
			if (p->olen > 0)
				sock_write(p);
			else if (p->state == OUT_SHUT)
				sock_shutdown(p);
		}
		if (!p->done && nfd == 2 && pfd[1].revents != 0)
			stdin_read(p);
	}
}

void
pump_init(struct pump *p, struct conn *conn, int framed)
{
	memset(p, 0, sizeof(*p));
	p->conn = conn;
	p->framed = framed;
	p->obuf = xmalloc(PROTO_DATA_HDR_MAX + INPUT_FRAME);
	if (framed)
		proto_init(&p->parser, REPLY_LINE_MAX, PROTO_MAX_FRAME);
}

void
pump_close(struct pump *p)
{
	conn_close(p->conn);
	if (p->framed)
		proto_free(&p->parser);
	free(p->obuf);
}
