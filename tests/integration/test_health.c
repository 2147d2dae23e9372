/*
 * Event-loop health: blocking work stays in the pool, slow callbacks are
 * reported, native DF, debug mode and its resource report.
 */
#include "autoconf.h"

#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

#define LISTEN_LIMITS \
	"listen = ( { service = \"echo\"; address = \"127.0.0.1\"; port = 0; },\n" \
	"  { service = \"broker\"; address = \"127.0.0.1\"; port = 0; } );\n" \
	"limits = { max_clients_per_source = 1000; request_timeout_s = 1; };\n" \
	"workers = 3;\n"

/*
 * The loop-health bounds, in ms.  Under valgrind (BROKERD_WRAPPER) the
 * daemon runs some 20 times slower: applying a configuration took 112
 * ms there, a slow callback at 100.  The threshold is then ten times
 * higher and the round-trip bounds five times, still under the 1500 ms
 * the hung statvfs takes.
 */
static int	slow_ms = 100;		/* slow_callback_ms */
static int	ping_ms = 200;		/* a PING while the pool is stuck */
static int	rtt_ms = 150;		/* an echo round trip, meanwhile */
static char	conf[512];

static long long
echo_rtt_max(int port, int rounds)
{
	long long	worst = 0, t0;
	char		buf[16];
	int		fd = tcp_connect(port), i;

	for (i = 0; i < rounds; i++) {
		t0 = now_ms();
		send_all(fd, "ping", 4);
		if (read(fd, buf, 4) != 4)
			return 99999;
		if (now_ms() - t0 > worst)
			worst = now_ms() - t0;
		usleep(20000);
	}
	close(fd);
	return worst;
}

/* Mount point -> size column of a DF table. */
static int
table_has(const char *table, const char *mnt, const char *size)
{
	char		 want[600];
	const char	*p;

	snprintf(want, sizeof(want), "\t%s\n", mnt);
	for (p = table; (p = strstr(p, want)) != NULL; p++) {
		const char *line = p;

		while (line > table && line[-1] != '\n')
			line--;
		/* filesystem \t size \t ... */
		line = strchr(line, '\t');
		if (line != NULL && strncmp(line + 1, size, strlen(size)) == 0
		    && line[1 + strlen(size)] == '\t')
			return 1;
	}
	return 0;
}

