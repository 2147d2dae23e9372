/*
 * Lifecycle: SIGHUP reload, the control socket, SIGUSR1, the drain on
 * SIGTERM, systemd notifications and socket activation.
 */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/tap.h"

#define BASE \
	"listen = ( { service = \"echo\"; address = \"127.0.0.1\"; port = 0; },\n" \
	"  { service = \"broker\"; address = \"127.0.0.1\"; port = 0; } );\n" \
	"limits = { max_clients_per_source = 1000; max_children = 100; " \
	"shutdown_timeout_s = %d; };\n"

static const char *brokerctl;

static void
test_reload(void)
{
	struct daemon	 d = { 0 };
	struct reply	 r;
	char		 conf[2048], msg[64], *out, *err;
	int		 port = free_port(), bfd, st, busy, bport;

	snprintf(conf, sizeof(conf), BASE "commands = { upper = { argv = "
	    "[\"tr\", \"a-z\", \"A-Z\"]; input = true; }; };\n", 10);
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	bfd = tcp_connect(d.broker_port);
	is_int(request(bfd, "PING", &r), 0, "broker connection before reload");
	reply_free(&r);
	send_all(bfd, "RUN lower\nEND\n", 14);
	is_int(read_reply(bfd, &r, 5000), 404, "lower is not configured yet");
	reply_free(&r);

	/* A new listener, debug log level, a new command. */
	snprintf(conf, sizeof(conf), BASE "listen = ( { service = \"echo\"; "
	    "address = \"127.0.0.1\"; port = 0; }, { service = \"broker\"; "
	    "address = \"127.0.0.1\"; port = 0; }, { service = \"echo\"; "
	    "address = \"127.0.0.1\"; port = %d; } );\n"
	    "log = { level = \"debug\"; };\n"
	    "control = { path = \"%s\"; };\n"
	    "commands = { lower = { argv = [\"tr\", \"A-Z\", \"a-z\"]; "
	    "input = true; }; };\n", 10, port, d.control);
	/* BASE's listen = is overridden by the later one: strip it. */
	memmove(conf, strstr(conf, "limits"), strlen(strstr(conf, "limits"))
	    + 1);
	replace_text(d.conf, conf);
	kill(d.pid, SIGHUP);
	ok(d_log_wait(&d, "reloaded configuration (generation 2)", 1, 10000),
	    "SIGHUP: reloaded configuration (generation 2)");
	ok(echo_roundtrip(port, "new port"), "the new listener serves");
	ok(echo_roundtrip(d.echo_port, "old port"), "the kept one still does");
	is_int(request(bfd, "PING", &r), 0,
	    "a connection open across the reload keeps working");
	reply_free(&r);
	send_all(bfd, "RUN lower\nDATA 5\nHeLLoEND\n", 26);
	read_reply(bfd, &r, 5000);
	ok(r.code == 0 && r.len == 5 && memcmp(r.data, "hello", 5) == 0,
	    "the new command table applies");
	reply_free(&r);
	send_all(bfd, "UPPER\nEND\n", 10);
	is_int(read_reply(bfd, &r, 5000), 404, "the removed command is gone");
	reply_free(&r);
	ok(echo_roundtrip(port, "x") &&
	    d_log_wait(&d, ": connection accepted", 1, 3000),
	    "the new log level applies (debug lines appear)");

	/* A syntax error: keep serving, report file:line. */
	replace_text(d.conf, "workers = 3;\n\nlimits = { max_line = ; };\n");
	kill(d.pid, SIGHUP);
	ok(d_log_wait(&d, "reload failed; still serving generation 2", 1,
	    10000), "a bad file: reload failed, still generation 2");
	ok(d_log_count(&d, "brokerd.conf:3: syntax error") >= 1,
	    "the error is logged with its line");
	ok(echo_roundtrip(port, "still"), "and the old config still serves");

	/* Through the control socket: outcome and errors. */
	st = d_ctl(&d, "reload", &out, &err);
	ok(st == 1 && strstr(err, "brokerd.conf:3: syntax error") != NULL,
	    "brokerctl reload on a bad file: exit 1 with the error");
	free(out); free(err);

	/* A listener that cannot bind fails the reload atomically. */
	{
		int	 lfd = listening_socket(&busy), fresh = free_port();

		snprintf(conf, sizeof(conf), "limits = { max_clients_per_source"
		    " = 1000; };\ncontrol = { path = \"%s\"; };\nlisten = ( "
		    "{ service = \"echo\"; address = \"127.0.0.1\"; port = 0;"
		    " }, { service = \"broker\"; address = \"127.0.0.1\"; "
		    "port = 0; }, { service = \"echo\"; address = "
		    "\"127.0.0.1\"; port = %d; }, { service = \"echo\"; "
		    "address = \"127.0.0.1\"; port = %d; }, { service = "
		    "\"echo\"; address = \"127.0.0.1\"; port = %d; } );\n",
		    d.control, port, fresh, busy);
		replace_text(d.conf, conf);
		st = d_ctl(&d, "reload", &out, &err);
		snprintf(msg, sizeof(msg), "cannot bind 127.0.0.1:%d", busy);
		ok(st == 1 && strstr(err, msg) != NULL,
		    "a port in use fails the reload, naming it");
		free(out); free(err);
		ok(tcp_connect(fresh) < 0, "the listener opened before the "
		    "failure was closed again (no half-applied state)");
		ok(echo_roundtrip(port, "kept"), "old listeners untouched");
		close(lfd);
	}

	/* A good file through the control socket. */
	snprintf(conf, sizeof(conf), "limits = { max_clients_per_source = "
	    "1000; };\ncontrol = { path = \"%s\"; };\nlisten = ( { service ="
	    " \"broker\"; address = \"127.0.0.1\"; port = 0; } );\n",
	    d.control);
	replace_text(d.conf, conf);
	st = d_ctl(&d, "reload", &out, &err);
	ok(st == 0 && strstr(out, "generation 3") != NULL,
	    "brokerctl reload: exit 0, generation 3");
	free(out); free(err);
	ok(tcp_connect(port) < 0 && tcp_connect(d.echo_port) < 0,
	    "removed listeners are closed to new connections");
	is_int(request(bfd, "PING", &r), 0,
	    "while their connections continue");
	reply_free(&r);
	bport = d.broker_port;
	(void)bport;

	/* Admin verbs only on the control socket. */
	is_int(request(bfd, "RELOAD", &r), 404, "RELOAD over TCP: 404");
	reply_free(&r);
	is_int(request(bfd, "LOGLEVEL debug", &r), 404,
	    "LOGLEVEL over TCP: 404");
	reply_free(&r);
	st = d_ctl(&d, "stats", &out, &err);
	ok(st == 0 && strstr(out, "reloads_ok") != NULL &&
	    strstr(out, "reloads_failed") != NULL,
	    "brokerctl stats over the control socket");
	free(out); free(err);
	{
		char *argv[] = { (char *)brokerctl, "-S", d.control,
		    "loglevel", "notice", NULL };

		st = run_prog(argv, NULL, 0, &out, NULL, &err, 5000);
		ok(st == 0 && d_log_wait(&d, "log level set to notice", 1,
		    3000), "brokerctl loglevel");
		free(out); free(err);
	}
	{
		struct stat sb;

		ok(stat(d.control, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
		    (sb.st_mode & 0777) == 0600, "control socket mode 0600");
	}
	close(bfd);

	/* SIGUSR1: the state dump. */
	kill(d.pid, SIGUSR1);
	ok(d_log_wait(&d, "state: version: ", 1, 5000) &&
	    d_log_wait(&d, "state: config_generation: 3", 1, 5000) &&
	    d_log_wait(&d, "state: reloads_ok: 2", 1, 5000) &&
	    d_log_wait(&d, "state: reloads_failed: 3", 1, 5000) &&
	    d_log_wait(&d, "state: connections: ", 1, 5000) &&
	    d_log_wait(&d, "state: listener.0: broker 127.0.0.1:", 1, 5000),
	    "SIGUSR1 dumps version, generation, counters, listeners");

	is_int(d_stop(&d, SIGTERM, 10000), 0, "SIGTERM: exit 0");
	ok(access(d.control, F_OK) != 0, "control socket removed at exit");
	ok(access(d.pidfile, F_OK) != 0, "pidfile removed at exit");
	d_cleanup(&d);
}

/* A reload blocked on a FIFO: off the loop, and HUPs are not lost. */
static void
test_reload_fifo(void)
{
	struct daemon	d = { 0 };
	char		conf[1024], body[2048];
	int		fd, gens;
	long long	t0;

	snprintf(conf, sizeof(conf), BASE, 10);
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	snprintf(body, sizeof(body), "%s\ncontrol = { path = \"%s\"; };\n",
	    conf, d.control);
	unlink(d.conf);
	mkfifo(d.conf, 0600);
	kill(d.pid, SIGHUP);
	usleep(200000);
	t0 = now_ms();
	ok(echo_roundtrip(d.echo_port, "not stalled") && now_ms() - t0 < 500,
	    "a reload blocked reading a FIFO does not stall echo");
	/* Three more HUPs while that reload waits: one more reload. */
	kill(d.pid, SIGHUP);
	kill(d.pid, SIGHUP);
	kill(d.pid, SIGHUP);
	usleep(100000);
	fd = open(d.conf, O_WRONLY);
	write(fd, body, strlen(body));
	close(fd);
	ok(d_log_wait(&d, "reloaded configuration (generation 2)", 1, 5000),
	    "the blocked reload completes");
	fd = open(d.conf, O_WRONLY);
	write(fd, body, strlen(body));
	close(fd);
	ok(d_log_wait(&d, "reloaded configuration (generation 3)", 1, 5000),
	    "a HUP during a reload causes exactly one more");
	usleep(300000);
	gens = d_log_count(&d, "reloading ");
	is_int(gens, 2, "the burst coalesced (2 reloads for 4 HUPs)");
	unlink(d.conf);
	replace_text(d.conf, body);
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d);
}

