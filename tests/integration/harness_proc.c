/*
 * Integration test harness: what /proc says about a process (the
 * daemon, its children, what they left behind), and bounded waits on it.
 */
#include "autoconf.h"

#include <sys/types.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/tap.h"

/*
 * The number after key at the start of a line of /proc/PID/name
 * ("status", "VmRSS:"), or -1.
 */
static long
proc_line_value(pid_t pid, const char *name, const char *key)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 v = -1;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0)
			v = atol(line + strlen(key));
	fclose(f);
	return v;
}

/*
 * /proc/PID/stat into buf, and where the fields after the command name
 * start (the state letter), or NULL.
 */
static char *
proc_stat_fields(pid_t pid, char *buf, size_t size)
{
	char	 path[64], *p;
	FILE	*f;
	size_t	 len;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return NULL;
	len = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[len] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return NULL;
	return p + 2;
}

long
proc_rss_kb(pid_t pid)
{
	return proc_line_value(pid, "status", "VmRSS:");
}

/* Entries of a /proc directory, "." and ".." left out. */
static int
count_dir(const char *path)
{
	DIR		*dir;
	struct dirent	*de;
	int		 n = 0;

	if ((dir = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

int
proc_nfds(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	return count_dir(path);
}

/* Children of pid, zombies included, from /proc/PID/task/PID/children. */
int
proc_nchildren(pid_t pid)
{
	char	path[80], buf[4096];
	FILE	*f;
	int	 n = 0;
	size_t	 len, i;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
	    (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	for (i = 0; i < len; i++)
		if (buf[i] == ' ')
			n++;
	return n;
}

long long
proc_cpu_ticks(pid_t pid)
{
	char		 buf[1024], *p;
	unsigned long	 ut, st;

	if ((p = proc_stat_fields(pid, buf, sizeof(buf))) == NULL ||
	    sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (long long)ut + (long long)st;
}

char
proc_state(pid_t pid)
{
	char buf[512], *p;

	return (p = proc_stat_fields(pid, buf, sizeof(buf))) != NULL ?
	    p[0] : '?';
}

int
proc_nthreads(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	return count_dir(path);
}

int
proc_maps(pid_t pid, const char *name)
{
	char	path[64], line[512];
	FILE	*f;
	int	 found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, name) != NULL;
	fclose(f);
	return found;
}

int
wait_children(pid_t pid, int want, int timeout_ms)
{
	long long start = now_ms();

	while (proc_nchildren(pid) != want && now_ms() - start < timeout_ms)
		msleep(10);
	return proc_nchildren(pid) == want;
}

void
diag_fds(pid_t pid)
{
	char		 path[64], link[400], target[256];
	DIR		*dir;
	struct dirent	*de;
	ssize_t		 n;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		if ((n = readlink(link, target, sizeof(target) - 1)) < 0)
			continue;
		target[n] = '\0';
		diag("  fd %s -> %s", de->d_name, target);
	}
	closedir(dir);
}

int
wait_fds(pid_t pid, int want, int timeout_ms)
{
	long long start = now_ms();

	while (proc_nfds(pid) != want && now_ms() - start < timeout_ms)
		msleep(10);
	if (proc_nfds(pid) == want)
		return 1;
	diag("pid %d has %d fds, not %d:", (int)pid, proc_nfds(pid), want);
	diag_fds(pid);
	return 0;
}

long
proc_nofile(pid_t pid)
{
	return proc_line_value(pid, "limits", "Max open files");
}

/* The parent of pid, or -1. */
static pid_t
proc_ppid(pid_t pid)
{
	char	buf[1024], *p;
	int	ppid;

	if ((p = proc_stat_fields(pid, buf, sizeof(buf))) == NULL ||
	    sscanf(p, "%*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* Whether pid is root or below it. */
static int
descends_from(pid_t pid, pid_t root)
{
	int depth;

	for (depth = 0; pid > 1 && depth < 64; depth++) {
		if (pid == root)
			return 1;
		pid = proc_ppid(pid);
	}
	return pid == root;
}

int
proc_count_cmd(pid_t root, const char *prog, const char *arg1)
{
	DIR		*dir = opendir("/proc");
	struct dirent	*de;
	char		 path[300], buf[256], *a1, *base;
	ssize_t		 len;
	int		 fd, n = 0;

	if (dir == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;	/* kernel threads, zombies, mid-exec */
		buf[len] = '\0';
		a1 = buf + strlen(buf) + 1;
		if (a1 - buf >= len)
			continue;
		base = strrchr(buf, '/') != NULL ? strrchr(buf, '/') + 1 : buf;
		if (strcmp(base, prog) == 0 && strcmp(a1, arg1) == 0 &&
		    descends_from(atoi(de->d_name), root))
			n++;
	}
	closedir(dir);
	return n;
}

int
wait_cmd(pid_t root, const char *prog, const char *arg1, int want,
    int timeout_ms)
{
	long long start = now_ms();

	while (proc_count_cmd(root, prog, arg1) != want &&
	    now_ms() - start < timeout_ms)
		msleep(20);
	return proc_count_cmd(root, prog, arg1) == want;
}

/*
 * An ASan process is told by its shadow memory: terabytes of address
 * space.  Its quarantine is ASAN_OPTIONS quarantine_size_mb, 256 MB by
 * default.
 */
long
sanitizer_slack_kb(pid_t pid)
{
	const char	*opt = getenv("ASAN_OPTIONS"), *q;
	long		 mb = 256;

	/* Under 1 TiB of address space: no sanitizer. */
	if (proc_line_value(pid, "status", "VmSize:") < 1024L * 1024 * 1024)
		return 0;
	if (opt != NULL && (q = strstr(opt, "quarantine_size_mb=")) != NULL)
		mb = atol(q + strlen("quarantine_size_mb="));
	return (mb + 8) * 1024;
}
