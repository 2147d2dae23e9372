/* common/proto.c: the incremental parser fed in every split. */
#include "autoconf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/proto.h"
#include "tests/tap.h"

/* Parses stream in chunks of the given sizes; renders events as text. */
static size_t
parse(const char *in, size_t len, size_t chunk, unsigned seed, char *out,
    size_t outsz)
{
	struct proto_parser	p;
	struct proto_event	ev;
	size_t			off = 0, end, k, o = 0;
	int			inframe = 0;

	srand(seed);
	proto_init(&p, 16, 100);
	out[0] = '\0';
	while (off < len) {
		size_t c = chunk ? chunk : 1 + (size_t)rand() % 7;

		end = off + c < len ? off + c : len;
		while (off < end) {
			k = proto_feed(&p, in + off, end - off, &ev);
			off += k;
			switch (ev.kind) {
			case PROTO_LINE:
				o += (size_t)snprintf(out + o, outsz - o,
				    "L[%s]", ev.line);
				break;
			case PROTO_DATA:
				if (!inframe)
					o += (size_t)snprintf(out + o,
					    outsz - o, "D[");
				memcpy(out + o, ev.data, ev.len);
				o += ev.len;
				inframe = !ev.frame_done;
				if (ev.frame_done)
					o += (size_t)snprintf(out + o,
					    outsz - o, "]");
				break;
			case PROTO_ERR_LONG:
				o += (size_t)snprintf(out + o, outsz - o,
				    "E[long]");
				break;
			case PROTO_ERR_FRAME:
				o += (size_t)snprintf(out + o, outsz - o,
				    "E[frame]");
				break;
			case PROTO_NONE:
				break;
			}
			out[o] = '\0';
		}
	}
	proto_free(&p);
	return o;
}

#define check_splits(in, len, want, what) \
	check_splits_(in, len, want, sizeof(want) - 1, what)

static void
check_splits_(const char *in, size_t len, const char *want, size_t wantlen,
    const char *what)
{
	char	out[1024];
	size_t	c;
	int	bad = 0;
	unsigned s;

	for (c = 0; c <= len + 1 && !bad; c++) {
		if (parse(in, len, c == 0 ? 1 : c, 0, out, sizeof(out)) !=
		    wantlen || memcmp(out, want, wantlen) != 0) {
			diag("chunk %zu: got %s", c, out);
			bad = 1;
		}
	}
	for (s = 1; s < 200 && !bad; s++) {
		if (parse(in, len, 0, s, out, sizeof(out)) != wantlen ||
		    memcmp(out, want, wantlen) != 0) {
			diag("random seed %u: got %s", s, out);
			bad = 1;
		}
	}
	ok(!bad, "%s", what);
}

