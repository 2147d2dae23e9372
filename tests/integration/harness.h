/*
 * Integration test harness: runs the real brokerd on a generated config
 * in a temp dir, on ephemeral ports read back from its log, and talks to
 * it over real sockets.
 */
#ifndef BROKERD_HARNESS_H
#define BROKERD_HARNESS_H

#include <sys/types.h>
#include <stddef.h>

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
/* brokerctl -S d->control verb; returns its exit status. */
int	d_ctl(struct daemon *, const char *verb, char **out, char **err);
/* Sends sig and waits up to timeout_ms; returns the wait status or -1. */
int	d_stop(struct daemon *, int sig, int timeout_ms);
/* Whether the daemon is still running (reaps it if not). */
int	d_alive(struct daemon *);
char	*d_log(struct daemon *);
int	d_log_count(struct daemon *, const char *needle);
int	d_log_wait(struct daemon *, const char *needle, int count,
	    int timeout_ms);
/* Removes the temp dir and everything in it, following no link. */
void	d_cleanup(struct daemon *);

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

/* The numeric value of key in a STATS reply's data, or -1. */
long long stat_value(const char *data, const char *key);

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

/*
 * Runs argv with stdin from in (NULL: /dev/null), collecting stdout and
 * stderr; returns the exit status (or -1 on timeout).
 */
int	run_prog(char *const argv[], const char *in, size_t inlen,
	    char **out, size_t *outlen, char **err, int timeout_ms);
long long now_ms(void);

/* Sends msg to the echo port, half-closes; whether it all came back. */
int	echo_roundtrip(int port, const char *msg);
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

#endif
