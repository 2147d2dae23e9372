/* Helpers shared by the benchmark programs in tests/bench. */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench/benchutil.h"

static const char *progname = "bench";

void
bench_setprogname(const char *name)
{
	const char *p = strrchr(name, '/');

	progname = p != NULL ? p + 1 : name;
}

void
bench_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void
hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

static int
hist_index(unsigned long long v)
{
	int msb, shift;

	if (v < (2ULL << HIST_SUB_BITS))
		return (int)v;
	msb = 63 - __builtin_clzll(v);
	shift = msb - HIST_SUB_BITS;
	return ((shift + 1) << HIST_SUB_BITS) +
	    (int)((v >> shift) & ((1ULL << HIST_SUB_BITS) - 1));
}

void
hist_add(struct hist *h, unsigned long long ns)
{
	h->count[hist_index(ns)]++;
	h->n++;
	if (ns > h->max)
		h->max = ns;
}

double
hist_quantile_us(const struct hist *h, double q)
{
	unsigned long long	 want, seen = 0;
	int			 i, shift, sub;
	double			 lo, width;

	if (h->n == 0)
		return 0;
	want = (unsigned long long)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen > want)
			break;
	}
	if (i < (2 << HIST_SUB_BITS))
		return i / 1000.0;
	shift = (i >> HIST_SUB_BITS) - 1;
	sub = i & ((1 << HIST_SUB_BITS) - 1);
	lo = (double)((unsigned long long)((1 << HIST_SUB_BITS) + sub) <<
	    shift);
	width = (double)(1ULL << shift);
	return (lo + width / 2) / 1000.0;
}

long long
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long long
proc_cpu_us(pid_t pid, long long *child_us)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 utime, stime, cutime, cstime;
	long			 tck = sysconf(_SC_CLK_TCK);
	ssize_t			 n;
	int			 fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past it. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	/* After ")": state (3) ... utime (14) stime (15) cutime cstime. */
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%llu %llu %llu %llu", &utime, &stime, &cutime, &cstime) != 4 ||
	    tck <= 0)
		return -1;
	if (child_us != NULL)
		*child_us = (long long)((cutime + cstime) * 1000000ULL /
		    (unsigned long)tck);
	return (long long)((utime + stime) * 1000000ULL / (unsigned long)tck);
}

long
proc_status_kb(pid_t pid, const char *key)
{
	char	 path[64], line[256];
	size_t	 klen = strlen(key);
	long	 kb = -1;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			kb = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

long long
self_cpu_us(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	    1000000LL + ru.ru_utime.tv_usec + ru.ru_stime.tv_usec;
}

long long
parse_size(const char *s)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		return -1;
	switch (*end) {
	case 'g': case 'G':
		v *= 1024;
		/* FALLTHROUGH */
	case 'm': case 'M':
		v *= 1024;
		/* FALLTHROUGH */
	case 'k': case 'K':
		v *= 1024;
		end++;
		break;
	default:
		break;
	}
	return *end == '\0' ? v : -1;
}

void
bench_addr(struct sockaddr_in *sin, const char *host, int port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		bench_die("%s: not an IPv4 address", host);
	if (port <= 0 || port > 65535)
		bench_die("bad port %d", port);
}

int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int
bench_connect(const struct sockaddr_in *dst, const struct in_addr *src,
    int nonblock)
{
	struct sockaddr_in	sin;
	int			fd, on = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (src != NULL) {
		/* The port is picked at connect(), per destination. */
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on,
		    sizeof(on));
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr = *src;
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
	}
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) != 0 &&
	    !(nonblock && errno == EINPROGRESS)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

char		upper_pattern[UPPER_PATTERN_SIZE];
static char	upper_expect[UPPER_PATTERN_SIZE];

void
upper_pattern_init(void)
{
	static const char text[] = "The quick brown fox jumps over the lazy "
	    "dog 0123456789.\n";
	size_t i;

	for (i = 0; i < UPPER_PATTERN_SIZE; i++) {
		upper_pattern[i] = text[i % (sizeof(text) - 1)];
		upper_expect[i] = upper_pattern[i] >= 'a' &&
		    upper_pattern[i] <= 'z' ?
		    (char)(upper_pattern[i] - 'a' + 'A') : upper_pattern[i];
	}
}

int
upper_check(const char *p, size_t n, unsigned long long off)
{
	size_t o, k;

	while (n > 0) {
		o = (size_t)(off % UPPER_PATTERN_SIZE);
		k = UPPER_PATTERN_SIZE - o < n ? UPPER_PATTERN_SIZE - o : n;
		if (memcmp(p, upper_expect + o, k) != 0)
			return -1;
		p += k;
		n -= k;
		off += k;
	}
	return 0;
}
