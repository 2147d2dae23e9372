/*
 * Fuzzes the broker protocol parser (common/proto.c).
 *
 * Input: byte 0 picks max_line, byte 1 max_frame, bytes 2-3 seed the
 * split points; the rest is the stream.  The stream is parsed whole, byte
 * by byte, and in random chunks (each chunk in an exact-size heap copy,
 * so a read past what was fed is an ASan report).  All three must agree
 * on every event up to the first error, because the parser promises to
 * accept input split at any byte boundary.  A fourth parse moves random
 * parts of frame payloads around the parser with proto_skip(), as the
 * daemon does when it splices them, and must agree too.  Then the events are encoded
 * again (lines, proto_data_header + payload) and must parse back to the
 * same events.  Every line also goes through proto_parse_final.
 */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"
#include "tests/fuzz/fuzz.h"


/* A growing byte string. */
struct buf {
	char	*p;
	size_t	 len, cap;
};

static void
buf_add(struct buf *b, const void *data, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		b->cap = (b->len + len + 1) * 2;
		b->p = realloc(b->p, b->cap);
		CHECK(b->p != NULL);
	}
	if (len > 0)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

/* Parser events rendered as "L<len>:<bytes>", "D<len>:<bytes>", "E<k>". */
struct render {
	struct buf	 out;
	struct buf	 frame;		/* payload of the frame being read */
	struct buf	 wire;		/* the events encoded again */
	int		 failed;	/* an error was seen: stop rendering */
	int		 partial;	/* ended inside a frame */
};

enum mode { WHOLE, BYTES, RANDOM, SKIP };

static void
add_record(struct buf *b, char tag, const char *data, size_t len)
{
	char hdr[32];
	int n = snprintf(hdr, sizeof(hdr), "%c%zu:", tag, len);

	buf_add(b, hdr, (size_t)n);
	buf_add(b, data, len);
}

static void
check_final(const char *line, size_t len)
{
	const char	*text = NULL;
	size_t		 slen = strlen(line);
	int		 code;

	CHECK(slen <= len);
	code = proto_parse_final(line, &text);
	if (code < 0)
		return;
	CHECK(text != NULL && text >= line && text <= line + slen);
	if (code == 0)
		CHECK(strncmp(line, "OK", 2) == 0);
	else
		CHECK(code >= 100 && code <= 999 &&
		    strncmp(line, "ERR ", 4) == 0);
}

/* A whole frame's payload is in r->frame: render and re-encode it. */
static void
frame_done(struct render *r, const struct proto_parser *p)
{
	char	hdr[PROTO_DATA_HDR_MAX];
	size_t	n;

	CHECK(r->frame.len <= p->max_frame);
	add_record(&r->out, 'D', r->frame.p, r->frame.len);
	n = proto_data_header(hdr, r->frame.len);
	CHECK(n == strlen(hdr) && n < sizeof(hdr) && hdr[n - 1] == '\n');
	buf_add(&r->wire, hdr, n);
	buf_add(&r->wire, r->frame.p, r->frame.len);
	r->frame.len = 0;
}

static void
on_event(struct render *r, const struct proto_parser *p,
    const struct proto_event *ev, const char *chunk, size_t avail,
    size_t took)
{
	switch (ev->kind) {
	case PROTO_NONE:
		CHECK(ev->len == 0);
		break;
	case PROTO_LINE:
		CHECK(ev->line != NULL && ev->line[ev->len] == '\0');
		CHECK(ev->len <= p->max_line);
		CHECK(memchr(ev->line, '\n', ev->len) == NULL);
		CHECK(!proto_in_frame(p));
		check_final(ev->line, ev->len);
		if (r->failed)
			break;
		add_record(&r->out, 'L', ev->line, ev->len);
		buf_add(&r->wire, ev->line, ev->len);
		buf_add(&r->wire, "\r\n", 2);
		break;
	case PROTO_DATA:
		/* A slice of what was fed, never past it. */
		CHECK(ev->data >= chunk && ev->data + ev->len <= chunk + avail);
		CHECK(ev->len <= took);
		CHECK(ev->len > 0 || ev->frame_done);
		CHECK(proto_in_frame(p) == !ev->frame_done);
		if (r->failed)
			break;
		buf_add(&r->frame, ev->data, ev->len);
		if (ev->frame_done)
			frame_done(r, p);
		break;
	case PROTO_ERR_LONG:
	case PROTO_ERR_FRAME:
		CHECK(took > 0);
		if (!r->failed) {
			char tag[8];

			snprintf(tag, sizeof(tag), "E%d", (int)ev->kind);
			buf_add(&r->out, tag, strlen(tag));
			r->failed = 1;
		}
		break;
	default:
		CHECK(!"unknown event kind");
	}
}

