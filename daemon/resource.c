/* Debug mode's resource report; see resource.h. */
#include "autoconf.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/log.h"
#include "daemon/child.h"
#include "daemon/conn.h"
#include "daemon/pool.h"
#include "daemon/resource.h"
#include "daemon/watch.h"

static int reported;

/* fds inherited at start (not ours to report), below 1024. */
static unsigned char inherited_fd[1024 / 8];

static void
report_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
report_line(const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_notice("resource report: %s", buf);
	reported++;
}

static void
fds_scan(void (*fn)(int fd))
{
	DIR		*d;
	struct dirent	*de;
	int		 fd;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		fd = atoi(de->d_name);
		/* 1024 and up: valgrind's own. */
		if (de->d_name[0] != '.' && fd != dirfd(d) && fd < 1024)
			fn(fd);
	}
	closedir(d);
}

static void
mark_inherited(int fd)
{
	inherited_fd[fd / 8] |= (unsigned char)(1 << (fd % 8));
}

void
resource_baseline(void)
{
	fds_scan(mark_inherited);
}

static void
report_conn(const struct conn *c, void *arg)
{
	(void)arg;
	report_line("connection %s still open", c->ctx);
}

static void
report_child(pid_t pid, const char *name, long long age_ms, void *arg)
{
	(void)arg;
	report_line("child %s (pid %d) still running after %.3f s", name,
	    (int)pid, (double)age_ms / 1000.0);
}

static void
report_job(const struct pool_job *j, void *arg)
{
	(void)arg;
	report_line("pool job %s (%s) still %s", j->name, j->ctx,
	    j->started_ns ? "running" : "queued");
}

void
resource_report_open(void)
{
	conn_foreach(report_conn, NULL);
	children_foreach(report_child, NULL);
	pool_foreach_job(report_job, NULL);
}

static int
report_event(const struct event_base *base, const struct event *ev,
    void *arg)
{
	const char *name = watch_name((void (*)(void))event_get_callback(ev));

	(void)base;
	(void)arg;
	/* Not ours: libevent's own notification and signal events. */
	if (name == NULL)
		return 0;
	report_line("%s %s (fd %d, events 0x%x) still registered",
	    event_get_events(ev) & EV_SIGNAL ? "signal handler" :
	    event_get_fd(ev) >= 0 ? "event" : "timer", name,
	    (int)event_get_fd(ev), (unsigned)event_get_events(ev));
	return 0;
}

void
resource_report_events(struct event_base *base)
{
	event_base_foreach_event(base, report_event, NULL);
}

static void
report_fd(int fd)
{
	char	path[64], target[256];
	ssize_t	n;

	if (fd <= 2 || (inherited_fd[fd / 8] & (1 << (fd % 8))))
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	report_line("fd %d (%s) still open", fd, target);
}

void
resource_report_end(void)
{
	fds_scan(report_fd);
	if (reported == 0)
		log_notice("resource report: no resources left open");
}
