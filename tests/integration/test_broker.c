/* The broker protocol and its commands against the real daemon. */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proto.h"
#include "daemon/dfparse.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

static const char conf_text[] =
"listen = ( { service = \"echo\"; address = \"127.0.0.1\"; port = 0; },\n"
"  { service = \"broker\"; address = \"127.0.0.1\"; port = 0; } );\n"
"limits = { max_clients_per_source = 1000; max_children = 64;\n"
"  request_timeout_s = 1; };\n"
"commands = {\n"
"  df = { argv = [ \"df\", \"-hl\" ]; output = \"df\"; };\n"
"  upper = { argv = [ \"tr\", \"[:lower:]\", \"[:upper:]\" ]; input = true; };\n"
"  lower = { argv = [ \"tr\", \"[:upper:]\", \"[:lower:]\" ]; input = true; };\n"
"  missing = { argv = [ \"/nonexistent/command\" ]; };\n"
"  slow = { argv = [ \"sleep\", \"60\" ]; timeout_s = 1; };\n"
"  dfbad = { argv = [ \"df\", \"-hl\", \"/\", \"/nonexistent\" ];\n"
"    output = \"df\"; };\n"
"  dfnone = { argv = [ \"df\", \"-hl\", \"-t\", \"nosuchfs\" ];\n"
"    output = \"df\"; };\n"
"  dfquiet = { argv = [ \"sh\", \"-c\", \"echo nothing to report >&2\" ];\n"
"    output = \"df\"; };\n"
"  dflong = { argv = [ \"sh\", \"-c\", \"echo 'Filesystem Size Used Avail "
"Use% Mounted on'; printf 'tmpfs 1.0M 0 1.0M 0%% /a\\\\t%03000d\\\\n' 0\" ];\n"
"    output = \"df\"; };\n"
"  fail = { argv = [ \"sh\", \"-c\", \"echo oops >&2; exit 3\" ]; };\n"
"  family = { argv = [ \"sh\", \"-c\", \"sleep 60 & exec sleep 60\" ];\n"
"    timeout_s = 1; };\n"
"  late = { argv = [ \"sh\", \"-c\",\n"
"    \"head -c 700000 /dev/zero; sleep 1; head -c 400000 /dev/zero\" ]; };\n"
"};\n";

static struct daemon	d;
static int		idle_fds;

