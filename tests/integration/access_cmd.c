/*
 * Per-command access (issue 12): allow and deny lists, max_running,
 * rlimits, output_mb, env and cwd, each crossed by a command.
 */
#include "autoconf.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/access.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

#define CMD_CONF \
	"listen = ( { service = \"broker\"; address = \"127.0.0.1\"; " \
	"port = 0; } );\n" \
	"limits = { max_clients_per_source = 1000; };\n" \
	"commands = {\n" \
	"  upper = { argv = [ \"tr\", \"[:lower:]\", \"[:upper:]\" ];\n" \
	"    input = true; allow = [ \"127.0.0.2\", \"::1\" ]; };\n" \
	"  df = { argv = [ \"df\", \"-hl\" ]; output = \"df\";\n" \
	"    deny = [ \"127.0.0.3\" ]; };\n" \
	"  far = { argv = [ \"echo\", \"far\" ]; allow = [ \"192.0.2.1\" ]; };\n" \
	"  slow = { argv = [ \"sleep\", \"3\" ]; max_running = 2; };\n" \
	"  show = { argv = [ \"sh\", \"-c\", \"ulimit -t; ulimit -v; " \
	"ulimit -n; ulimit -p\" ];\n" \
	"    limits = { cpu_s = 7; memory_mb = 256; open_files = 64;\n" \
	"    processes = 16; }; };\n" \
	"  spin = { argv = [ \"sh\", \"-c\", \"while :; do :; done\" ];\n" \
	"    limits = { cpu_s = 1; }; };\n" \
	"  hog = { argv = [ \"sh\", \"-c\", \"x=$(head -c 67108864 /dev/zero" \
	" | tr '\\\\0' a); echo ${#x}\" ];\n" \
	"    limits = { memory_mb = 16; }; };\n" \
	"  fds = { argv = [ \"sh\", \"-c\", \"for i in 3 4 5 6 7; do " \
	"eval \\\"exec $i</dev/null\\\"; done; cat /dev/null\" ];\n" \
	"    limits = { open_files = 8; }; };\n" \
	"  flood = { argv = [ \"yes\" ]; limits = { output_mb = 1; }; };\n" \
	"  dfflood = { argv = [ \"yes\" ]; output = \"df\";\n" \
	"    limits = { output_mb = 2; }; };\n" \
	"  env = { argv = [ \"env\" ]; env = [ \"LC_ALL=C\", \"FOO=bar baz\" ]; };\n" \
	"  env0 = { argv = [ \"env\" ]; };\n" \
	"  pwd = { argv = [ \"pwd\" ]; cwd = \"/tmp\"; };\n" \
	"  pwd0 = { argv = [ \"pwd\" ]; };\n" \
	"  nodir = { argv = [ \"pwd\" ]; cwd = \"/nonexistent/x\"; };\n" \
	"};\n"

/*
 * Between fork and exec the child is still valgrind's, which keeps
 * RLIMIT_NOFILE to itself: it refuses or only pretends to set it.
 */
#define VG_NOFILE	"the daemon runs under BROKERD_WRAPPER (valgrind), " \
	"which virtualizes RLIMIT_NOFILE in a forked child until exec; " \
	"checked in the plain and ASan runs"

/* RUN name from src: code, output and text of the final line. */
static int
run_from(const char *src, int port, const char *name, struct reply *r)
{
	char	line[128];
	int	fd = tcp_connect_from(src, port), code;

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return -2;
	snprintf(line, sizeof(line), "RUN %s\nEND", name);
	code = request(fd, line, r);
	close(fd);
	return code;
}

static void
test_command_lists(struct daemon *d)
{
	struct reply	 r;
	char		*argv[] = { getenv("BROKERCTL"), "-S", d->control,
	    "run", "far", NULL }, *out = NULL;
	int		 fd, port = d->broker_port;

	fd = tcp_connect_from("127.0.0.4", port);
	send_all(fd, "UPPER\nDATA 2\nhi\nEND\n", 20);
	read_reply(fd, &r, 5000);
	ok(r.code == 403 && strcmp(r.text, "not allowed to run upper") == 0,
	    "UPPER from 127.0.0.4: ERR 403 not allowed to run upper (%d %s)",
	    r.code, r.text);
	reply_free(&r);
	ok(pong_next(fd), "the connection stays usable");
	close(fd);
	fd = tcp_connect_from("127.0.0.2", port);
	send_all(fd, "UPPER\nDATA 2\nhi\nEND\n", 20);
	read_reply(fd, &r, 5000);
	ok(r.code == 0 && r.len == 2 && memcmp(r.data, "HI", 2) == 0,
	    "UPPER from 127.0.0.2 (allowed): HI");
	reply_free(&r);
	close(fd);
	fd = tcp6_connect(listen_port(d, "[::1]", "broker"));
	ok(fd < 0, "(no listener on ::1 here)");
	if (fd >= 0)
		close(fd);
	is_int(request_from("127.0.0.3", port, "DF", NULL, 0), 403,
	    "DF from 127.0.0.3 (in df's deny): 403");
	is_int(request_from("127.0.0.2", port, "DF", NULL, 0), 0,
	    "DF from 127.0.0.2: OK");
	is_int(run_from("127.0.0.1", port, "far", &r), 403,
	    "RUN far from loopback: 403 (its allow narrows, never widens)");
	reply_free(&r);
	is_int(run_prog(argv, NULL, 0, &out, NULL, NULL, 10000), 0,
	    "brokerctl -S ... run far: the control socket is not subject to "
	    "address lists");
	ok(out != NULL && strcmp(out, "far\n") == 0, "its output");
	free(out);
	is_int(stat_port(port, "requests_refused_acl"), 3,
	    "STATS requests_refused_acl");
	is_int(stat_port(port, "errors.403"), 3, "STATS errors.403");
}

