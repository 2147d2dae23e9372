/*
 * Abuse: hostile and careless clients, misbehaving children, fd
 * exhaustion and signal storms against the real daemon, each bounded in
 * time and traffic, on loopback only.  A closing diag summary says what
 * was tried and whether every byte-exact check passed.
 *
 * For development: ABUSE_TESTS="slowloris storm ..." runs only the groups
 * named (per-source metachar garbage children never-read backlog slowloris
 * storm flood max_clients); ABUSE_VERBOSE=1 adds detail.
 */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/proto.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

#define KIB	1024
#define MIB	(1024 * 1024)

#define LISTEN \
"listen = ( { service = \"echo\"; address = \"127.0.0.1\"; port = 0; },\n" \
"  { service = \"broker\"; address = \"127.0.0.1\"; port = 0; } );\n"

#define MAIN_LIMITS \
"limits = { max_clients = 5000; max_clients_per_source = 2000;\n" \
"  max_children = 64; request_timeout_s = 2; idle_timeout_s = 5;\n" \
"  command_timeout_s = 3; };\n"

/* Markers (sleep 3x.5) let us find leftovers by their command line. */
#define MAIN_COMMANDS \
"  df = { argv = [ \"df\", \"-hl\" ]; output = \"df\"; };\n" \
"  upper = { argv = [ \"tr\", \"[:lower:]\", \"[:upper:]\" ]; input = true; };\n" \
"  exitearly = { argv = [ \"sh\", \"-c\", \"exit 0\" ]; input = true; };\n" \
"  stderrflood = { argv = [ \"sh\", \"-c\",\n" \
"    \"head -c 5000000 /dev/zero >&2; echo ok\" ]; };\n" \
"  noterm = { argv = [ \"sh\", \"-c\", \"trap '' TERM; sleep 32.5\" ];\n" \
"    timeout_s = 1; };\n" \
"  family = { argv = [ \"sh\", \"-c\", \"sleep 31.5 & echo started\" ]; };\n" \
"  victim = { argv = [ \"sleep\", \"33.5\" ]; timeout_s = 20; };\n"

#define STORM_COMMAND \
"  stormmark = { argv = [ \"echo\", \"storm-ok\" ]; };\n"

static struct daemon	D;		/* the main daemon */
static int		D_idle;		/* its fd count when idle */
static int		have_fds;	/* RLIMIT_NOFILE high enough */

/* For the closing summary. */
static struct {
	unsigned long		conns;
	unsigned long long	sent, recv;
	unsigned long		exact_ok, exact_bad;
	unsigned long long	exact_bytes;
	unsigned long		requests;
	unsigned		signals, hups, usr1s;
} sum;

/* What was tried, one line per test group, for the closing summary. */
static char	*notes[24];
static int	 nnotes;

static void __attribute__((format(printf, 1, 2)))
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

static void
msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static char
upc(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

static void
exact(int good, size_t bytes)
{
	if (good) {
		sum.exact_ok++;
		sum.exact_bytes += bytes;
	} else
		sum.exact_bad++;
}

static int
conn_from(const char *src, int port)
{
	int fd = tcp_connect_from(src, port);

	if (fd >= 0)
		sum.conns++;
	return fd;
}

static int
conn_to(int port)
{
	return conn_from(NULL, port);
}

static void
nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* A non-blocking connect: the daemon may not accept for a while. */
static int
connect_nb(int port)
{
	struct sockaddr_in	sin;
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	sum.conns++;
	return fd;
}

/* 1: EOF (or reset) without data; 2: data; 0: nothing within ms. */
static int
eof_within(int fd, int ms)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	char		c;
	ssize_t		n;

	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n > 0)
		return 2;
	if (n == 0 || errno == ECONNRESET)
		return 1;
	return 0;
}

/* Reads one byte within ms: 1, or 0 on EOF, -1 on error or timeout. */
static int
read_byte(int fd, int ms, char *c)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	ssize_t		n;

	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	n = recv(fd, c, 1, MSG_DONTWAIT);
	return n == 1 ? 1 : n == 0 ? 0 : -1;
}

static int
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

static int
ping_port(int port)
{
	int fd = conn_to(port), good;

	if (fd < 0)
		return 0;
	good = ping_fd(fd, 3000);
	close(fd);
	return good;
}

static void
check_alive(const char *after)
{
	ok(d_alive(&D) && ping_port(D.broker_port),
	    "after %s: daemon alive, PING answered", after);
}

static long long
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

static long long
stat_port(int port, const char *key)
{
	int		fd = conn_to(port);
	long long	v;

	if (fd < 0)
		return -1;
	v = stat_fd(fd, key);
	close(fd);
	return v;
}

/* The pid of a running command, from STATS "child.N pid P command NAME". */
static pid_t
child_pid_of(int port, const char *name, int timeout_ms)
{
	long long start = now_ms();

	do {
		struct reply	 r;
		const char	*p;
		pid_t		 pid = 0;
		int		 fd = conn_to(port);

		if (fd < 0)
			return -1;
		sum.requests++;
		request(fd, "STATS", &r);
		for (p = r.data; p != NULL && *p != '\0'; ) {
			char	nm[64];
			int	pp;

			if (sscanf(p, "child.%*d\tpid %d command %63s", &pp,
			    nm) == 2 && strcmp(nm, name) == 0) {
				pid = pp;
				break;
			}
			if ((p = strchr(p, '\n')) != NULL)
				p++;
		}
		reply_free(&r);
		close(fd);
		if (pid > 0)
			return pid;
		msleep(20);
	} while (now_ms() - start < timeout_ms);
	return -1;
}

/* Lists a process's fds (on a failure, to tell what is left open). */
static void
diag_fds(pid_t pid)
{
	char		 path[64], link[400], target[256];
	DIR		*dir;
	struct dirent	*de;
	ssize_t		 n;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		if ((n = readlink(link, target, sizeof(target) - 1)) < 0)
			continue;
		target[n] = '\0';
		diag("  fd %s -> %s", de->d_name, target);
	}
	closedir(dir);
}

static int
wait_children(pid_t pid, int want, int timeout_ms)
{
	long long start = now_ms();

	while (proc_nchildren(pid) != want && now_ms() - start < timeout_ms)
		msleep(10);
	return proc_nchildren(pid) == want;
}

static int
wait_fds(pid_t pid, int want, int timeout_ms)
{
	long long start = now_ms();

	while (proc_nfds(pid) != want && now_ms() - start < timeout_ms)
		msleep(10);
	if (proc_nfds(pid) == want)
		return 1;
	diag("pid %d has %d fds, not %d:", (int)pid, proc_nfds(pid), want);
	diag_fds(pid);
	return 0;
}

/*
 * RSS a sanitizer may add without any leak: ASan holds freed memory in
 * its quarantine (ASAN_OPTIONS quarantine_size_mb, 256 by default) and
 * RSS grows until that is full.  An ASan process is told by its shadow
 * memory: terabytes of address space.
 */
static long
sanitizer_slack_kb(pid_t pid)
{
	char		 path[64], line[256];
	const char	*opt = getenv("ASAN_OPTIONS"), *q;
	FILE		*f;
	long		 vm = 0, mb = 256;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmSize:", 7) == 0)
			vm = atol(line + 7);
	fclose(f);
	if (vm < 1024L * 1024 * 1024)	/* under 1 TiB: no sanitizer */
		return 0;
	if (opt != NULL && (q = strstr(opt, "quarantine_size_mb=")) != NULL)
		mb = atol(q + strlen("quarantine_size_mb="));
	return (mb + 8) * 1024;
}

static long
proc_nofile(pid_t pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 v = -1;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Max open files", 14) == 0)
			v = atol(line + 14);
	fclose(f);
	return v;
}

/* Live processes "sleep MARKER" anywhere on the machine. */
static int
marker_procs(const char *marker)
{
	DIR		*dir = opendir("/proc");
	struct dirent	*de;
	char		 path[300], buf[256], *a0, *a1, *base;
	ssize_t		 len;
	int		 fd, n = 0;

	if (dir == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;	/* kernel threads and zombies */
		buf[len] = '\0';
		a0 = buf;
		a1 = buf + strlen(buf) + 1;
		if (a1 - buf >= len)
			continue;
		base = strrchr(a0, '/') != NULL ? strrchr(a0, '/') + 1 : a0;
		if (strcmp(base, "sleep") == 0 && strcmp(a1, marker) == 0)
			n++;
	}
	closedir(dir);
	return n;
}

static int
wait_no_marker(const char *marker, int timeout_ms)
{
	long long start = now_ms();

	while (marker_procs(marker) != 0 && now_ms() - start < timeout_ms)
		msleep(20);
	return marker_procs(marker) == 0;
}

