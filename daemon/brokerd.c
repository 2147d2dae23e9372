/*
 * brokerd: arguments, configuration, daemonizing and the pidfile, the event
 * loop and its signals, and an orderly exit.
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/log.h"
#include "daemon/brokerd.h"
#include "daemon/child.h"
#include "daemon/cmdaccess.h"
#include "daemon/conn.h"
#include "daemon/control.h"
#include "daemon/dfnative.h"
#include "daemon/drain.h"
#include "daemon/echo.h"
#include "daemon/fdlimit.h"
#include "daemon/metrics.h"
#include "daemon/notify.h"
#include "daemon/orphans.h"
#include "daemon/pidfile.h"
#include "daemon/pool.h"
#include "daemon/privdrop.h"
#include "daemon/reload.h"
#include "daemon/resource.h"
#include "daemon/server.h"
#include "daemon/session.h"
#include "daemon/splice.h"
#include "daemon/tls.h"
#include "daemon/verbs.h"
#include "daemon/version.h"
#include "daemon/watch.h"

/* Pending jobs beyond this get ERR 429 rather than unbounded memory. */
#define POOL_QUEUE_MAX	256

struct server	srv;

/* What each kind of listen entry serves. */
static const struct service *const services[SERVICE_N] = {
	[SERVICE_ECHO] = &echo_service,
	[SERVICE_BROKER] = &session_broker_service,
	[SERVICE_CONTROL] = &session_control_service
};

static char		*pidfile;		/* absolute */
static int		 ready_fd = -1;
static struct event	*sigs[5];

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

static void
on_terminate(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (srv.draining) {
		log_notice("received %s again, exiting now",
		    strsignal((int)sig));
		event_base_loopbreak(srv.base);
		return;
	}
	drain_begin((int)sig);
}
WATCH_EVENT_CB(terminate_cb, on_terminate, NULL)

static void
on_sighup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	if (!srv.draining)
		reload_request(NULL);
}
WATCH_EVENT_CB(sighup_cb, on_sighup, NULL)

static void
dump_line(const char *key, const char *value, void *arg)
{
	(void)arg;
	log_notice("state: %s: %s", key, value);
}

static void
on_sigusr1(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	stats_report(dump_line, NULL);
}
WATCH_EVENT_CB(sigusr1_cb, on_sigusr1, NULL)

static void
on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	children_reap();
}
WATCH_EVENT_CB(sigchld_cb, on_sigchld, NULL)

/*
 * A path as given, made absolute against the directory we start in: the
 * daemon later changes to /, and a reload must read the same file.
 * Symbolic links are kept as they are, to be followed at each use.
 */
static char *
absolute_path(const char *path)
{
	char	cwd[PATH_MAX], *abs;

	if (path[0] == '/')
		return xstrdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatal("cannot make %s absolute: getcwd", path);
	if (asprintf(&abs, "%s%s%s", cwd, strcmp(cwd, "/") == 0 ? "" : "/",
	    path) < 0)
		fatal("asprintf");
	return abs;
}

static int
check_config(const char *file)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*c;
	size_t			 i;

	c = config_load(file, &errs);
	/* Certificates, keys, whether they match: as a start would. */
	if (c != NULL) {
		tls_config_prepare(c, &errs);
		if (errs.n > 0) {
			config_unref(c);
			c = NULL;
		}
	}
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

/*
 * From the end of the loop to exit, termination signals stay blocked:
 * their events are freed below, and the default action would kill us
 * with the pidfile still there.  Exit discards what is pending.
 */
static void
block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		log_warnx("cannot block signals for the shutdown");
}

static void
shutdown_all(int report)
{
	block_signals();
	if (report && srv.base != NULL)
		resource_report_open();
	listen_free_all(&srv.listeners);
	metrics_shutdown();
	control_close();
	conn_close_all();
	children_shutdown();
	/* Jobs get what is left of the drain deadline (a second signal: 0). */
	if (srv.base != NULL)
		pool_shutdown(!srv.draining ? 1000 : (int)drain_left_ms());
	dfnative_shutdown();
	reload_shutdown();
	notify_shutdown();
	drain_shutdown();
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigs[i] != NULL) {
			event_free(sigs[i]);
			sigs[i] = NULL;
		}
	watch_flush();
	if (report && srv.base != NULL)
		resource_report_events(srv.base);
	if (srv.base != NULL)
		event_base_free(srv.base);
	srv.base = NULL;
	config_unref(srv.cfg);
	srv.cfg = NULL;
	pidfile_remove();
	libevent_global_shutdown();
	if (report)
		resource_report_end();
}

