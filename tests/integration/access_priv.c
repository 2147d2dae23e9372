/*
 * The privilege drop (issue 12): brokerd started as root with user =
 * "nobody", its children, what keeps working after the drop, the reload
 * that needs root; and the systemd way (never root, an ambient
 * CAP_NET_BIND_SERVICE) through setpriv(1).
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/access.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

#define NOBODY	65534

#define PRIV_CONF \
	"user = \"nobody\";\n" \
	"listen = ( { service = \"broker\"; address = \"127.0.0.1\"; " \
	"port = 0; } );\n" \
	"limits = { max_clients_per_source = 1000; };\n" \
	"commands = {\n" \
	"  ids = { argv = [ \"sh\", \"-c\", \"id -u; id -g; id -G\" ]; };\n" \
	"  nap = { argv = [ \"sleep\", \"2\" ]; };\n" \
	"  forks = { argv = [ \"sh\", \"-c\", \"for i in 1 2 3 4 5 6 7 8 9 10 " \
	"11 12 13 14 15 16 17 18 19 20; do sleep 1 & done; wait\" ];\n" \
	"    limits = { processes = 12; }; };\n" \
	"};\n"

/* The line of /proc/PID/status that starts with key, without it. */
static char *
status_line(pid_t pid, const char *key, char *buf, size_t size)
{
	char	 path[64], line[256];
	FILE	*f;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return buf;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, strlen(key)) == 0) {
			snprintf(buf, size, "%s", line + strlen(key));
			buf[strcspn(buf, "\n")] = '\0';
			break;
		}
	fclose(f);
	return buf;
}

/* A port below 1024 that nobody listens on, or 0. */
static int
free_low_port(void)
{
	struct sockaddr_in	sin;
	int			fd, port;

	for (port = 1000; port > 900; port--) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			return 0;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons((uint16_t)port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			close(fd);
			return port;
		}
		close(fd);
	}
	return 0;
}

/* The config plus a listener on 127.0.0.1:port (0: none) and extra. */
static void
rewrite(struct daemon *d, int port, const char *extra)
{
	char	*text, more[256] = "";

	if (port > 0)
		snprintf(more, sizeof(more), "listen = ( { service = "
		    "\"broker\"; address = \"127.0.0.1\"; port = 0; },\n"
		    "  { service = \"echo\"; address = \"127.0.0.1\"; "
		    "port = %d; } );\n", port);
	if (asprintf(&text, "%s%s%s\ncontrol = { path = \"%s\"; };\n",
	    port > 0 ? strstr(PRIV_CONF, "limits") : PRIV_CONF, more,
	    extra, d->control) < 0)
		bail("asprintf");
	if (port > 0) {
		char *full;

		if (asprintf(&full, "user = \"nobody\";\n%s", text) < 0)
			bail("asprintf");
		free(text);
		text = full;
	}
	replace_text(d->conf, text);
	free(text);
}

static void
test_dropped(void)
{
	struct daemon	 d = { 0 };
	struct reply	 r;
	char		 buf[256], want[64], *out = NULL, *err = NULL;
	struct stat	 st;
	pid_t		 child;
	int		 fd, low;

	d_init(&d);
	/* The user reads the config on reload, as from /etc/brokerd. */
	chmod(d.dir, 0755);
	if (d_start(&d, PRIV_CONF, NULL) != 0)
		bail("daemon did not start");
	/* After the pidfile: once it is there, the drop is under way. */
	ok(d_log_wait(&d, "dropped privileges to user nobody (uid 65534, "
	    "gid 65534)", 1, 5000), "the drop is logged");
	snprintf(want, sizeof(want), "%d\t%d\t%d\t%d", NOBODY, NOBODY, NOBODY,
	    NOBODY);
	is_str(status_line(d.pid, "Uid:\t", buf, sizeof(buf)), want,
	    "daemon: Uid real, effective, saved, fs are nobody's");
	is_str(status_line(d.pid, "Gid:\t", buf, sizeof(buf)), want,
	    "daemon: Gid likewise");
	is_str(status_line(d.pid, "Groups:\t", buf, sizeof(buf)), "65534 ",
	    "daemon: no supplementary group but its own");
	snprintf(buf, sizeof(buf), "/proc/%d/fd", (int)d.pid);
	ok(stat(buf, &st) == 0 && st.st_uid == 0, "daemon: not dumpable "
	    "(its /proc/PID/fd stays root's: its commands cannot trace it)");
	is_int(request_from("127.0.0.1", d.broker_port, "RUN ids\nEND", buf,
	    sizeof(buf)), 0, "a command runs");
	fd = tcp_connect(d.broker_port);
	request(fd, "RUN ids\nEND", &r);
	is_str(r.data, "65534\n65534\n65534\n", "as nobody, group nogroup "
	    "only (id -u, -g, -G)");
	reply_free(&r);
	send_all(fd, "RUN nap\nEND\n", 12);
	child = stats_child_pid(d.broker_port, "nap", 5000);
	is_str(status_line(child, "Uid:\t", buf, sizeof(buf)), want,
	    "child (pid %d): Uid lines nobody's", (int)child);
	is_str(status_line(child, "Gid:\t", buf, sizeof(buf)), want,
	    "child: Gid likewise");
	read_reply(fd, &r, 10000);
	reply_free(&r);
	close(fd);
	is_int(request_from("127.0.0.1", d.broker_port, "RUN forks\nEND", buf,
	    sizeof(buf)), 502, "processes = 12 crossed by a fork loop: 502");
	ok(strstr(buf, "Cannot fork") != NULL, "fork failed (%s)", buf);

	/* What needs root was opened before: it still works. */
	snprintf(want, sizeof(want), "%d\n", (int)d.pid);
	ok(file_has(d.pidfile, want), "pidfile holds the daemon's pid");
	is_int(d_ctl(&d, "ping", &out, NULL), 0, "control socket after the "
	    "drop");
	free(out);
	rewrite(&d, 0, "");
	is_int(d_ctl(&d, "reload", &out, NULL), 0, "reload after the drop");
	free(out);
	ok(d_log_count(&d, "reloaded configuration (generation 2), asked "
	    "by control uid 0 pid ") == 1, "reloaded");

	/* A port below 1024 needs root or CAP_NET_BIND_SERVICE. */
	if ((low = free_low_port()) == 0)
		skip(3, "no free port in 901-1000 on 127.0.0.1");
	else {
		rewrite(&d, low, "");
		is_int(d_ctl(&d, "reload", &out, &err), 1,
		    "reload adding port %d after the drop fails", low);
		ok(err != NULL && strstr(err, "ERR 500") != NULL &&
		    strstr(err, "Permission denied") != NULL,
		    "with permission denied (%s)", err != NULL ? err : "");
		free(out);
		free(err);
		is_int(request_from("127.0.0.1", d.broker_port, "PING", NULL,
		    0), 0, "the old configuration still serves");
	}
	rewrite(&d, 0, "group = \"nogroup\";\n");
	is_int(d_ctl(&d, "reload", &out, NULL), 0, "reload setting group");
	free(out);
	ok(d_log_wait(&d, "user and group take effect only at a restart", 1,
	    3000), "the reload line says a restart is needed");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "daemon exits cleanly");
	ok(d_log_count(&d, "left in place: its directory is not writable "
	    "by uid 65534") == 1, "the pidfile left behind is explained");
	d_cleanup(&d);
}