static long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/*
 * Writes len bytes to a new echo connection while reading them back,
 * then half-closes; 1 if every byte came back and then EOF.
 */
static int
echo_rt(int port, const char *buf, size_t len, int timeout_ms)
{
	struct pollfd	 pfd;
	char		*back = malloc(len + 1);
	size_t		 woff = 0, roff = 0;
	long long	 start = now_ms();
	ssize_t		 n;
	int		 fd = conn_to(port), good, eof = 0;

	if (fd < 0) {
		free(back);
		exact(0, 0);
		return 0;
	}
	nonblock(fd, 1);
	if (len == 0)
		shutdown(fd, SHUT_WR);
	while (!eof && now_ms() - start < timeout_ms) {
		pfd.fd = fd;
		pfd.events = POLLIN | (woff < len ? POLLOUT : 0);
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && woff < len) {
			n = send(fd, buf + woff, len - woff > 262144 ? 262144 :
			    len - woff, MSG_NOSIGNAL);
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
				eof = 1;
		}
	}
	good = eof && woff == len && roff == len &&
	    memcmp(buf, back, len) == 0;
	sum.sent += woff;
	sum.recv += roff;
	exact(good, len);
	close(fd);
	free(back);
	return good;
}

struct xres {
	int		 code;		/* final line: 0 OK, ERR code, -1 none */
	char		 text[512];
	size_t		 got;		/* output payload bytes */
	size_t		 bad;		/* output bytes that differ */
	size_t		 wire;		/* bytes written */
	int		 all_sent;	/* request, input and END all written */
	int		 eof;		/* the daemon closed (EOF or reset) */
	int		 werr;		/* a write failed */
	long long	 ms;		/* until the final line */
};

/*
 * Full duplex like a proper client: "req\n" (unless NULL), in[0..len) in
 * DATA frames of fsz, then END, while reading the reply; stops once both
 * the final line arrived and everything was written, or on close or
 * timeout.  When expect is set the output must equal expect[0..explen).
 */
static void
xfer(int fd, const char *req, const char *in, size_t len, size_t fsz,
    const char *expect, size_t explen, struct xres *x, int timeout_ms)
{
	struct proto_parser	 p;
	struct proto_event	 ev;
	struct pollfd		 pfd;
	size_t			 cap = fsz + PROTO_DATA_HDR_MAX + 8;
	size_t			 wlen = 0, woff = 0, inoff = 0, off, k, i;
	char			*wbuf, rbuf[65536];
	const char		*text;
	long long		 start = now_ms();
	int			 phase = req != NULL ? 0 : 1, fl;
	ssize_t			 n;

	if (req != NULL && strlen(req) + 2 > cap)
		cap = strlen(req) + 2;
	wbuf = malloc(cap);
	memset(x, 0, sizeof(*x));
	x->code = -1;
	proto_init(&p, 8192, PROTO_MAX_FRAME);
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		int left = timeout_ms - (int)(now_ms() - start);

		while (woff == wlen && phase < 3) {
			woff = 0;
			wlen = 0;
			if (phase == 0) {
				wlen = (size_t)snprintf(wbuf, cap, "%s\n", req);
				phase = 1;
			} else if (phase == 1 && inoff < len) {
				size_t m = len - inoff > fsz ? fsz : len - inoff;
				size_t h = proto_data_header(wbuf, m);

				memcpy(wbuf + h, in + inoff, m);
				wlen = h + m;
				inoff += m;
			} else if (phase == 1)
				phase = 2;
			else {
				memcpy(wbuf, "END\n", 4);
				wlen = 4;
				phase = 3;
			}
		}
		if (phase == 3 && woff == wlen)
			x->all_sent = 1;
		if ((x->code >= 0 && (x->all_sent || x->werr)) || x->eof ||
		    left <= 0)
			break;
		pfd.fd = fd;
		pfd.events = POLLIN | (woff < wlen && !x->werr ? POLLOUT : 0);
		if (poll(&pfd, 1, left < 1000 ? left : 1000) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && woff < wlen && !x->werr) {
			n = send(fd, wbuf + woff, wlen - woff, MSG_NOSIGNAL);
			if (n > 0) {
				woff += (size_t)n;
				x->wire += (size_t)n;
			} else if (n < 0 && errno != EAGAIN && errno != EINTR)
				x->werr = 1;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(fd, rbuf, sizeof(rbuf));
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			x->eof = 1;
			continue;
		}
		sum.recv += (size_t)n;
		for (off = 0; off < (size_t)n; off += k) {
			k = proto_feed(&p, rbuf + off, (size_t)n - off, &ev);
			if (ev.kind == PROTO_DATA && x->code < 0) {
				if (expect != NULL)
					for (i = 0; i < ev.len; i++)
						if (x->got + i >= explen ||
						    ev.data[i] !=
						    expect[x->got + i])
							x->bad++;
				x->got += ev.len;
			} else if (ev.kind == PROTO_LINE && x->code < 0) {
				x->code = proto_parse_final(ev.line, &text);
				snprintf(x->text, sizeof(x->text), "%s",
				    x->code < 0 ? ev.line : text);
				if (x->code < 0)
					x->code = 1000;	/* not a final line */
				x->ms = now_ms() - start;
			} else if (ev.kind == PROTO_ERR_LONG ||
			    ev.kind == PROTO_ERR_FRAME)
				x->bad++;
		}
	}
	if (x->code == 1000)
		x->code = -1;
	if (x->code < 0)
		snprintf(x->text, sizeof(x->text), "%s", x->eof ? "eof" :
		    "timeout");
	if (expect != NULL) {
		if (x->got != explen)
			x->bad++;
		exact(x->bad == 0, x->got);
	}
	sum.sent += x->wire;
	sum.requests++;
	fcntl(fd, F_SETFL, fl);
	proto_free(&p);
	free(wbuf);
}

static char *
main_conf(const char *extra)
{
	char *s;

	if (asprintf(&s, "%s%scommands = {\n%s%s};\n", LISTEN, MAIN_LIMITS,
	    MAIN_COMMANDS, extra) < 0)
		bail("asprintf");
	return s;
}

/* The port of "listening on 127.0.0.1:PORT (SERVICE)" in the log. */
static int
log_port(struct daemon *dm, const char *service)
{
	char		 pat[64], *log = d_log(dm);
	const char	*p, *q;
	int		 port = 0;

	snprintf(pat, sizeof(pat), " (%s)\n", service);
	if ((q = strstr(log, pat)) != NULL) {
		for (p = q; p > log && p[-1] != ':' && p[-1] != '\n'; p--)
			;
		port = atoi(p);
	}
	free(log);
	return port;
}

/*
 * d_start, then the ports: the pidfile can appear before the "listening
 * on" lines are logged (seen under valgrind), and d_start reads them once.
 */
static int
start_daemon(struct daemon *dm, const char *conf)
{
	if (d_start(dm, conf, NULL) != 0)
		return -1;
	if (dm->echo_port == 0 || dm->broker_port == 0) {
		d_log_wait(dm, " (echo)\n", 1, 30000);
		d_log_wait(dm, " (broker)\n", 1, 30000);
		dm->echo_port = log_port(dm, "echo");
		dm->broker_port = log_port(dm, "broker");
	}
	return dm->echo_port > 0 && dm->broker_port > 0 ? 0 : -1;
}

/* Replaces the config atomically (a reload may be reading it). */
static void
conf_replace(struct daemon *dm, const char *text)
{
	char	 tmp[400];
	FILE	*f;

	snprintf(tmp, sizeof(tmp), "%s.new", dm->conf);
	if ((f = fopen(tmp, "w")) == NULL)
		bail("cannot write %s", tmp);
	fprintf(f, "%s\ncontrol = { path = \"%s\"; };\n", text, dm->control);
	if (fclose(f) != 0 || rename(tmp, dm->conf) != 0)
		bail("cannot replace %s", dm->conf);
}

/* ------------------------------------------------------------------ */

