/*
 * Abuse, children: commands that exit before reading their input, flood
 * stderr, ignore SIGTERM, leave a grandchild on their pipes, or get
 * killed from outside.  Nothing may be left running afterwards.
 */
#include "autoconf.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/abuse.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

void
test_children(void)
{
	const size_t	 inlen = 10 * MIB;
	struct pump	 x;
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
	ok(wait_children(D.pid, 0, 3000) &&
	    wait_cmd(getpid(), "sleep", "32.5", 0, 3000),
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
	ok(wait_cmd(getpid(), "sleep", "31.5", 0, 2000) &&
	    wait_children(D.pid, 0, 2000),
	    "the group kill reaped the grandchild: no \"sleep 31.5\" left");

	/* Killed with SIGKILL from outside. */
	fd = conn_to(D.broker_port);
	t0 = now_ms();
	send_all(fd, "RUN victim\nEND\n", 15);
	sum.requests++;
	vpid = stats_child_pid(D.broker_port, "victim", 3000);
	/* Its pid shows before its command line does: exec is not done. */
	ok(vpid > 0 && wait_cmd(getpid(), "sleep", "33.5", 1, 3000) &&
	    kill(vpid, SIGKILL) == 0,
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