static char
upcase(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Sends an input-bearing request with data in frames, then reads. */
static int
run_input(int fd, const char *req, const char *data, size_t len,
    struct reply *r)
{
	char	hdr[PROTO_DATA_HDR_MAX + 64];
	size_t	off = 0, n;

	snprintf(hdr, sizeof(hdr), "%s\n", req);
	send_all(fd, hdr, strlen(hdr));
	while (off < len) {
		n = len - off > 65536 ? 65536 : len - off;
		send_all(fd, hdr, proto_data_header(hdr, n));
		send_all(fd, data + off, n);
		off += n;
	}
	send_all(fd, "END\n", 4);
	return read_reply(fd, r, 30000);
}

static void
test_simple(void)
{
	struct reply	r;
	int		fd = tcp_connect(d.broker_port);

	is_int(request(fd, "PING", &r), 0, "PING answers OK");
	is_str(r.text, "pong", "with pong");
	reply_free(&r);
	request(fd, "version", &r);
	ok(r.code == 0 && strncmp(r.text, "brokerd ", 8) == 0,
	    "verbs are case-insensitive; VERSION");
	reply_free(&r);
	is_int(request(fd, "FROB x", &r), 404, "unknown verb: ERR 404");
	reply_free(&r);
	is_int(request(fd, "PING", &r), 0, "connection still usable");
	reply_free(&r);
	is_int(request(fd, "PING extra", &r), 400, "extra argument: 400");
	reply_free(&r);
	is_int(request(fd, "STATS", &r), 0, "STATS answers OK");
	ok(strstr(r.data, "connections\t") != NULL &&
	    strstr(r.data, "requests.ping\t") != NULL &&
	    strstr(r.data, "errors.404\t1\n") != NULL &&
	    strstr(r.data, "children_spawned\t") != NULL,
	    "STATS has connections, requests per verb, errors per code, "
	    "children");
	reply_free(&r);
	/* Only spaces separate words: a tab is part of one. */
	request(fd, "ping\tx", &r);
	is_int(r.code, 404, "ping<TAB>x is one word, an unknown verb: 404 "
	    "(%s)", r.text);
	is_str(r.text, "unknown command \"ping\\tx\"", "named with the tab "
	    "escaped");
	reply_free(&r);
	request(fd, "PING\t", &r);
	is_int(r.code, 404, "PING<TAB>: 404 (%s)", r.text);
	reply_free(&r);
	/* Nothing runs client strings: metacharacters are just names. */
	is_int(request(fd, "RUN $(touch /tmp/brokerd-pwned)", &r), 400,
	    "RUN with a space in the name: wrong argument count");
	reply_free(&r);
	send_all(fd, "END\n", 4);
	is_int(request(fd, "RUN `touch${IFS}/tmp/brokerd-pwned`;id|sh&", &r), 404,
	    "a command name with shell metacharacters is unknown");
	reply_free(&r);
	send_all(fd, "END\n", 4);
	is_int(request(fd, "RUN df;id", &r), 404, "RUN df;id is unknown");
	reply_free(&r);
	ok(access("/tmp/brokerd-pwned", F_OK) != 0, "and nothing ran");
	/* The refused RUN still owes its input up to END. */
	send_all(fd, "DATA 3\nabcEND\nPING\n", 19);
	is_int(read_reply(fd, &r, 5000), 0, "input of a refused request "
	    "skipped up to END");
	reply_free(&r);
	close(fd);
}

static void
test_df(void)
{
	struct reply	 r;
	struct df_table	 t;
	char		*argv[] = { "/bin/df", "-hl", NULL }, *out, *err;
	char		 e[256];
	size_t		 outlen, i, rows = 0, same = 0;
	int		 fd = tcp_connect(d.broker_port), st;
	char		*line, *save, *copy;

	is_int(request(fd, "DF", &r), 0, "DF answers OK");
	st = run_prog(argv, NULL, 0, &out, &outlen, &err, 10000);
	if (dfparse(out, outlen, &t, e, sizeof(e)) != 0)
		t.nrows = 0;
	ok(strncmp(r.data, "filesystem\tsize\tused\tavail\tuse%\tmounted_on\n",
	    42) == 0, "DF table starts with its header");
	copy = strdup(r.data);
	for (line = strtok_r(copy, "\n", &save), line = strtok_r(NULL, "\n",
	    &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char fs[512], size[64], mnt[512];

		rows++;
		if (sscanf(line, "%511[^\t]\t%63[^\t]\t%*[^\t]\t%*[^\t]\t"
		    "%*[^\t]\t%511[^\n]", fs, size, mnt) != 3)
			continue;
		for (i = 0; i < t.nrows; i++)
			if (strcmp(t.rows[i].field[DF_MOUNT], mnt) == 0 &&
			    strcmp(t.rows[i].field[DF_FS], fs) == 0 &&
			    strcmp(t.rows[i].field[DF_SIZE], size) == 0)
				same++;
	}
	ok(st == 0 && rows == t.nrows && same == t.nrows && rows > 0,
	    "DF rows equal df -hl here (%zu rows, %zu matching)", rows, same);
	{
		char want[32];

		snprintf(want, sizeof(want), "%zu", rows);
		is_str(r.text, want, "OK carries the row count");
	}
	free(copy);
	df_table_free(&t);
	free(out);
	free(err);
	reply_free(&r);

	/* Pipelined: PING DF PING in one write, answered in order. */
	send_all(fd, "PING\nDF\nPING\n", 13);
	read_reply(fd, &r, 10000);
	ok(r.code == 0 && strcmp(r.text, "pong") == 0 && r.len == 0,
	    "pipelined: first PING");
	reply_free(&r);
	read_reply(fd, &r, 10000);
	ok(r.code == 0 && r.len > 0 && strstr(r.data, "mounted_on") != NULL,
	    "pipelined: then DF");
	reply_free(&r);
	read_reply(fd, &r, 10000);
	ok(r.code == 0 && strcmp(r.text, "pong") == 0,
	    "pipelined: then PING");
	reply_free(&r);

	/* df exits 1 after printing a row: rows plus a warning. */
	send_all(fd, "RUN dfbad\nEND\n", 14);
	read_reply(fd, &r, 10000);
	ok(r.code == 0 && strncmp(r.text, "1 warning: dfbad exited with "
	    "status 1: df: ", 34) == 0 && strstr(r.data, "\t/\n") != NULL,
	    "df failing on one mount still returns the others (%s)", r.text);
	reply_free(&r);

	/* No output at all (undefined behaviour once): 502, stderr line. */
	send_all(fd, "RUN dfnone\nEND\n", 15);
	read_reply(fd, &r, 10000);
	ok(r.code == 502 && strcmp(r.text, "dfnone exited with status 1: "
	    "df: no file systems processed") == 0 && r.len == 0,
	    "df -t nosuchfs prints nothing: 502 with its stderr line (%d %s)",
	    r.code, r.text);
	reply_free(&r);
	send_all(fd, "RUN dfquiet\nEND\n", 16);
	read_reply(fd, &r, 10000);
	ok(r.code == 502 && strcmp(r.text, "dfquiet printed nothing: "
	    "nothing to report") == 0 && r.len == 0, "a df command that "
	    "exits 0 printing nothing: 502 with its stderr line (%d %s)",
	    r.code, r.text);
	reply_free(&r);
	is_int(request(fd, "PING", &r), 0, "and the daemon still serves");
	reply_free(&r);

	/* A field of 3003 bytes, 3004 escaped: all of it, not 1 KiB. */
	send_all(fd, "RUN dflong\nEND\n", 15);
	read_reply(fd, &r, 10000);
	{
		const char *row = strchr(r.data, '\n'), *mnt;

		mnt = row != NULL ? strrchr(row, '\t') : NULL;
		ok(r.code == 0 && strcmp(r.text, "1") == 0 && mnt != NULL &&
		    strncmp(mnt, "\t/a\\t000", 8) == 0 &&
		    strspn(mnt + 5, "0") == 3000 && strcmp(mnt + 3005, "\n")
		    == 0, "a mount point of 3003 bytes comes whole (%d %s, "
		    "%zu bytes in the field)", r.code, r.text, mnt != NULL ?
		    strlen(mnt) - 2 : 0);
	}
	reply_free(&r);
	close(fd);
}

static void
test_upper(void)
{
	struct reply	 r;
	size_t		 len = 1024 * 1024, i;
	char		*in = malloc(len), *want = malloc(len);
	int		 fd = tcp_connect(d.broker_port), good;

	srand(3);
	for (i = 0; i < len; i++) {
		in[i] = (char)(rand() >> 5);
		want[i] = upcase(in[i]);
	}
	run_input(fd, "UPPER", in, len, &r);
	ok(r.code == 0 && r.len == len && memcmp(r.data, want, len) == 0,
	    "UPPER of 1 MiB random bytes (NUL, high bytes) equals tr");
	reply_free(&r);
	run_input(fd, "UPPER", "", 0, &r);
	ok(r.code == 0 && r.len == 0, "UPPER of empty input: OK, no data");
	reply_free(&r);
	run_input(fd, "RUN lower", "MiXeD Case\n", 11, &r);
	ok(r.code == 0 && r.len == 11 && memcmp(r.data, "mixed case\n", 11)
	    == 0, "RUN of a command added in the config");
	reply_free(&r);
	run_input(fd, "RUN df", "ignored", 7, &r);
	ok(r.code == 0 && strstr(r.data, "mounted_on") != NULL,
	    "input sent to a command without input is discarded");
	reply_free(&r);
	close(fd);

	/* 50 at once. */
	{
		enum { N = 50 };
		int	fds[N], j;
		char	hdr[64], msg[64];

		for (j = 0; j < N; j++) {
			fds[j] = tcp_connect(d.broker_port);
			snprintf(msg, sizeof(msg), "request number %d", j);
			snprintf(hdr, sizeof(hdr), "UPPER\nDATA %zu\n",
			    strlen(msg));
			send_all(fds[j], hdr, strlen(hdr));
			send_all(fds[j], msg, strlen(msg));
			send_all(fds[j], "END\n", 4);
		}
		good = 0;
		for (j = 0; j < N; j++) {
			snprintf(msg, sizeof(msg), "REQUEST NUMBER %d", j);
			read_reply(fds[j], &r, 20000);
			if (r.code == 0 && r.len == strlen(msg) &&
			    memcmp(r.data, msg, r.len) == 0)
				good++;
			reply_free(&r);
			close(fds[j]);
		}
		is_int(good, N, "50 concurrent UPPER requests all correct");
	}
	free(in);
	free(want);
}

/* The 200 MiB streamed through UPPER: a byte of input, of output. */
static void
stream_fill(char *buf, size_t off, size_t n, void *arg)
{
	size_t i;

	(void)arg;
	for (i = 0; i < n; i++)
		buf[i] = (char)('a' + (off + i) % 29);
}

static char
stream_want(size_t off, void *arg)
{
	(void)arg;
	return upcase((char)('a' + off % 29));
}

/* The daemon's largest RSS, sampled each time 16 MiB more came back. */
struct rss_max {
	long	kb;
	size_t	mark;
};

static void
stream_tick(struct pump *p, void *arg)
{
	struct rss_max	*m = arg;
	long		 rss;

	if (p->got >> 24 == m->mark)
		return;
	m->mark = p->got >> 24;
	if ((rss = proc_rss_kb(d.pid)) > m->kb)
		m->kb = rss;
}

/* 200 MiB through UPPER, checked on the fly, RSS sampled meanwhile. */
static void
test_upper_stream(void)
{
	const size_t	total = 200 * 1024 * 1024;
	struct rss_max	m = { 0, 0 };
	struct pump	p = { 0 };
	int		fd = tcp_connect(d.broker_port);

	p.req = "UPPER";
	p.len = total;
	p.frame = 65536;
	p.fill = stream_fill;
	p.want = stream_want;
	p.tick = stream_tick;
	p.arg = &m;
	p.timeout_ms = 120000;
	pump_run(fd, &p);
	close(fd);
	ok(p.code == 0 && p.got == total && p.bad == 0,
	    "200 MiB through UPPER, byte-exact (%zu bytes back)", p.got);
	ok_rss(m.kb > 0 && m.kb < 32 * 1024,
	    "daemon RSS stayed under 32 MiB while streaming (max %ld KiB)",
	    m.kb);
}

/*
 * A late reader loses nothing.  Over the control socket (a unix socket:
 * no buffer autotuning), "late" writes 700 kB, which fills the socket and
 * the daemon's buffer so the daemon stops reading the command's output,
 * then 400 kB more into its pipe (1 MiB, room to spare), and exits.  The client, reading only
 * 3.5 s later (past the daemon's 2 s wait for EOF after a command exits),
 * still gets every byte, then OK.
 */
static void
test_late_reader(void)
{
	const size_t	 len = 1100000;
	struct reply	 r;
	size_t		 i, bad = 0;
	int		 fd, gone;

	if ((fd = unix_connect(d.control)) < 0)
		bail("control socket: %s", strerror(errno));
	send_all(fd, "RUN late\nEND\n", 13);
	gone = wait_children(d.pid, 0, 10000);
	ok(gone, "the command exits while the client has read nothing");
	usleep(3500 * 1000);
	read_reply(fd, &r, 20000);
	for (i = 0; i < r.len; i++)
		if (r.data[i] != '\0')
			bad++;
	ok(gone && r.code == 0 && r.len == len && bad == 0, "a client "
	    "reading 3.5 s after the command exited gets all %zu bytes "
	    "(got %zu) and OK (%d %s)", len, r.len, r.code, r.text);
	reply_free(&r);
	close(fd);
}

/* UPPER of 256 KiB on a fresh connection; 1 when the reply is exact. */
static int
upper_256k(int port)
{
	static char	in[256 * 1024], want[sizeof(in)];
	struct reply	r;
	size_t		i;
	int		fd = tcp_connect(port), good;

	for (i = 0; i < sizeof(in); i++) {
		in[i] = (char)(i * 7);
		want[i] = upcase(in[i]);
	}
	run_input(fd, "UPPER", in, sizeof(in), &r);
	good = r.code == 0 && r.len == sizeof(in) &&
	    memcmp(r.data, want, sizeof(in)) == 0;
	reply_free(&r);
	close(fd);
	return good;
}

/*
 * Without BROKERD_SPLICE, input is spliced only while the daemon may run
 * on one CPU: pin it to one and back, and watch bytes_spliced.
 */
static void
test_splice_auto(void)
{
	struct daemon	d2 = { 0 };
	cpu_set_t	all, one;
	long long	v0, v1, v2;
	int		cpu;

	unsetenv("BROKERD_SPLICE");
	if (d_start(&d2, conf_text, NULL) != 0)
		bail("daemon (splice auto) did not start");
	if (sched_getaffinity(d2.pid, sizeof(all), &all) != 0)
		bail("sched_getaffinity: %s", strerror(errno));
	v0 = stat_port(d2.broker_port, "bytes_spliced");
	ok(upper_256k(d2.broker_port), "auto: UPPER exact with %d CPUs",
	    CPU_COUNT(&all));
	v1 = stat_port(d2.broker_port, "bytes_spliced");
	if (CPU_COUNT(&all) > 1)
		ok(v0 == 0 && v1 == 0, "auto with %d CPUs: input copied "
		    "(bytes_spliced %lld)", CPU_COUNT(&all), v1);
	else
		ok(v1 - v0 >= 64 * 1024, "auto with 1 CPU: input spliced "
		    "(bytes_spliced %lld)", v1);
	for (cpu = 0; !CPU_ISSET(cpu, &all); cpu++)
		;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	/* The loop thread is the main thread: its tid is the pid. */
	if (sched_setaffinity(d2.pid, sizeof(one), &one) != 0)
		bail("sched_setaffinity: %s", strerror(errno));
	ok(upper_256k(d2.broker_port), "auto, pinned to CPU %d: UPPER exact",
	    cpu);
	v2 = stat_port(d2.broker_port, "bytes_spliced");
	ok(v2 - v1 >= 64 * 1024, "auto, pinned to one CPU: input spliced "
	    "(bytes_spliced %lld -> %lld)", v1, v2);
	(void)sched_setaffinity(d2.pid, sizeof(all), &all);
	is_int(d_stop(&d2, SIGTERM, 5000), 0, "daemon (splice auto) exits 0");
	d_cleanup(&d2);
}

/*
 * A client that takes none of a command's output is closed after
 * idle_timeout_s although the command still runs, and the command is
 * stopped (it would otherwise hold a child until command_timeout_s).
 */
static void
test_never_reads(void)
{
	static const char conf[] =
	    "listen = ( { service = \"broker\"; address = \"127.0.0.1\";"
	    " port = 0; } );\nlimits = { idle_timeout_s = 1; };\n"
	    "commands = { spew = { argv = [ \"head\", \"-c\", "
	    "\"100000000\", \"/dev/zero\" ]; timeout_s = 60; }; };\n";
	struct daemon	d2 = { 0 };
	long long	t0;
	int		fd, idle, found;

	if (d_start(&d2, conf, NULL) != 0)
		bail("daemon (idle 1 s) did not start");
	idle = proc_nfds(d2.pid);
	fd = tcp_connect(d2.broker_port);
	t0 = now_ms();
	send_all(fd, "RUN spew\nEND\n", 13);
	found = d_log_wait(&d2, "client read nothing for 1 s, closing", 1,
	    10000);
	ok(found && now_ms() - t0 < 8000, "a client reading none of the "
	    "output is closed after idle_timeout_s while its command runs "
	    "(%lld ms)", now_ms() - t0);
	ok(wait_children(d2.pid, 0, 5000), "its command is stopped");
	ok(wait_fds(d2.pid, idle, 5000), "daemon fds back to %d", idle);
	close(fd);
	is_int(d_stop(&d2, SIGTERM, 5000), 0, "daemon (idle 1 s) exits 0");
	d_cleanup(&d2);
}

static void
test_failures(void)
{
	struct reply	r;
	int		fd = tcp_connect(d.broker_port);
	long long	t0;

	send_all(fd, "RUN missing\nEND\n", 16);
	read_reply(fd, &r, 5000);
	ok(r.code == 502 && strstr(r.text, "No such file or directory"),
	    "a configured command that does not exist: 502 (%s)", r.text);
	reply_free(&r);
	is_int(request(fd, "PING", &r), 0, "and the daemon still serves");
	reply_free(&r);

	send_all(fd, "RUN fail\nEND\n", 13);
	read_reply(fd, &r, 5000);
	is_str(r.text, "fail exited with status 3: oops",
	    "non-zero exit: 502 with status and first stderr line");
	is_int(r.code, 502, "code 502");
	reply_free(&r);

	t0 = now_ms();
	send_all(fd, "RUN slow\nEND\n", 13);
	read_reply(fd, &r, 10000);
	ok(r.code == 504 && now_ms() - t0 < 4000,
	    "sleep 60 with a 1 s timeout: 504 (%s)", r.text);
	reply_free(&r);
	ok(wait_children(d.pid, 0, 5000), "no child left after the timeout");

	/* A grandchild holding the pipes: the group is killed. */
	send_all(fd, "RUN family\nEND\n", 15);
	read_reply(fd, &r, 10000);
	is_int(r.code, 504, "a command with a background grandchild: 504");
	reply_free(&r);
	ok(wait_children(d.pid, 0, 5000), "its process group is gone too");
	close(fd);

	/* A client that vanishes mid-stream. */
	{
		struct linger	lg = { 1, 0 };
		char		buf[8192];

		fd = tcp_connect(d.broker_port);
		send_all(fd, "UPPER\nDATA 100000\n", 18);
		memset(buf, 'x', sizeof(buf));
		send_all(fd, buf, sizeof(buf));
		ok(wait_children(d.pid, 1, 5000), "UPPER child running");
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
		ok(wait_children(d.pid, 0, 5000),
		    "client reset mid-stream: child reaped");
		ok(wait_fds(d.pid, idle_fds, 5000),
		    "fd count back to its idle value (%d)", idle_fds);
	}
}

static void
test_bad_input(void)
{
	struct reply	 r;
	char		*out, line[2048];
	int		 fd;
	ssize_t		 n;

	fd = tcp_connect(d.broker_port);
	memset(line, 'A', sizeof(line));
	line[sizeof(line) - 1] = '\n';
	send_all(fd, line, sizeof(line));
	read_reply(fd, &r, 5000);
	is_int(r.code, 413, "over-long line: 413");
	reply_free(&r);
	n = read_to_eof(fd, &out, 5000);
	ok(n == 0, "and the connection is closed");
	free(out);
	close(fd);

	fd = tcp_connect(d.broker_port);
	send_all(fd, "UPPER\nDATA 12x\n", 15);
	read_reply(fd, &r, 5000);
	is_int(r.code, 400, "malformed frame header: 400");
	reply_free(&r);
	ok(read_to_eof(fd, &out, 5000) == 0, "then closed");
	free(out);
	close(fd);

	fd = tcp_connect(d.broker_port);
	send_all(fd, "UPPER\nDATA 99999999\n", 20);
	read_reply(fd, &r, 5000);
	is_int(r.code, 400, "frame longer than the limit: 400");
	reply_free(&r);
	close(fd);

	fd = tcp_connect(d.broker_port);
	send_all(fd, "DATA 3\nabc", 10);
	read_reply(fd, &r, 5000);
	is_int(r.code, 400, "a frame where a request is due: 400");
	reply_free(&r);
	close(fd);

	fd = tcp_connect(d.broker_port);
	send_all(fd, "UPPER\nDATA 5\nab", 15);
	shutdown(fd, SHUT_WR);
	read_reply(fd, &r, 5000);
	is_int(r.code, 400, "half-close mid-frame: 400");
	reply_free(&r);
	close(fd);

	fd = tcp_connect(d.broker_port);
	send_all(fd, "PI", 2);
	read_reply(fd, &r, 5000);
	ok(r.code == 504 && strstr(r.text, "request timed out"),
	    "a request line that never ends: 504 after request_timeout_s");
	reply_free(&r);
	close(fd);

	/* Garbage. */
	{
		char	junk[65536];
		size_t	i;

		srand(9);
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = (char)rand();
		fd = tcp_connect(d.broker_port);
		send_all(fd, junk, sizeof(junk));
		shutdown(fd, SHUT_WR);
		n = read_to_eof(fd, &out, 5000);
		free(out);
		close(fd);
	}
	ok(d_alive(&d), "64 KiB of random garbage: daemon alive");
	fd = tcp_connect(d.broker_port);
	is_int(request(fd, "PING", &r), 0, "and still serving");
	reply_free(&r);
	close(fd);
}

/*
 * Sends str one byte every ms milliseconds, watching for a reply in
 * between; returns when one came (r filled, *at its time after the first
 * byte) or, with r->code -1, when none came until a further ms after the
 * last byte.
 */
static void
trickle(int fd, const char *str, int ms, struct reply *r, long long *at)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	long long	t0 = now_ms();
	size_t		i;

	memset(r, 0, sizeof(*r));
	r->code = -1;
	*at = -1;
	for (i = 0; i <= strlen(str); i++) {
		if (i < strlen(str))
			send_all(fd, str + i, 1);
		if (poll(&pfd, 1, ms) == 1) {
			read_reply(fd, r, 2000);
			*at = now_ms() - t0;
			return;
		}
	}
	r->data = calloc(1, 1);
}

/*
 * request_timeout_s = 1 bounds every line the daemon waits for, not only
 * request lines: a DATA header after a refused request, a DATA header and
 * END while a command reads its input.  Each is trickled one byte every
 * 400 ms, which the idle timeout alone would let go on for ever.
 */
static void
test_line_timeouts(void)
{
	static const struct {
		const char	*before;	/* sent at once, then... */
		int		 refused;	/* ...a 404 read first */
		const char	*slow;		/* ...this trickled */
		const char	*what;
	} t[] = {
		{ "RUN nosuch\n", 1, "DATA 3", "a DATA header after a "
		    "refused RUN" },
		{ "RUN nosuch\nDATA 1\nx", 1, "END", "END after a refused "
		    "RUN's frame" },
		{ "UPPER\n", 0, "DATA 3", "a DATA header while UPPER runs" },
		{ "UPPER\nDATA 3\nabc", 0, "END", "END while UPPER runs" },
	};
	struct reply	 r;
	long long	 at;
	size_t		 i;
	int		 fd;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		fd = tcp_connect(d.broker_port);
		send_all(fd, t[i].before, strlen(t[i].before));
		if (t[i].refused) {
			read_reply(fd, &r, 5000);
			reply_free(&r);
		} else
			wait_children(d.pid, 1, 5000);
		trickle(fd, t[i].slow, 400, &r, &at);
		ok(r.code == 504 && strcmp(r.text, "request timed out") == 0 &&
		    at >= 700 && at < 2000, "%s, one byte every 400 ms: ERR "
		    "504 after request_timeout_s = 1 (%d %s after %lld ms)",
		    t[i].what, r.code, r.text, at);
		reply_free(&r);
		ok(wait_eof(fd, 3000), "and the connection is closed");
		close(fd);
	}
	ok(wait_children(d.pid, 0, 5000), "no command left running");
}