static void
test_per_source(void)
{
	static const char conf[] = LISTEN
	    "limits = { max_clients_per_source = 5; };\n";
	struct daemon	 d = { 0 };
	struct reply	 r;
	int		 a[5], b[5], fd, i, served = 0, served2 = 0, st;
	long long	 t0, el;
	char		 want[64];

	if (start_daemon(&d, conf) != 0)
		bail("per-source daemon did not start");
	for (i = 0; i < 5; i++) {
		a[i] = conn_to(d.broker_port);
		served += a[i] >= 0 && ping_fd(a[i], 3000);
	}
	is_int(served, 5, "max_clients_per_source = 5: five connections "
	    "from 127.0.0.1 served");
	t0 = now_ms();
	fd = conn_to(d.broker_port);
	st = eof_within(fd, 3000);
	el = now_ms() - t0;
	ok(fd >= 0 && st == 1 && el < 1000, "the sixth from 127.0.0.1 is "
	    "closed at once, without data (%lld ms)", el);
	close(fd);
	for (i = 0; i < 5; i++) {
		b[i] = conn_from("127.0.0.2", d.broker_port);
		served2 += b[i] >= 0 && ping_fd(b[i], 3000);
	}
	if (b[0] < 0)
		diag("cannot bind 127.0.0.2: %s", strerror(errno));
	is_int(served2, 5, "meanwhile five from 127.0.0.2 are served");
	fd = conn_from("127.0.0.2", d.broker_port);
	ok(fd >= 0 && eof_within(fd, 3000) == 1,
	    "the limit is per address: the sixth from 127.0.0.2 is refused");
	close(fd);
	is_int(stat_fd(a[0], "connections_refused_per_source"), 2,
	    "STATS connections_refused_per_source counts both");
	is_int(stat_fd(b[0], "connections"), 10,
	    "and the ten served are all still open");
	/* The second may come within a second: then the next line counts it. */
	ok(d_log_count(&d, "max_clients_per_source reached: closing "
	    "connection from 127.0.0.1:") == 1 &&
	    d_log_count(&d, "max_clients_per_source reached: closing "
	    "connection from ") <= 2, "the first refusal logged once, the "
	    "second at most once");
	/* A slot freed is a slot usable again. */
	close(a[4]);
	t0 = now_ms();
	do {
		fd = conn_to(d.broker_port);
		if (ping_fd(fd, 1000))
			break;
		close(fd);
		fd = -1;
		msleep(50);
	} while (now_ms() - t0 < 3000);
	ok(fd >= 0, "after one of the five closes, 127.0.0.1 is served "
	    "again (%lld ms)", now_ms() - t0);
	a[4] = fd;
	for (i = 0; i < 5; i++) {
		close(a[i]);
		close(b[i]);
	}
	/* Counts drop to zero: the full five again, twice over. */
	msleep(100);
	served = 0;
	for (i = 0; i < 5; i++) {
		a[i] = conn_to(d.broker_port);
		served += ping_fd(a[i], 3000);
	}
	is_int(served, 5, "all five slots free again once they all closed");
	for (i = 0; i < 5; i++)
		close(a[i]);
	fd = unix_connect(d.control);
	request(fd, "VERSION", &r);
	snprintf(want, sizeof(want), "brokerd %s", PACKAGE_VERSION);
	ok(r.code == 0 && strcmp(r.text, want) == 0,
	    "the control socket is unaffected");
	reply_free(&r);
	close(fd);
	is_int(d_stop(&d, SIGTERM, 5000), 0, "per-source daemon exits 0");
	note("per-source limit 5: 5 from 127.0.0.1 and 5 from 127.0.0.2 "
	    "served, the 6th of each refused at once and counted, slots "
	    "reused after closing");
	d_cleanup(&d);
}

/* Fresh-connection PING, DF and echo, each timed. */
struct prompt {
	int		n, ping_ok, df_ok, echo_ok;
	long long	ping_max, df_max, echo_max;
};

static void
prompt_round(struct prompt *pr)
{
	struct reply	 r;
	char		 msg[1024], *out;
	long long	 t0, el;
	ssize_t		 n;
	size_t		 i;
	int		 fd;

	pr->n++;
	t0 = now_ms();
	pr->ping_ok += ping_port(D.broker_port);
	if ((el = now_ms() - t0) > pr->ping_max)
		pr->ping_max = el;

	t0 = now_ms();
	fd = conn_to(D.broker_port);
	sum.requests++;
	send_all(fd, "DF\n", 3);
	read_reply(fd, &r, 5000);
	pr->df_ok += r.code == 0 && strstr(r.data, "mounted_on") != NULL;
	reply_free(&r);
	close(fd);
	if ((el = now_ms() - t0) > pr->df_max)
		pr->df_max = el;

	t0 = now_ms();
	for (i = 0; i < sizeof(msg); i++)
		msg[i] = (char)(i * 7 + (size_t)pr->n);
	fd = conn_to(D.echo_port);
	send_all(fd, msg, sizeof(msg));
	shutdown(fd, SHUT_WR);
	n = read_to_eof(fd, &out, 5000);
	exact(n == (ssize_t)sizeof(msg) && memcmp(out, msg, sizeof(msg)) == 0,
	    sizeof(msg));
	pr->echo_ok += n == (ssize_t)sizeof(msg) &&
	    memcmp(out, msg, sizeof(msg)) == 0;
	sum.sent += sizeof(msg);
	sum.recv += n > 0 ? (size_t)n : 0;
	free(out);
	close(fd);
	if ((el = now_ms() - t0) > pr->echo_max)
		pr->echo_max = el;
}

/*
 * Slowloris: 500 connections each sending one byte of a request line per
 * second, plus 100 that send nothing, under request_timeout_s = 2 and
 * idle_timeout_s = 5.
 */