static uint32_t
next_rand(uint32_t *s)
{
	/* xorshift32: reproducible split points from the input itself. */
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
parse(const char *in, size_t len, size_t max_line, size_t max_frame,
    enum mode mode, uint32_t seed, struct render *r)
{
	struct proto_parser	 p;
	struct proto_event	 ev;
	size_t			 off = 0, c, pos, k;
	char			*chunk;
	int			 errored = 0;

	memset(r, 0, sizeof(*r));
	proto_init(&p, max_line, max_frame);
	if (seed == 0)
		seed = 0x9e3779b9;
	while (off < len) {
		/* As the daemon splices: payload bytes the parser never sees. */
		if (mode == SKIP && !r->failed && proto_frame_left(&p) > 0 &&
		    (next_rand(&seed) & 1)) {
			k = 1 + next_rand(&seed) % proto_frame_left(&p);
			if (k > len - off)
				k = len - off;
			buf_add(&r->frame, in + off, k);
			proto_skip(&p, k);
			off += k;
			if (proto_frame_left(&p) == 0) {
				CHECK(!proto_in_frame(&p));
				frame_done(r, &p);
			}
			continue;
		}
		if (mode == WHOLE)
			c = len - off;
		else if (mode == BYTES)
			c = 1;
		else {
			uint32_t x = next_rand(&seed);

			/* Mostly small chunks, sometimes a large one. */
			c = (x & 0x80000000u) ? 1 + x % 4096 : 1 + x % 8;
		}
		if (c > len - off)
			c = len - off;
		chunk = malloc(c);
		CHECK(chunk != NULL);
		memcpy(chunk, in + off, c);
		/* As the daemon does: feed a read until it is consumed. */
		for (pos = 0; pos < c; pos += k) {
			k = proto_feed(&p, chunk + pos, c - pos, &ev);
			CHECK(k > 0 && k <= c - pos);
			on_event(r, &p, &ev, chunk + pos, c - pos, k);
			/* After an error everything is refused until reset. */
			if (errored)
				CHECK(ev.kind == PROTO_NONE && k == c - pos);
			if (ev.kind == PROTO_ERR_LONG ||
			    ev.kind == PROTO_ERR_FRAME)
				errored = 1;
			/* Random splits also prove the parser recovers. */
			if (mode == RANDOM && errored) {
				proto_reset(&p);
				errored = 0;
			}
		}
		free(chunk);
		off += c;
	}
	/* Mid-frame at the end: the partial payload counts too. */
	if (!r->failed && proto_in_frame(&p)) {
		char rem[32];

		add_record(&r->out, 'P', r->frame.p, r->frame.len);
		snprintf(rem, sizeof(rem), "R%zu", p.remaining);
		buf_add(&r->out, rem, strlen(rem));
		r->partial = 1;
	}
	proto_free(&p);
}

static void
render_free(struct render *r)
{
	free(r->out.p);
	free(r->frame.p);
	free(r->wire.p);
}

static int
same(const struct render *a, const struct render *b)
{
	return a->out.len == b->out.len &&
	    (a->out.len == 0 || memcmp(a->out.p, b->out.p, a->out.len) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct render	 whole, bytes, rnd, skip, again;
	const char	*in = (const char *)data + 4;
	size_t		 len, max_line, max_frame;
	uint32_t	 seed;

	if (size < 4)
		return 0;
	len = size - 4;
	max_line = data[0] < 250 ? data[0] : 4096;
	max_frame = data[1] < 200 ? data[1] : PROTO_MAX_FRAME;
	seed = (uint32_t)data[2] << 8 | data[3];

	parse(in, len, max_line, max_frame, WHOLE, 0, &whole);
	parse(in, len, max_line, max_frame, BYTES, 0, &bytes);
	parse(in, len, max_line, max_frame, RANDOM, seed, &rnd);
	parse(in, len, max_line, max_frame, SKIP, seed, &skip);
	CHECK(same(&whole, &bytes));
	CHECK(same(&whole, &skip));
	/* The random run goes on after errors, but renders up to the first. */
	CHECK(same(&whole, &rnd));

	/* Encoded again, the events must parse back the same. */
	if (!whole.failed && !whole.partial) {
		parse(whole.wire.p, whole.wire.len, max_line, max_frame,
		    WHOLE, 0, &again);
		CHECK(!again.failed && !again.partial);
		CHECK(same(&whole, &again));
		CHECK(again.wire.len == whole.wire.len && (whole.wire.len == 0 ||
		    memcmp(again.wire.p, whole.wire.p, whole.wire.len) == 0));
		render_free(&again);
	}
	render_free(&whole);
	render_free(&bytes);
	render_free(&rnd);
	render_free(&skip);
	return 0;
}