int
main(void)
{
	static const char s1[] = "PING\r\nUPPER\nDATA 5\nab\ncdDATA 0\nEND\n";
	static const char s2[] = "DATA 3\n\0\0\xff" "OK 3\n";
	static const char s3[] = "0123456789abcdefXYZ\n";
	const char *text;
	char hdr[PROTO_DATA_HDR_MAX];

	check_splits(s1, sizeof(s1) - 1,
	    "L[PING]L[UPPER]D[ab\ncd]D[]L[END]",
	    "lines, CRLF, a frame with a newline inside, an empty frame");
	check_splits(s2, sizeof(s2) - 1, "D[\0\0\xff]L[OK 3]",
	    "binary payload with NUL and high bytes");
	check_splits(s3, sizeof(s3) - 1, "E[long]", "over-long line");
	check_splits("0123456789abcdef\n", (size_t)17, "L[0123456789abcdef]",
	    "a line of exactly max_line bytes");
	check_splits("0123456789abcdef\r\n", 18, "L[0123456789abcdef]",
	    "max_line bytes plus CRLF");
	check_splits("DATA -1\n", 8, "E[frame]", "negative length");
	check_splits("DATA 101\n", 9, "E[frame]", "frame above the limit");
	check_splits("DATA 99999999999\n", 17, "E[frame]", "huge length");
	check_splits("DATA\n", 5, "E[frame]", "DATA without length");
	check_splits("DATA 1x\n", 8, "E[frame]", "junk after the length");
	check_splits("data 2\nhiDATABASE\n", 18, "D[hi]L[DATABASE]",
	    "lower-case header; DATABASE is a line");
	check_splits("DATA 2\nhiEND\nE[x]", 17, "D[hi]L[END]",
	    "partial line at the end is held back");

	/* Payload moved around the parser (spliced), then parsing goes on. */
	{
		struct proto_parser	p;
		struct proto_event	ev;
		static const char	in[] = "DATA 10\nabc";

		proto_init(&p, 16, 100);
		is_int((long long)proto_frame_left(&p), 0,
		    "frame_left outside a frame");
		is_int((long long)proto_feed(&p, in, sizeof(in) - 1, &ev), 8,
		    "header consumed alone");
		is_int((long long)proto_frame_left(&p), 10,
		    "frame_left after the header");
		proto_skip(&p, 4);
		is_int((long long)proto_frame_left(&p), 6, "skip 4: 6 left");
		(void)proto_feed(&p, "xy", 2, &ev);
		ok(ev.kind == PROTO_DATA && ev.len == 2 && !ev.frame_done,
		    "feeding inside the frame still works");
		proto_skip(&p, 100);
		ok(!proto_in_frame(&p) && proto_frame_left(&p) == 0,
		    "skipping past the end ends the frame, no more");
		(void)proto_feed(&p, "END\n", 4, &ev);
		ok(ev.kind == PROTO_LINE && strcmp(ev.line, "END") == 0,
		    "the line after a skipped frame parses");
		proto_skip(&p, 3);
		(void)proto_feed(&p, "PING\n", 5, &ev);
		ok(ev.kind == PROTO_LINE && strcmp(ev.line, "PING") == 0,
		    "skip outside a frame does nothing");
		proto_free(&p);
	}

	/*
	 * Counts are checked against the limit before they can wrap: with a
	 * 32-bit size_t, 4294967297 is 2^32 + 1 and once wrapped to 1.
	 */
	{
		struct proto_parser	p;
		struct proto_event	ev;
		static const char	big[] = "DATA 4294967297\nx";
		static const char	max[] = "DATA 9999999999\n";
		/* Variables: constants would be out of a 32-bit range. */
		unsigned long long	two32p1 = 4294967297ULL;
		unsigned long long	ten9s = 9999999999ULL;

		proto_init(&p, 64, SIZE_MAX);
		(void)proto_feed(&p, big, sizeof(big) - 1, &ev);
		if (SIZE_MAX < two32p1)
			ok(ev.kind == PROTO_ERR_FRAME, "%zu-bit size_t: DATA "
			    "4294967297 is too long, not a frame of %zu",
			    sizeof(size_t) * 8, proto_frame_left(&p));
		else
			ok(ev.kind == PROTO_NONE && proto_in_frame(&p) &&
			    proto_frame_left(&p) == two32p1,
			    "%zu-bit size_t: DATA 4294967297 is that long",
			    sizeof(size_t) * 8);
		proto_free(&p);
		proto_init(&p, 64, SIZE_MAX);
		(void)proto_feed(&p, max, sizeof(max) - 1, &ev);
		if (SIZE_MAX < ten9s)
			ok(ev.kind == PROTO_ERR_FRAME, "DATA 9999999999: too "
			    "long, not a frame of %zu", proto_frame_left(&p));
		else
			ok(proto_frame_left(&p) == ten9s,
			    "DATA 9999999999: the largest count there is");
		proto_free(&p);
		proto_init(&p, 64, 4294967295U);
		(void)proto_feed(&p, big, sizeof(big) - 1, &ev);
		ok(ev.kind == PROTO_ERR_FRAME, "DATA 4294967297 with a limit "
		    "of 2^32 - 1: too long (not %zu)", proto_frame_left(&p));
		proto_free(&p);
	}
	check_splits("DATA 100\n", 9, "", "a count of exactly the limit");
	check_splits("DATA 1000\n", 10, "E[frame]", "ten times the limit");
	{
		struct proto_parser	p;
		struct proto_event	ev;

		proto_init(&p, 16, 5);
		(void)proto_feed(&p, "DATA 5\n", 7, &ev);
		ok(proto_frame_left(&p) == 5, "limit 5: DATA 5 is a frame");
		proto_reset(&p);
		(void)proto_feed(&p, "DATA 6\n", 7, &ev);
		ok(ev.kind == PROTO_ERR_FRAME, "limit 5: DATA 6, one digit "
		    "above it, is too long");
		proto_free(&p);
	}
	check_splits("DATA 0000000100\n", 16, "", "ten digits, leading "
	    "zeros");

	is_int((long long)proto_data_header(hdr, 12345), 11,
	    "header length");
	is_str(hdr, "DATA 12345\n", "header text");
	is_int(proto_parse_final("OK", &text), 0, "bare OK");
	is_int(proto_parse_final("OK 5 rows", &text), 0, "OK with text");
	is_str(text, "5 rows", "OK text");
	is_int(proto_parse_final("ERR 404 unknown", &text), 404, "ERR code");
	is_str(text, "unknown", "ERR text");
	is_int(proto_parse_final("ERR x", &text), -1, "bad ERR");
	is_int(proto_parse_final("OKAY", &text), -1, "OKAY is not OK");
	return done_testing();
}