static void
test_slowloris(void)
{
	enum { NS = 500, NQ = 100, N = NS + NQ };
	static const char line[] =
	    "VERSION-slowloris-trickle-that-never-ends-xxxxxxxxxxxxxxxxxxxx";
	static struct pollfd	pfd[N];
	static int		fds[N], idx[N];
	static long long	closed_at[N], conn_at[N];
	static char		rbuf[N][128];
	static size_t		rlen[N];
	struct prompt		pr = { 0 };
	long long		start, next_tick, next_check, now;
	long long		smin = -1, smax = 0, qmin = -1, qmax = 0;
	long long		idle_min = -1;
	int			i, nopen, n504 = 0, nclosed_s = 0, nclosed_q = 0;
	int			tick = 0, base_fds = D_idle, np;
	unsigned long		trickled = 0;

	/*
	 * In batches the daemon accepts before the next: beyond its listen
	 * backlog, connects would stall for a SYN retransmit and the timing
	 * would be the kernel's, not the daemon's.
	 */
	for (i = 0; i < N; i++) {
		fds[i] = conn_to(D.broker_port);
		conn_at[i] = now_ms();
		closed_at[i] = -1;
		if (fds[i] < 0)
			bail("slowloris: connect %d: %s", i, strerror(errno));
		nonblock(fds[i], 1);
		if (i % 100 == 99) {
			long long t0 = now_ms();

			while (proc_nfds(D.pid) < base_fds + i + 1 &&
			    now_ms() - t0 < 3000)
				msleep(2);
		}
	}
	nopen = N;
	start = now_ms();
	next_tick = start;
	next_check = start + 500;
	while (nopen > 0 && now_ms() - start < 12000) {
		now = now_ms();
		if (now >= next_tick) {
			for (i = 0; i < NS; i++)
				if (closed_at[i] < 0 && send(fds[i],
				    &line[tick % (int)(sizeof(line) - 1)], 1,
				    MSG_NOSIGNAL | MSG_DONTWAIT) == 1)
					trickled++;
			tick++;
			next_tick += 1000;
		}
		if (now >= next_check && pr.n < 6) {
			prompt_round(&pr);
			next_check += 1000;
		}
		np = 0;
		for (i = 0; i < N; i++)
			if (closed_at[i] < 0) {
				pfd[np].fd = fds[i];
				pfd[np].events = POLLIN;
				idx[np++] = i;
			}
		now = now_ms();
		{
			long long wait = next_tick - now;

			if (pr.n < 6 && next_check - now < wait)
				wait = next_check - now;
			if (wait < 0)
				wait = 0;
			if (wait > 100)
				wait = 100;
			if (poll(pfd, (nfds_t)np, (int)wait) <= 0)
				continue;
		}
		for (i = 0; i < np; i++) {
			int	 j = idx[i];
			ssize_t	 n;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = read(fds[j], rbuf[j] + rlen[j],
			    sizeof(rbuf[j]) - 1 - rlen[j]);
			if (n > 0) {
				rlen[j] += (size_t)n;
				rbuf[j][rlen[j]] = '\0';
				sum.recv += (size_t)n;
				if (rlen[j] < sizeof(rbuf[j]) - 1)
					continue;
			} else if (n < 0 && errno == EAGAIN)
				continue;
			if (n < 0 && getenv("ABUSE_VERBOSE") != NULL)
				diag("conn %d: %s", j, strerror(errno));
			closed_at[j] = now_ms() - start;
			close(fds[j]);
			nopen--;
			if (j < NS) {
				nclosed_s++;
				if (strcmp(rbuf[j], "ERR 504 request timed out\n")
				    == 0)
					n504++;
				if (smin < 0 || closed_at[j] < smin)
					smin = closed_at[j];
				if (closed_at[j] > smax)
					smax = closed_at[j];
			} else {
				nclosed_q++;
				if (rlen[j] != 0)
					diag("silent connection got \"%s\"",
					    rbuf[j]);
				if (qmin < 0 || closed_at[j] < qmin)
					qmin = closed_at[j];
				if (idle_min < 0 || start + closed_at[j] -
				    conn_at[j] < idle_min)
					idle_min = start + closed_at[j] - conn_at[j];
				if (closed_at[j] > qmax)
					qmax = closed_at[j];
			}
		}
	}
	for (i = 0; i < N; i++)
		if (closed_at[i] < 0)
			close(fds[i]);
	sum.sent += trickled;
	is_int(n504, NS, "slowloris: each of %d connections trickling a "
	    "request line at 1 byte/s gets exactly ERR 504 request timed out",
	    NS);
	ok(nclosed_s == NS && smin >= 1500 && smax <= 4500,
	    "and is closed after request_timeout_s = 2 (%d closed, first "
	    "%lld ms, last %lld ms)", nclosed_s, smin, smax);
	if (!(idle_min >= 4900) || getenv("ABUSE_VERBOSE") != NULL) {
		int h[13] = { 0 };

		for (i = NS; i < N; i++)
			if (closed_at[i] >= 0)
				h[closed_at[i] / 500 > 12 ? 12 :
				    closed_at[i] / 500]++;
		for (i = 0; i < 13; i++)
			if (h[i])
				diag("silent closed in [%d, %d) ms: %d", i * 500,
				    i * 500 + 500, h[i]);
	}
	ok(nclosed_q == NQ && idle_min >= 4900 && qmax <= 6500,
	    "%d silent connections closed after idle_timeout_s = 5 "
	    "(%d closed, %lld..%lld ms; at least %lld ms after connecting)",
	    NQ, nclosed_q, qmin, qmax, idle_min);
	ok(pr.n >= 4 && pr.ping_ok == pr.n && pr.ping_max < 1000,
	    "meanwhile a normal client's PING is served promptly "
	    "(%d of %d, slowest %lld ms)", pr.ping_ok, pr.n, pr.ping_max);
	ok(pr.n >= 4 && pr.df_ok == pr.n && pr.df_max < 1000,
	    "and its DF (%d of %d, slowest %lld ms)", pr.df_ok, pr.n,
	    pr.df_max);
	ok(pr.n >= 4 && pr.echo_ok == pr.n && pr.echo_max < 1000,
	    "and its echo, byte-exact (%d of %d, slowest %lld ms)",
	    pr.echo_ok, pr.n, pr.echo_max);
	ok(stat_port(D.broker_port, "connections_idle_closed") >= NQ,
	    "STATS connections_idle_closed counts the silent ones");
	ok(wait_fds(D.pid, base_fds, 5000), "daemon fd count back to %d",
	    base_fds);
	note("slowloris: %d connections trickling 1 byte/s (%lu bytes) all "
	    "got ERR 504 by %lld ms, %d silent ones idle-closed by %lld ms; "
	    "%d rounds of PING/DF/echo meanwhile, slowest %lld/%lld/%lld ms",
	    NS, trickled, smax, NQ, qmax, pr.n, pr.ping_max, pr.df_max,
	    pr.echo_max);
}

/* ------------------------------------------------------------------ */

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

static void
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

static void
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
static void
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
	ok(maxrss > 0 && maxrss < 32 * 1024, "daemon RSS stayed under 32 MiB "
	    "(max %ld KiB)", maxrss);
	note("a 100 MiB line without newline: ERR %d after %zu bytes sent, "
	    "daemon RSS max %ld KiB", code, sent, maxrss);
	check_alive("a 100 MiB line");
}

static void
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
static void
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

static void
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

/* ------------------------------------------------------------------ */

/*
 * A client that sends a big UPPER input but never reads: backpressure
 * pauses the child, memory stays bounded, the command timeout fires.
 */
static void
test_never_read(void)
{
	static const char	 pat[] =
	    "the quick brown fox jumps over the lazy dog\n";
	const size_t		 plen = sizeof(pat) - 1, total = 64 * MIB;
	const size_t		 chunk = 64 * KIB;
	struct proto_parser	 p;
	struct proto_event	 ev;
	char			*wbuf = malloc(chunk + PROTO_DATA_HDR_MAX);
	char			 rbuf[65536], text[512];
	const char		*t;
	size_t			 queued = 0, wlen = 0, woff = 0, wire = 0;
	size_t			 got = 0, bad = 0, i, off, k;
	long long		 start, last, gone, ticks0, ticks1;
	long			 rss, maxrss = 0;
	pid_t			 cpid;
	char			 st;
	int			 base_fds = D_idle;
	int			 fd = conn_to(D.broker_port), code = -1, eof = 0;
	ssize_t			 n;

	nonblock(fd, 1);
	send(fd, "UPPER\n", 6, MSG_NOSIGNAL);
	start = last = now_ms();
	while (now_ms() - last < 1500 && now_ms() - start < 10000) {
		if (woff == wlen && queued < total) {
			size_t h = proto_data_header(wbuf, chunk);

			for (i = 0; i < chunk; i++)
				wbuf[h + i] = pat[(queued + i) % plen];
			wlen = h + chunk;
			woff = 0;
			queued += chunk;
		}
		if (woff == wlen)
			break;
		n = send(fd, wbuf + woff, wlen - woff, MSG_NOSIGNAL);
		if (n > 0) {
			woff += (size_t)n;
			wire += (size_t)n;
			last = now_ms();
		} else if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		else
			msleep(5);
		if ((rss = proc_rss_kb(D.pid)) > maxrss)
			maxrss = rss;
	}
	sum.sent += wire;
	cpid = child_pid_of(D.broker_port, "upper", 2000);
	ticks0 = proc_cpu_ticks(cpid);
	msleep(300);
	ticks1 = proc_cpu_ticks(cpid);
	st = proc_state(cpid);
	if ((rss = proc_rss_kb(D.pid)) > maxrss)
		maxrss = rss;
	ok(wire < total / 2, "a client that never reads could push only "
	    "%zu of %zu input bytes: backpressure all the way back", wire,
	    total);
	ok(cpid > 0 && ticks0 >= 0 && ticks1 == ticks0 && st == 'S',
	    "the UPPER child (pid %d) is paused: sleeping (state %c), no CPU "
	    "used while its stdout pipe is full", (int)cpid, st);
	ok(maxrss > 0 && maxrss < 48 * 1024, "daemon RSS stayed under "
	    "48 MiB (max %ld KiB)", maxrss);
	while (proc_nchildren(D.pid) != 0 && now_ms() - start < 10000)
		msleep(20);
	gone = now_ms() - start;
	ok(proc_nchildren(D.pid) == 0 && gone >= 2500 && gone <= 6500,
	    "command_timeout_s = 3 still fires: the child is gone %lld ms "
	    "after the request", gone);
	/* Now read what piled up: a byte-exact prefix, then the end. */
	snprintf(text, sizeof(text), "timeout");
	proto_init(&p, 8192, PROTO_MAX_FRAME);
	last = now_ms();
	while (code < 0 && !eof && now_ms() - last < 10000) {
		struct pollfd pfd = { fd, POLLIN, 0 };

		if (poll(&pfd, 1, 500) <= 0)
			continue;
		if ((n = read(fd, rbuf, sizeof(rbuf))) < 0 && errno == EAGAIN)
			continue;
		if (n <= 0) {
			eof = 1;
			snprintf(text, sizeof(text), "closed");
			break;
		}
		sum.recv += (size_t)n;
		for (off = 0; off < (size_t)n && code < 0; off += k) {
			k = proto_feed(&p, rbuf + off, (size_t)n - off, &ev);
			if (ev.kind == PROTO_DATA) {
				for (i = 0; i < ev.len; i++)
					if (ev.data[i] !=
					    upc(pat[(got + i) % plen]))
						bad++;
				got += ev.len;
			} else if (ev.kind == PROTO_LINE) {
				code = proto_parse_final(ev.line, &t);
				snprintf(text, sizeof(text), "%s", ev.line);
			}
		}
	}
	proto_free(&p);
	ok((code == 504 && strstr(text, "timed out") != NULL) ||
	    (code < 0 && eof), "the connection then gets %s (%s)",
	    code == 504 ? "ERR 504" : "closed", text);
	ok(got > 0 && bad == 0, "the %zu bytes of output that had piled up "
	    "are byte-exact", got);
	exact(got > 0 && bad == 0, got);
	close(fd);
	free(wbuf);
	ok(wait_fds(D.pid, base_fds, 5000), "daemon fds back to %d",
	    base_fds);
	note("never-reading UPPER client: %zu of 64 MiB accepted before "
	    "backpressure, child paused, daemon RSS max %ld KiB, child gone "
	    "after %lld ms (command_timeout_s 3), %zu output bytes exact",
	    wire, maxrss, gone, got);
	check_alive("a client that never reads");
}