/*
 * Out of file descriptors: pipe(2) fails with EMFILE, which is the
 * daemon's resource failure (500), not the command's (502).  The daemon
 * runs with RLIMIT_NOFILE 64 and gets connections until an accept fails.
 */
static void
test_out_of_fds(void)
{
	enum { MAXCONN = 200 };
	static const char conf[] =
	    "listen = ( { service = \"broker\"; address = \"127.0.0.1\";"
	    " port = 0; } );\nlimits = { max_clients_per_source = 1000; };\n";
	struct daemon	d2 = { 0 };
	struct rlimit	orig, low;
	struct reply	r;
	int		fds[MAXCONN], n = 0, i, full = 0, fd;

	getrlimit(RLIMIT_NOFILE, &orig);
	low = orig;
	low.rlim_cur = 64;
	if (setrlimit(RLIMIT_NOFILE, &low) != 0)
		bail("setrlimit 64: %s", strerror(errno));
	/* Kept as it is: the daemon would raise it (brokerd(8), LIMITS). */
	setenv("BROKERD_NOFILE", "keep", 1);
	i = d_start(&d2, conf, NULL);
	unsetenv("BROKERD_NOFILE");
	if (setrlimit(RLIMIT_NOFILE, &orig) != 0)
		bail("setrlimit back: %s", strerror(errno));
	if (i != 0)
		bail("daemon (RLIMIT_NOFILE 64) did not start");
	fds[n++] = tcp_connect(d2.broker_port);
	is_int(request(fds[0], "PING", &r), 0, "a client of a daemon with "
	    "RLIMIT_NOFILE 64");
	reply_free(&r);
	while (n < MAXCONN && !(full = d_log_count(&d2,
	    "Too many open files") > 0)) {
		fds[n++] = tcp_connect(d2.broker_port);
		usleep(5000);
	}
	ok(full, "%d connections later an accept fails with EMFILE", n);
	send_all(fds[0], "UPPER\nEND\n", 10);
	read_reply(fds[0], &r, 5000);
	ok(r.code == 500 && strcmp(r.text, "upper: pipe: Too many open files")
	    == 0, "UPPER then gets ERR 500, the daemon's resource failure "
	    "(%d %s)", r.code, r.text);
	reply_free(&r);
	ok(d_log_count(&d2, "request UPPER upper: ERR 500, ") == 1 &&
	    d_log_count(&d2, " bytes out: upper: pipe: Too many open files") ==
	    1, "logged once, in its audit line");
	for (i = 1; i < n; i++)
		close(fds[i]);
	fd = fds[0];
	usleep(200000);
	send_all(fd, "UPPER\nDATA 3\nabcEND\n", 20);
	read_reply(fd, &r, 5000);
	ok(r.code == 0 && strcmp(r.data, "ABC") == 0, "with fds free again, "
	    "UPPER works on the same connection (%d %s)", r.code, r.text);
	reply_free(&r);
	close(fd);
	is_int(d_stop(&d2, SIGTERM, 10000), 0, "daemon (RLIMIT_NOFILE 64) "
	    "exits 0");
	d_cleanup(&d2);
}