static void
test_root_warning(void)
{
	struct daemon d = { 0 };

	if (d_start(&d, "listen = ( { service = \"echo\"; address = "
	    "\"127.0.0.1\"; port = 0; } );\n", NULL) != 0)
		bail("daemon did not start");
	/* Logged at the end of start-up: after the pidfile. */
	ok(d_log_wait(&d, "warning: running as root: set user in ", 1, 5000),
	    "as root without user: a warning");
	is_int(d_log_count(&d, "warning: running as root"), 1, "just one");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "daemon exits cleanly");
	d_cleanup(&d);
}

/* The unit's way: never root, CAP_NET_BIND_SERVICE as ambient set. */
static void
test_ambient(void)
{
	struct daemon	 d = { 0 };
	char		*out = NULL, *err = NULL, text[512];
	int		 low = free_low_port();

	if (low == 0) {
		skip(4, "no free port in 901-1000 on 127.0.0.1");
		return;
	}
	d_init(&d);
	if (chown(d.dir, NOBODY, NOBODY) != 0)
		bail("chown %s: %s", d.dir, strerror(errno));
	setenv("BROKERD_WRAPPER", "/usr/bin/setpriv --reuid=65534 "
	    "--regid=65534 --clear-groups --inh-caps=+net_bind_service "
	    "--ambient-caps=+net_bind_service", 1);
	snprintf(text, sizeof(text), "listen = ( { service = \"broker\"; "
	    "address = \"127.0.0.1\"; port = 0; } );\ncontrol = { path = "
	    "\"%s\"; };\n", d.control);
	if (d_start(&d, text, NULL) != 0)
		bail("daemon did not start under setpriv");
	unsetenv("BROKERD_WRAPPER");
	is_int(d_log_count(&d, "warning: running as root"), 0,
	    "not root: no warning");
	snprintf(text, sizeof(text), "listen = ( { service = \"broker\"; "
	    "address = \"127.0.0.1\"; port = 0; },\n { service = \"echo\"; "
	    "address = \"127.0.0.1\"; port = %d; } );\ncontrol = { path = "
	    "\"%s\"; };\n", low, d.control);
	replace_text(d.conf, text);
	is_int(d_ctl(&d, "reload", &out, &err), 0, "with CAP_NET_BIND_SERVICE "
	    "a reload adds port %d (%s)", low, err != NULL ? err : "");
	free(out);
	free(err);
	ok(echo_roundtrip(low, "low"), "and serves it");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "daemon exits cleanly");
	d_cleanup(&d);
}

void
test_privileges(void)
{
	if (geteuid() != 0) {
		skip(1, "not root: the privilege drop needs a root test run");
		return;
	}
	test_dropped();
	test_root_warning();
	if (harness_wrapped())
		skip(4, "under BROKERD_WRAPPER: setpriv cannot wrap it too");
	else if (access("/usr/bin/setpriv", X_OK) != 0)
		skip(4, "no /usr/bin/setpriv (util-linux)");
	else
		test_ambient();
}