/* 50 clients streaming, UPPER running, 100 HUPs: nothing lost. */
struct stream_arg {
	int	port;
	int	broker;
	int	ok;
};

static void *
stream_client(void *p)
{
	struct stream_arg	*a = p;
	size_t			 len = 2 * 1024 * 1024, i, w = 0, rd = 0;
	char			*buf = malloc(len), *back = malloc(len);
	struct pollfd		 pfd;
	int			 fd = tcp_connect(a->port);
	ssize_t			 n;

	for (i = 0; i < len; i++)
		buf[i] = (char)(i * 31 + (size_t)a->port);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (rd < len) {
		pfd.fd = fd;
		pfd.events = POLLIN | (w < len ? POLLOUT : 0);
		if (poll(&pfd, 1, 10000) <= 0)
			break;
		if ((pfd.revents & POLLOUT) && w < len) {
			n = send(fd, buf + w, len - w > 8192 ? 8192 : len - w,
			    MSG_NOSIGNAL);
			if (n > 0)
				w += (size_t)n;
			/* Trickle, so the stream spans the HUP storm. */
			usleep(2000);
		}
		if (pfd.revents & (POLLIN | POLLHUP)) {
			n = read(fd, back + rd, len - rd);
			if (n <= 0)
				break;
			rd += (size_t)n;
		}
	}
	a->ok = rd == len && memcmp(buf, back, len) == 0;
	close(fd);
	free(buf);
	free(back);
	return NULL;
}

