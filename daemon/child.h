/*
 * Running a configured command: posix_spawn with its stdin and stderr as
 * bufferevents on the loop and its stdout as an event the owner reads
 * from, a timeout that signals the process group, and reaping on SIGCHLD.
 * The owner gets callbacks; a child whose owner went away is killed,
 * reaped and freed on its own.  Output still in the pipe when the child
 * exits is the owner's to read, at its client's pace.
 */
#ifndef BROKERD_CHILD_H
#define BROKERD_CHILD_H

#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "daemon/config_cmd.h"
#include "daemon/stats.h"

struct child;

/*
 * Everything about how one command runs, in one place: the owner fills
 * it from the command's configuration for each spawn.
 */
struct child_opts {
	const char	*name;		/* the command's, for logs and errors */
	const char	*path;		/* the program; NULL: not found */
	char *const	*argv;		/* NULL-terminated */
	int		 input;		/* stdin from a pipe, else /dev/null */
	int		 timeout_s;	/* then SIGTERM, and SIGKILL after */
	const char	*ctx;		/* the requester, for logs */
	/* rlimits set in the child before exec (NULL or 0s: none). */
	const struct cmd_limits *limits;
	char *const	*envp;		/* NULL: PATH and LC_ALL=C */
	const char	*cwd;		/* NULL: "/" */
};

struct child_cbs {
	/*
	 * stdout (fd, nonblocking) is readable or at EOF: read what you
	 * can take.  Return 0 once it is at EOF or broken (the child closes
	 * it), 1 otherwise; pause it while you cannot take more.
	 */
	int	(*out)(struct child *, int fd, void *arg);
	/*
	 * The stdin buffer fell below its low mark, or stdin became
	 * writable after child_stdin_wait(): resume the client.
	 */
	void	(*drained)(struct child *, void *arg);
	/* Reaped and both output pipes at EOF: the child is finished. */
	void	(*done)(struct child *, void *arg);
};

#define CHILD_STDIN_HIGH	(256 * 1024)

void	 child_init(struct event_base *);
/*
 * NULL with err set when the command cannot be started at all, and errno
 * saying why: EMFILE, ENFILE, ENOMEM or EAGAIN (fork) when the daemon or
 * the system ran out of a resource, something else when the command is
 * at fault (ENOENT, EACCES, ENOEXEC...).
 */
struct child *child_spawn(const struct child_opts *, const struct child_cbs *,
	    void *arg, char *err, size_t errlen);
/* Where input for the child goes; NULL once stdin is closed or broken. */
struct evbuffer *child_stdin(struct child *);
/* stdin's pipe, for splicing when child_stdin() is empty; -1 if closed. */
int	 child_stdin_fd(struct child *);
/* Writes what child_stdin() holds now; returns what is still held. */
size_t	 child_stdin_flush(struct child *);
/*
 * Call drained once stdin's pipe has room (after a splice hit EAGAIN);
 * -1 if the loop cannot watch it (fail the request).
 */
int	 child_stdin_wait(struct child *);
/* The owner's write to stdin failed (EPIPE): close it, drop input. */
void	 child_stdin_broken(struct child *);
/* No more input: close stdin once what is buffered has been written. */
void	 child_close_stdin(struct child *);
/* -1 if stdout cannot be watched again (fail the request). */
int	 child_pause_stdout(struct child *, int pause);
/* The owner goes away: kill the group, reap and free it later. */
void	 child_abandon(struct child *);
void	 child_free(struct child *);

pid_t	 child_pid(const struct child *);
int	 child_timed_out(const struct child *);
int	 child_wait_status(const struct child *);
/* First line of stderr, escaped for logs and replies. */
const char *child_stderr_line(const struct child *);

/* SIGCHLD: reap every finished child. */
void	 children_reap(void);
/* Shutdown: signal every child's group. */
void	 children_signal(int sig);
/* Exit: kill and reap every child and orphan, free them all. */
void	 children_shutdown(void);
unsigned children_running(void);
void	 children_foreach(void (*fn)(pid_t, const char *name, long long age_ms,
	    void *), void *arg);
/* children_running, child.N for STATS. */
void	 children_report(struct stats_out *);

/*
 * For child_spawn.c alone: child.c's side of starting a command, the
 * record of a child before it runs and the hand-over once it does.
 */

/* Our ends of the pipes: bigger, fewer wakeups per megabyte streamed. */
#define CHILD_PIPE_SIZE	(1024 * 1024)

struct event_base *child_base(void);
struct child *child_new(const struct child_opts *, const struct child_cbs *,
	    void *arg);
/*
 * Takes over our ends of the pipes (in is NULL without input; outfd is
 * nonblocking) and makes the events that watch them, before the command
 * runs, so that running out of memory fails only the request.  -1 if
 * one cannot be made: child_release() frees what was.
 */
int	 child_watch(struct child *, struct bufferevent *in, int outfd,
	    struct bufferevent *err);
/* A child that never ran: its pipes and events, freed. */
void	 child_release(struct child *);
/* It runs as pid: watched from now on.  -1: it could not be; killed. */
int	 child_started(struct child *, pid_t pid, int timeout_s);

#endif
