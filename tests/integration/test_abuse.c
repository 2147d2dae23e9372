/*
 * Abuse: hostile and careless clients, misbehaving children, fd
 * exhaustion and signal storms against the real daemon, each bounded in
 * time and traffic, on loopback only.  A closing diag summary says what
 * was tried and whether every byte-exact check passed.
 *
 * The groups live in abuse_*.c by theme (input, slow clients, children,
 * signals, limits); the table below says in which order they run and
 * which share the main daemon, started before the first that needs it
 * and stopped (with its own checks) after the last.
 *
 * For development: ABUSE_TESTS="slowloris storm ..." runs only the groups
 * named (the first column of the table); ABUSE_VERBOSE=1 adds detail.
 */
#include "autoconf.h"

#include <sys/prctl.h>
#include <sys/resource.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/abuse.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

static const struct group {
	const char	*name;		/* for ABUSE_TESTS */
	const char	*title;		/* for its timing line */
	void		(*run)(void);
	int		 on_main;	/* runs against the main daemon D */
	/* Needs 2048 fds: without them, this many assertions skipped. */
	int		 nfds_skip;
	const char	*nfds_why;
} groups[] = {
	{ "per-source", "per-source limit", test_per_source, 0, 0, NULL },
	{ "metachar", "metacharacters", test_metachar, 1, 0, NULL },
	{ "garbage", "random garbage", test_random_garbage, 1, 0, NULL },
	{ "garbage", "NUL bytes", test_nul, 1, 0, NULL },
	{ "garbage", "huge line", test_huge_line, 1, 0, NULL },
	{ "garbage", "bad frame headers", test_bad_headers, 1, 0, NULL },
	{ "garbage", "byte by byte", test_byte_by_byte, 1, 0, NULL },
	{ "garbage", "half-closes", test_half_close, 1, 0, NULL },
	{ "children", "children", test_children, 1, 0, NULL },
	{ "never-read", "never-reading client", test_never_read, 1, 0, NULL },
	{ "never-read", "never-reading pipeliner", test_never_read_pipelined,
	    1, 0, NULL },
	{ "never-read", "500 never-reading clients", test_never_read_many,
	    1, 4, "RLIMIT_NOFILE too low for 500 connections" },
	{ "backlog", "connect burst", test_backlog, 1, 0, NULL },
	{ "slowloris", "slowloris", test_slowloris, 1, 8,
	    "RLIMIT_NOFILE too low for 600 connections" },
	{ "storm", "signal storm", test_signal_storm, 1, 0, NULL },
	{ "flood", "fd flood", test_fd_flood, 0, 10,
	    "RLIMIT_NOFILE too low for 1000 connections" },
	{ "max_clients", "max_clients", test_max_clients, 0, 0, NULL },
};

/* ABUSE_TESTS="name ...": run only those (for development). */
static int
selected(const char *name)
{
	const char *only = getenv("ABUSE_TESTS");

	return only == NULL || *only == '\0' || strstr(only, name) != NULL;
}

/* Whether RLIMIT_NOFILE is, or could be raised to, 2048 or more. */
static int
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
	if (rl.rlim_cur < 2048)
		diag("RLIMIT_NOFILE is only %lu", (unsigned long)rl.rlim_cur);
	return rl.rlim_cur >= 2048;
}

static void
main_start(void)
{
	char *conf = main_conf("");

	if (start_daemon(&D, conf) != 0)
		bail("daemon did not start");
	free(conf);
	D_idle = proc_nfds(D.pid);
}

static void
main_stop(void)
{
	ok(wait_children(D.pid, 0, 5000), "main daemon: no children left");
	ok(wait_fds(D.pid, D_idle, 5000), "main daemon: fd count back to "
	    "its idle value (%d)", D_idle);
	is_int(d_stop(&D, SIGTERM, 10000), 0, "main daemon: SIGTERM, exit 0");
	ok(d_log_count(&D, "exited cleanly") == 1, "clean exit logged");
	d_cleanup(&D);
}

int
main(void)
{
	const struct group	*g;
	long long		 start = now_ms(), t;
	size_t			 i;
	int			 have_fds, main_up = 0;

	signal(SIGPIPE, SIG_IGN);
	have_fds = raise_nofile();
	/*
	 * What a command leaves behind, should it escape the daemon (a
	 * subreaper too), is reparented to us rather than to init: the
	 * leftover checks count processes below us, and only those.
	 */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
		bail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	/*
	 * Command input by splice(2), whatever this machine would choose:
	 * test_broker covers both ways, test_lifecycle the copying one.
	 */
	if (getenv("BROKERD_SPLICE") == NULL)
		setenv("BROKERD_SPLICE", "on", 1);

	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		g = &groups[i];
		if (!selected(g->name))
			continue;
		if (g->on_main && !main_up)
			main_start();
		else if (!g->on_main && main_up)
			main_stop();
		main_up = g->on_main;
		t = now_ms();
		if (g->nfds_skip > 0 && !have_fds)
			skip(g->nfds_skip, g->nfds_why);
		else
			g->run();
		diag("%s: %lld ms", g->title, now_ms() - t);
	}
	if (main_up)
		main_stop();
	summary(start);
	return done_testing();
}
