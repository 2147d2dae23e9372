/* Helpers shared by the benchmark programs in tests/bench. */
#ifndef BROKERD_BENCHUTIL_H
#define BROKERD_BENCHUTIL_H

#include <sys/types.h>
#include <netinet/in.h>
#include <stddef.h>

/*
 * Log-linear latency histogram in nanoseconds: 32 sub-buckets per power
 * of two, so a reported percentile is within about 3% of the true value.
 */
#define HIST_SUB_BITS	5
#define HIST_BUCKETS	(64 << HIST_SUB_BITS)

struct hist {
	unsigned long long	 n;
	unsigned long long	 max;
	unsigned long long	 count[HIST_BUCKETS];
};

void		 hist_reset(struct hist *);
void		 hist_add(struct hist *, unsigned long long ns);
/* Value at quantile q (0..1) in microseconds; 0 when empty. */
double		 hist_quantile_us(const struct hist *, double q);

/* Nanoseconds on CLOCK_MONOTONIC. */
long long	 now_ns(void);
/*
 * utime+stime of pid (all threads) in microseconds, -1 if unreadable;
 * with child_us, also cutime+cstime (its children reaped so far).
 */
long long	 proc_cpu_us(pid_t, long long *child_us);
/* A "Key:" line of /proc/pid/status in KiB (VmRSS, VmHWM), -1 if none. */
long		 proc_status_kb(pid_t, const char *key);
/* This process's user+system CPU in microseconds. */
long long	 self_cpu_us(void);

/* "128", "16k", "1m", "1g" (powers of 1024); -1 when malformed. */
long long	 parse_size(const char *);
/* 127.0.0.1:port unless host says otherwise; exits on a bad host. */
void		 bench_addr(struct sockaddr_in *, const char *host, int port);
/*
 * A TCP socket with TCP_NODELAY connected (or, nonblocking, connecting) to
 * dst from src when not NULL; -1 on error.
 */
int		 bench_connect(const struct sockaddr_in *dst,
		    const struct in_addr *src, int nonblock);
int		 set_nonblock(int fd);

void		 bench_die(const char *fmt, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
void		 bench_setprogname(const char *);

/*
 * The UPPER input: a 64 KiB text pattern repeated, and what tr
 * '[:lower:]' '[:upper:]' makes of it.  upper_check() compares n output
 * bytes starting at stream offset off; -1 on a mismatch.
 */
#define UPPER_PATTERN_SIZE	(64 * 1024)
extern char	 upper_pattern[UPPER_PATTERN_SIZE];
void		 upper_pattern_init(void);
int		 upper_check(const char *p, size_t n, unsigned long long off);

#endif
