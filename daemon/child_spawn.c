/*
 * Starting a command: its pipes, posix_spawn in a process group of its
 * own with a clean signal state, its environment and directory and stdin
 * from /dev/null unless it takes input.  posix_spawn cannot set rlimits:
 * a command with limits is forked, and the child sets them before exec.
 * The process is then child.c's.
 */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <pthread.h>

#include <event2/bufferevent.h>

#include "common/util.h"
#include "daemon/child.h"
#include "daemon/config_cmd.h"
#include "daemon/stats.h"

static int
pipe_setup(int fd)
{
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		return -1;
	(void)fcntl(fd, F_SETPIPE_SZ, CHILD_PIPE_SIZE);
	return 0;
}

/* A bufferevent on our end of a pipe; it owns fd once it exists. */
static struct bufferevent *
pipe_bev(int fd)
{
	struct bufferevent *bev;

	if (pipe_setup(fd) != 0)
		return NULL;
	bev = bufferevent_socket_new(child_base(), fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL)
		return NULL;
	bufferevent_set_max_single_read(bev, CHILD_PIPE_SIZE);
	bufferevent_set_max_single_write(bev, CHILD_PIPE_SIZE);
	return bev;
}

static void
close_pipes(int pin[2], int pout[2], int perr[2])
{
	int i;

	for (i = 0; i < 2; i++) {
		if (pin[i] >= 0)
			close(pin[i]);
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
	}
}

/* Our ends of the pipes, handed to c; each one taken is set to -1. */
static int
spawn_watch(struct child *c, int pin[2], int pout[2], int perr[2])
{
	struct bufferevent	*in = NULL, *err;
	int			 outfd;

	if ((pin[1] >= 0 && (in = pipe_bev(pin[1])) == NULL) ||
	    pipe_setup(pout[0]) != 0 || (err = pipe_bev(perr[0])) == NULL) {
		if (in != NULL) {
			bufferevent_free(in);
			pin[1] = -1;
		}
		return -1;
	}
	if (in != NULL)
		pin[1] = -1;
	perr[0] = -1;
	outfd = pout[0];
	pout[0] = -1;
	return child_watch(c, in, outfd, err);
}

static char *const default_env[] = {
	"PATH=" CHILD_PATH, "LC_ALL=C", NULL
};

/* The signals the daemon handles: their default action in the child. */
static void
handled_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGPIPE);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGUSR1);
}

static int
has_rlimits(const struct cmd_limits *l)
{
	return l != NULL && (l->cpu_s > 0 || l->memory_mb > 0 ||
	    l->open_files > 0 || l->processes > 0);
}

/* In the forked child: async-signal-safe calls only. */
static int
set_rlimits(const struct cmd_limits *l)
{
	struct rlimit r;

	if (l->cpu_s > 0) {
		/* SIGXCPU at the soft limit, SIGKILL a second later. */
		r.rlim_cur = (rlim_t)l->cpu_s;
		r.rlim_max = (rlim_t)l->cpu_s + 1;
		if (setrlimit(RLIMIT_CPU, &r) != 0)
			return -1;
	}
	if (l->memory_mb > 0) {
		r.rlim_cur = r.rlim_max = (rlim_t)l->memory_mb << 20;
		if (setrlimit(RLIMIT_AS, &r) != 0)
			return -1;
	}
	if (l->open_files > 0) {
		r.rlim_cur = r.rlim_max = (rlim_t)l->open_files;
		if (setrlimit(RLIMIT_NOFILE, &r) != 0)
			return -1;
	}
	if (l->processes > 0) {
		r.rlim_cur = r.rlim_max = (rlim_t)l->processes;
		if (setrlimit(RLIMIT_NPROC, &r) != 0)
			return -1;
	}
	return 0;
}

/*
 * The forked child, signals blocked: what posix_spawn does below, then
 * the limits, then exec.  errno if it fails (the caller reports it).
 */
static int
forked_child(const struct child_opts *o, int infd, int outfd, int errfd,
    int report)
{
	struct sigaction	sa;
	sigset_t		set;
	int			sig, fd;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	handled_signals(&set);
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1)
			(void)sigaction(sig, &sa, NULL);
	if (setpgid(0, 0) != 0)
		return errno;
	if (o->input)
		fd = infd;
	else if ((fd = open("/dev/null", O_RDONLY)) < 0)
		return errno;
	if (dup2(fd, STDIN_FILENO) < 0 || dup2(outfd, STDOUT_FILENO) < 0 ||
	    dup2(errfd, STDERR_FILENO) < 0)
		return errno;
	/* report is close-on-exec: it stays open until exec succeeds. */
	if (report > 3)
		(void)close_range(3, (unsigned)report - 1, 0);
	(void)close_range((unsigned)report + 1, ~0U, 0);
	if (chdir(o->cwd != NULL ? o->cwd : "/") != 0 ||
	    set_rlimits(o->limits) != 0)
		return errno;
	sigemptyset(&set);
	(void)sigprocmask(SIG_SETMASK, &set, NULL);
	execve(o->path, o->argv, o->envp != NULL ? o->envp : default_env);
	return errno;
}