static void *
upper_client(void *p)
{
	struct stream_arg	*a = p;
	struct reply		 r;
	char			 hdr[64], data[4096], want[4096];
	int			 fd = tcp_connect(a->broker), i, j, good = 1;

	for (i = 0; i < 20 && good; i++) {
		for (j = 0; j < (int)sizeof(data); j++) {
			data[j] = (char)('a' + (i + j) % 26);
			want[j] = (char)(data[j] - 'a' + 'A');
		}
		snprintf(hdr, sizeof(hdr), "UPPER\nDATA %zu\n", sizeof(data));
		send_all(fd, hdr, strlen(hdr));
		send_all(fd, data, sizeof(data));
		send_all(fd, "END\n", 4);
		read_reply(fd, &r, 20000);
		good = r.code == 0 && r.len == sizeof(data) &&
		    memcmp(r.data, want, r.len) == 0;
		reply_free(&r);
		usleep(20000);
	}
	a->ok = good;
	close(fd);
	return NULL;
}

static void
test_hup_storm(void)
{
	enum { NECHO = 45, NUPPER = 5 };
	struct daemon		d = { 0 };
	struct stream_arg	args[NECHO + NUPPER];
	pthread_t		th[NECHO + NUPPER];
	char			conf[1024];
	int			i, good = 0, fds0, thr0;

	snprintf(conf, sizeof(conf), BASE, 10);
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	/* One reload first so lazily created state exists in both counts. */
	kill(d.pid, SIGHUP);
	d_log_wait(&d, "reloaded configuration (generation 2)", 1, 5000);
	usleep(100000);
	fds0 = proc_nfds(d.pid);
	thr0 = proc_nthreads(d.pid);
	for (i = 0; i < NECHO + NUPPER; i++) {
		args[i].port = d.echo_port;
		args[i].broker = d.broker_port;
		args[i].ok = 0;
		pthread_create(&th[i], NULL, i < NECHO ? stream_client :
		    upper_client, &args[i]);
	}
	usleep(200000);
	for (i = 0; i < 100; i++) {
		kill(d.pid, SIGHUP);
		usleep(5000);
	}
	for (i = 0; i < NECHO + NUPPER; i++) {
		pthread_join(th[i], NULL);
		good += args[i].ok;
	}
	is_int(good, NECHO + NUPPER, "100 SIGHUPs under load: all 45 echo "
	    "streams and 5 UPPER clients byte-exact");
	ok(d_log_wait(&d, "reloaded configuration", 3, 10000) &&
	    d_log_count(&d, "reload failed") == 0, "reloads happened, none "
	    "failed");
	usleep(500000);
	is_int(proc_nfds(d.pid), fds0, "no extra fd after the storm");
	is_int(proc_nthreads(d.pid), thr0, "no extra thread after the storm");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d);
}

