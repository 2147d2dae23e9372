/*
 * pump: the UPPER baseline.  Spawns tr '[:lower:]' '[:upper:]' (or the
 * command after --) with the environment brokerd gives its children, and
 * feeds it N bytes through a pipe while reading its output through
 * another, in one poll() loop.  The output is checked byte for byte.
 *
 * usage: pump [-n bytes] [-b chunk] [-S pipe_size] [-- command args...]
 */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/bench/benchutil.h"

#define PATTERN_SIZE	UPPER_PATTERN_SIZE

static char	*child_env[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL
};
static char	*default_argv[] = { "tr", "[:lower:]", "[:upper:]", NULL };


static void
usage(void)
{
	fprintf(stderr, "usage: pump [-n bytes] [-b chunk] [-S pipe_size] "
	    "[-- command args...]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	posix_spawn_file_actions_t	 fa;
	struct pollfd			 pfd[2];
	struct rusage			 ru;
	unsigned long long		 total = 1ULL << 30, in = 0, out = 0;
	long long			 v, t0, t1, c0, c1;
	size_t				 chunk = 64 * 1024;
	char				**cargv = default_argv, *rbuf;
	int				 ch, pin[2], pout[2], st, pipesz = 0;
	int				 check_ok = 1, use_check = 0;
	pid_t				 pid;
	ssize_t				 n;

	bench_setprogname(argv[0]);
	while ((ch = getopt(argc, argv, "b:n:S:")) != -1) {
		switch (ch) {
		case 'b':
			if ((v = parse_size(optarg)) <= 0 ||
			    v > PATTERN_SIZE)
				usage();
			chunk = (size_t)v;
			break;
		case 'n':
			if ((v = parse_size(optarg)) < 0)
				usage();
			total = (unsigned long long)v;
			break;
		case 'S':
			if ((v = parse_size(optarg)) < 0)
				usage();
			pipesz = (int)v;
			break;
		default:
			usage();
		}
	}
	if (optind < argc)
		cargv = argv + optind;
	else
		use_check = 1;		/* the output of tr is known */
	signal(SIGPIPE, SIG_IGN);
	upper_pattern_init();
	if ((rbuf = malloc(PATTERN_SIZE)) == NULL)
		bench_die("out of memory");
	if (pipe2(pin, O_CLOEXEC) != 0 || pipe2(pout, O_CLOEXEC) != 0)
		bench_die("pipe: %s", strerror(errno));
	if (pipesz > 0) {
		(void)fcntl(pin[1], F_SETPIPE_SZ, pipesz);
		(void)fcntl(pout[0], F_SETPIPE_SZ, pipesz);
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pin[0], STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, pout[1], STDOUT_FILENO);
	t0 = now_ns();
	c0 = self_cpu_us();
	if ((errno = posix_spawnp(&pid, cargv[0], &fa, NULL, cargv,
	    child_env)) != 0)
		bench_die("cannot run %s: %s", cargv[0], strerror(errno));
	posix_spawn_file_actions_destroy(&fa);
	close(pin[0]);
	close(pout[1]);
	if (set_nonblock(pin[1]) != 0 || set_nonblock(pout[0]) != 0)
		bench_die("fcntl: %s", strerror(errno));
	if (total == 0) {
		close(pin[1]);
		pin[1] = -1;
	}
	pfd[1].fd = pout[0];
	pfd[1].events = POLLIN;
	while (pfd[1].fd >= 0) {
		pfd[0].fd = pin[1];
		pfd[0].events = POLLOUT;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			bench_die("poll: %s", strerror(errno));
		}
		if (pfd[0].fd >= 0 && (pfd[0].revents & (POLLOUT | POLLERR))) {
			size_t o = (size_t)(in % PATTERN_SIZE);
			size_t k = chunk < PATTERN_SIZE - o ? chunk :
			    PATTERN_SIZE - o;

			if (k > total - in)
				k = (size_t)(total - in);
			n = write(pin[1], upper_pattern + o, k);
			if (n < 0 && errno != EAGAIN)
				bench_die("write: %s", strerror(errno));
			if (n > 0)
				in += (unsigned long long)n;
			if (in == total) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(pout[0], rbuf, PATTERN_SIZE);
			if (n < 0 && errno != EAGAIN)
				bench_die("read: %s", strerror(errno));
			if (n == 0) {
				close(pout[0]);
				pfd[1].fd = -1;
			} else if (n > 0) {
				if (use_check && check_ok &&
				    upper_check(rbuf, (size_t)n, out) != 0)
					check_ok = 0;
				out += (unsigned long long)n;
			}
		}
	}
	if (waitpid(pid, &st, 0) != pid)
		bench_die("waitpid: %s", strerror(errno));
	t1 = now_ns();
	c1 = self_cpu_us();
	if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
		memset(&ru, 0, sizeof(ru));
	printf("mode=pump bytes_in=%llu bytes_out=%llu secs=%.3f mb_s=%.1f "
	    "cli_cpu_s=%.2f cmd_cpu_s=%.2f status=%d check=%s\n", in, out,
	    (double)(t1 - t0) / 1e9, (double)out / ((double)(t1 - t0) / 1e3),
	    (double)(c1 - c0) / 1e6, (double)(ru.ru_utime.tv_sec +
	    ru.ru_stime.tv_sec) + (double)(ru.ru_utime.tv_usec +
	    ru.ru_stime.tv_usec) / 1e6, st, !use_check ? "skipped" :
	    check_ok && out == total ? "ok" : "FAILED");
	return st == 0 && check_ok ? 0 : 1;
}