static void
test_debug_daemon(void)
{
	struct daemon	d = { 0 };
	struct reply	r;
	char		line[64];
	int		fds[3], i, fd, idle;
	long long	t0, worst;

	setenv("BROKERD_TEST_STATVFS_DELAY", "/:1500", 1);
	if (d_start(&d, conf, "-d") != 0)
		bail("daemon did not start");
	unsetenv("BROKERD_TEST_STATVFS_DELAY");
	ok(d_log_count(&d, "test hook: statvfs on / sleeps 1500 ms") == 1,
	    "debug mode honours the statvfs delay hook");

	for (i = 0; i < 3; i++) {
		fds[i] = tcp_connect(d.broker_port);
		send_all(fds[i], "DF --native\n", 12);
	}
	usleep(100000);
	fd = tcp_connect(d.broker_port);
	t0 = now_ms();
	is_int(request(fd, "PING", &r), 0, "PING while native DFs hang");
	reply_free(&r);
	ok(now_ms() - t0 < ping_ms, "answered at once (%lld ms, bound %d)",
	    now_ms() - t0, ping_ms);
	worst = echo_rtt_max(d.echo_port, 10);
	ok(worst < rtt_ms, "echo round trips while a pool job blocks: worst "
	    "%lld ms (bound %d)", worst, rtt_ms);
	for (i = 0; i < 3; i++) {
		read_reply(fds[i], &r, 5000);
		ok(r.code == 504 && strstr(r.text, "/") != NULL,
		    "a hung statvfs: ERR 504 naming the mount (%s)", r.text);
		reply_free(&r);
		close(fds[i]);
	}
	/* Let the delayed statvfs finish before the report is taken. */
	usleep(1600000);

	/* Slow callbacks. */
	is_int(request(fd, "SLEEP 10", &r), 0, "SLEEP 10 in debug mode");
	reply_free(&r);
	ok(d_log_count(&d, "slow callback") == 0, "SLEEP 10: no warning");
	snprintf(line, sizeof(line), "SLEEP %d", slow_ms * 3 / 2);
	is_int(request(fd, line, &r), 0, "%s", line);
	reply_free(&r);
	ok(d_log_wait(&d, "slow callback session_read (broker 127.0.0.1:", 1,
	    slow_ms * 20) && d_log_count(&d, "slow callback") == 1,
	    "%s: exactly one slow-callback warning naming the session", line);
	is_int(request(fd, "STATS", &r), 0, "STATS");
	/* Its time in seconds: 0.15 or 1.5. */
	snprintf(line, sizeof(line), "slowest_callback\tsession_read %s",
	    slow_ms == 100 ? "0.1" : "1.");
	ok(strstr(r.data, "slow_callbacks\t1\n") != NULL &&
	    strstr(r.data, line) != NULL &&
	    strstr(r.data, "callbacks<100ms\t") != NULL &&
	    strstr(r.data, "pool.threads\t3\n") != NULL &&
	    strstr(r.data, "pool.completed\t") != NULL,
	    "STATS: slow count, slowest, histogram, pool counters");
	reply_free(&r);

	/* A connection left open at SIGTERM shows in the report. */
	idle = fd;
	request(idle, "PING", &r);
	reply_free(&r);
	is_int(d_stop(&d, SIGTERM, 10000), 0, "SIGTERM: exit 0");
	ok(d_log_count(&d, "resource report: connection broker 127.0.0.1:")
	    == 1, "the resource report names the connection left open");
	ok(d_log_count(&d, "no resources left open") == 0,
	    "and does not claim a clean exit");
	close(idle);
	d_cleanup(&d);

	/* A clean exit in debug mode. */
	memset(&d, 0, sizeof(d));
	if (d_start(&d, conf, "-d") != 0)
		bail("daemon did not start");
	fd = tcp_connect(d.broker_port);
	request(fd, "PING", &r);
	reply_free(&r);
	close(fd);
	usleep(100000);
	is_int(d_stop(&d, SIGTERM, 10000), 0, "clean debug run: exit 0");
	ok(d_log_count(&d, "resource report: no resources left open") == 1,
	    "resource report: no resources left open");
	ok(d_log_count(&d, "resource report:") == 1, "and nothing else");
	d_cleanup(&d);
}

/*
 * A mount point named with a line feed and a fake final line: its name
 * reaches the 504 reply and the log escaped, on one line.  The tmpfs is
 * mounted in a mount namespace of this test's own, which its daemon
 * inherits, so nothing else on the machine sees it.
 */