/* The 100 MiB UPPER of test_drain, SIGTERM sent 10 MiB into it. */
struct drain {
	struct daemon	*d;
	int		 idle;		/* a connection with nothing running */
	int		 termed;	/* 1: SIGTERM sent; 2: checked */
};

static void
drain_fill(char *buf, size_t off, size_t n, void *arg)
{
	(void)off;
	(void)arg;
	memset(buf, 'q', n);
}

static char
drain_want(size_t off, void *arg)
{
	(void)off;
	(void)arg;
	return 'Q';
}

static void
drain_tick(struct pump *p, void *arg)
{
	struct drain	*dr = arg;
	struct reply	 r;

	if (dr->termed == 0 && p->queued > 10 * 1024 * 1024) {
		dr->termed = 1;
		kill(dr->d->pid, SIGTERM);
		d_log_wait(dr->d, "draining", 1, 5000);
	} else if (dr->termed == 1) {
		dr->termed = 2;
		/* Meanwhile: new connections refused, new requests 503. */
		ok(tcp_connect(dr->d->broker_port) < 0,
		    "draining: listeners closed");
		is_int(request(dr->idle, "PING", &r), 503,
		    "draining: a new request gets ERR 503");
		reply_free(&r);
	}
}

/* SIGTERM: running work finishes, new work is refused, then exit. */
static void
test_drain(void)
{
	struct daemon	d = { 0 };
	struct drain	dr = { &d, -1, 0 };
	struct pump	p = { 0 };
	const size_t	total = 100 * 1024 * 1024;
	char		conf[1024];
	int		fd;
	long long	t0;

	snprintf(conf, sizeof(conf), BASE, 20);
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	dr.idle = tcp_connect(d.broker_port);
	fd = tcp_connect(d.broker_port);
	p.req = "UPPER";
	p.len = total;
	p.frame = 65536;
	p.fill = drain_fill;
	p.want = drain_want;
	p.tick = drain_tick;
	p.arg = &dr;
	p.timeout_ms = 60000;
	pump_run(fd, &p);
	ok(p.code == 0 && p.got == total && p.bad == 0, "SIGTERM mid-stream: "
	    "the 100 MiB UPPER finished byte-exact (%zu bytes)", p.got);
	close(fd);
	is_int(d_stop(&d, 0, 10000), 0, "then the daemon exits 0");
	close(dr.idle);
	d_cleanup(&d);

	/* A child that ignores SIGTERM is killed at the deadline. */
	memset(&d, 0, sizeof(d));
	snprintf(conf, sizeof(conf), BASE "commands = { stubborn = { argv = "
	    "[\"sh\", \"-c\", \"trap '' TERM; sleep 30; echo done\"]; }; };\n",
	    1);
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	fd = tcp_connect(d.broker_port);
	send_all(fd, "RUN stubborn\nEND\n", 17);
	while (proc_nchildren(d.pid) < 1)
		usleep(10000);
	t0 = now_ms();
	kill(d.pid, SIGTERM);
	ok(d_stop(&d, 0, 10000) == 0 && now_ms() - t0 < 5000,
	    "a child ignoring SIGTERM: killed at the deadline, exit 0 "
	    "(%lld ms)", now_ms() - t0);
	ok(d_log_count(&d, "shutdown_timeout_s reached") == 1,
	    "the deadline is logged");
	close(fd);
	d_cleanup(&d);

	/* A second SIGTERM exits at once. */
	memset(&d, 0, sizeof(d));
	snprintf(conf, sizeof(conf), BASE "commands = { nap = { argv = "
	    "[\"sleep\", \"30\"]; }; };\n", 20);
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	fd = tcp_connect(d.broker_port);
	send_all(fd, "RUN nap\nEND\n", 12);
	while (proc_nchildren(d.pid) < 1)
		usleep(10000);
	kill(d.pid, SIGTERM);
	d_log_wait(&d, "draining", 1, 5000);
	t0 = now_ms();
	kill(d.pid, SIGTERM);
	ok(d_stop(&d, 0, 5000) == 0 && now_ms() - t0 < 2000,
	    "second SIGTERM: exit 0 at once (%lld ms)", now_ms() - t0);
	ok(access(d.pidfile, F_OK) != 0, "pidfile removed");
	close(fd);
	d_cleanup(&d);
}

