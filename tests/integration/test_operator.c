/*
 * The daemon as an operator meets it: a command never outlives its
 * client, one audit line per request, reloads that say who asked, the
 * COMMANDS verb, refusals that say why, and the start-up warnings.
 */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/tap.h"

static const char	*brokerctl;
static struct daemon	 d;
static char		 broker_port[16];

/* max_children = 1: a slot a command did not give back shows as 429. */
static const char conf_text[] =
"listen = ( { service = \"echo\"; address = \"127.0.0.1\"; port = 0; },\n"
"  { service = \"broker\"; address = \"127.0.0.1\"; port = 0; } );\n"
"limits = { max_children = 1; max_clients_per_source = 64; };\n"
"commands = {\n"
"  longsleep = { argv = [ \"sleep\", \"60\" ]; };\n"
"  slowecho = { argv = [ \"sh\", \"-c\", \"sleep 1.5; echo done\" ]; };\n"
"  sink = { argv = [ \"sh\", \"-c\", \"cat > /dev/null; sleep 60\" ];\n"
"    input = true; };\n"
"  fail = { argv = [ \"sh\", \"-c\", \"echo oops >&2; echo more >&2; "
"exit 2\" ]; };\n"
"  upper = { argv = [ \"tr\", \"a-z\", \"A-Z\" ]; input = true; };\n"
"  slow = { argv = [ \"sleep\", \"60\" ]; timeout_s = 1; };\n"
"};\n";

/* A bound for what must happen "within a second": a wrapper is slower. */
static int
second(void)
{
	return harness_wrapped() ? 5000 : 1000;
}

static long long
stat_now(const char *key)
{
	return stat_port(d.broker_port, key);
}

static long long gone_ms;	/* how long the last gone_within() took */

/* Whether pid is gone (reaped) within ms of start. */
static int
gone_within(pid_t pid, long long start, int ms)
{
	do {
		gone_ms = now_ms() - start;
		if (kill(pid, 0) != 0 && errno == ESRCH)
			return 1;
		msleep(10);
	} while (now_ms() - start < ms);
	return 0;
}

