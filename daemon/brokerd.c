/*
 * brokerd: arguments, configuration, daemonizing and the pidfile, the event
 * loop and its signals, and an orderly exit.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/log.h"
#include "daemon/brokerd.h"
#include "daemon/command.h"
#include "daemon/server.h"
#include "daemon/watch.h"

struct server	srv;
struct stats	stats;

static const char	*pidfile;
static int		 pidfile_written;
static int		 ready_fd = -1;
static struct event	*sig_int, *sig_term, *sig_chld;

static void __attribute__((noreturn))
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: brokerd [-dfhtV] [-c file] [-p pidfile]\n"
	    "  -c file     configuration file (default %s)\n"
	    "  -d          debug: verbose logs, libevent debug mode\n"
	    "  -f          stay in the foreground, log to stderr\n"
	    "  -p pidfile  write the process id to pidfile\n"
	    "  -t          check the configuration and exit\n"
	    "  -V          print the version and exit\n"
	    "  -h          print this help and exit\n",
	    SYSCONFDIR "/brokerd/brokerd.conf");
	exit(status);
}

/* Nothing may land on fds 0-2 but what is meant to be there. */
static void
sanitize_stdio(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

/*
 * Forks twice and waits in the original process until the daemon reports
 * that it is listening, so start-up errors still reach the caller's exit
 * status and terminal.
 */
static void
daemonize_start(void)
{
	int	p[2];
	pid_t	pid;
	char	status = 1;

	if (pipe2(p, O_CLOEXEC) != 0)
		fatal("pipe");
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid > 0) {
		close(p[1]);
		while (read(p[0], &status, 1) < 0 && errno == EINTR)
			;
		/* The intermediate child exits at once; reap it. */
		waitpid(pid, NULL, 0);
		_exit(status == 0 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		fatal("setsid");
	if ((pid = fork()) < 0)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	umask(022);
	if (chdir("/") != 0)
		fatal("chdir /");
	ready_fd = p[1];
}

static void
daemonize_finish(void)
{
	char	status = 0;
	int	fd;

	if (ready_fd < 0)
		return;
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > 2)
			close(fd);
	}
	(void)!write(ready_fd, &status, 1);
	close(ready_fd);
	ready_fd = -1;
}

static int
pidfile_write(const char *path)
{
	char	tmp[4096], buf[32];
	int	fd, n;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path,
	    (long)getpid()) >= sizeof(tmp)) {
		log_err("pidfile path too long: %s", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		log_err("cannot create pidfile %s: %s", tmp, strerror(errno));
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write_all(fd, buf, (size_t)n) < 0 || close(fd) != 0) {
		log_err("cannot write pidfile %s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	/* rename(2) is atomic: readers see no pidfile or a whole one. */
	if (rename(tmp, path) != 0) {
		log_err("cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
		unlink(tmp);
		return -1;
	}
	pidfile_written = 1;
	return 0;
}

static void
pidfile_remove(void)
{
	if (pidfile_written && unlink(pidfile) != 0 && errno != ENOENT)
		log_warn("cannot remove pidfile %s", pidfile);
	pidfile_written = 0;
}

static void
on_terminate(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_notice("received %s, exiting", strsignal((int)sig));
	event_base_loopbreak(srv.base);
}
WATCH_EVENT_CB(terminate_cb, on_terminate, NULL)

static void
on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	children_reap();
}
WATCH_EVENT_CB(sigchld_cb, on_sigchld, NULL)

static int
check_config(const char *file)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*c;
	size_t			 i;

	c = config_load(file, &errs);
	if (c == NULL) {
		for (i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		config_errors_free(&errs);
		return 1;
	}
	config_unref(c);
	printf("configuration ok\n");
	return 0;
}

static int
open_listeners(void)
{
	char	err[256];
	size_t	i;

	for (i = 0; i < srv.cfg->nlisten; i++)
		if (listen_open(&srv.cfg->listen[i], &srv.listeners, err,
		    sizeof(err)) != 0) {
			log_err("%s:%d: %s", srv.cfg->file,
			    srv.cfg->listen[i].line, err);
			return -1;
		}
	listen_enable(&srv.listeners);
	return 0;
}

static void
shutdown_all(void)
{
	listen_free_all(&srv.listeners);
	conn_close_all();
	children_shutdown();
	if (sig_chld != NULL)
		event_free(sig_chld);
	if (sig_int != NULL)
		event_free(sig_int);
	if (sig_term != NULL)
		event_free(sig_term);
	watch_flush();
	event_base_free(srv.base);
	srv.base = NULL;
	config_unref(srv.cfg);
	srv.cfg = NULL;
	pidfile_remove();
	libevent_global_shutdown();
}

int
brokerd_main(int argc, char *argv[])
{
	struct config_errors	 errs = { NULL, 0 };
	const char		*file = SYSCONFDIR "/brokerd/brokerd.conf";
	int			 ch, test = 0, debug = 0, foreground = 0;
	size_t			 i;

	while ((ch = getopt(argc, argv, "c:dfhp:tV")) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'd':
			debug = 1;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'h':
			usage(0);
		case 'p':
			pidfile = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("brokerd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (test)
		return check_config(file);

	sanitize_stdio();
	log_init("brokerd", foreground, LOG_DAEMON);
	log_setstartup(1);
	srv.cfg = config_load(file, &errs);
	if (srv.cfg == NULL) {
		for (i = 0; i < errs.n; i++)
			log_err("%s", errs.msg[i]);
		config_errors_free(&errs);
		return 1;
	}
	srv.config_file = file;
	srv.debug = debug || srv.cfg->debug;
	srv.foreground = foreground;
	srv.generation = 1;
	log_setfacility(srv.cfg->log_facility);
	log_setlevel(srv.debug ? LOG_DEBUG : srv.cfg->log_level);
	watch_set_threshold_ms(srv.cfg->slow_callback_ms);

	/* Both must come before any other libevent call. */
	if (srv.debug)
		event_enable_debug_mode();
	if (evthread_use_pthreads() != 0)
		fatalx("evthread_use_pthreads failed");
	signal(SIGPIPE, SIG_IGN);

	if (!foreground)
		daemonize_start();
	srv.start_ms = mono_ms();
	TAILQ_INIT(&srv.listeners);
	TAILQ_INIT(&srv.conns);
	if ((srv.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	log_info("brokerd %s starting, libevent %s (%s backend)",
	    PACKAGE_VERSION, event_get_version(),
	    event_base_get_method(srv.base));
	listen_init(srv.base, conn_accept);
	child_init(srv.base);
	sig_chld = evsignal_new(srv.base, SIGCHLD, sigchld_cb, NULL);
	evsignal_add(sig_chld, NULL);
	if (open_listeners() != 0 ||
	    (pidfile != NULL && pidfile_write(pidfile) != 0)) {
		shutdown_all();
		return 1;
	}
	sig_int = evsignal_new(srv.base, SIGINT, terminate_cb, NULL);
	sig_term = evsignal_new(srv.base, SIGTERM, terminate_cb, NULL);
	evsignal_add(sig_int, NULL);
	evsignal_add(sig_term, NULL);

	daemonize_finish();
	log_setstartup(0);
	event_base_dispatch(srv.base);

	shutdown_all();
	log_info("exited cleanly");
	return 0;
}