static void
test_control_socket(void)
{
	struct daemon		d = { 0 }, d2 = { 0 };
	struct sockaddr_un	sun = { 0 };
	char			conf[1024];
	int			fd;

	d_init(&d);
	/* A stale socket file, as a crash leaves it. */
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
	    d.control) >= sizeof(sun.sun_path))
		bail("control path too long");
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	snprintf(conf, sizeof(conf), BASE, 10);
	ok(d_start(&d, conf, NULL) == 0, "a stale control socket is replaced");
	{
		char *out, *err;

		ok(d_ctl(&d, "ping", &out, &err) == 0, "and answers");
		free(out); free(err);
	}
	/* A live one is never stolen. */
	d_init(&d2);
	snprintf(conf, sizeof(conf), BASE "control = { path = \"%s\"; };\n",
	    10, d.control);
	ok(d_start(&d2, conf, NULL) != 0 && d2.exited &&
	    WIFEXITED(d2.status) && WEXITSTATUS(d2.status) == 1,
	    "a second daemon on a live control socket refuses to start");
	ok(d_log_count(&d2, "another daemon answers on") == 1,
	    "saying why");
	d_cleanup(&d2);

	/* Another uid is refused before anything is read. */
	if (geteuid() == 0) {
		pid_t	pid = fork();
		int	st;

		if (pid == 0) {
			char	buf[64];
			ssize_t	n;

			if (chmod(d.dir, 0755) != 0 || chmod(d.control, 0666) ||
			    setgid(65534) != 0 || setuid(65534) != 0)
				_exit(3);
			fd = socket(AF_UNIX, SOCK_STREAM, 0);
			if (connect(fd, (struct sockaddr *)&sun,
			    sizeof(sun)) != 0)
				_exit(4);
			send(fd, "PING\n", 5, MSG_NOSIGNAL);
			/* Told why, and nothing more: no pong. */
			n = read(fd, buf, sizeof(buf));
			if (n != 22 || memcmp(buf, "ERR 403 not permitted\n",
			    22) != 0)
				_exit(5);
			_exit(read(fd, buf, sizeof(buf)) == 0 ? 0 : 6);
		}
		waitpid(pid, &st, 0);
		ok(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "a peer with another uid is refused: ERR 403 not permitted, "
		    "then EOF (status %d)",
		    WEXITSTATUS(st));
		ok(d_log_wait(&d, "control: refusing uid 65534", 1, 3000),
		    "and the refusal is logged");
	} else
		skip(2, "not root: cannot connect as another uid");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d);
}

/*
 * Out of fds with a client waiting on the control socket: the control
 * listener pauses and retries like the TCP ones, instead of spinning on
 * accept(); once fds are free again, brokerctl gets in.
 */
static void
test_control_fd_limit(void)
{
	enum { N = 80 };
	struct daemon	 d = { 0 };
	struct rlimit	 orig, low;
	char		 conf[1024], *out, *err;
	long long	 t0, ticks0, ticks1;
	int		 fds[N], i, cfd, st, lines, spins;

	snprintf(conf, sizeof(conf), BASE, 10);
	getrlimit(RLIMIT_NOFILE, &orig);
	low = orig;
	low.rlim_cur = 64;
	if (setrlimit(RLIMIT_NOFILE, &low) != 0)
		bail("setrlimit 64: %s", strerror(errno));
	/* Kept as it is: the daemon would raise it (brokerd(8), LIMITS). */
	setenv("BROKERD_NOFILE", "keep", 1);
	i = d_start(&d, conf, NULL);
	unsetenv("BROKERD_NOFILE");
	if (setrlimit(RLIMIT_NOFILE, &orig) != 0)
		bail("setrlimit back: %s", strerror(errno));
	if (i != 0)
		bail("daemon did not start");
	for (i = 0; i < N; i++)
		fds[i] = tcp_connect(d.echo_port);
	ok(d_log_wait(&d, "Too many open files", 1, 5000), "%d echo "
	    "connections use up the daemon's 64 fds", N);
	cfd = unix_connect(d.control);
	usleep(300000);
	ticks0 = proc_cpu_ticks(d.pid);
	usleep(2000000);
	ticks1 = proc_cpu_ticks(d.pid);
	ok(cfd >= 0 && ticks0 >= 0 && ticks1 - ticks0 < 50, "a client "
	    "waiting on the control socket at the fd limit: no busy loop (%lld "
	    "ticks of CPU in 2 s)", ticks1 - ticks0);
	lines = d_log_count(&d, "Too many open files");
	spins = d_log_count(&d, "Error from accept");
	ok(lines <= 2 && spins == 0, "the accept errors are logged %d "
	    "time(s), libevent's own warning %d times", lines, spins);
	for (i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (cfd >= 0)
		close(cfd);
	t0 = now_ms();
	do {
		st = d_ctl(&d, "reload", &out, &err);
		if (st != 0) {
			free(out);
			free(err);
			usleep(100000);
		}
	} while (st != 0 && now_ms() - t0 < 10000);
	ok(st == 0 && strstr(out, "generation 2") != NULL, "once fds are "
	    "free, brokerctl reload works again (%lld ms)", now_ms() - t0);
	if (st == 0) {
		free(out);
		free(err);
	}
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d);
}