/*
 * A client that pipelines requests and never reads: the daemon stops
 * reading it, memory stays bounded, and the write side's idle timeout
 * (idle_timeout_s = 5) closes it.
 */
static void
test_never_read_pipelined(void)
{
	char		 buf[6000];
	size_t		 sent = 0, i;
	long long	 start = now_ms(), last = start, stalled, closed = -1;
	long		 rss, maxrss = 0;
	int		 fd = conn_to(D.broker_port);
	ssize_t		 n;

	for (i = 0; i < sizeof(buf); i += 6)
		memcpy(buf + i, "STATS\n", 6);
	nonblock(fd, 1);
	while (now_ms() - last < 1000 && now_ms() - start < 10000) {
		n = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			last = now_ms();
		} else if (n < 0 && errno != EAGAIN && errno != EINTR)
			break;
		else
			msleep(5);
		if ((rss = proc_rss_kb(D.pid)) > maxrss)
			maxrss = rss;
	}
	stalled = last;
	sum.sent += sent;
	ok(now_ms() - last >= 1000, "a client pipelining STATS without "
	    "reading is stopped after %zu requests", sent / 6);
	ok(maxrss > 0 && maxrss < 48 * 1024, "daemon RSS stayed under 48 MiB "
	    "(max %ld KiB)", maxrss);
	while (now_ms() - start < 15000) {
		if (stat_port(D.broker_port, "connections.broker") == 1) {
			closed = now_ms() - stalled;
			break;
		}
		msleep(100);
	}
	ok(closed >= 3500 && closed <= 7500, "the connection is closed by "
	    "idle_timeout_s = 5 on its stuck output (%lld ms after the "
	    "client stalled)", closed);
	close(fd);
	note("never-reading pipelining client: %zu STATS accepted, RSS max "
	    "%ld KiB, closed %lld ms after stalling", sent / 6, maxrss,
	    closed);
}

/*
 * 500 clients that pipeline STATS and never read: each holds at most the
 * daemon's per-connection bound of buffered input and output (brokerd(8),
 * LIMITS), however much it sends, so max_clients of them fit the unit's
 * MemoryMax.  Small socket buffers on our side keep the kernel's share,
 * which RSS does not show, small and the test quick.
 */
static void
test_never_read_many(void)
{
	enum { NMAX = 500, MAX_CLIENTS = 1024 };
	static const char conf[] = LISTEN
	    "limits = { max_clients = 1024; max_clients_per_source = 1024;\n"
	    "  idle_timeout_s = 60; };\n";
	static int	 fds[NMAX];
	struct daemon	 d = { 0 };
	struct reply	 r;
	char		 buf[6 * 1024];
	long		 base, open_rss, rss, maxrss = 0, per, fixed, bound;
	long long	 start, last, sent = 0, t0;
	ssize_t		 n;
	size_t		 i;
	int		 k, small = 4096, fd, busy, N = NMAX;

	for (i = 0; i < sizeof(buf); i += 6)
		memcpy(buf + i, "STATS\n", 6);
	if (start_daemon(&d, conf) != 0)
		bail("daemon (never-reading clients) did not start");
	/* Under valgrind RSS means nothing (step 4 forgives it): fewer. */
	if (getenv("BROKERD_WRAPPER") != NULL &&
	    *getenv("BROKERD_WRAPPER") != '\0')
		N = 50;
	fd = conn_to(d.broker_port);
	request(fd, "STATS", &r);	/* the reply's buffers, once */
	reply_free(&r);
	close(fd);
	msleep(100);
	base = proc_rss_kb(d.pid);
	for (k = 0; k < N; k++) {
		struct sockaddr_in sin;

		fds[k] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(fds[k], SOL_SOCKET, SO_SNDBUF, &small,
		    sizeof(small));
		setsockopt(fds[k], SOL_SOCKET, SO_RCVBUF, &small,
		    sizeof(small));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)d.broker_port);
		inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
		if (connect(fds[k], (struct sockaddr *)&sin, sizeof(sin)) != 0)
			bail("connect %d: %s", k, strerror(errno));
		nonblock(fds[k], 1);
		sum.conns++;
	}
	t0 = now_ms();
	while (stat_port(d.broker_port, "connections.broker") != N + 1 &&
	    now_ms() - t0 < 10000)
		msleep(50);
	open_rss = proc_rss_kb(d.pid);
	start = last = now_ms();
	while (now_ms() - last < 1000 && now_ms() - start < 30000) {
		busy = 0;
		for (k = 0; k < N; k++) {
			n = send(fds[k], buf, sizeof(buf), MSG_NOSIGNAL);
			if (n > 0) {
				sent += n;
				busy = 1;
			}
		}
		if (busy)
			last = now_ms();
		else
			msleep(20);
		if ((rss = proc_rss_kb(d.pid)) > maxrss)
			maxrss = rss;
	}
	sum.sent += (unsigned long long)sent;
	msleep(200);
	if ((rss = proc_rss_kb(d.pid)) > maxrss)
		maxrss = rss;
	fixed = (open_rss - base) * 1024 / N;
	per = (maxrss - base) * 1024 / N;
	ok(now_ms() - last >= 1000, "%d clients pipelining STATS without "
	    "reading are all stopped, after %lld KiB each", N,
	    sent / 1024 / N);
	/*
	 * 64 KiB of input, 64 KiB of replies and their chains: 145 KiB
	 * measured.  ASan's allocator adds redzones and its quarantine.
	 */
	bound = proc_maps(d.pid, "libasan") ? 256 : 160;
	if (bound != 160)
		diag("the daemon runs with ASan: RSS bound %ld KiB", bound);
	ok(maxrss > 0 && per <= bound * 1024, "daemon RSS per never-reading "
	    "client at most %ld KiB: %ld KiB (%ld bytes idle), RSS %ld -> %ld "
	    "KiB; %d clients (max_clients) would take %ld MiB, under the "
	    "unit's MemoryMax=384M with the kernel's socket buffers", bound,
	    per / 1024, fixed, base, maxrss, MAX_CLIENTS,
	    (base + (long)MAX_CLIENTS * per / 1024) / 1024);
	t0 = now_ms();
	k = ping_port(d.broker_port);
	t0 = now_ms() - t0;
	ok(k && t0 < 2000, "a new client is served meanwhile (%s, %lld ms)",
	    k ? "pong" : "no pong", t0);
	for (k = 0; k < N; k++)
		close(fds[k]);
	is_int(d_stop(&d, SIGTERM, 10000), 0, "daemon (never-reading "
	    "clients) exits 0");
	note("%d never-reading STATS pipeliners: %lld KiB sent each, daemon "
	    "RSS %ld -> %ld KiB, %ld KiB per client", N, sent / 1024 / N,
	    base, maxrss, per / 1024);
	d_cleanup(&d);
}

/* ------------------------------------------------------------------ */