static void
test_max_children(void)
{
	static const char conf[] =
	    "listen = ( { service = \"broker\"; address = \"127.0.0.1\";"
	    " port = 0; } );\nlimits = { max_children = 2; };\n"
	    "commands = { nap = { argv = [ \"sleep\", \"2\" ]; }; };\n";
	struct daemon	d2 = { 0 };
	struct reply	r;
	int		a, b, c;
	long long	t0;

	if (d_start(&d2, conf, NULL) != 0)
		bail("second daemon did not start");
	a = tcp_connect(d2.broker_port);
	b = tcp_connect(d2.broker_port);
	c = tcp_connect(d2.broker_port);
	send_all(a, "RUN nap\nEND\n", 12);
	send_all(b, "RUN nap\nEND\n", 12);
	wait_children(d2.pid, 2, 5000);
	t0 = now_ms();
	send_all(c, "RUN nap\nEND\n", 12);
	read_reply(c, &r, 5000);
	ok(r.code == 429 && now_ms() - t0 < 1000,
	    "beyond max_children: ERR 429 at once (%s)", r.text);
	reply_free(&r);
	read_reply(a, &r, 5000);
	is_int(r.code, 0, "the running ones finish");
	reply_free(&r);
	close(a);
	close(b);
	close(c);
	is_int(d_stop(&d2, SIGTERM, 5000), 0, "second daemon exits 0");
	d_cleanup(&d2);
}