/*
 * A reload that finishes while the daemon drains must not reopen what
 * the drain closed: the config file is a FIFO, fed after SIGTERM, while
 * a command keeps the drain going.
 */
static void
test_reload_during_drain(void)
{
	struct daemon	 d = { 0 };
	struct reply	 r;
	char		 conf[1024], seen[4096] = "", *stop;
	int		 port = free_port(), nfd = -1, bfd, fd, listening, late;
	long long	 t0;

	snprintf(conf, sizeof(conf), "listen = ( { service = \"echo\"; "
	    "address = \"127.0.0.1\"; port = %d; }, { service = \"broker\"; "
	    "address = \"127.0.0.1\"; port = 0; } );\nlimits = { "
	    "shutdown_timeout_s = 20; };\ncommands = { nap = { argv = "
	    "[\"sleep\", \"3\"]; }; };\n", port);
#ifdef HAVE_LIBSYSTEMD
	nfd = notify_listen(&d);
#endif
	if (d_start(&d, conf, "-d") != 0)
		bail("daemon did not start");
	unsetenv("NOTIFY_SOCKET");
	listening = d_log_count(&d, "listening on ");
	snprintf(conf + strlen(conf), sizeof(conf) - strlen(conf),
	    "control = { path = \"%s\"; };\n", d.control);
	unlink(d.conf);
	if (mkfifo(d.conf, 0600) != 0)
		bail("mkfifo: %s", strerror(errno));
	kill(d.pid, SIGHUP);
	d_log_wait(&d, "reloading ", 1, 5000);
	bfd = tcp_connect(d.broker_port);
	send_all(bfd, "RUN nap\nEND\n", 12);
	while (proc_nchildren(d.pid) < 1)
		usleep(10000);
	kill(d.pid, SIGTERM);
	d_log_wait(&d, "draining", 1, 5000);
	if ((fd = open(d.conf, O_WRONLY)) < 0 ||
	    write(fd, conf, strlen(conf)) != (ssize_t)strlen(conf))
		bail("cannot feed the FIFO: %s", strerror(errno));
	close(fd);
	/* Either outcome ends the wait: the checks run while it drains. */
	t0 = now_ms();
	while (d_log_count(&d, "finished after the drain began; discarded") +
	    d_log_count(&d, "reloaded configuration") == 0 &&
	    now_ms() - t0 < 5000)
		usleep(10000);
	ok(d_log_count(&d, "finished after the drain began; discarded") == 1,
	    "a reload that ends during the drain is discarded, and logged");
	usleep(100000);
	late = tcp_connect(port);
	ok(late < 0 && d_log_count(&d, "listening on ") == listening,
	    "no listener is opened again");
	if (late >= 0)
		close(late);
	ok(access(d.control, F_OK) != 0, "nor the control socket");
	is_int(read_reply(bfd, &r, 10000), 0, "the running command finishes");
	reply_free(&r);
	close(bfd);
	is_int(d_stop(&d, 0, 10000), 0, "then the daemon exits 0");
	ok(d_log_count(&d, "discarded") == 1, "the discard is logged once");
	/* A connection the client closed as the drain ended may be listed. */
	ok(d_log_count(&d, "resource report: fd ") == 0 &&
	    d_log_count(&d, "still registered") == 0,
	    "no fd or event left open at exit (debug resource report)");
	ok(access(d.control, F_OK) != 0 && access(d.pidfile, F_OK) != 0,
	    "no socket file or pidfile left");
#ifdef HAVE_LIBSYSTEMD
	notify_collect(nfd, seen, sizeof(seen), 500);
	stop = strstr(seen, "STOPPING=1");
	ok(stop != NULL && strstr(stop, "READY=1") == NULL,
	    "no READY=1 after STOPPING=1 (%s)", seen);
	close(nfd);
#else
	(void)seen;
	(void)stop;
	skip(1, "built without libsystemd");
#endif
	unlink(d.conf);
	d_cleanup(&d);
}

struct spammer {
	pid_t		 pid;
	int		 stop;		/* atomic */
	unsigned long	 sent;
};

static void *
spam(void *arg)
{
	struct spammer *s = arg;

	while (!__atomic_load_n(&s->stop, __ATOMIC_RELAXED)) {
		kill(s->pid, SIGTERM);
		s->sent++;
	}
	return NULL;
}

/*
 * SIGTERM after SIGTERM, from the drain to the very end: every one is
 * handled (exit 0, pidfile and socket removed), none kills the daemon
 * with the default action.  Ten rounds: the window was short (a third
 * of the rounds hit it).
 */