/* STATS and the dump: the daemon's own part, first. */
static void
report_daemon(struct stats_out *out)
{
	struct listener	*l;
	char		 key[64];
	int		 n = 0;

	stats_kv(out, "version", "%s", PACKAGE_VERSION);
	stats_kv(out, "uptime_s", "%lld", (mono_ms() - srv.start_ms) / 1000);
	stats_kv(out, "config_file", "%s", srv.config_file);
	stats_kv(out, "config_generation", "%lu", srv.generation);
	TAILQ_FOREACH(l, &srv.listeners, entry) {
		snprintf(key, sizeof(key), "listener.%d", n++);
		stats_kv(out, key, "%s %s", config_service_name(l->service),
		    l->name);
		snprintf(key, sizeof(key), "listener.%d.tls", n - 1);
		stats_kv(out, key, "%s", l->spec != NULL &&
		    l->spec->tls != NULL ? "on" : "off");
	}
}

/* The order of STATS and of the dump. */
static const stats_section_fn report_sections[] = {
	report_daemon, conn_report, children_report, cmdaccess_report,
	stats_report_pool,
	stats_report_counters, verbs_report, stats_report_errors,
	stats_report_callbacks
};

/* systemd's STATUS= line. */
static void
status_text(char *buf, size_t size)
{
	if (srv.draining) {
		drain_status(buf, size);
		return;
	}
	snprintf(buf, size, "%u connections (%u echo, %u broker, %u "
	    "control, %u metrics), generation %lu", conn_count(),
	    conn_count_service(SERVICE_ECHO),
	    conn_count_service(SERVICE_BROKER),
	    conn_count_service(SERVICE_CONTROL),
	    conn_count_service(SERVICE_METRICS), srv.generation);
}

static int	exit_status;
static char	*config_file;	/* absolute */

static void
startup_done(int ok)
{
	static const int signums[] = {
		SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGCHLD
	};
	static event_callback_fn cbs[] = {
		terminate_cb, terminate_cb, sighup_cb, sigusr1_cb, sigchld_cb
	};
	char	err[256];
	size_t	i;
	int	r;

	listen_adopt_finish();
	if (!ok) {
		exit_status = 1;
		event_base_loopbreak(srv.base);
		return;
	}
	/* First: a signal from here on drains instead of killing us. */
	for (i = 0; i < sizeof(signums) / sizeof(signums[0]); i++) {
		sigs[i] = evsignal_new(srv.base, signums[i], cbs[i], NULL);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0)
			fatalx("cannot handle signal %d", signums[i]);
	}
	if ((r = control_open(srv.cfg, err, sizeof(err))) != 0) {
		if (r == CONTROL_LIVE) {
			log_err("control socket: %s", err);
			exit_status = 1;
			event_base_loopbreak(srv.base);
			return;
		}
		log_warnx("control socket disabled: %s", err);
	}
	/* "listening on" lines first: readers of the pidfile expect them. */
	listen_enable(&srv.listeners);
	fdlimit_check(srv.cfg);
	if (pidfile != NULL && pidfile_write(pidfile) != 0) {
		exit_status = 1;
		event_base_loopbreak(srv.base);
		return;
	}
	/* Everything that needs root is open: the rest runs without. */
	privdrop_apply(srv.cfg);
	notify_init(srv.base, status_text);
	notify_ready();
	daemonize_finish();
	log_setstartup(0);
}