/* Exit status, or -1 (and the process killed) after timeout_ms. */
static int
wait_exit(pid_t pid, int timeout_ms)
{
	long long start = now_ms();
	int	  status;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() - start > timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		msleep(10);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* brokerctl -p BROKER_PORT args... in the background, output dropped. */
static pid_t
ctl_spawn(const char *a1, const char *a2, const char *a3, const char *a4)
{
	pid_t	pid;
	int	null;

	if ((pid = fork()) == 0) {
		null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execl(brokerctl, brokerctl, "-H", "127.0.0.1", "-p",
		    broker_port, a1, a2, a3, a4, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		bail("fork: %s", strerror(errno));
	return pid;
}

/* The slot of max_children = 1 is free: a RUN gets its command. */
static int
slot_free(void)
{
	struct reply	r;
	int		fd = tcp_connect(d.broker_port), good;

	send_all(fd, "RUN slowecho\nEND\n", 17);
	good = read_reply(fd, &r, 10000) == 0 && strcmp(r.data, "done\n") == 0;
	if (!good)
		diag("RUN slowecho: %d %s", r.code, r.text);
	reply_free(&r);
	close(fd);
	return good;
}

/*
 * The defect of issue 15: a silent command outlived its client.  Killed
 * brokerctl (which half-closes after END), a client that closes without
 * a half-close, and one that closes before END: the command goes within
 * a second, the slot with it, each counted once as abandoned.
 */
static void
test_abandoned(void)
{
	pid_t		 cpid, kid;
	long long	 t0, abandoned0 = stat_now("requests_abandoned");
	long long	 e400 = stat_now("errors.400");
	int		 fd, gone;

	cpid = ctl_spawn("-t", "60", "run", "longsleep");
	kid = stats_child_pid(d.broker_port, "longsleep", 10000);
	ok(kid > 0, "brokerctl run longsleep: the command runs (pid %d)",
	    (int)kid);
	msleep(600);	/* brokerctl has half-closed; a few probes went by */
	ok(kill(kid, 0) == 0, "a client that half-closed after END keeps its "
	    "command running");
	ok(waitpid(cpid, NULL, WNOHANG) == 0, "brokerctl still waits");
	kill(cpid, SIGKILL);
	t0 = now_ms();

	gone = gone_within(kid, t0, second());
	ok(gone, "brokerctl killed: the command is "
	    "gone within a second (%lld ms)", gone_ms);
	wait_exit(cpid, 5000);
	ok(slot_free(), "its max_children slot is free: the next RUN runs");
	ok(d_log_wait(&d, "request RUN longsleep: abandoned, ", 1, 5000) &&
	    d_log_count(&d, "client went away; SIGTERM to longsleep's process "
	    "group (pid ") == 1, "logged once, with the command's name");

	/* A client that closes without shutting down its side first. */
	fd = tcp_connect(d.broker_port);
	send_all(fd, "RUN longsleep\nEND\n", 18);
	kid = stats_child_pid(d.broker_port, "longsleep", 10000);
	close(fd);
	t0 = now_ms();
	gone = kid > 0 && gone_within(kid, t0, second());
	ok(gone, "a client that closes "
	    "after END: the command is gone within a second (%lld ms)",
	    gone_ms);

	/* Before END: its input can never be complete. */
	fd = tcp_connect(d.broker_port);
	send_all(fd, "RUN sink\nDATA 3\nabc", 19);
	kid = stats_child_pid(d.broker_port, "sink", 10000);
	close(fd);
	t0 = now_ms();
	gone = kid > 0 && gone_within(kid, t0, second());
	ok(gone, "a client that closes "
	    "before END: the command is gone within a second (%lld ms)",
	    gone_ms);
	ok(slot_free(), "and the slot is free");
	is_int(stat_now("requests_abandoned") - abandoned0, 3,
	    "STATS requests_abandoned counts the three");
	is_int(stat_now("errors.400") - e400, 0, "none of them counts as "
	    "errors.400");
	ok(d_log_count(&d, "request RUN longsleep: abandoned, ") == 2 &&
	    d_log_count(&d, "request RUN sink: abandoned, ") == 1 &&
	    d_log_count(&d, "connection closed before END; SIGTERM to sink's "
	    "process group") == 1 && d_log_count(&d, "request RUN sink: ERR") ==
	    0, "one line for each");
}

/*
 * EOF after END is a half-close, and a client that still reads gets its
 * whole reply: empty frames while the command is silent, which change
 * nothing in what it reads.
 */
static void
test_half_close(void)
{
	struct reply	r;
	long long	abandoned0 = stat_now("requests_abandoned");
	int		fd = tcp_connect(d.broker_port);

	send_all(fd, "RUN slowecho\nEND\n", 17);
	shutdown(fd, SHUT_WR);
	read_reply(fd, &r, 10000);
	ok(r.code == 0 && strcmp(r.data, "done\n") == 0, "half-closed after "
	    "END and reading: the whole reply (%d %s)", r.code, r.text);
	reply_free(&r);
	is_int(eof_within(fd, 3000), 1, "then the daemon closes");
	close(fd);
	is_int(stat_now("requests_abandoned") - abandoned0, 0,
	    "nothing abandoned");
}

/* One request on a new connection to the control socket. */
static int
control_request(const char *line, struct reply *r)
{
	int fd = unix_connect(d.control), code;

	if (fd < 0)
		bail("control socket %s: %s", d.control, strerror(errno));
	code = request(fd, line, r);
	close(fd);
	return code;
}

/*
 * One line per finished request, at info: peer, verb, command, outcome,
 * exit status decoded, duration, bytes; a failure's details once.
 */
static void
test_audit(void)
{
	struct reply	r;
	int		fd = tcp_connect(d.broker_port);

	request(fd, "PING", &r);
	reply_free(&r);
	ok(d_log_wait(&d, "request PING: OK, 0.0", 1, 5000) &&
	    d_log_count(&d, " s, 5 bytes in, 8 bytes out") == 1,
	    "PING: \"broker PEER: request PING: OK, 0.0.. s, 5 bytes in, 8 "
	    "bytes out\"");
	send_all(fd, "RUN fail\nEND\n", 13);
	read_reply(fd, &r, 10000);
	is_int(r.code, 502, "RUN fail: ERR 502 (%s)", r.text);
	reply_free(&r);
	ok(d_log_wait(&d, "request RUN fail: ERR 502, exit 2, ", 1, 5000),
	    "its audit line: ERR 502, exit 2");
	d_log_diag(&d, "oops");
	is_int(d_log_count(&d, "oops"), 1, "its stderr is logged once, not "
	    "twice");
	request(fd, "FROB x", &r);
	reply_free(&r);
	ok(d_log_wait(&d, "request FROB x: ERR 404, ", 1, 5000) &&
	    d_log_count(&d, " bytes out: unknown command \"FROB\"") == 1,
	    "an unknown verb: ERR 404 and the reply's text");
	send_all(fd, "RUN slow\nEND\n", 13);
	read_reply(fd, &r, 10000);
	reply_free(&r);
	ok(d_log_wait(&d, "request RUN slow: ERR 504, killed by SIGTERM, ", 1,
	    5000), "a command timed out: ERR 504, killed by SIGTERM");
	send_all(fd, "UPPER\nDATA 6\nhello\nEND\n", 23);
	read_reply(fd, &r, 10000);
	reply_free(&r);
	ok(d_log_wait(&d, "request UPPER upper: OK, exit 0, ", 1, 5000) &&
	    d_log_count(&d, " s, 23 bytes in, 16 bytes out") == 1,
	    "UPPER: the command's name, its input and output counted");
	d_log_diag(&d, "request UPPER");
	close(fd);
	control_request("PING", &r);
	reply_free(&r);
	ok(d_log_wait(&d, ": request PING: OK, ", 2, 5000) &&
	    d_log_count(&d, "control uid ") >= 1, "on the control socket: "
	    "\"control uid N pid N: request PING: OK ...\"");
}

/* Reloads say who asked; a failed one is logged once. */
static void
test_reload_who(void)
{
	struct reply	 r;
	char		*out, *err, bad[2048];
	int		 st;

	kill(d.pid, SIGHUP);
	ok(d_log_wait(&d, "reloaded configuration (generation 2), asked by "
	    "SIGHUP", 1, 10000) && d_log_count(&d, "reloading ") == 1 &&
	    d_log_count(&d, ", asked by SIGHUP") == 2, "SIGHUP: the reload "
	    "says so, starting and done");
	st = d_ctl(&d, "reload", &out, &err);
	ok(st == 0 && d_log_wait(&d, "reloaded configuration (generation 3), "
	    "asked by control uid ", 1, 10000), "brokerctl reload: asked by "
	    "control uid N pid N");
	free(out);
	free(err);
	ok(d_log_count(&d, "request RELOAD: OK, ") == 1, "and its audit line");
	snprintf(bad, sizeof(bad), "%s\nbogus_key = 1;\n", conf_text);
	write_text(d.conf, bad, 0644);
	st = d_ctl(&d, "reload", &out, &err);
	ok(st == 1 && strstr(err, "bogus_key") != NULL, "a bad file: brokerctl "
	    "reload fails, naming the error");
	free(out);
	free(err);
	ok(d_log_wait(&d, "request RELOAD: ERR 500, ", 1, 10000),
	    "its audit line: ERR 500");
	d_log_diag(&d, "bogus_key");
	is_int(d_log_count(&d, "bogus_key"), 1, "the error is logged once, not "
	    "twice");
	ok(d_log_count(&d, "reload failed; still serving generation 3 (asked "
	    "by control uid ") == 1, "the failure says who asked");
	write_text(d.conf, conf_text, 0644);

	/* LOGLEVEL: at notice whatever the level; bad names listed. */
	control_request("LOGLEVEL error", &r);
	is_int(r.code, 0, "LOGLEVEL error: OK");
	reply_free(&r);
	ok(d_log_wait(&d, "notice: log level set to error by control uid ", 1,
	    5000), "logged at notice although notice is below error now");
	control_request("LOGLEVEL info", &r);
	reply_free(&r);
	ok(d_log_wait(&d, "notice: log level set to info by control uid ", 1,
	    5000), "and back to info");
	control_request("LOGLEVEL loud", &r);
	is_int(r.code, 400, "LOGLEVEL loud: ERR 400");
	is_str(r.text, "unknown log level \"loud\"; one of emerg, alert, crit, "
	    "error, warning, notice, info, debug", "naming the valid levels");
	reply_free(&r);
}

/* COMMANDS, brokerctl commands and the completion of run that uses it. */
static void
test_commands(void)
{
	static const char want[] =
	    "longsleep\tno\traw\nslowecho\tno\traw\nsink\tyes\traw\n"
	    "fail\tno\traw\nupper\tyes\traw\nslow\tno\traw\n";
	struct reply	 r;
	char		*argv[8], *out, *err, script[1024];
	int		 fd = tcp_connect(d.broker_port), st;

	request(fd, "COMMANDS", &r);
	ok(r.code == 0 && strcmp(r.text, "6") == 0, "COMMANDS: OK 6 (%d %s)",
	    r.code, r.text);
	is_str(r.data, want, "one name<TAB>input<TAB>output line a command");
	reply_free(&r);
	request(fd, "COMMANDS x", &r);
	is_int(r.code, 400, "COMMANDS takes no argument: 400");
	reply_free(&r);
	close(fd);
	control_request("COMMANDS", &r);
	ok(r.code == 0 && strcmp(r.data, want) == 0, "and on the control "
	    "socket");
	reply_free(&r);

	argv[0] = (char *)brokerctl; argv[1] = "-H"; argv[2] = "127.0.0.1";
	argv[3] = "-p"; argv[4] = broker_port; argv[5] = "commands";
	argv[6] = NULL;
	st = run_prog(argv, NULL, 0, &out, NULL, &err, 10000);
	is_int(st, 0, "brokerctl commands: exit 0");
	is_str(out, "longsleep  no   raw\nslowecho   no   raw\n"
	    "sink       yes  raw\nfail       no   raw\nupper      yes  raw\n"
	    "slow       no   raw\n", "a table, one command a line, no header "
	    "when stdout is no terminal");
	free(out);
	free(err);
	argv[6] = "-j";
	argv[7] = NULL;
	st = run_prog(argv, NULL, 0, &out, NULL, &err, 10000);
	ok(st == 0 && strncmp(out, "[\n  {\"name\": \"longsleep\", "
	    "\"input\": false, \"output\": \"raw\"},\n", 59) == 0 &&
	    strstr(out, "\n  {\"name\": \"sink\", \"input\": true, "
	    "\"output\": \"raw\"},\n") != NULL &&
	    strstr(out, "\"slow\", \"input\": false, \"output\": "
	    "\"raw\"}\n]\n") != NULL,
	    "brokerctl commands -j: a JSON array of objects");
	if (st != 0 || strncmp(out, "[\n", 2) != 0)
		diag("got %s", out);
	free(out);
	free(err);

	/* bash completion of run, against this daemon. */
	if (getenv("TOP_SRCDIR") == NULL || access("/bin/bash", X_OK) != 0) {
		skip(1, "no TOP_SRCDIR or no /bin/bash");
		return;
	}
	snprintf(script, sizeof(script), ". '%s/completion/brokerctl'; "
	    "COMP_WORDS=('%s' -H 127.0.0.1 -p %s run s); COMP_CWORD=6; "
	    "_brokerctl; printf '%%s\\n' \"${COMPREPLY[@]}\" | sort | "
	    "tr '\\n' ' '", getenv("TOP_SRCDIR"), brokerctl, broker_port);
	argv[0] = "/bin/bash"; argv[1] = "-c"; argv[2] = script;
	argv[3] = NULL;
	st = run_prog(argv, NULL, 0, &out, NULL, &err, 10000);
	is_str(out, "sink slow slowecho ", "bash completion of 'brokerctl run "
	    "s' offers the daemon's commands");
	free(out);
	free(err);
}

/* Runs brokerctl args... as uid/gid 65534; its exit status, or -1. */
static int
ctl_as_nobody(const char *sock, char **err)
{
	int	perr[2], status;
	pid_t	pid;
	ssize_t	n;

	if (pipe(perr) != 0)
		bail("pipe");
	if ((pid = fork()) == 0) {
		close(perr[0]);
		dup2(perr[1], 2);
		if (setgroups(0, NULL) != 0 || setgid(65534) != 0 ||
		    setuid(65534) != 0)
			_exit(126);
		execl(brokerctl, brokerctl, "-S", sock, "stats", (char *)NULL);
		_exit(127);
	}
	close(perr[1]);
	if ((n = read_to_eof(perr[0], err, 10000)) < 0)
		n = 0;
	*err = realloc(*err, (size_t)n + 1);
	(*err)[n] = '\0';
	close(perr[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * Refusals say why before the close: ERR 429 at max_clients_per_source
 * on a broker listener (echo just closes), ERR 403 to a control peer
 * that is not allowed; brokerctl prints them.
 */
static void
test_refusals(void)
{
	static const char conf[] =
	    "listen = ( { service = \"echo\"; address = \"127.0.0.1\"; "
	    "port = 0; },\n"
	    "  { service = \"broker\"; address = \"127.0.0.1\"; port = 0; } "
	    ");\nlimits = { max_clients_per_source = 2; };\n";
	struct daemon	 d2 = { 0 };
	struct reply	 r;
	char		*argv[8], *out, *err, port[16], ctlconf[2048];
	int		 a, b, c, st;

	d_init(&d2);
	if (d_start(&d2, conf, NULL) != 0)
		bail("daemon (refusals) did not start");
	a = tcp_connect(d2.broker_port);
	b = tcp_connect(d2.echo_port);
	request(a, "PING", &r);		/* both admitted by now */
	reply_free(&r);
	c = tcp_connect(d2.broker_port);
	send_all(c, "PING\n", 5);
	read_reply(c, &r, 5000);
	ok(r.code == 429 && strcmp(r.text, "too many connections from your "
	    "address") == 0, "the 3rd broker connection from one address: "
	    "ERR 429 too many connections from your address (%d %s)", r.code,
	    r.text);
	reply_free(&r);
	is_int(eof_within(c, 3000), 1, "then closed");
	close(c);
	c = tcp_connect(d2.echo_port);
	is_int(eof_within(c, 3000), 1, "on the echo listener: closed without "
	    "a word");
	close(c);
	snprintf(port, sizeof(port), "%d", d2.broker_port);
	argv[0] = (char *)brokerctl; argv[1] = "-H"; argv[2] = "127.0.0.1";
	argv[3] = "-p"; argv[4] = port; argv[5] = "ping"; argv[6] = NULL;
	st = run_prog(argv, NULL, 0, &out, NULL, &err, 10000);
	ok(st == 1 && strcmp(err, "brokerctl: ERR 429 too many connections "
	    "from your address\n") == 0, "brokerctl prints it and exits 1 "
	    "(%d: %s)", st, err);
	free(out);
	free(err);
	close(a);
	close(b);
	is_int(d_stop(&d2, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d2);

	/* A control peer that is neither root, us nor the group. */
	if (geteuid() != 0) {
		skip(3, "not root: no other user to connect as");
		return;
	}
	memset(&d2, 0, sizeof(d2));
	d_init(&d2);
	/* Others may reach the socket: the daemon's check is what refuses. */
	snprintf(ctlconf, sizeof(ctlconf), "%scontrol = { path = \"%s\"; "
	    "mode = \"0666\"; };\n", conf, d2.control);
	if (chmod(d2.dir, 0711) != 0)
		bail("chmod %s: %s", d2.dir, strerror(errno));
	if (d_start(&d2, ctlconf, NULL) != 0)
		bail("daemon (control refusal) did not start");
	st = ctl_as_nobody(d2.control, &err);
	ok(st == 1 && strcmp(err, "brokerctl: ERR 403 not permitted\n") == 0,
	    "brokerctl stats as uid 65534: ERR 403 not permitted, exit 1 "
	    "(%d: %s)", st, err);
	free(err);
	ok(d_log_count(&d2, "control: refusing uid 65534 pid ") == 1,
	    "the refusal is logged");
	is_int(d_stop(&d2, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d2);
}

/*
 * In a child with RLIMIT_NOFILE soft/hard: starts a daemon with
 * max_clients 1024; what it logged about the limit, as bits: 1 a
 * warning naming 1024 and the limit, 2 "raised RLIMIT_NOFILE", 4 the
 * daemon's soft limit is the hard one now, 8 one warning only.
 */
static int
nofile_child(rlim_t soft, rlim_t hard)
{
	static const char conf[] =
	    "listen = ( { service = \"broker\"; address = \"127.0.0.1\"; "
	    "port = 0; } );\nlimits = { max_clients = 1024; };\n";
	struct rlimit	rl = { soft, hard };
	struct daemon	d3 = { 0 };
	char		want[128];
	int		status, bits = 0;
	pid_t		pid;

	if ((pid = fork()) == 0) {
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			_exit(100);
		d_init(&d3);
		if (d_start(&d3, conf, NULL) != 0)
			_exit(101);
		snprintf(want, sizeof(want), "more than RLIMIT_NOFILE %lu "
		    "(hard limit %lu)", (unsigned long)hard,
		    (unsigned long)hard);
		if (d_log_count(&d3, "limits.max_clients 1024 plus the "
		    "daemon's own file descriptors (") == 1 &&
		    d_log_count(&d3, want) == 1)
			bits |= 1;
		if (d_log_count(&d3, "raised RLIMIT_NOFILE from ") == 1)
			bits |= 2;
		if (proc_nofile(d3.pid) == (long)hard ||
		    proc_nofile(d3.pid) > 1024)
			bits |= 4;
		if (d_log_count(&d3, "RLIMIT_NOFILE") <= 2)
			bits |= 8;
		if (!(bits & 1))
			d_log_diag(&d3, "RLIMIT");
		d_stop(&d3, SIGTERM, 10000);
		d_cleanup(&d3);
		_exit(bits);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* RLIMIT_NOFILE below what max_clients needs: raised, else warned. */
static void
test_nofile(void)
{
	struct rlimit	rl;
	int		bits;

	bits = nofile_child(64, 256);
	ok(bits >= 0 && bits < 100 && (bits & 1) && (bits & 2) && (bits & 4) &&
	    (bits & 8), "RLIMIT_NOFILE 64, hard 256, max_clients 1024: soft "
	    "raised to 256, then one warning with both numbers (%d)", bits);
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 4096) {
		skip(1, "hard RLIMIT_NOFILE below 4096 here");
		return;
	}
	bits = nofile_child(64, 4096);
	ok(bits >= 0 && bits < 100 && !(bits & 1) && (bits & 2) && (bits & 4),
	    "RLIMIT_NOFILE 64, hard 4096: raised, no warning (%d)", bits);
}

/*
 * The control socket's directory is missing: the same verdict, a
 * warning, at start-up and at every reload of the same file; a reload
 * that moves the socket there keeps the one in use, with a warning.
 */
static void
test_control_missing_dir(void)
{
	static const char listen[] =
	    "listen = ( { service = \"broker\"; address = \"127.0.0.1\"; "
	    "port = 0; } );\n";
	struct daemon	 d4 = { 0 };
	char		 conf[1024], bad[600], *out, *err;
	int		 st;

	d_init(&d4);
	snprintf(bad, sizeof(bad), "%s/no/such/ctl.sock", d4.dir);
	snprintf(conf, sizeof(conf), "%scontrol = { path = \"%s\"; };\n",
	    listen, bad);
	if (d_start(&d4, conf, NULL) != 0)
		bail("daemon (missing control dir) did not start");
	ok(d_log_count(&d4, "warning: control socket disabled: unsafe "
	    "directory for ") == 1 && d_log_count(&d4, "/no: No such file "
	    "or directory") == 1, "start-up: a warning, and the daemon "
	    "serves");
	kill(d4.pid, SIGHUP);
	ok(d_log_wait(&d4, "reloaded configuration (generation 2)", 1,
	    10000) && d_log_count(&d4, "warning: control socket disabled: ")
	    == 2 && d_log_count(&d4, "reload failed") == 0, "a reload of the "
	    "same file: the same warning, and the reload succeeds");
	kill(d4.pid, SIGHUP);
	ok(d_log_wait(&d4, "reloaded configuration (generation 3)", 1,
	    10000), "and again");
	is_int(d_stop(&d4, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d4);

	/* Moved there by a reload: the socket in use stays. */
	memset(&d4, 0, sizeof(d4));
	d_init(&d4);
	snprintf(conf, sizeof(conf), "%scontrol = { path = \"%s\"; };\n",
	    listen, d4.control);
	if (d_start(&d4, conf, NULL) != 0)
		bail("daemon (control moved) did not start");
	snprintf(bad, sizeof(bad), "%s/no/such/ctl.sock", d4.dir);
	snprintf(conf, sizeof(conf), "%scontrol = { path = \"%s\"; };\n",
	    listen, bad);
	write_text(d4.conf, conf, 0644);
	st = d_ctl(&d4, "reload", &out, &err);
	ok(st == 0 && strcmp(out, "generation 2\n") == 0, "brokerctl reload "
	    "moving the socket into a missing directory: OK (%d %s%s)", st,
	    out, err);
	free(out);
	free(err);
	ok(d_log_count(&d4, "warning: control socket not moved, ") == 1 &&
	    d_log_count(&d4, "ctl.sock: /") <= 1, "with a warning");
	st = d_ctl(&d4, "ping", &out, &err);
	ok(st == 0, "the socket in use still answers");
	free(out);
	free(err);
	is_int(d_stop(&d4, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d4);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	brokerctl = getenv("BROKERCTL");
	if (brokerctl == NULL || getenv("BROKERD") == NULL)
		bail("BROKERD and BROKERCTL must be set (run through make "
		    "check)");
	d_init(&d);
	if (d_start(&d, conf_text, NULL) != 0)
		bail("daemon did not start");
	snprintf(broker_port, sizeof(broker_port), "%d", d.broker_port);

	test_abandoned();
	test_half_close();
	test_audit();
	test_reload_who();
	test_commands();
	test_refusals();
	test_nofile();
	test_control_missing_dir();

	is_int(d_stop(&d, SIGTERM, 15000), 0, "SIGTERM: exit 0");
	ok(d_log_count(&d, "exited cleanly") == 1, "clean exit logged");
	d_cleanup(&d);
	return done_testing();
}
