/*
 * Integration test harness: the duplex pumps.  A client that writes a
 * large input must read while it writes, or it deadlocks against the
 * daemon's backpressure; these loops do both on one non-blocking socket,
 * for the echo service and for a broker request with input.
 */
#include "autoconf.h"

#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proto.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

#define ECHO_WRITE_MAX	262144	/* bytes per send */

size_t
echo_duplex(int fd, const char *buf, size_t len, size_t woff, char *back,
    int *eof, int timeout_ms)
{
	struct pollfd	 pfd;
	size_t		 roff = 0;
	long long	 start = now_ms();
	ssize_t		 n;

	*eof = 0;
	nonblock(fd, 1);
	if (woff == len)
		shutdown(fd, SHUT_WR);
	while (!*eof && now_ms() - start < timeout_ms) {
		pfd.fd = fd;
		pfd.events = POLLIN | (woff < len ? POLLOUT : 0);
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && woff < len) {
			n = send(fd, buf + woff, len - woff > ECHO_WRITE_MAX ?
			    ECHO_WRITE_MAX : len - woff, MSG_NOSIGNAL);
			if (n > 0) {
				woff += (size_t)n;
				if (woff == len)
					shutdown(fd, SHUT_WR);
			} else if (n < 0 && errno != EAGAIN && errno != EINTR)
				break;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(fd, back + roff, len + 1 - roff);
			if (n > 0)
				roff += (size_t)n;
			else if (n == 0 || (errno != EAGAIN && errno != EINTR))
				*eof = 1;
		}
	}
	return roff;
}

/* Frames the next piece of input into p's write buffer, if it is empty. */
static void
pump_frame(struct pump *p, char *wbuf, size_t cap, size_t *wlen,
    size_t *woff, int *phase)
{
	size_t m, h;

	while (*woff == *wlen && *phase < 3) {
		*woff = *wlen = 0;
		if (*phase == 0) {
			*wlen = (size_t)snprintf(wbuf, cap, "%s\n", p->req);
			*phase = 1;
		} else if (*phase == 1 && p->queued < p->len) {
			m = p->len - p->queued > p->frame ? p->frame :
			    p->len - p->queued;
			h = proto_data_header(wbuf, m);
			if (p->in != NULL)
				memcpy(wbuf + h, p->in + p->queued, m);
			else
				p->fill(wbuf + h, p->queued, m, p->arg);
			*wlen = h + m;
			p->queued += m;
		} else if (*phase == 1)
			*phase = 2;
		else {
			memcpy(wbuf, "END\n", 4);
			*wlen = 4;
			*phase = 3;
		}
	}
}

/* Checks and counts output payload bytes. */
static void
pump_output(struct pump *p, const char *data, size_t len)
{
	size_t i, off;

	for (i = 0; i < len; i++) {
		off = p->got + i;
		if (p->expect != NULL) {
			if (off >= p->explen || data[i] != p->expect[off])
				p->bad++;
		} else if (p->want != NULL && data[i] != p->want(off, p->arg))
			p->bad++;
	}
	p->got += len;
}

void
pump_run(int fd, struct pump *p)
{
	struct proto_parser	 pp;
	struct proto_event	 ev;
	struct pollfd		 pfd;
	size_t			 cap = p->frame + PROTO_DATA_HDR_MAX + 8;
	size_t			 wlen = 0, woff = 0, off, k;
	char			*wbuf, rbuf[65536];
	const char		*text;
	long long		 start = now_ms();
	int			 phase = p->req != NULL ? 0 : 1, left;
	ssize_t			 n;

	if (p->req != NULL && strlen(p->req) + 2 > cap)
		cap = strlen(p->req) + 2;
	if ((wbuf = malloc(cap)) == NULL)
		bail("malloc");
	p->code = -1;
	p->text[0] = '\0';
	p->queued = p->wire = p->read = p->got = p->bad = 0;
	p->all_sent = p->eof = p->werr = 0;
	p->ms = 0;
	proto_init(&pp, 8192, PROTO_MAX_FRAME);
	nonblock(fd, 1);
	for (;;) {
		left = p->timeout_ms - (int)(now_ms() - start);
		pump_frame(p, wbuf, cap, &wlen, &woff, &phase);
		if (phase == 3 && woff == wlen)
			p->all_sent = 1;
		if (p->tick != NULL)
			p->tick(p, p->arg);
		if ((p->code >= 0 && (p->all_sent || p->werr)) || p->eof ||
		    left <= 0)
			break;
		pfd.fd = fd;
		pfd.events = POLLIN | (woff < wlen && !p->werr ? POLLOUT : 0);
		if (poll(&pfd, 1, left < 1000 ? left : 1000) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && woff < wlen && !p->werr) {
			n = send(fd, wbuf + woff, wlen - woff, MSG_NOSIGNAL);
			if (n > 0) {
				woff += (size_t)n;
				p->wire += (size_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR)
				p->werr = 1;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(fd, rbuf, sizeof(rbuf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			p->eof = 1;
			continue;
		}
		p->read += (size_t)n;
		for (off = 0; off < (size_t)n; off += k) {
			k = proto_feed(&pp, rbuf + off, (size_t)n - off, &ev);
			if (ev.kind == PROTO_DATA && p->code < 0)
				pump_output(p, ev.data, ev.len);
			else if (ev.kind == PROTO_LINE && p->code < 0) {
				p->code = proto_parse_final(ev.line, &text);
				snprintf(p->text, sizeof(p->text), "%s",
				    p->code < 0 ? ev.line : text);
				if (p->code < 0)
					p->code = 1000;	/* not a final line */
				p->ms = now_ms() - start;
			} else if (ev.kind == PROTO_ERR_LONG ||
			    ev.kind == PROTO_ERR_FRAME)
				p->bad++;
		}
	}
	if (p->code == 1000)
		p->code = -1;
	if (p->code < 0)
		snprintf(p->text, sizeof(p->text), "%s", p->eof ? "eof" :
		    "timeout");
	if (p->expect != NULL && p->got != p->explen)
		p->bad++;
	nonblock(fd, 0);
	proto_free(&pp);
	free(wbuf);
}
