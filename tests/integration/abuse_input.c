/*
 * Abuse, input: what a hostile or broken client sends on one connection
 * (shell metacharacters, random bytes, NULs, a line without end, bad
 * frame headers, a request one byte per write, a half-close anywhere).
 * Every reply must be a well-formed final line, the daemon must live.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proto.h"

#include "tests/integration/abuse.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

void
test_metachar(void)
{
	char		 mark[128], line[256];
	struct reply	 r;
	long long	 spawned0;
	size_t		 i;
	int		 fd, good = 0, n = 0;
	static const struct {
		const char	*fmt;	/* %s: the marker file */
		int		 code;
	} cases[] = {
		{ "RUN $(id)", 404 }, { "RUN ;id", 404 }, { "RUN |id", 404 },
		{ "RUN `id`", 404 }, { "RUN &id", 404 }, { "RUN id;", 404 },
		{ "RUN $(touch${IFS}%s)", 404 }, { "RUN `touch${IFS}%s`", 404 },
		{ "RUN ;touch${IFS}%s", 404 }, { "RUN df;touch${IFS}%s", 404 },
		{ "RUN df|touch${IFS}%s", 404 }, { "RUN df&&touch${IFS}%s", 404 },
		{ "RUN ;touch %s", 400 }, { "RUN `touch %s`", 400 },
		{ "RUN upper\ttouch\t%s", 404 }, { "RUN ../../bin/sh", 404 },
		{ "RUN /bin/sh", 404 }, { "RUN sh", 404 },
		{ "UPPER ;touch %s", 400 }, { "UPPER;touch${IFS}%s", 404 },
		{ "$(touch${IFS}%s)", 404 }, { "`touch${IFS}%s`", 404 },
		{ ";touch${IFS}%s", 404 }, { "DF;touch${IFS}%s", 404 },
		{ "DF --native;touch${IFS}%s", 400 },
	};

	snprintf(mark, sizeof(mark), "/tmp/brokerd-abuse-pwned.%d",
	    (int)getpid());
	unlink(mark);
	fd = conn_to(D.broker_port);
	spawned0 = stat_fd(fd, "children_spawned");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *pct = strstr(cases[i].fmt, "%s");

		if (pct != NULL)
			snprintf(line, sizeof(line), "%.*s%s%s",
			    (int)(pct - cases[i].fmt), cases[i].fmt, mark,
			    pct + 2);
		else
			snprintf(line, sizeof(line), "%s", cases[i].fmt);
		strcat(line, "\n");
		/* RUN and UPPER owe their input up to END, even refused. */
		if (strncmp(line, "RUN", 3) == 0 ||
		    strncmp(line, "UPPER ", 6) == 0)
			strcat(line, "END\n");
		send_all(fd, line, strlen(line));
		sum.requests++;
		n++;
		read_reply(fd, &r, 3000);
		if (r.code == cases[i].code)
			good++;
		else
			diag("%s: got %d %s", cases[i].fmt, r.code, r.text);
		reply_free(&r);
	}
	is_int(good, n, "%d requests with shell metacharacters ($(), ``, ;, "
	    "|, &&, paths, tabs): each ERR 404 unknown, or 400 where spaces "
	    "make extra arguments", n);
	ok(ping_fd(fd, 3000), "the connection stays usable throughout");
	is_int(stat_fd(fd, "children_spawned"), spawned0,
	    "no process was spawned for any of them");
	close(fd);
	ok(access(mark, F_OK) != 0, "no file created by an injected touch");
	note("%d requests with shell metacharacters: 404/400, nothing "
	    "spawned, nothing created", n);
	unlink(mark);
}

/*
 * Streams junk (full duplex), half-closes, reads to EOF; counts the
 * replies, which must all be well-formed final lines.
 */