static void
test_signals_until_exit(void)
{
	enum { ROUNDS = 10 };
	struct daemon	 d;
	struct spammer	 sp;
	pthread_t	 th;
	siginfo_t	 si;
	char		 conf[1024];
	int		 round, good = 0, st;
	long long	 t0;

	snprintf(conf, sizeof(conf), BASE, 10);
	for (round = 0; round < ROUNDS; round++) {
		memset(&d, 0, sizeof(d));
		if (d_start(&d, conf, NULL) != 0)
			bail("daemon did not start");
		/* The loop runs: its signal events are in place. */
		if (!echo_roundtrip(d.echo_port, "up"))
			bail("daemon does not serve");
		memset(&sp, 0, sizeof(sp));
		sp.pid = d.pid;
		pthread_create(&th, NULL, spam, &sp);
		/* Stop before reaping it: its pid must not be reused. */
		t0 = now_ms();
		do {
			memset(&si, 0, sizeof(si));
			if (waitid(P_PID, (id_t)d.pid, &si, WEXITED | WNOHANG |
			    WNOWAIT) == 0 && si.si_pid == d.pid)
				break;
			usleep(1000);
		} while (now_ms() - t0 < 30000);
		__atomic_store_n(&sp.stop, 1, __ATOMIC_RELAXED);
		pthread_join(th, NULL);
		st = d_stop(&d, SIGKILL, 5000);
		if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
		    access(d.pidfile, F_OK) != 0 && access(d.control, F_OK) != 0)
			good++;
		else
			diag("round %d: status 0x%x (%s %d), %lu SIGTERMs", round,
			    st, WIFSIGNALED(st) ? "signal" : "exit",
			    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
			    sp.sent);
		d_cleanup(&d);
	}
	is_int(good, ROUNDS, "SIGTERMs sent without pause until the daemon "
	    "is gone: exit 0, pidfile and socket removed, %d of %d rounds",
	    good, ROUNDS);
}

/*
 * A grandchild that calls setsid leaves its command's process group; as
 * a subreaper brokerd still gets it, and kills it once every command
 * that may have left it has ended, not before.
 */