static void
test_max_running(struct daemon *d)
{
	struct reply	r;
	int		fds[2], i;

	for (i = 0; i < 2; i++) {
		fds[i] = tcp_connect_from("127.0.0.1", d->broker_port);
		send_all(fds[i], "RUN slow\nEND\n", 13);
	}
	ok(wait_cmd(d->pid, "sleep", "3", 2, 5000), "two slow running");
	is_int(run_from("127.0.0.1", d->broker_port, "slow", &r), 429,
	    "a third: ERR 429 (%s)", r.text);
	ok(strstr(r.text, "max_running 2") != NULL, "it names the limit");
	reply_free(&r);
	is_int(stat_port(d->broker_port, "command.slow.running"), 2,
	    "STATS command.slow.running 2");
	is_int(stat_port(d->broker_port, "command.slow.max_running"), 2,
	    "STATS command.slow.max_running 2");
	is_int(stat_port(d->broker_port, "command.df.max_running"), 0,
	    "STATS command.df.max_running 0 (none)");
	for (i = 0; i < 2; i++) {
		read_reply(fds[i], &r, 10000);
		is_int(r.code, 0, "slow %d finished", i);
		reply_free(&r);
		close(fds[i]);
	}
	is_int(run_from("127.0.0.1", d->broker_port, "slow", &r), 0,
	    "then it runs again");
	reply_free(&r);
}

static void
test_limits(struct daemon *d)
{
	struct reply	r;
	int		port = d->broker_port, fd;

	if (harness_wrapped())
		skip(2, VG_NOFILE);
	else {
		is_int(run_from("127.0.0.1", port, "show", &r), 0, "RUN show");
		ok(r.data != NULL && strcmp(r.data, "7\n262144\n64\n16\n") ==
		    0, "cpu_s, memory_mb, open_files, processes are its "
		    "rlimits");
		if (r.data != NULL &&
		    strcmp(r.data, "7\n262144\n64\n16\n") != 0)
			diag("got: %s", r.data);
		reply_free(&r);
	}
	is_int(run_from("127.0.0.1", port, "spin", &r), 502,
	    "cpu_s = 1 crossed: 502 (%s)", r.text);
	ok(strstr(r.text, "killed by signal 24") != NULL, "by SIGXCPU");
	reply_free(&r);
	is_int(run_from("127.0.0.1", port, "hog", &r), 502,
	    "memory_mb = 16 crossed: 502 (%s)", r.text);
	reply_free(&r);
	if (harness_wrapped())
		skip(2, VG_NOFILE);
	else {
		is_int(run_from("127.0.0.1", port, "fds", &r), 502,
		    "open_files = 8 crossed: 502 (%s)", r.text);
		ok(strstr(r.text, "Error 24") != NULL, "EMFILE");
		reply_free(&r);
	}

	fd = tcp_connect_from("127.0.0.1", port);
	is_int(request(fd, "RUN flood\nEND", &r), 413,
	    "output_mb = 1 crossed: ERR 413");
	is_str(r.text, "output limit of 1 MB exceeded", "its text");
	is_int((long long)r.len, 1 << 20, "after exactly 1 MB of output");
	reply_free(&r);
	ok(pong_next(fd), "the connection stays usable");
	close(fd);
	ok(wait_cmd(d->pid, "yes", NULL, 0, 5000), "the command was killed");
	is_int(run_from("127.0.0.1", port, "dfflood", &r), 413,
	    "output_mb for df output: 413");
	reply_free(&r);
	is_int(stat_port(port, "children_output_limited"), 2,
	    "STATS children_output_limited");

	is_int(run_from("127.0.0.1", port, "env", &r), 0, "RUN env");
	is_str(r.data, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLC_ALL=C\n"
	    "FOO=bar baz\n", "env: PATH and the configured entries only");
	reply_free(&r);
	is_int(run_from("127.0.0.1", port, "env0", &r), 0, "RUN env0");
	is_str(r.data, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\nLC_ALL=C\n",
	    "no env: PATH and LC_ALL=C");
	reply_free(&r);
	is_int(run_from("127.0.0.1", port, "pwd", &r), 0, "RUN pwd");
	is_str(r.data, "/tmp\n", "cwd = /tmp");
	reply_free(&r);
	is_int(run_from("127.0.0.1", port, "pwd0", &r), 0, "RUN pwd0");
	is_str(r.data, "/\n", "no cwd: /");
	reply_free(&r);
	is_int(run_from("127.0.0.1", port, "nodir", &r), 502,
	    "a cwd that is not there: 502");
	is_str(r.text, "nodir: cannot change to /nonexistent/x: No such file "
	    "or directory", "the error names the directory");
	reply_free(&r);
}

void
test_commands(void)
{
	struct daemon d = { 0 };

	if (d_start(&d, CMD_CONF, NULL) != 0)
		bail("daemon did not start");
	test_command_lists(&d);
	test_max_running(&d);
	test_limits(&d);
	is_int(d_stop(&d, SIGTERM, 10000), 0, "daemon exits cleanly");
	d_cleanup(&d);
}