static void
test_children(void)
{
	const size_t	 inlen = 10 * MIB;
	struct xres	 x;
	struct reply	 r;
	char		*in = malloc(inlen);
	long		 log0, growth;
	long long	 t0, el;
	size_t		 i;
	pid_t		 vpid;
	int		 fd, fd2;

	/* Exits before reading its stdin. */
	for (i = 0; i < inlen; i++)
		in[i] = (char)('a' + i % 26);
	fd = conn_to(D.broker_port);
	xfer(fd, "RUN exitearly", in, inlen, 64 * KIB, NULL, 0, &x, 20000);
	ok(x.code >= 0 && x.all_sent && !x.eof && x.ms < 10000,
	    "a child that exits before reading its stdin, with 10 MiB of "
	    "input: %s%s%s after %lld ms, no hang", x.code == 0 ? "OK" : "ERR",
	    x.text[0] ? " " : "", x.text, x.ms);
	ok(ping_fd(fd, 5000), "the rest of its input was discarded up to "
	    "END: the next request on the connection is answered");
	close(fd);
	free(in);

	/* Megabytes on stderr. */
	log0 = file_size(D.log);
	fd = conn_to(D.broker_port);
	t0 = now_ms();
	send_all(fd, "RUN stderrflood\nEND\n", 20);
	sum.requests++;
	read_reply(fd, &r, 10000);
	el = now_ms() - t0;
	ok(r.code == 0 && r.len == 3 && memcmp(r.data, "ok\n", 3) == 0 &&
	    el < 5000, "a child writing 5 MB to stderr: OK with its stdout "
	    "(%lld ms)", el);
	reply_free(&r);
	close(fd);
	growth = file_size(D.log) - log0;
	ok(growth >= 0 && growth < 64 * 1024 &&
	    d_log_count(&D, "stderrflood stderr (truncated)") == 1,
	    "the log grew by %ld bytes only: the stderr line is truncated",
	    growth);

	/* Ignores SIGTERM. */
	fd = conn_to(D.broker_port);
	t0 = now_ms();
	send_all(fd, "RUN noterm\nEND\n", 15);
	sum.requests++;
	read_reply(fd, &r, 10000);
	el = now_ms() - t0;
	ok(r.code == 504 && el >= 2500 && el < 6000, "a child ignoring "
	    "SIGTERM (timeout_s = 1): ERR 504 after the kill grace "
	    "(%lld ms: %s)", el, r.text);
	reply_free(&r);
	close(fd);
	ok(d_log_count(&D, "noterm (pid ") >= 1 &&
	    d_log_count(&D, "after SIGTERM; sending SIGKILL") >= 1,
	    "SIGKILL after SIGTERM logged");
	ok(wait_children(D.pid, 0, 3000) && wait_no_marker("32.5", 3000),
	    "nothing of it left: no child, no \"sleep 32.5\"");

	/* A grandchild holding the pipes after the leader exits. */
	fd = conn_to(D.broker_port);
	t0 = now_ms();
	send_all(fd, "RUN family\nEND\n", 15);
	sum.requests++;
	read_reply(fd, &r, 10000);
	el = now_ms() - t0;
	ok(r.code == 0 && r.len == 8 && memcmp(r.data, "started\n", 8) == 0 &&
	    el < 3000, "a leader that exits leaving \"sleep 31.5 &\" on its "
	    "pipes: OK with its output promptly (%lld ms)", el);
	reply_free(&r);
	close(fd);
	ok(wait_no_marker("31.5", 2000) && wait_children(D.pid, 0, 2000),
	    "the group kill reaped the grandchild: no \"sleep 31.5\" left");

	/* Killed with SIGKILL from outside. */
	fd = conn_to(D.broker_port);
	t0 = now_ms();
	send_all(fd, "RUN victim\nEND\n", 15);
	sum.requests++;
	vpid = child_pid_of(D.broker_port, "victim", 3000);
	ok(vpid > 0 && marker_procs("33.5") == 1 && kill(vpid, SIGKILL) == 0,
	    "STATS names the running child (pid %d); kill -9 it", (int)vpid);
	read_reply(fd, &r, 5000);
	ok(r.code == 502 && strstr(r.text, "victim killed by signal 9") !=
	    NULL, "killed from outside: ERR 502 (%s)", r.text);
	reply_free(&r);
	ok(ping_fd(fd, 3000), "and the connection goes on");
	close(fd);
	fd2 = conn_to(D.broker_port);
	ok(stat_fd(fd2, "children_running") == 0 &&
	    wait_children(D.pid, 0, 3000), "no child left");
	close(fd2);
	note("children: exit before stdin (10 MiB input discarded), 5 MB "
	    "stderr (log +%ld bytes), ignore SIGTERM (504 via SIGKILL), "
	    "grandchild on the pipes (group killed), kill -9 from outside "
	    "(502)", growth);
	check_alive("misbehaving children");
}

/* ------------------------------------------------------------------ */

static void
test_signal_storm(void)
{
	enum { NSIG_ = 1000, BURSTS = 10 };
	static int	 sigs[NSIG_];
	const size_t	 blen = 128 * KIB;
	char		*buf = malloc(blen), *want = malloc(blen), *conf;
	struct xres	 x;
	struct reply	 r;
	unsigned	 lcg = 12345;
	long long	 gen0, gen1, ok0, fail1, t0;
	long		 rss0, rss1, slack;
	int		 i, status, fd, base_fds, reloads0, dumps0;
	int		 echo_ok = 0, echo_n = 0, up_ok = 0, up_n = 0;
	int		 ping_ok = 0, ping_n = 0, marked = 0;
	pid_t		 kid;

	for (i = 0; i < NSIG_; i++) {
		lcg = lcg * 1103515245u + 12345u;
		sigs[i] = (lcg >> 16) & 1 ? SIGUSR1 : SIGHUP;
		if (sigs[i] == SIGHUP)
			sum.hups++;
		else
			sum.usr1s++;
	}
	/*
	 * Warm up (allocator caches; under ASan its quarantine of freed
	 * memory), then the baseline.
	 */
	for (i = 0; i < 40; i++) {
		size_t j;

		for (j = 0; j < blen; j++) {
			buf[j] = (char)(rand() >> 3);
			want[j] = upc(buf[j]);
		}
		echo_rt(D.echo_port, buf, blen, 10000);
		fd = conn_to(D.broker_port);
		xfer(fd, "UPPER", buf, blen, 16 * KIB, want, blen, &x, 10000);
		close(fd);
	}
	msleep(200);
	base_fds = D_idle;
	rss0 = proc_rss_kb(D.pid);
	gen0 = stat_port(D.broker_port, "config_generation");
	ok0 = stat_port(D.broker_port, "reloads_ok");
	reloads0 = d_log_count(&D, "reloaded configuration");
	dumps0 = d_log_count(&D, "state: config_generation:");

	if ((kid = fork()) == 0) {
		int b, k;

		for (b = 0; b < BURSTS; b++) {
			for (k = 0; k < NSIG_ / BURSTS; k++) {
				kill(D.pid, sigs[b * (NSIG_ / BURSTS) + k]);
				usleep(3);
			}
			usleep(150000);
		}
		_exit(0);
	}
	sum.signals += NSIG_;
	fd = conn_to(D.broker_port);
	t0 = now_ms();
	for (i = 0; now_ms() - t0 < 15000; i++) {
		size_t j;

		if (waitpid(kid, &status, WNOHANG) == kid) {
			kid = -1;
			break;
		}
		for (j = 0; j < blen; j++) {
			buf[j] = (char)((j * 131 + (size_t)i * 7) ^ (j >> 9));
			want[j] = upc(buf[j]);
		}
		switch (i % 3) {
		case 0:
			echo_n++;
			echo_ok += echo_rt(D.echo_port, buf, blen, 10000);
			break;
		case 1:
			up_n++;
			xfer(fd, "UPPER", buf, blen, 32 * KIB, want, blen, &x,
			    10000);
			up_ok += x.code == 0 && x.bad == 0;
			if (x.code != 0 || x.bad != 0)
				diag("UPPER during the storm: %d %s, %zu of "
				    "%zu bytes, %zu bad", x.code, x.text,
				    x.got, blen, x.bad);
			break;
		default:
			ping_n++;
			ping_ok += ping_fd(fd, 5000);
			break;
		}
	}
	if (kid > 0) {
		kill(kid, SIGKILL);
		waitpid(kid, &status, 0);
	}
	close(fd);
	ok(echo_n > 0 && up_n > 0 && echo_ok == echo_n && up_ok == up_n &&
	    ping_ok == ping_n, "during %d mixed SIGHUP/SIGUSR1 (%u/%u, in %d "
	    "bursts a few us apart) the daemon kept serving: %d echo and %d "
	    "UPPER of 128 KiB byte-exact, %d PING", NSIG_, sum.hups,
	    sum.usr1s, BURSTS, echo_n, up_n, ping_n);
	ok(d_alive(&D), "daemon alive after the storm");

	/* A reload asked for right after the storm is not lost. */
	conf = main_conf(STORM_COMMAND);
	conf_replace(&D, conf);
	free(conf);
	kill(D.pid, SIGHUP);
	usleep(5);
	kill(D.pid, SIGHUP);
	sum.signals += 2;
	t0 = now_ms();
	do {
		fd = conn_to(D.broker_port);
		send_all(fd, "RUN stormmark\nEND\n", 18);
		sum.requests++;
		read_reply(fd, &r, 3000);
		marked = r.code == 0 && strcmp(r.data, "storm-ok\n") == 0;
		reply_free(&r);
		close(fd);
		if (!marked)
			msleep(50);
	} while (!marked && now_ms() - t0 < 5000);
	ok(marked, "a config change signalled right after the storm is "
	    "applied: the new command runs (%lld ms)", now_ms() - t0);
	msleep(300);
	gen1 = stat_port(D.broker_port, "config_generation");
	fail1 = stat_port(D.broker_port, "reloads_failed");
	ok(gen1 > gen0 && fail1 == 0, "config_generation %lld -> %lld, no "
	    "failed reload", gen0, gen1);
	ok(d_log_count(&D, "reloaded configuration") > reloads0,
	    "\"reloaded configuration\" logged (%d times for %u SIGHUPs)",
	    d_log_count(&D, "reloaded configuration") - reloads0,
	    sum.hups + 2);
	ok(d_log_count(&D, "state: config_generation:") > dumps0,
	    "SIGUSR1 dumps logged (%d for %u SIGUSR1)",
	    d_log_count(&D, "state: config_generation:") - dumps0,
	    sum.usr1s);
	diag("signal storm: generation %lld -> %lld, reloads_ok %lld -> "
	    "%lld", gen0, gen1, ok0, stat_port(D.broker_port, "reloads_ok"));
	ok(wait_children(D.pid, 0, 5000) && wait_fds(D.pid, base_fds, 5000),
	    "fd count back to its baseline (%d)", base_fds);
	rss1 = proc_rss_kb(D.pid);
	slack = sanitizer_slack_kb(D.pid);
	ok(rss0 > 0 && rss1 > 0 && rss1 - rss0 < 8 * 1024 + slack,
	    "RSS growth %ld KiB < 8 MiB%s (%ld -> %ld KiB)", rss1 - rss0,
	    slack > 0 ? " + the sanitizer's quarantine" : "", rss0, rss1);
	note("signal storm: %u SIGHUP + %u SIGUSR1 (+2 SIGHUP after a config "
	    "change) during %d echo + %d UPPER (128 KiB each, byte-exact) "
	    "+ %d PING; generation %lld -> %lld; RSS %+ld KiB",
	    sum.hups, sum.usr1s, echo_n, up_n, ping_n, gen0, gen1,
	    rss1 - rss0);
	free(buf);
	free(want);
}

