/*
 * Abuse tests (test_abuse): what the theme files share.  The main daemon
 * D runs on MAIN_CONF; groups that need other limits start their own.
 * Traffic is counted in sum for the closing summary.
 */
#ifndef BROKERD_ABUSE_H
#define BROKERD_ABUSE_H

#include <sys/types.h>
#include <stddef.h>

#include "tests/integration/harness.h"

#define KIB	1024
#define MIB	(1024 * 1024)

#define LISTEN \
"listen = ( { service = \"echo\"; address = \"127.0.0.1\"; port = 0; },\n" \
"  { service = \"broker\"; address = \"127.0.0.1\"; port = 0; } );\n"

#define MAIN_LIMITS \
"limits = { max_clients = 5000; max_clients_per_source = 2000;\n" \
"  max_children = 64; request_timeout_s = 2; idle_timeout_s = 5;\n" \
"  command_timeout_s = 3; };\n"

/* Markers (sleep 3x.5) let us find leftovers by their command line. */
#define MAIN_COMMANDS \
"  df = { argv = [ \"df\", \"-hl\" ]; output = \"df\"; };\n" \
"  upper = { argv = [ \"tr\", \"[:lower:]\", \"[:upper:]\" ]; input = true; };\n" \
"  exitearly = { argv = [ \"sh\", \"-c\", \"exit 0\" ]; input = true; };\n" \
"  stderrflood = { argv = [ \"sh\", \"-c\",\n" \
"    \"head -c 5000000 /dev/zero >&2; echo ok\" ]; };\n" \
"  noterm = { argv = [ \"sh\", \"-c\", \"trap '' TERM; sleep 32.5\" ];\n" \
"    timeout_s = 1; };\n" \
"  family = { argv = [ \"sh\", \"-c\", \"sleep 31.5 & echo started\" ]; };\n" \
"  victim = { argv = [ \"sleep\", \"33.5\" ]; timeout_s = 20; };\n"

#define STORM_COMMAND \
"  stormmark = { argv = [ \"echo\", \"storm-ok\" ]; };\n"

extern struct daemon	D;		/* the main daemon */
extern int		D_idle;		/* its fd count when idle */

/* For the closing summary. */
struct abuse_sum {
	unsigned long		conns;
	unsigned long long	sent, recv;
	unsigned long		exact_ok, exact_bad;
	unsigned long long	exact_bytes;
	unsigned long		requests;
	unsigned		signals, hups, usr1s;
};
extern struct abuse_sum	sum;

/* What a group tried, one line, for the closing summary. */
void	note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A byte-exact check of bytes bytes passed (good) or failed. */
void	exact(int good, size_t bytes);
char	upc(char);

/* Connections, counted: from src (NULL: any), and non-blocking. */
int	conn_from(const char *src, int port);
int	conn_to(int port);
int	conn_nb(int port);
/* PING on fd; whether pong came within timeout_ms. */
int	ping_fd(int fd, int timeout_ms);
/* PING on a new connection. */
int	ping_port(int port);
/* Asserts that D is alive and answers a PING. */
void	check_alive(const char *after);
/* STATS on fd: the value of key, or -1. */
long long stat_fd(int fd, const char *key);
/*
 * len bytes to a new echo connection, read back while written, then a
 * half-close: 1 if every byte came back and then EOF.
 */
int	echo_rt(int port, const char *buf, size_t len, int timeout_ms);
/*
 * pump_run() of req with in[0, len) in DATA frames of fsz; when expect
 * is set the output must equal expect[0, explen) (a byte-exact check).
 */
void	xfer(int fd, const char *req, const char *in, size_t len,
	    size_t fsz, const char *expect, size_t explen, struct pump *x,
	    int timeout_ms);
/* The main config with extra commands; free() it. */
char	*main_conf(const char *extra);
/* d_start, and both the echo and the broker port known; 0 or -1. */
int	start_daemon(struct daemon *, const char *conf);
/* Replaces dm's config atomically (a reload may be reading it). */
void	conf_replace(struct daemon *, const char *text);

/* Diag lines: what was tried (the notes), traffic, byte-exact checks. */
void	summary(long long start);

/* The groups; test_abuse.c's table says when each runs. */
void	test_per_source(void);
void	test_metachar(void);
void	test_random_garbage(void);
void	test_nul(void);
void	test_huge_line(void);
void	test_bad_headers(void);
void	test_byte_by_byte(void);
void	test_half_close(void);
void	test_children(void);
void	test_never_read(void);
void	test_never_read_pipelined(void);
void	test_never_read_many(void);
void	test_backlog(void);
void	test_slowloris(void);
void	test_signal_storm(void);
void	test_fd_flood(void);
void	test_max_clients(void);

#endif