/* Knobs for tests and benchmarks, from the environment. */
static void
read_env(void)
{
	const char *env;

	/* For benchmarks: the cost of timing every callback. */
	if (getenv("BROKERD_NO_WATCH") != NULL)
		watch_enabled = 0;
	/* Forces splice mode on or off (tests, benchmarks, tuning). */
	if ((env = getenv("BROKERD_SPLICE")) != NULL) {
		if (strcmp(env, "on") == 0)
			splice_set_mode(1);
		else if (strcmp(env, "off") == 0)
			splice_set_mode(0);
		else if (strcmp(env, "auto") != 0)
			log_warnx("BROKERD_SPLICE=%s: expected on, off or "
			    "auto; using auto", env);
	}
}

/* Before the first fork and the first other libevent call. */
static void
prepare_process(void)
{
	if (srv.debug)
		event_enable_debug_mode();
	if (evthread_use_pthreads() != 0)
		fatalx("evthread_use_pthreads failed");
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Streams churn through 64 KiB evbuffer chains; without this glibc
	 * returns the heap top to the kernel and takes it back (brk) over
	 * and over.  Bounded: at most this much free heap stays resident.
	 */
	mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
}

/* The loop and the mechanisms on it; start-up, so failing is fatal. */
static void
start_loop(void)
{
	const char	*delay;
	int		 n;

	srv.start_ms = mono_ms();
	stats_init(report_sections, sizeof(report_sections) /
	    sizeof(report_sections[0]));
	TAILQ_INIT(&srv.listeners);
	if ((srv.base = event_base_new()) == NULL)
		fatalx("cannot create the event loop");
	log_info("brokerd %s starting, libevent %s (%s backend)",
	    PACKAGE_VERSION, event_get_version(),
	    event_base_get_method(srv.base));
	/* What commands leave behind becomes ours to kill and reap. */
	(void)orphans_init();
	listen_init(srv.base, conn_accept, services);
	metrics_init(srv.base);
	control_init(conn_accept_local, &session_control_service);
	child_init(srv.base);
	dfnative_init(srv.base);
	if (srv.debug && (delay = getenv("BROKERD_TEST_STATVFS_DELAY")) &&
	    strchr(delay, ':') != NULL) {
		char *mnt = xstrdup(delay), *colon = strrchr(mnt, ':');

		*colon = '\0';
		dfnative_set_test_delay(mnt, atoi(colon + 1));
		free(mnt);
	}
	if (pool_init(srv.base, srv.cfg->workers, POOL_QUEUE_MAX) != 0)
		fatalx("cannot start the worker pool");
	if ((n = listen_adopt_init()) > 0)
		log_info("socket activation: %d sockets passed", n);
}

int
brokerd_main(int argc, char *argv[])
{
	struct config_errors	 errs = { NULL, 0 };
	const char		*file = SYSCONFDIR "/brokerd/brokerd.conf";
	const char		*pidarg = NULL;
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
			pidarg = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			version_print(stdout);
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
	srv.config_file = config_file = absolute_path(file);
	if (pidarg != NULL)
		pidfile = absolute_path(pidarg);
	srv.cfg = config_load(srv.config_file, &errs);
	if (srv.cfg == NULL) {
		for (i = 0; i < errs.n; i++)
			log_err("%s", errs.msg[i]);
		config_errors_free(&errs);
		free(config_file);
		free(pidfile);
		return 1;
	}
	srv.debug = debug || srv.cfg->debug;
	srv.foreground = foreground;
	srv.generation = 1;
	log_setfacility(srv.cfg->log_facility);
	log_setlevel(srv.debug ? LOG_DEBUG : srv.cfg->log_level);
	watch_set_threshold_ms(srv.cfg->slow_callback_ms);
	/* The baseline for the fd report: inherited ones and syslog's. */
	resource_baseline();
	read_env();
	prepare_process();
	if (!foreground)
		daemonize_start();
	start_loop();
	reload_start_initial(srv.cfg, startup_done);
	/* The pool's wakeup is never "added": do not exit on an empty loop. */
	event_base_loop(srv.base, EVLOOP_NO_EXIT_ON_EMPTY);

	shutdown_all(srv.debug);
	if (exit_status == 0)
		log_info("exited cleanly");
	srv.config_file = NULL;
	free(config_file);
	free(pidfile);
	return exit_status;
}