static void
garbage_run(const char *junk, size_t len, unsigned long *replies,
    unsigned long *bad, int *last, size_t *taken, int *eofp)
{
	struct proto_parser	 p;
	struct proto_event	 ev;
	struct pollfd		 pfd;
	char			 rbuf[65536];
	const char		*text;
	size_t			 woff = 0, off, k;
	long long		 start = now_ms();
	int			 fd = conn_to(D.broker_port), eof = 0, werr = 0;
	ssize_t			 n;

	*replies = *bad = 0;
	*last = -1;
	proto_init(&p, 8192, PROTO_MAX_FRAME);
	nonblock(fd, 1);
	while (!eof && now_ms() - start < 20000) {
		pfd.fd = fd;
		pfd.events = POLLIN | (woff < len && !werr ? POLLOUT : 0);
		if (poll(&pfd, 1, 500) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && woff < len && !werr) {
			n = send(fd, junk + woff, len - woff > 65536 ? 65536 :
			    len - woff, MSG_NOSIGNAL);
			if (n > 0) {
				woff += (size_t)n;
				if (woff == len)
					shutdown(fd, SHUT_WR);
			} else if (n < 0 && errno != EAGAIN)
				werr = 1;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((n = read(fd, rbuf, sizeof(rbuf))) < 0 && errno == EAGAIN)
			continue;
		if (n <= 0) {
			eof = 1;
			continue;
		}
		sum.recv += (size_t)n;
		for (off = 0; off < (size_t)n; off += k) {
			k = proto_feed(&p, rbuf + off, (size_t)n - off, &ev);
			if (ev.kind == PROTO_LINE) {
				if ((*last = proto_parse_final(ev.line,
				    &text)) >= 0)
					(*replies)++;
				else
					(*bad)++;
			} else if (ev.kind == PROTO_ERR_LONG ||
			    ev.kind == PROTO_ERR_FRAME)
				(*bad)++;
		}
	}
	proto_free(&p);
	close(fd);
	sum.sent += woff;
	*taken = woff;
	*eofp = eof;
}

void
test_random_garbage(void)
{
	const size_t	 len = MIB;
	char		*junk = malloc(len);
	size_t		 i, taken, ll = 0, lstart = 0, want = 0, j;
	unsigned long	 replies, bad;
	int		 last, eof, nonblank = 0, nul = 0;

	/* Pure random bytes: sooner or later a line is too long. */
	srand(20250611);
	for (i = 0; i < len; i++)
		junk[i] = (char)(rand() >> 7);
	garbage_run(junk, len, &replies, &bad, &last, &taken, &eof);
	ok(eof && bad == 0 && replies > 0 && (last == 413 || last == 400),
	    "1 MiB of random bytes: %lu replies, each a well-formed OK/ERR "
	    "line, the last ERR %d, then close (%zu bytes taken)", replies,
	    last, taken);

	/* Random binary lines under max_line: every one is answered. */
	for (i = 0; i < len; i++) {
		if (ll == 0)
			ll = (size_t)(rand() % 300) + 1;
		junk[i] = (char)(rand() >> 7);
		if (junk[i] == '\n')
			junk[i] = ' ';
		if (--ll == 0 || i == len - 1) {
			/* The line [lstart, i): answered unless blank. */
			junk[i] = '\n';
			nonblank = nul = 0;
			for (j = lstart; j < i; j++) {
				if (junk[j] == '\0')
					nul = 1;
				if (junk[j] != ' ' && junk[j] != '\t' &&
				    !(junk[j] == '\r' && j == i - 1))
					nonblank = 1;
			}
			want += nonblank || nul;
			lstart = i + 1;
		}
	}
	garbage_run(junk, len, &replies, &bad, &last, &taken, &eof);
	ok(eof && bad == 0 && taken == len && replies == want,
	    "1 MiB of random binary lines: all %lu answered (%zu expected), "
	    "each a well-formed OK/ERR line, then EOF after the half-close",
	    replies, want);
	note("garbage: 1 MiB of random bytes (%s) and 1 MiB of random "
	    "binary lines (%lu of %zu answered)", last == 413 ?
	    "ERR 413, close" : "ERR, close", replies, want);
	free(junk);
	check_alive("random garbage");
}

void
test_nul(void)
{
	struct reply	 r;
	char		*zeros = calloc(1, 65536);
	int		 fd = conn_to(D.broker_port);

	send_all(fd, "PI\0NG\n", 6);
	read_reply(fd, &r, 3000);
	ok(r.code == 400 && strstr(r.text, "NUL") != NULL,
	    "a NUL byte inside a request line: ERR 400 (%s)", r.text);
	reply_free(&r);
	ok(ping_fd(fd, 3000), "and the connection stays usable");
	send_all(fd, "\0\0\0\0\n", 5);
	read_reply(fd, &r, 3000);
	is_int(r.code, 400, "a line of NULs: ERR 400");
	reply_free(&r);
	close(fd);
	fd = conn_to(D.broker_port);
	send_all(fd, zeros, 65536);
	sum.sent += 65536;
	read_reply(fd, &r, 3000);
	ok(r.code == 413 && eof_within(fd, 3000) == 1,
	    "64 KiB of NULs without a newline: ERR 413, then closed");
	reply_free(&r);
	close(fd);
	free(zeros);
	note("NUL bytes: inside a line (ERR 400, connection kept), 64 KiB "
	    "of them (ERR 413, close)");
	check_alive("NUL bytes");
}

/* 100 MiB without a newline, streamed: ERR 413 early, memory bounded. */
void
test_huge_line(void)
{
	const size_t		 total = 100 * (size_t)MIB;
	struct proto_parser	 p;
	struct proto_event	 ev;
	struct pollfd		 pfd;
	char			*chunk = malloc(65536), rbuf[4096], text[512];
	const char		*t;
	size_t			 sent = 0, off, k;
	long long		 start = now_ms();
	long			 rss, maxrss = 0;
	int			 fd = conn_to(D.broker_port), eof = 0;
	int			 code = -1, stop = 0, iter = 0;
	ssize_t			 n;

	memset(chunk, 'A', 65536);
	snprintf(text, sizeof(text), "none");
	proto_init(&p, 8192, PROTO_MAX_FRAME);
	nonblock(fd, 1);
	while (!eof && now_ms() - start < 20000) {
		pfd.fd = fd;
		pfd.events = POLLIN | (sent < total && !stop ? POLLOUT : 0);
		if (++iter % 8 == 0 && (rss = proc_rss_kb(D.pid)) > maxrss)
			maxrss = rss;
		if (poll(&pfd, 1, 500) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && sent < total && !stop) {
			n = send(fd, chunk, total - sent > 65536 ? 65536 :
			    total - sent, MSG_NOSIGNAL);
			if (n > 0)
				sent += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				stop = 1;	/* closed: stop sending */
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if ((n = read(fd, rbuf, sizeof(rbuf))) < 0 && errno == EAGAIN)
			continue;
		if (n <= 0) {
			eof = 1;
			continue;
		}
		for (off = 0; off < (size_t)n; off += k) {
			k = proto_feed(&p, rbuf + off, (size_t)n - off, &ev);
			if (ev.kind == PROTO_LINE && code < 0) {
				code = proto_parse_final(ev.line, &t);
				snprintf(text, sizeof(text), "%s", ev.line);
				stop = 1;	/* answered: stop sending */
			}
		}
	}
	if ((rss = proc_rss_kb(D.pid)) > maxrss)
		maxrss = rss;
	proto_free(&p);
	close(fd);
	free(chunk);
	sum.sent += sent;
	ok(code == 413, "a 100 MiB line without a newline: %s", text);
	ok(eof && sent < total, "then the connection is closed and the "
	    "client stops early (%zu of %zu bytes sent, %lld ms)", sent, total,
	    now_ms() - start);
	ok_rss(maxrss > 0 && maxrss < 32 * 1024, "daemon RSS stayed under "
	    "32 MiB (max %ld KiB)", maxrss);
	note("a 100 MiB line without newline: ERR %d after %zu bytes sent, "
	    "daemon RSS max %ld KiB", code, sent, maxrss);
	check_alive("a 100 MiB line");
}

void
test_bad_headers(void)
{
	static const char *const hdrs[] = {
		"DATA -1", "DATA -2147483648", "DATA 1048577",
		"DATA 4294967296", "DATA 9999999999", "DATA 99999999999",
		"DATA 18446744073709551617", "DATA 0x10", "DATA +5",
		"DATA 1e3", "DATA ", "DATA", "DATA 5 5", "data -7",
	};
	struct reply	r;
	size_t		i;
	char		buf[128];
	int		fd, good = 0;

	for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
		fd = conn_to(D.broker_port);
		snprintf(buf, sizeof(buf), "UPPER\n%s\n", hdrs[i]);
		send_all(fd, buf, strlen(buf));
		sum.requests++;
		read_reply(fd, &r, 3000);
		if (r.code == 400 && eof_within(fd, 3000) == 1)
			good++;
		else
			diag("\"%s\": got %d %s", hdrs[i], r.code, r.text);
		reply_free(&r);
		close(fd);
	}
	is_int(good, (long long)(sizeof(hdrs) / sizeof(hdrs[0])),
	    "%zu frame headers with huge, negative or malformed lengths "
	    "(-1, 2^31, 1 MiB + 1, 2^32, 11 and 20 digits, hex, +, 1e3, "
	    "none): each ERR 400 and close", sizeof(hdrs) / sizeof(hdrs[0]));
	fd = conn_to(D.broker_port);
	send_all(fd, "DATA -1\n", 8);
	read_reply(fd, &r, 3000);
	ok(r.code == 400 && eof_within(fd, 3000) == 1,
	    "DATA -1 where a request is due: ERR 400 and close");
	reply_free(&r);
	close(fd);
	fd = conn_to(D.broker_port);
	send_all(fd, "RUN nosuch\nDATA -1\n", 20);
	read_reply(fd, &r, 3000);
	ok(r.code == 404, "a bad header in the input of a refused request: "
	    "first its ERR 404 (%s)", r.text);
	reply_free(&r);
	read_reply(fd, &r, 3000);
	ok(r.code == 400 && eof_within(fd, 3000) == 1, "then ERR 400 and "
	    "close");
	reply_free(&r);
	close(fd);
	fd = conn_to(D.broker_port);
	send_all(fd, "UPPER\nDATA 4\nabcdHELLO\n", 23);
	read_reply(fd, &r, 3000);
	ok(r.code == 400 && eof_within(fd, 3000) == 1,
	    "a stray line where a frame or END is due: ERR 400 and close");
	reply_free(&r);
	close(fd);
	note("%zu bad DATA headers (huge, negative, malformed) plus 3 "
	    "misplaced or refused-input frames: ERR 400 and close each",
	    sizeof(hdrs) / sizeof(hdrs[0]));
	check_alive("bad frame headers");
}

/* Every byte of the request, headers included, in its own write. */
void
test_byte_by_byte(void)
{
	static const char p1[] = "split byte by byte: hello, world";
	static const char p2[] = "second\0frame \xff\xfe mixed\r\nCase z";
	char		 stream[512], want[128];
	size_t		 len = 0, wl = 0, i;
	struct reply	 r;
	long long	 t0 = now_ms();
	int		 fd = conn_to(D.broker_port), on = 1, good;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	len += (size_t)snprintf(stream + len, sizeof(stream) - len,
	    "UPPER\nDATA %zu\n", sizeof(p1) - 1);
	memcpy(stream + len, p1, sizeof(p1) - 1);
	len += sizeof(p1) - 1;
	len += (size_t)snprintf(stream + len, sizeof(stream) - len,
	    "data 0\nData %zu\n", sizeof(p2) - 1);
	memcpy(stream + len, p2, sizeof(p2) - 1);
	len += sizeof(p2) - 1;
	memcpy(stream + len, "END\nPING\n", 9);
	len += 9;
	for (i = 0; i < sizeof(p1) - 1; i++)
		want[wl++] = upc(p1[i]);
	for (i = 0; i < sizeof(p2) - 1; i++)
		want[wl++] = upc(p2[i]);
	for (i = 0; i < len; i++) {
		if (send(fd, stream + i, 1, MSG_NOSIGNAL) != 1)
			break;
		usleep(300);
	}
	sum.sent += i;
	sum.requests += 2;
	read_reply(fd, &r, 5000);
	good = r.code == 0 && r.len == wl && memcmp(r.data, want, wl) == 0;
	exact(good, wl);
	ok(good, "UPPER with request, DATA headers (any case, an empty frame) "
	    "and payload all sent one byte per write: byte-exact output "
	    "(%zu writes, %lld ms)", len, now_ms() - t0);
	reply_free(&r);
	read_reply(fd, &r, 3000);
	ok(r.code == 0 && strcmp(r.text, "pong") == 0,
	    "and the PING after it, also byte by byte");
	reply_free(&r);
	close(fd);
	note("UPPER + PING sent one byte per write (%zu writes): "
	    "byte-exact", len);
	check_alive("byte-by-byte frames");
}

void
test_half_close(void)
{
	static const struct {
		const char	*bytes;
		const char	*what;
	} cases[] = {
		{ "UPPER\nDATA 10\nabc", "mid-frame" },
		{ "UPPER\nDAT", "mid-header" },
		{ "UPPER\nDATA 3\nabc", "before END" },
		{ "RUN victim\nDATA 5\nab", "mid-frame to a command without "
		    "input" },
		{ "PIN", "mid-request-line" },
	};
	struct reply	r;
	size_t		i;
	long long	t0, el;
	int		fd;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fd = conn_to(D.broker_port);
		send_all(fd, cases[i].bytes, strlen(cases[i].bytes));
		shutdown(fd, SHUT_WR);
		t0 = now_ms();
		read_reply(fd, &r, 5000);
		el = now_ms() - t0;
		ok((r.code == 400 || strcmp(r.text, "eof") == 0) &&
		    (r.code != 400 || eof_within(fd, 3000) == 1) && el < 3000,
		    "half-close %s: %s%s%s in %lld ms", cases[i].what,
		    r.code == 400 ? "ERR 400 " : "",
		    r.code == 400 ? r.text : "closed",
		    r.code == 400 ? ", then closed" : "", el);
		reply_free(&r);
		close(fd);
	}
	ok(wait_children(D.pid, 0, 5000), "no command left running");
	note("%zu half-closes mid-frame/header/line: ERR 400 or close at "
	    "once", sizeof(cases) / sizeof(cases[0]));
	check_alive("half-closes");
}