static void
test_orphans(void)
{
	struct daemon	 d = { 0 };
	struct reply	 r;
	char		 conf[2048], buf[256], *nl;
	int		 afd, bfd, state, gone;
	pid_t		 orphan = 0;
	long long	 t0;
	ssize_t		 n;
	size_t		 have = 0;

	/* The pause lets setsid run before the leader's group is killed. */
	snprintf(conf, sizeof(conf), BASE "commands = {\n"
	    "  escape = { argv = [\"sh\", \"-c\", \"setsid sleep 300 "
	    "</dev/null >/dev/null 2>&1 & sleep 0.5; echo $!\"]; };\n"
	    "  keeper = { argv = [\"sh\", \"-c\", \"sh -c 'setsid sleep 300 "
	    "</dev/null >/dev/null 2>&1 & sleep 0.5; echo $!'; sleep 2; "
	    "echo done\"]; };\n"
	    "  quick = { argv = [\"true\"]; };\n};\n", 10);
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");

	afd = tcp_connect(d.broker_port);
	send_all(afd, "RUN escape\nEND\n", 15);
	read_reply(afd, &r, 10000);
	orphan = r.code == 0 ? (pid_t)atoi(r.data) : 0;
	reply_free(&r);
	t0 = now_ms();
	while (orphan > 0 && (state = proc_state(orphan)) != '?' &&
	    now_ms() - t0 < 5000)
		usleep(10000);
	gone = orphan > 0 && proc_state(orphan) == '?';
	ok(gone, "a grandchild that called setsid is killed and reaped once "
	    "its command ended (%lld ms)", now_ms() - t0);
	if (orphan > 0 && !gone)
		kill(orphan, SIGKILL);
	ok(d_log_count(&d, "left behind by a command that ended") == 1,
	    "its killing is logged");

	/* An orphan whose command still runs is left alone meanwhile. */
	send_all(afd, "RUN keeper\nEND\n", 15);
	t0 = now_ms();
	while ((nl = memchr(buf, '\n', have)) == NULL ||
	    (nl = memchr(nl + 1, '\n', have - (size_t)(nl + 1 - buf))) == NULL) {
		if (now_ms() - t0 > 10000 || have == sizeof(buf))
			break;
		n = read(afd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	/* "DATA n\nPID\n" */
	orphan = nl != NULL ? (pid_t)atoi(strchr(buf, '\n') + 1) : 0;
	bfd = tcp_connect(d.broker_port);
	send_all(bfd, "RUN quick\nEND\n", 14);
	is_int(read_reply(bfd, &r, 10000), 0, "another command ends meanwhile");
	reply_free(&r);
	close(bfd);
	usleep(200000);
	state = orphan > 0 ? proc_state(orphan) : '?';
	ok(state != '?' && state != 'Z', "the orphan of a command still "
	    "running is not killed when another one ends (state %c)", state);
	read_reply(afd, &r, 10000);
	ok(r.code == 0 && strstr(r.data, "done") != NULL, "its command "
	    "finishes");
	reply_free(&r);
	t0 = now_ms();
	while (orphan > 0 && proc_state(orphan) != '?' &&
	    now_ms() - t0 < 5000)
		usleep(10000);
	gone = orphan > 0 && proc_state(orphan) == '?';
	ok(gone, "then the orphan is killed and reaped (%lld ms)",
	    now_ms() - t0);
	if (orphan > 0 && !gone)
		kill(orphan, SIGKILL);
	request(afd, "STATS", &r);
	is_int(stat_value(r.data, "orphans_killed"), 2,
	    "STATS orphans_killed counts both");
	reply_free(&r);
	close(afd);
	is_int(proc_nchildren(d.pid), 0, "no child or zombie left");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d);
}

static void
test_systemd(void)
{
#ifdef HAVE_LIBSYSTEMD
	struct daemon		d = { 0 };
	char			conf[1024], buf[512], seen[2048] = "";
	int			nfd, lfd, port;

	nfd = notify_listen(&d);
	lfd = listening_socket(&port);
	harness_listen_fd = lfd;
	snprintf(conf, sizeof(conf), "listen = ( { service = \"echo\"; "
	    "address = \"127.0.0.1\"; port = %d; } );\n", port);
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	harness_listen_fd = -1;
	unsetenv("NOTIFY_SOCKET");
	close(lfd);
	snprintf(buf, sizeof(buf), "adopted socket 127.0.0.1:%d from systemd",
	    port);
	ok(d_log_count(&d, buf) == 1, "LISTEN_FDS: the passed socket is "
	    "adopted");
	ok(echo_roundtrip(port, "activated"), "and serves");
	kill(d.pid, SIGHUP);
	d_log_wait(&d, "reloaded configuration", 1, 5000);
	kill(d.pid, SIGTERM);
	is_int(d_stop(&d, 0, 10000), 0, "socket-activated daemon exits 0");
	notify_collect(nfd, seen, sizeof(seen), 1000);
	ok(strncmp(seen, "READY=1|RELOADING=1\nMONOTONIC_USEC=", 35) == 0 &&
	    strstr(seen, "|READY=1|STOPPING=1|") != NULL,
	    "NOTIFY_SOCKET gets READY=1, RELOADING=1, READY=1, STOPPING=1 in "
	    "order");
	if (strncmp(seen, "READY=1|RELOADING=1", 19) != 0)
		diag("seen: %s", seen);
	close(nfd);
	d_cleanup(&d);
#else
	skip(4, "built without libsystemd");
#endif
}

static void
test_unit_verify(void)
{
	const char	*top = getenv("TOP_SRCDIR"), *bd = getenv("BROKERD");
	char		 in[512], unit[512], cmd[8192], *argv[5], *out, *err;
	int		 st;

	if (access("/usr/bin/systemd-analyze", X_OK) != 0) {
		skip(1, "systemd-analyze is not installed");
		return;
	}
	snprintf(in, sizeof(in), "%s/systemd/brokerd.service.in", top);
	snprintf(unit, sizeof(unit), "/tmp/brokerd-verify-%d/brokerd.service",
	    (int)getpid());
	snprintf(cmd, sizeof(cmd), "mkdir -p $(dirname %s) && sed -e "
	    "'s|@sbindir@/brokerd|%s|g' -e 's|@bindir@/brokerctl|%s|g' -e "
	    "'s|@sysconfdir@|/etc|g' -e 's|@runstatedir@|/run|g' -e "
	    "'s|@SERVICE_TYPE@|notify|g' -e 's|@NOTIFY_ONLY@||g' %s > %s && "
	    "systemd-analyze verify --man=no %s; s=$?; rm -rf $(dirname %s); exit $s",
	    unit, bd, brokerctl, in, unit, unit, unit);
	argv[0] = "/bin/sh"; argv[1] = "-c"; argv[2] = cmd; argv[3] = NULL;
	st = run_prog(argv, NULL, 0, &out, NULL, &err, 30000);
	ok(st == 0, "systemd-analyze verify brokerd.service");
	if (st != 0)
		diag("%s", err);
	free(out); free(err);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	brokerctl = getenv("BROKERCTL");
	if (brokerctl == NULL)
		bail("BROKERCTL must be set");
	test_reload();
	test_reload_fifo();
	test_hup_storm();
	test_drain();
	test_control_socket();
	test_control_fd_limit();
	test_reload_during_drain();
	test_signals_until_exit();
	test_orphans();
	test_systemd();
	test_unit_verify();
	return done_testing();
}