/* Like posix_spawn (0 or an errno), by fork: for limits. */
static int
child_fork_exec(const struct child_opts *o, int infd, int outfd, int errfd,
    pid_t *pid)
{
	sigset_t	all, old;
	pid_t		p;
	ssize_t		n;
	int		rep[2], e;

	if (pipe2(rep, O_CLOEXEC) != 0)
		return errno;
	/* No handler of ours may run in the child before exec. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if ((p = fork()) == 0) {
		e = forked_child(o, infd, outfd, errfd, rep[1]);
		(void)write(rep[1], &e, sizeof(e));
		_exit(127);
	}
	e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(rep[1]);
	if (p < 0) {
		close(rep[0]);
		return e;
	}
	/* EOF: the exec worked; an errno: it did not, and the child exits. */
	while ((n = read(rep[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(rep[0]);
	if (n == (ssize_t)sizeof(e)) {
		while (waitpid(p, NULL, 0) < 0 && errno == EINTR)
			;
		return e;
	}
	*pid = p;
	return 0;
}

static int
child_exec(const struct child_opts *o, int infd, int outfd, int errfd,
    pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t	 at;
	sigset_t		 none, dflt;
	int			 r;

	if (has_rlimits(o->limits))
		return child_fork_exec(o, infd, outfd, errfd, pid);
	posix_spawn_file_actions_init(&fa);
	if (o->input)
		posix_spawn_file_actions_adddup2(&fa, infd, STDIN_FILENO);
	else
		posix_spawn_file_actions_addopen(&fa, STDIN_FILENO,
		    "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outfd, STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, errfd, STDERR_FILENO);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawn_file_actions_addchdir_np(&fa, o->cwd != NULL ? o->cwd :
	    "/");

	posix_spawnattr_init(&at);
	sigemptyset(&none);
	handled_signals(&dflt);
	posix_spawnattr_setsigdefault(&at, &dflt);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

	r = posix_spawn(pid, o->path, &fa, &at, o->argv, o->envp != NULL ?
	    o->envp : default_env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return r;
}

/* Whether a failed start was the directory's fault, not the program's. */
static int
cwd_failed(const struct child_opts *o)
{
	struct stat st;

	return o->cwd != NULL && (stat(o->cwd, &st) != 0 ||
	    !S_ISDIR(st.st_mode) || access(o->cwd, X_OK) != 0);
}

struct child *
child_spawn(const struct child_opts *o, const struct child_cbs *cbs,
    void *arg, char *err, size_t errlen)
{
	struct child	*c;
	char		 prog[128];
	const char	*shown = o->path != NULL ? o->path : o->argv[0];
	int		 pin[2] = { -1, -1 }, pout[2] = { -1, -1 };
	int		 perr[2] = { -1, -1 }, r, e;
	pid_t		 pid;

	/* argv[0] comes from the configuration: one line, escaped. */
	str_escape(prog, sizeof(prog), shown, strlen(shown), 80);
	if (o->path == NULL) {
		snprintf(err, errlen, "%s: cannot execute %s: %s", o->name,
		    prog, strerror(ENOENT));
		errno = ENOENT;
		return NULL;
	}
	if ((o->input && pipe2(pin, O_CLOEXEC) != 0) ||
	    pipe2(pout, O_CLOEXEC) != 0 || pipe2(perr, O_CLOEXEC) != 0) {
		e = errno;
		snprintf(err, errlen, "%s: pipe: %s", o->name, strerror(e));
		close_pipes(pin, pout, perr);
		errno = e;
		return NULL;
	}
	c = child_new(o, cbs, arg);
	if (spawn_watch(c, pin, pout, perr) != 0) {
		snprintf(err, errlen, "%s: cannot watch its pipes: %s",
		    o->name, strerror(ENOMEM));
		child_release(c);
		close_pipes(pin, pout, perr);
		errno = ENOMEM;
		return NULL;
	}
	r = child_exec(o, pin[0], pout[1], perr[1], &pid);
	/* What is left in the arrays are the child's ends. */
	close_pipes(pin, pout, perr);
	if (r != 0) {
		stats_inc(STAT_children_failed);
		if (cwd_failed(o)) {
			/* cwd comes from the configuration: escaped. */
			str_escape(prog, sizeof(prog), o->cwd, strlen(o->cwd),
			    80);
			snprintf(err, errlen, "%s: cannot change to %s: %s",
			    o->name, prog, strerror(r));
		} else
			snprintf(err, errlen, "%s: cannot execute %s: %s",
			    o->name, prog, strerror(r));
		child_release(c);
		errno = r;
		return NULL;
	}
	if (child_started(c, pid, o->timeout_s) != 0) {
		snprintf(err, errlen, "%s: cannot watch its pipes: %s",
		    o->name, strerror(ENOMEM));
		errno = ENOMEM;
		return NULL;
	}
	return c;
}