static void
test_brokerctl(void)
{
	const char	*ctl = getenv("BROKERCTL");
	char		 port[16], *out, *err, *root;
	char		*argv[10];
	int		 st;

	snprintf(port, sizeof(port), "%d", d.broker_port);
	argv[0] = (char *)ctl; argv[1] = "-H"; argv[2] = "127.0.0.1";
	argv[3] = "-p"; argv[4] = port; argv[5] = "df"; argv[6] = NULL;
	st = run_prog(argv, NULL, 0, &out, NULL, &err, 10000);
	/* "/" padded to 25 columns, or to this host's longest mount point. */
	root = strstr(out, "\n/ ");
	ok(st == 0 && strncmp(out, "Free space:\n", 12) == 0 &&
	    root != NULL && strspn(root + 2, " ") >= 24 &&
	    strncmp(root + 2 + strspn(root + 2, " "), ": ", 2) == 0,
	    "brokerctl df prints the seed's view");
	free(out); free(err);
	argv[5] = "-j"; argv[6] = "df"; argv[7] = NULL;
	st = run_prog(argv, NULL, 0, &out, NULL, &err, 10000);
	ok(st == 0 && out[0] == '[' && strstr(out, "\"mounted_on\"") != NULL,
	    "brokerctl -j df prints a JSON array");
	free(out); free(err);
	argv[5] = "upper"; argv[6] = "hello"; argv[7] = "world"; argv[8] = NULL;
	st = run_prog(argv, NULL, 0, &out, NULL, &err, 10000);
	ok(st == 0 && strcmp(out, "HELLO WORLD") == 0,
	    "brokerctl upper TEXT... joins with spaces");
	free(out); free(err);
	argv[6] = NULL;
	st = run_prog(argv, "streamed\nstdin\n", 15, &out, NULL, &err, 10000);
	ok(st == 0 && strcmp(out, "STREAMED\nSTDIN\n") == 0,
	    "brokerctl upper streams stdin");
	free(out); free(err);
	argv[5] = "run"; argv[6] = "fail"; argv[7] = NULL;
	st = run_prog(argv, NULL, 0, &out, NULL, &err, 10000);
	ok(st == 1 && strstr(err, "502") != NULL && strstr(err, "oops"),
	    "brokerctl run: ERR means exit 1 with the message");
	free(out); free(err);
}