/* ------------------------------------------------------------------ */

static void
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

/* ------------------------------------------------------------------ */

/* The daemon at RLIMIT_NOFILE 256, 1000 connections to echo. */
static void
test_fd_flood(void)
{
	enum { N = 1000 };
	static const char conf[] = LISTEN
	    "limits = { max_clients = 10000; max_clients_per_source = 10000; "
	    "};\n";
	static int	 fds[N];
	static char	 served[N];
	static struct pollfd pfd[N];
	struct daemon	 d = { 0 };
	struct rlimit	 orig, low;
	long long	 ticks0, ticks1, t0, acc_err;
	char		*out;
	int		 i, nconn = 0, nserved = 0, base_fds, peak_fds, emfile;
	int		 resumed = 0, fd, wrapped;
	long		 nofile;
	ssize_t		 n;

	getrlimit(RLIMIT_NOFILE, &orig);
	low = orig;
	low.rlim_cur = 256;
	if (setrlimit(RLIMIT_NOFILE, &low) != 0)
		bail("setrlimit 256: %s", strerror(errno));
	i = start_daemon(&d, conf);
	if (setrlimit(RLIMIT_NOFILE, &orig) != 0)
		bail("setrlimit back: %s", strerror(errno));
	if (i != 0)
		bail("fd-limit daemon did not start");
	/* Valgrind keeps a few fds for itself above the client's limit. */
	nofile = proc_nofile(d.pid);
	wrapped = getenv("BROKERD_WRAPPER") != NULL &&
	    *getenv("BROKERD_WRAPPER") != '\0';
	ok(nofile == 256 || (wrapped && nofile > 256 && nofile <= 256 + 32),
	    "daemon runs with RLIMIT_NOFILE 256 (%ld%s)", nofile,
	    wrapped ? ", under a wrapper" : "");
	base_fds = proc_nfds(d.pid);

	for (i = 0; i < N; i++)
		if ((fds[i] = connect_nb(d.echo_port)) >= 0)
			nconn++;
	msleep(500);
	ok(d_log_wait(&d, "Too many open files", 1, 3000),
	    "%d connections opened past the limit: the accept error is "
	    "logged", nconn);
	ticks0 = proc_cpu_ticks(d.pid);
	msleep(2000);
	ticks1 = proc_cpu_ticks(d.pid);
	ok(ticks0 >= 0 && ticks1 - ticks0 < 50, "no busy loop at the fd "
	    "limit: %lld ticks of CPU in a 2 s hold", ticks1 - ticks0);
	peak_fds = proc_nfds(d.pid);
	ok(d_alive(&d) && peak_fds > 0 && peak_fds <= nofile,
	    "no crash; the daemon holds %d fds", peak_fds);
	/* The ones it accepted are served. */
	for (i = 0; i < N; i++)
		if (fds[i] >= 0 && send(fds[i], "x", 1, MSG_NOSIGNAL) == 1)
			sum.sent++;
	t0 = now_ms();
	while (now_ms() - t0 < 1500) {
		int np = 0, map[N];

		for (i = 0; i < N; i++)
			if (fds[i] >= 0 && !served[i]) {
				pfd[np].fd = fds[i];
				pfd[np].events = POLLIN;
				map[np++] = i;
			}
		if (poll(pfd, (nfds_t)np, 200) <= 0)
			continue;
		for (i = 0; i < np; i++) {
			char c;

			if ((pfd[i].revents & POLLIN) &&
			    recv(pfd[i].fd, &c, 1, MSG_DONTWAIT) == 1 &&
			    c == 'x') {
				served[map[i]] = 1;
				nserved++;
				sum.recv++;
			}
		}
	}
	ok(nserved > 100 && nserved < nconn, "%d of them served while at "
	    "the limit, the rest wait in the backlog", nserved);
	for (i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* Accepting resumes once fds are free. */
	t0 = now_ms();
	do {
		fd = conn_to(d.echo_port);
		send_all(fd, "after the flood", 15);
		shutdown(fd, SHUT_WR);
		n = read_to_eof(fd, &out, 1000);
		resumed = n == 15 && memcmp(out, "after the flood", 15) == 0;
		free(out);
		close(fd);
	} while (!resumed && now_ms() - t0 < 8000);
	exact(resumed, 15);
	ok(resumed, "once they close, accepting resumes: a new echo round "
	    "trip works (%lld ms)", now_ms() - t0);
	emfile = d_log_count(&d, "Too many open files");
	ok(emfile >= 1 && emfile <= 2, "the accept error was logged %d "
	    "time(s), not once per attempt", emfile);
	acc_err = stat_port(d.broker_port, "accept_errors");
	ok(acc_err > 0, "STATS accept_errors counts the failed accepts "
	    "(%lld)", acc_err);
	ok(wait_fds(d.pid, base_fds, 5000), "daemon fds back to %d",
	    base_fds);
	is_int(d_stop(&d, SIGTERM, 5000), 0, "fd-limit daemon exits 0");
	note("fd flood: %d connections to a daemon at RLIMIT_NOFILE 256: "
	    "%d served, %lld CPU ticks in a 2 s hold, %d log line(s), "
	    "resumed after close", nconn, nserved, ticks1 - ticks0, emfile);
	d_cleanup(&d);
}

/*
 * A burst of connects while the daemon is busy (here: stopped): the kernel
 * completes handshakes up to the listen backlog, which the daemon asks
 * to be SOMAXCONN.  Beyond it a connect stalls for a SYN retransmit (1 s,
 * then 3 s, ...), which under a flood means seconds for a client.
 */
static void
test_backlog(void)
{
	enum { N = 300 };
	struct pollfd	 pfd;
	FILE		*f;
	int		 fds[N], i, est = 0, somax = 0, err;
	socklen_t	 len;

	if ((f = fopen("/proc/sys/net/core/somaxconn", "r")) != NULL) {
		if (fscanf(f, "%d", &somax) != 1)
			somax = 0;
		fclose(f);
	}
	if (somax < N + 10 || SOMAXCONN < N + 10) {
		skip(2, "net.core.somaxconn is below the burst size");
		return;
	}
	kill(D.pid, SIGSTOP);
	for (i = 0; i < N; i++)
		fds[i] = connect_nb(D.echo_port);
	msleep(300);
	for (i = 0; i < N; i++) {
		pfd.fd = fds[i];
		pfd.events = POLLOUT;
		err = -1;
		len = sizeof(err);
		if (fds[i] >= 0 && poll(&pfd, 1, 0) == 1 &&
		    (pfd.revents & POLLOUT) && getsockopt(fds[i], SOL_SOCKET,
		    SO_ERROR, &err, &len) == 0 && err == 0)
			est++;
	}
	kill(D.pid, SIGCONT);
	ok(est >= N - 5, "a burst of %d connects while the daemon is busy: "
	    "%d complete at once (listen backlog SOMAXCONN %d, not "
	    "libevent's default 128)", N, est, somax);
	for (i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ok(wait_fds(D.pid, D_idle, 8000), "the daemon accepts and closes "
	    "them all after it resumes (fds back to %d)", D_idle);
	note("connect burst: %d of %d handshakes completed while the daemon "
	    "was stopped", est, N);
}

/*
 * Refusals a log holds: its lines starting with what, each counting one
 * and the "(N more since the last message)" it carries.
 */
static long
refusals_logged(struct daemon *dm, const char *what)
{
	char		*log = d_log(dm), *p;
	const char	*more;
	long		 n = 0;

	for (p = log; (p = strstr(p, what)) != NULL; p += strlen(what)) {
		n++;
		more = strstr(p, " (");
		if (more != NULL && more < strchr(p, '\n') &&
		    strstr(more, "more since the last message)") != NULL)
			n += atol(more + 2);
	}
	free(log);
	return n;
}

/* max_clients = 50, 100 connections. */
static void
test_max_clients(void)
{
	enum { N = 100, MAX = 50 };
	static const char conf[] = LISTEN
	    "limits = { max_clients = 50; max_clients_per_source = 1000; };\n";
	struct daemon	 d = { 0 };
	struct pollfd	 pfd[N];
	struct reply	 r;
	int		 fds[N], state[N], map[N];
	int		 i, np, refused = 0, served = 0, first = 1, fd, nlog;
	long long	 t0;

	if (start_daemon(&d, conf) != 0)
		bail("max_clients daemon did not start");
	for (i = 0; i < N; i++) {
		fds[i] = conn_to(d.echo_port);
		state[i] = 0;
	}
	/* Refused ones see EOF at once. */
	t0 = now_ms();
	while (now_ms() - t0 < 1000) {
		for (i = np = 0; i < N; i++)
			if (state[i] == 0) {
				pfd[np].fd = fds[i];
				pfd[np].events = POLLIN;
				map[np++] = i;
			}
		if (poll(pfd, (nfds_t)np, 100) <= 0)
			continue;
		for (i = 0; i < np; i++) {
			char	c;
			ssize_t	n;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = recv(pfd[i].fd, &c, 1, MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno == ECONNRESET)) {
				state[map[i]] = 2;
				refused++;
			}
		}
	}
	for (i = 0; i < N; i++) {
		char c;

		if (state[i] != 0)
			continue;
		if (send_all(fds[i], "y", 1) == 1 && read_byte(fds[i], 2000,
		    &c) == 1 && c == 'y') {
			state[i] = 1;
			served++;
		}
		sum.sent++;
	}
	for (i = 0; i < N; i++)
		if ((state[i] == 1) != (i < MAX))
			first = 0;
	is_int(served, MAX, "max_clients = 50 with 100 connections: exactly "
	    "50 served");
	is_int(refused, N - MAX, "the other 50 closed at once, without data");
	ok(first, "the served ones are the first 50 to connect");
	/* 50 refusals in well under a second: one log line, not 50. */
	nlog = d_log_count(&d, "max_clients reached: closing connection");
	ok(nlog >= 1 && nlog <= 2, "the refusals are logged %d time(s), at "
	    "most once a second, not 50 times", nlog);
	fd = unix_connect(d.control);
	ok(fd >= 0 && stat_fd(fd, "connections_refused_max_clients") ==
	    N - MAX, "STATS over the control socket (exempt from "
	    "max_clients): connections_refused_max_clients 50");
	is_int(stat_fd(fd, "connections.echo"), MAX, "50 echo connections "
	    "open");
	close(fd);
	msleep(1100);
	fd = conn_to(d.echo_port);
	ok(eof_within(fd, 3000) == 1, "a refusal a second later...");
	close(fd);
	ok(d_log_wait(&d, "more since the last message)", 1, 2000) &&
	    refusals_logged(&d, "max_clients reached: closing connection") ==
	    N - MAX + 1, "...is logged with the count of those left out: "
	    "lines and counts add up to all %d refusals", N - MAX + 1);
	for (i = 0; i < N; i++)
		close(fds[i]);
	msleep(100);
	fd = conn_to(d.broker_port);
	send_all(fd, "PING\n", 5);
	read_reply(fd, &r, 3000);
	ok(r.code == 0, "after they close, a new client is served");
	reply_free(&r);
	close(fd);
	is_int(d_stop(&d, SIGTERM, 5000), 0, "max_clients daemon exits 0");
	note("max_clients 50: 100 connections, %d served, %d refused at "
	    "once", served, refused);
	d_cleanup(&d);
}

/* ------------------------------------------------------------------ */

/* ABUSE_TESTS="name ...": run only those (for development). */
static int
selected(const char *name)
{
	const char *only = getenv("ABUSE_TESTS");

	return only == NULL || *only == '\0' || strstr(only, name) != NULL;
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 8192) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max > 8192 ? 8192 : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			/* Root may raise the hard limit too. */
			rl.rlim_cur = rl.rlim_max = 8192;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	getrlimit(RLIMIT_NOFILE, &rl);
	have_fds = rl.rlim_cur >= 2048;
	if (!have_fds)
		diag("RLIMIT_NOFILE is only %lu", (unsigned long)rl.rlim_cur);
}

