/* Slow-callback detection and a histogram of callback durations. */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "daemon/watch.h"

int watch_enabled = 1;

struct deferred {
	void	 *p;
	void	(*fn)(void *);
};

static long long		 threshold_ns = 100 * 1000000LL;
/* The callback being timed, as named by the innermost wrapper. */
static struct {
	int		 depth;
	const char	*name;
	watch_ctx_fn	 ctx;
	void		*arg;
}				 cur;
static struct watch_stats	 st;
static struct deferred		*defer;
static size_t			 ndefer, defer_cap;

/* Upper bounds of the histogram buckets, in nanoseconds. */
static const long long bucket_ns[WATCH_NBUCKETS - 1] = {
	100000LL, 1000000LL, 10000000LL, 100000000LL, 1000000000LL
};
static const char *bucket_names[WATCH_NBUCKETS] = {
	"<0.1ms", "<1ms", "<10ms", "<100ms", "<1s", ">=1s"
};

int
watch_shown_len(const char *name)
{
	size_t len = strlen(name);

	if (len > 3 && strcmp(name + len - 3, "_cb") == 0)
		len -= 3;
	return (int)len;
}

void
watch_set_threshold_ms(int ms)
{
	threshold_ns = (long long)ms * 1000000LL;
}

long long
watch_start(const char *name, watch_ctx_fn ctx, void *arg)
{
	struct timespec ts;

	/* Inside another wrapped callback: name its time, do not time. */
	cur.name = name;
	cur.ctx = ctx;
	cur.arg = arg;
	if (cur.depth++ > 0 || !watch_enabled)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
watch_flush(void)
{
	size_t i;

	/* A deferred free may defer more; loop until quiet. */
	for (i = 0; i < ndefer; i++)
		defer[i].fn(defer[i].p);
	ndefer = 0;
	free(defer);
	defer = NULL;
	defer_cap = 0;
}

void
watch_stop(long long t0)
{
	struct timespec ts;
	const char	*name = cur.name;
	long long	d;
	size_t		i;
	int		b;

	if (--cur.depth > 0)
		return;
	if (watch_enabled) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		d = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec - t0;
		st.calls++;
		st.sum_ns += (unsigned long long)d;
		for (b = 0; b < WATCH_NBUCKETS - 1 && d >= bucket_ns[b]; b++)
			;
		st.hist[b]++;
		if (d > st.slowest_ns) {
			st.slowest_ns = d;
			st.slowest_name = name;	/* printed without "_cb" */
		}
		if (threshold_ns > 0 && d > threshold_ns) {
			const char *c = cur.ctx != NULL ? cur.ctx(cur.arg) :
			    NULL;

			st.slow++;
			log_ctx(LOG_WARNING, NULL,
			    "slow callback %.*s%s%s%s took %.3f s",
			    watch_shown_len(name), name, c != NULL ? " (" : "",
			    c != NULL ? c : "", c != NULL ? ")" : "",
			    (double)d / 1e9);
		}
	}
	for (i = 0; i < ndefer; i++)
		defer[i].fn(defer[i].p);
	ndefer = 0;
}

void
watch_defer_free(void *p, void (*fn)(void *))
{
	if (ndefer == defer_cap) {
		defer_cap = defer_cap ? defer_cap * 2 : 16;
		defer = realloc(defer, defer_cap * sizeof(*defer));
		if (defer == NULL)
			abort();
	}
	defer[ndefer].p = p;
	defer[ndefer].fn = fn;
	ndefer++;
}

void
watch_get_stats(struct watch_stats *out)
{
	*out = st;
}

const char *
watch_bucket_name(int i)
{
	return bucket_names[i];
}

long long
watch_bucket_le_ns(int i)
{
	return i < WATCH_NBUCKETS - 1 ? bucket_ns[i] : -1;
}

/* Filled by constructors before main: no locking needed. */
static struct {
	void		(*fn)(void);
	const char	*name;
}			 names[256];
static size_t		 nnames;

void
watch_register(void (*fn)(void), const char *name)
{
	if (nnames < sizeof(names) / sizeof(names[0])) {
		names[nnames].fn = fn;
		names[nnames].name = name;
		nnames++;
	}
}

const char *
watch_name(void (*fn)(void))
{
	size_t i;

	for (i = 0; i < nnames; i++)
		if (names[i].fn == fn)
			return names[i].name;
	return NULL;
}
