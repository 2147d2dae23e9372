/*
 * Integration test harness: runs the real brokerd on a generated config
 * in a temp dir, on ephemeral ports read back from its log, and talks to
 * it over real sockets.
 */
#ifndef BROKERD_HARNESS_H
#define BROKERD_HARNESS_H

#include <sys/types.h>
#include <stddef.h>

/* --- Daemons, in harness.c ---------------------------------------- */

struct daemon {
	pid_t	pid;
	char	dir[256];
	char	conf[300];
	char	log[300];
	char	pidfile[300];
	char	control[300];
	int	echo_port;
	int	broker_port;
	int	exited;
	int	status;
};

/* When >= 0, d_start passes this socket as fd 3 with LISTEN_FDS=1. */
extern int harness_listen_fd;

/* Creates the temp dir; call before writing extra files into d->dir. */
void	d_init(struct daemon *);
/*
 * Writes conf_text ("%d" is not interpreted) as the config and starts
 * "brokerd -f -c CONF -p PIDFILE [extra...]"; waits (bounded) until the
 * pidfile exists.  Returns 0, or -1 if the daemon exited or hung.
 * Unless conf_text sets limits.drain_delay_s, the daemon gets 0 (the
 * tests stop it with SIGTERM, and would each wait out the default).
 */
int	d_start(struct daemon *, const char *conf_text, const char *extra);
/* d_start in two halves: start it (conf_text NULL: leave d->conf)... */
int	d_spawn(struct daemon *, const char *conf_text, const char *extra);
/* ...and wait for its pidfile, then read its ports from the log. */
int	d_wait_started(struct daemon *);
/*
 * Runs the daemon (under BROKERD_WRAPPER if set) with args split on
 * spaces, in cwd (NULL: ours), output to d->log; returns its pid.
 */
pid_t	d_exec(struct daemon *, const char *cwd, const char *args);
/* Whether BROKERD_WRAPPER (valgrind) is in use. */
int	harness_wrapped(void);
/*
 * ok() for an assertion on the daemon's RSS.  Under BROKERD_WRAPPER the
 * RSS measured is mostly the wrapper's own (valgrind: about 48 MB at
 * rest, and shadow memory for every byte the daemon uses), so there it
 * is a TAP skip that says so and what it would have checked.
 */