int
main(void)
{
	static const char	*modes[] = { "on", "off" };
	long long		 spliced;
	int			 m;

	signal(SIGPIPE, SIG_IGN);
	/* Both ways of moving input, whatever this machine would choose. */
	for (m = 0; m < 2; m++) {
		diag("BROKERD_SPLICE=%s", modes[m]);
		setenv("BROKERD_SPLICE", modes[m], 1);
		memset(&d, 0, sizeof(d));
		if (d_start(&d, conf_text, NULL) != 0)
			bail("daemon did not start");
		idle_fds = proc_nfds(d.pid);
		test_simple();
		test_df();
		test_upper();
		test_upper_stream();
		test_late_reader();
		test_failures();
		test_bad_input();
		test_line_timeouts();
		test_brokerctl();
		spliced = stat_port(d.broker_port, "bytes_spliced");
		ok(m == 0 ? spliced > 200 * 1024 * 1024 : spliced == 0,
		    "BROKERD_SPLICE=%s: bytes_spliced %lld", modes[m],
		    spliced);
		ok(wait_children(d.pid, 0, 5000), "no children left");
		ok(wait_fds(d.pid, idle_fds, 5000), "fd count back to idle");
		is_int(d_stop(&d, SIGTERM, 10000), 0, "SIGTERM: exit 0");
		ok(d_log_count(&d, "exited cleanly") == 1,
		    "clean exit logged");
		d_cleanup(&d);
	}
	test_splice_auto();
	test_max_children();
	test_never_reads();
	test_out_of_fds();
	return done_testing();
}
