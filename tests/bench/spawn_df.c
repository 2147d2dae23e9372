/*
 * spawn_df: the DF baseline.  Runs df -hl (or the command after --) with
 * posix_spawn in a loop, K at once, with the environment brokerd gives its
 * children; reads each one's output to EOF and reaps it.  Reports spawns/s
 * over the measured window and this process's CPU per spawn.
 *
 * usage: spawn_df [-k inflight] [-d seconds] [-w warmup] [-- command...]
 */
#include "autoconf.h"

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/bench/benchutil.h"

#define MAX_INFLIGHT	256

struct job {
	pid_t		 pid;
	int		 fd;		/* its stdout; -1: slot free */
	long long	 t0;
};

static char	*child_env[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL
};
static char	*default_argv[] = { "df", "-hl", NULL };

static void
usage(void)
{
	fprintf(stderr, "usage: spawn_df [-k inflight] [-d seconds] "
	    "[-w warmup] [-- command args...]\n");
	exit(2);
}

/* argv[0] resolved on the children's PATH once, as brokerd does. */
static char *
resolve(const char *name)
{
	static const char	*dirs[] = { "/usr/sbin", "/usr/bin", "/sbin",
				    "/bin" };
	char			 path[4096];
	size_t			 i;

	if (strchr(name, '/') != NULL)
		return strdup(name);
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], name);
		if (access(path, X_OK) == 0)
			return strdup(path);
	}
	bench_die("%s: not found", name);
}

static void
job_start(struct job *j, const char *path, char **argv)
{
	posix_spawn_file_actions_t	fa;
	int				p[2];

	if (pipe2(p, O_CLOEXEC) != 0)
		bench_die("pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
	    O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null",
	    O_WRONLY, 0);
	j->t0 = now_ns();
	if ((errno = posix_spawn(&j->pid, path, &fa, NULL, argv,
	    child_env)) != 0)
		bench_die("cannot run %s: %s", path, strerror(errno));
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	j->fd = p[0];
}

int
main(int argc, char *argv[])
{
	struct job	 jobs[MAX_INFLIGHT];
	struct pollfd	 pfd[MAX_INFLIGHT];
	struct hist	 lat;
	double		 duration = 3.0, warmup = 0.5, secs;
	long long	 t, t_meas, t_end, w0 = 0, w1 = 0, c0 = 0, c1 = 0;
	unsigned long long done = 0, failed = 0, outbytes = 0;
	char		**cargv = default_argv, *path, buf[65536];
	int		 ch, k = 8, i, n, st, measuring = 0, stopped = 0;
	int		 running;
	ssize_t		 r;

	bench_setprogname(argv[0]);
	while ((ch = getopt(argc, argv, "d:k:w:")) != -1) {
		switch (ch) {
		case 'd':
			duration = atof(optarg);
			break;
		case 'k':
			k = atoi(optarg);
			break;
		case 'w':
			warmup = atof(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind < argc)
		cargv = argv + optind;
	if (k < 1 || k > MAX_INFLIGHT || duration <= 0)
		usage();
	path = resolve(cargv[0]);
	hist_reset(&lat);
	t = now_ns();
	t_meas = t + (long long)(warmup * 1e9);
	t_end = t_meas + (long long)(duration * 1e9);
	for (i = 0; i < k; i++)
		job_start(&jobs[i], path, cargv);
	running = k;
	while (running > 0) {
		for (i = 0; i < k; i++) {
			pfd[i].fd = jobs[i].fd;
			pfd[i].events = POLLIN;
		}
		n = poll(pfd, (nfds_t)k, -1);
		if (n < 0 && errno != EINTR)
			bench_die("poll: %s", strerror(errno));
		t = now_ns();
		if (!measuring && t >= t_meas) {
			measuring = 1;
			done = failed = outbytes = 0;
			hist_reset(&lat);
			c0 = self_cpu_us();
			w0 = now_ns();
		}
		if (measuring && !stopped && t >= t_end) {
			stopped = 1;
			w1 = now_ns();
			c1 = self_cpu_us();
		}
		for (i = 0; i < k && n > 0; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			r = read(jobs[i].fd, buf, sizeof(buf));
			if (r > 0) {
				outbytes += (unsigned long long)r;
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			/* EOF: the child is done or about to be. */
			close(jobs[i].fd);
			jobs[i].fd = -1;
			while (waitpid(jobs[i].pid, &st, 0) < 0)
				if (errno != EINTR)
					bench_die("waitpid: %s",
					    strerror(errno));
			if (measuring && !stopped) {
				t = now_ns();
				done++;
				if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
					failed++;
				hist_add(&lat,
				    (unsigned long long)(t - jobs[i].t0));
			}
			if (!stopped)
				job_start(&jobs[i], path, cargv);
			else
				running--;
		}
	}
	secs = (double)(w1 - w0) / 1e9;
	printf("mode=spawn inflight=%d secs=%.3f ops=%llu rate=%.1f "
	    "failed=%llu out_bytes_op=%.0f p50_us=%.1f p99_us=%.1f "
	    "cli_us_op=%.1f\n", k, secs, done, (double)done / secs, failed,
	    done ? (double)outbytes / (double)done : 0,
	    hist_quantile_us(&lat, 0.5), hist_quantile_us(&lat, 0.99),
	    done ? (double)(c1 - c0) / (double)done : 0);
	free(path);
	return failed == 0 ? 0 : 1;
}