int	ok_rss(int cond, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* brokerctl -S d->control verb; returns its exit status. */
int	d_ctl(struct daemon *, const char *verb, char **out, char **err);
/* Sends sig and waits up to timeout_ms; returns the wait status or -1. */
int	d_stop(struct daemon *, int sig, int timeout_ms);
/* Whether the daemon is still running (reaps it if not). */
int	d_alive(struct daemon *);
char	*d_log(struct daemon *);
int	d_log_count(struct daemon *, const char *needle);
/* The log lines that hold needle, as diag lines (to say why a test failed). */
void	d_log_diag(struct daemon *, const char *needle);
int	d_log_wait(struct daemon *, const char *needle, int count,
	    int timeout_ms);
/* Removes the temp dir and everything in it, following no link. */
void	d_cleanup(struct daemon *);

/* --- /proc, in harness_proc.c ------------------------------------- */

long	proc_rss_kb(pid_t);
int	proc_nfds(pid_t);
int	proc_nchildren(pid_t);
/* utime + stime in clock ticks. */
long long proc_cpu_ticks(pid_t);

int	proc_nthreads(pid_t);
/* The state letter of /proc/PID/stat (R, S, Z...), '?' if there is none. */
char	proc_state(pid_t);
/* Whether a file mapped by pid has name in its path ("libasan"). */
int	proc_maps(pid_t, const char *name);
/* The soft RLIMIT_NOFILE of pid (/proc/PID/limits), or -1. */
long	proc_nofile(pid_t);
/*
 * Live processes running "prog arg1 ..." (argv[0]'s last component is
 * prog) at or below root in the process tree: what a test's daemons and
 * their commands left running, never another suite's processes.
 */
int	proc_count_cmd(pid_t root, const char *prog, const char *arg1);
/*
 * Waits (bounded) until proc_count_cmd() is want; whether it is.  A
 * process shows no command line until its exec(2) is done.
 */
int	wait_cmd(pid_t root, const char *prog, const char *arg1, int want,
	    int timeout_ms);
/* Wait (bounded) until pid has want children (zombies too); whether. */
int	wait_children(pid_t, int want, int timeout_ms);
/* ...until pid has want fds; on a miss, diag lines list them. */
int	wait_fds(pid_t, int want, int timeout_ms);
/* Lists pid's fds as diag lines (on a failure, to tell what is open). */
void	diag_fds(pid_t);
/*
 * RSS (KiB) a sanitizer may add to pid without any leak: ASan holds
 * freed memory in its quarantine and RSS grows until that is full.  0
 * for a process without ASan.
 */
long	sanitizer_slack_kb(pid_t);

/* --- Sockets and replies, in harness_net.c ------------------------ */

/* A loopback port nobody listens on (bound, read back, closed). */
int	free_port(void);
/* A listening loopback socket on an ephemeral port. */
int	listening_socket(int *port);
int	tcp_connect(int port);
int	tcp_connect_from(const char *src, int port);
/* A unix stream socket connected to path; -1 on error. */
int	unix_connect(const char *path);
/*
 * Whether the peer closes fd within timeout_ms (EOF or a reset), bytes
 * before it read and dropped.
 */
int	wait_eof(int fd, int timeout_ms);
/* Reads until EOF or timeout into a malloc'd buffer; returns length. */
ssize_t	read_to_eof(int fd, char **out, int timeout_ms);
ssize_t	send_all(int fd, const void *buf, size_t len);
void	nonblock(int fd, int on);
/* A non-blocking connect to 127.0.0.1: the daemon may not accept soon. */
int	tcp_connect_nb(int port);
/* 1: EOF (or a reset) without data; 2: data; 0: nothing within ms. */
int	eof_within(int fd, int ms);
/* Reads one byte within ms: 1, or 0 on EOF, -1 on error or timeout. */
int	read_byte(int fd, int ms, char *c);

/* The numeric value of key in a STATS reply's data, or -1. */
long long stat_value(const char *data, const char *key);
/* ...in a STATS reply over a new connection to port. */
long long stat_port(int port, const char *key);
/*
 * The pid of a running command, from STATS "child.N pid P command NAME",
 * asked until it shows or timeout_ms passed; -1 if it did not.
 */
pid_t	stats_child_pid(int port, const char *name, int timeout_ms);

struct reply {
	char	*data;		/* the DATA payloads, concatenated */
	size_t	 len;
	int	 code;		/* 0 for OK, else the ERR code; -1 failure */
	char	 text[512];	/* the final line's text */
};
/* Reads one reply (DATA frames and the final line), bounded in time. */
int	read_reply(int fd, struct reply *, int timeout_ms);
void	reply_free(struct reply *);
/* Sends line + "\n" then reads the reply. */
int	request(int fd, const char *line, struct reply *);
/*
 * Sends PING; 1 if the next reply is OK pong, so the reply before it was
 * one whole final line with nothing of it left over.
 */
int	pong_next(int fd);

/* Sends msg to the echo port, half-closes; whether it all came back. */
int	echo_roundtrip(int port, const char *msg);

/* --- Duplex pumps, in harness_pump.c ------------------------------ */

/*
 * Writes buf[woff, len) to an echo connection while reading what comes
 * back into back, which holds len + 1 bytes (one too many shows), and
 * half-closes once all is written; reads until EOF (*eof set) or
 * timeout.  Returns the bytes read.  Leaves fd non-blocking.
 */
size_t	echo_duplex(int fd, const char *buf, size_t len, size_t woff,
	    char *back, int *eof, int timeout_ms);

/*
 * One broker request with input, driven as a proper client drives it:
 * "req\n" (unless req is NULL), len bytes of input in DATA frames of at
 * most frame bytes, then END, all written while the reply is read.  It
 * stops once the final line came and everything was written (or a write
 * failed), on EOF, or after timeout_ms.
 */
struct pump {
	/* Set by the caller. */
	const char	*req;
	const char	*in;		/* the input; NULL: fill() makes it */
	size_t		 len;		/* input bytes */
	size_t		 frame;		/* DATA frame size */
	/* Input bytes [off, off + n) into buf, when in is NULL. */
	void		(*fill)(char *buf, size_t off, size_t n, void *arg);
	const char	*expect;	/* the whole output, or NULL */
	size_t		 explen;
	/* The output byte due at off, when expect is NULL (NULL: any). */
	char		(*want)(size_t off, void *arg);
	/* Called on every turn of the loop: to sample, signal, assert. */
	void		(*tick)(struct pump *, void *arg);
	void		*arg;
	int		 timeout_ms;
	/* Results. */
	int		 code;		/* final line: 0 OK, ERR code; -1 */
	char		 text[512];	/* its text, or "eof", "timeout" */
	size_t		 queued;	/* input bytes framed so far */
	size_t		 wire;		/* bytes written */
	size_t		 read;		/* bytes read */
	size_t		 got;		/* output payload bytes */
	/* Output bytes unlike expect/want(), a length unlike explen. */
	size_t		 bad;
	int		 all_sent;	/* request, input and END written */
	int		 eof;		/* the daemon closed (EOF or reset) */
	int		 werr;		/* a write failed */
	long long	 ms;		/* until the final line */
};
void	pump_run(int fd, struct pump *);

/* --- Programs and files, in harness.c ----------------------------- */

/*
 * Runs argv with stdin from in (NULL: /dev/null), collecting stdout and
 * stderr; returns the exit status (or -1 on timeout).
 */
int	run_prog(char *const argv[], const char *in, size_t inlen,
	    char **out, size_t *outlen, char **err, int timeout_ms);
long long now_ms(void);
void	msleep(int ms);
/*
 * A datagram socket at d->dir/notify, set as NOTIFY_SOCKET for the next
 * daemon (unsetenv it after d_start); notify_collect appends what comes
 * in timeout_ms to seen as "MSG|MSG|", STATUS= messages left out.
 */
int	notify_listen(struct daemon *);
void	notify_collect(int fd, char *seen, size_t size, int timeout_ms);
/* Whether path holds exactly text; a file's mode (lstat), or -1. */
int	file_has(const char *path, const char *text);
int	file_mode(const char *path);
/* Writes text to path with mode, or bails. */
void	write_text(const char *path, const char *text, int mode);
/* Replaces path by text atomically (rename), as an editor would, or bails. */
void	replace_text(const char *path, const char *text);
/* The size of a file, or -1. */
long	file_size(const char *path);

#endif