static void
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

int
main(void)
{
	long long	 start = now_ms(), t;
	char		*conf;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	/*
	 * Command input by splice(2), whatever this machine would choose:
	 * test_broker covers both ways, test_lifecycle the copying one.
	 */
	if (getenv("BROKERD_SPLICE") == NULL)
		setenv("BROKERD_SPLICE", "on", 1);

	if (selected("per-source")) {
		t = now_ms();
		test_per_source();
		diag("per-source: %lld ms", now_ms() - t);
	}

	conf = main_conf("");
	if (start_daemon(&D, conf) != 0)
		bail("daemon did not start");
	free(conf);
	D_idle = proc_nfds(D.pid);

	if (selected("metachar")) {
		t = now_ms();
		test_metachar();
		diag("metacharacters: %lld ms", now_ms() - t);
	}
	if (selected("garbage")) {
		t = now_ms();
		test_random_garbage();
		diag("random garbage: %lld ms", now_ms() - t);
		test_nul();
		test_huge_line();
		diag("huge line: %lld ms", now_ms() - t);
		test_bad_headers();
		test_byte_by_byte();
		diag("byte by byte: %lld ms", now_ms() - t);
		test_half_close();
		diag("garbage: %lld ms", now_ms() - t);
	}
	if (selected("children")) {
		t = now_ms();
		test_children();
		diag("children: %lld ms", now_ms() - t);
	}
	if (selected("never-read")) {
		t = now_ms();
		test_never_read();
		test_never_read_pipelined();
		if (have_fds)
			test_never_read_many();
		else
			skip(4, "RLIMIT_NOFILE too low for 500 connections");
		diag("never-reading client: %lld ms", now_ms() - t);
	}
	if (selected("backlog")) {
		t = now_ms();
		test_backlog();
		diag("connect burst: %lld ms", now_ms() - t);
	}
	if (selected("slowloris")) {
		t = now_ms();
		if (have_fds)
			test_slowloris();
		else
			skip(8, "RLIMIT_NOFILE too low for 600 connections");
		diag("slowloris: %lld ms", now_ms() - t);
	}
	if (selected("storm")) {
		t = now_ms();
		test_signal_storm();
		diag("signal storm: %lld ms", now_ms() - t);
	}

	ok(wait_children(D.pid, 0, 5000), "main daemon: no children left");
	ok(wait_fds(D.pid, D_idle, 5000), "main daemon: fd count back to "
	    "its idle value (%d)", D_idle);
	is_int(d_stop(&D, SIGTERM, 10000), 0, "main daemon: SIGTERM, exit 0");
	ok(d_log_count(&D, "exited cleanly") == 1, "clean exit logged");
	d_cleanup(&D);

	if (selected("flood")) {
		t = now_ms();
		if (have_fds)
			test_fd_flood();
		else
			skip(10, "RLIMIT_NOFILE too low for 1000 connections");
		diag("fd flood: %lld ms", now_ms() - t);
	}
	if (selected("max_clients")) {
		t = now_ms();
		test_max_clients();
		diag("max_clients: %lld ms", now_ms() - t);
	}

	summary(start);
	return done_testing();
}
