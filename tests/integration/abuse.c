/* Abuse tests: the helpers the theme files share; see abuse.h. */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/abuse.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

struct daemon		D;
int			D_idle;
struct abuse_sum	sum;

static char	*notes[24];
static int	 nnotes;

void
note(const char *fmt, ...)
{
	va_list ap;

	if (nnotes == (int)(sizeof(notes) / sizeof(notes[0])))
		return;
	va_start(ap, fmt);
	if (vasprintf(&notes[nnotes], fmt, ap) >= 0)
		nnotes++;
	va_end(ap);
}

char
upc(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

void
exact(int good, size_t bytes)
{
	if (good) {
		sum.exact_ok++;
		sum.exact_bytes += bytes;
	} else
		sum.exact_bad++;
}

int
conn_from(const char *src, int port)
{
	int fd = tcp_connect_from(src, port);

	if (fd >= 0)
		sum.conns++;
	return fd;
}

int
conn_to(int port)
{
	return conn_from(NULL, port);
}

int
conn_nb(int port)
{
	int fd = tcp_connect_nb(port);

	if (fd >= 0)
		sum.conns++;
	return fd;
}

int
ping_fd(int fd, int timeout_ms)
{
	struct reply	r;
	int		good;

	if (send_all(fd, "PING\n", 5) != 5)
		return 0;
	sum.requests++;
	read_reply(fd, &r, timeout_ms);
	good = r.code == 0 && strcmp(r.text, "pong") == 0;
	reply_free(&r);
	return good;
}

int
ping_port(int port)
{
	int fd = conn_to(port), good;

	if (fd < 0)
		return 0;
	good = ping_fd(fd, 3000);
	close(fd);
	return good;
}

void
check_alive(const char *after)
{
	ok(d_alive(&D) && ping_port(D.broker_port),
	    "after %s: daemon alive, PING answered", after);
}

long long
stat_fd(int fd, const char *key)
{
	struct reply	r;
	long long	v = -1;

	sum.requests++;
	if (request(fd, "STATS", &r) == 0)
		v = stat_value(r.data, key);
	reply_free(&r);
	return v;
}

int
echo_rt(int port, const char *buf, size_t len, int timeout_ms)
{
	char	*back = malloc(len + 1);
	size_t	 got = 0;
	int	 fd = conn_to(port), good = 0, eof = 0;

	if (fd >= 0) {
		got = echo_duplex(fd, buf, len, 0, back, &eof, timeout_ms);
		good = eof && got == len && memcmp(buf, back, len) == 0;
		close(fd);
	}
	sum.sent += got;
	sum.recv += got;
	exact(good, fd >= 0 ? len : 0);
	free(back);
	return good;
}

void
xfer(int fd, const char *req, const char *in, size_t len, size_t fsz,
    const char *expect, size_t explen, struct pump *x, int timeout_ms)
{
	memset(x, 0, sizeof(*x));
	x->req = req;
	x->in = in;
	x->len = len;
	x->frame = fsz;
	x->expect = expect;
	x->explen = explen;
	x->timeout_ms = timeout_ms;
	pump_run(fd, x);
	if (expect != NULL)
		exact(x->bad == 0, x->got);
	sum.sent += x->wire;
	sum.recv += x->read;
	sum.requests++;
}

char *
main_conf(const char *extra)
{
	char *s;

	if (asprintf(&s, "%s%scommands = {\n%s%s};\n", LISTEN, MAIN_LIMITS,
	    MAIN_COMMANDS, extra) < 0)
		bail("asprintf");
	return s;
}

int
start_daemon(struct daemon *dm, const char *conf)
{
	if (d_start(dm, conf, NULL) != 0)
		return -1;
	return dm->echo_port > 0 && dm->broker_port > 0 ? 0 : -1;
}

void
conf_replace(struct daemon *dm, const char *text)
{
	char *s;

	if (asprintf(&s, "%s\ncontrol = { path = \"%s\"; };\n", text,
	    dm->control) < 0)
		bail("asprintf");
	replace_text(dm->conf, s);
	free(s);
}

void
summary(long long start)
{
	int i;

	for (i = 0; i < nnotes; i++) {
		diag("tried: %s", notes[i]);
		free(notes[i]);
	}
	diag("summary: %lu connections opened, %lu requests, %llu bytes sent, "
	    "%llu received, %u signals, in %.1f s", sum.conns, sum.requests,
	    sum.sent, sum.recv, sum.signals,
	    (double)(now_ms() - start) / 1000.0);
	diag("summary: %lu byte-exact checks over %llu bytes: %s",
	    sum.exact_ok + sum.exact_bad, sum.exact_bytes,
	    sum.exact_bad == 0 ? "all passed, nothing lost" : "SOME FAILED");
}