static void
test_native_names(void)
{
	enum { NTESTS = 7 };
	struct daemon	 d = { 0 };
	struct reply	 r;
	char		 top[] = "/tmp/brokerd-mnt.XXXXXX", mnt[128];
	char		 want[600], esc[512], hook[160], *log;
	int		 fd;

	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		snprintf(want, sizeof(want), "cannot make a mount namespace "
		    "to mount a tmpfs in: %s", strerror(errno));
		skip(NTESTS, want);
		return;
	}
	if (mkdtemp(top) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	snprintf(mnt, sizeof(mnt), "%s/mnt\nOK 7 injected", top);
	if (mkdir(mnt, 0755) != 0)
		bail("mkdir: %s", strerror(errno));
	if (mount("brokerd-test", mnt, "tmpfs", 0, "size=1m") != 0) {
		snprintf(want, sizeof(want), "cannot mount a tmpfs: %s",
		    strerror(errno));
		skip(NTESTS, want);
		rmdir(mnt);
		rmdir(top);
		return;
	}
	snprintf(hook, sizeof(hook), "%s:1500", mnt);
	setenv("BROKERD_TEST_STATVFS_DELAY", hook, 1);
	if (d_start(&d, conf, "-d") != 0)
		bail("daemon did not start");
	unsetenv("BROKERD_TEST_STATVFS_DELAY");
	str_escape(esc, sizeof(esc), mnt, strlen(mnt), 200);
	fd = tcp_connect(d.broker_port);
	request(fd, "DF --native", &r);
	snprintf(want, sizeof(want), "statvfs on %s timed out", esc);
	ok(r.code == 504 && strcmp(r.text, want) == 0, "a hung mount point "
	    "named with a line feed: one final line, the name escaped (%d %s)",
	    r.code, r.text);
	reply_free(&r);
	ok(pong_next(fd), "the next reply is PING's: nothing was injected");
	close(fd);
	snprintf(want, sizeof(want), "statvfs on %s answered after", esc);
	ok(d_log_wait(&d, want, 1, 5000), "the late answer is logged with the "
	    "name escaped");
	snprintf(want, sizeof(want), "DF --native: statvfs on %s timed out "
	    "after 1000 ms", esc);
	ok(d_log_count(&d, want) == 1, "so is the timeout");
	snprintf(want, sizeof(want), "test hook: statvfs on %s sleeps", esc);
	ok(d_log_count(&d, want) == 1, "and the test hook's notice");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	log = d_log(&d);
	ok(strstr(log, "\nOK 7 injected") == NULL, "no log line starts with "
	    "the injected text");
	free(log);
	d_cleanup(&d);
	if (umount2(mnt, MNT_DETACH) != 0)
		diag("umount %s: %s", mnt, strerror(errno));
	rmdir(mnt);
	rmdir(top);
}

static void
test_native(void)
{
	struct daemon	 d = { 0 };
	struct reply	 df, nat, r;
	char		*copy, *line, *save;
	int		 fd, rows = 0, same = 0;

	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	fd = tcp_connect(d.broker_port);
	is_int(request(fd, "SLEEP 10", &r), 404, "SLEEP outside debug mode: 404");
	reply_free(&r);
	is_int(request(fd, "DF", &df), 0, "DF");
	is_int(request(fd, "DF --native", &nat), 0, "DF --native");
	ok(strncmp(nat.data, "filesystem\tsize\tused\tavail\tuse%\tmounted_on\n",
	    42) == 0, "native DF has the same header");
	copy = strdup(df.data);
	for (line = strtok_r(copy, "\n", &save), line = strtok_r(NULL, "\n",
	    &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char size[64], mnt[512];

		if (sscanf(line, "%*[^\t]\t%63[^\t]\t%*[^\t]\t%*[^\t]\t%*[^\t]\t"
		    "%511[^\n]", size, mnt) != 2)
			continue;
		rows++;
		if (table_has(nat.data, mnt, size))
			same++;
		else
			diag("df row %s (size %s) not in the native table", mnt,
			    size);
	}
	ok(rows > 0 && same == rows, "DF --native agrees with DF on mount "
	    "points and sizes (%d of %d rows)", same, rows);
	ok(strcmp(df.text, nat.text) == 0, "same row count (%s vs %s)",
	    df.text, nat.text);
	free(copy);
	reply_free(&df);
	reply_free(&nat);
	close(fd);
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	ok(d_log_count(&d, "resource report") == 0,
	    "no resource report outside debug mode");
	d_cleanup(&d);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (harness_wrapped()) {
		slow_ms *= 10;
		ping_ms *= 5;
		rtt_ms *= 5;
		diag("under BROKERD_WRAPPER: slow_callback_ms %d, bounds %d "
		    "and %d ms", slow_ms, ping_ms, rtt_ms);
	}
	snprintf(conf, sizeof(conf), "%sslow_callback_ms = %d;\n",
	    LISTEN_LIMITS, slow_ms);
	test_debug_daemon();
	test_native_names();
	test_native();
	return done_testing();
}
