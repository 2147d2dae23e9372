/*
 * Files brokerd creates where someone else may have been first: the
 * control socket's directory and path, its temporary names, the pidfile
 * and its temporary name, and paths given relative to where it started.
 * Symbolic links are planted in directories of our own, aimed at files
 * whose mode and content must not change.
 */
#include "autoconf.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/tap.h"

#define LISTEN \
	"listen = ( { service = \"echo\"; address = \"127.0.0.1\"; port = 0; }," \
	"\n  { service = \"broker\"; address = \"127.0.0.1\"; port = 0; } );\n"
#define SECRET	"secret: must not change\n"
#define NOBODY	65534

/* A config for d with the control socket at path, mode as given. */
static void
control_conf(char *buf, size_t size, const char *path, const char *mode)
{
	snprintf(buf, size, LISTEN "control = { path = \"%s\"; mode = \"%s\"; "
	    "};\n", path, mode);
}

/* Whether path is a symbolic link to target. */
static int
is_link_to(const char *path, const char *target)
{
	char	buf[512];
	ssize_t	n = readlink(path, buf, sizeof(buf) - 1);

	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, target) == 0;
}

static int
is_socket(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Entries of dir whose name starts with prefix. */
static int
count_prefix(const char *dir, const char *prefix)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	int		 n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/*
 * Starts a daemon whose control socket is in sub (created with mode and,
 * if uid is not -1, chowned); returns whether the socket came up.
 */
static int
start_in_dir(struct daemon *d, const char *sub, int mode, int uid,
    char *path, size_t pathlen)
{
	char dir[400], conf[1024];

	d_init(d);
	snprintf(dir, sizeof(dir), "%s/%s", d->dir, sub);
	if (mkdir(dir, 0700) != 0 || chmod(dir, (mode_t)mode) != 0 ||
	    (uid != -1 && chown(dir, (uid_t)uid, (gid_t)-1) != 0))
		bail("cannot set up %s: %s", dir, strerror(errno));
	snprintf(path, pathlen, "%s/ctl.sock", dir);
	control_conf(conf, sizeof(conf), path, "0600");
	if (d_start(d, conf, NULL) != 0)
		bail("daemon did not start");
	return is_socket(path);
}

/* The socket's directory: refused unless only root or we can write it. */
static void
test_control_dir(void)
{
	struct daemon	 d = { 0 };
	char		 path[512], *out, *err;
	int		 up, st;

	up = start_in_dir(&d, "open", 0777, -1, path, sizeof(path));
	ok(!up && d_log_count(&d, "control socket disabled: unsafe directory "
	    "for") == 1 && d_log_count(&d, "/open is writable by its group "
	    "or others (mode 0777) and not sticky") == 1,
	    "a socket directory of mode 0777: refused, saying why");
	ok(echo_roundtrip(d.echo_port, "tcp still served"),
	    "and the daemon serves TCP without the control socket");
	kill(d.pid, SIGHUP);
	ok(d_log_wait(&d, "reloaded configuration (generation 2)", 1, 10000) &&
	    d_log_count(&d, "control socket disabled: ") == 2 && !is_socket(path),
	    "a reload tries again, logs the refusal, and still succeeds");
	*strrchr(path, '/') = '\0';
	if (chmod(path, 0755) != 0)
		bail("chmod: %s", strerror(errno));
	strcat(path, "/ctl.sock");
	kill(d.pid, SIGHUP);
	ok(d_log_wait(&d, "reloaded configuration (generation 3)", 1, 10000) &&
	    is_socket(path), "once the directory is made safe, the next "
	    "reload opens the control socket");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d);

	memset(&d, 0, sizeof(d));
	up = start_in_dir(&d, "group", 0770, -1, path, sizeof(path));
	ok(!up && d_log_count(&d, "writable by its group or others (mode "
	    "0770)") == 1, "mode 0770: refused as well");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d);

	if (geteuid() == 0) {
		memset(&d, 0, sizeof(d));
		up = start_in_dir(&d, "theirs", 0755, NOBODY, path,
		    sizeof(path));
		ok(!up && d_log_count(&d, "/theirs is owned by uid 65534, not "
		    "by root or the daemon's user") == 1,
		    "a directory owned by another user: refused");
		is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
		d_cleanup(&d);
	} else
		skip(2, "not root: cannot give a directory to another user");

	/* Like /tmp: others may write, but not remove or rename ours. */
	memset(&d, 0, sizeof(d));
	up = start_in_dir(&d, "sticky", 01777, -1, path, sizeof(path));
	if ((size_t)snprintf(d.control, sizeof(d.control), "%s", path) >=
	    sizeof(d.control))
		bail("path too long");
	st = d_ctl(&d, "ping", &out, &err);
	ok(up && st == 0, "a sticky 1777 directory is accepted, and the "
	    "socket answers");
	free(out);
	free(err);
	*strrchr(path, '/') = '\0';
	ok(count_prefix(path, ".brokerd-") == 0, "no private directory left "
	    "behind");
	strcat(path, "/ctl.sock");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	ok(!is_socket(path), "the socket is removed at exit");
	d_cleanup(&d);
}

/* Symbolic links among the directories of the socket's path. */
static void
test_control_dir_links(void)
{
	struct daemon	 d = { 0 };
	char		 real[400], link[400], path[512], conf[1024];

	if (geteuid() != 0) {
		skip(3, "not root: cannot plant a link owned by another user");
		return;
	}
	d_init(&d);
	snprintf(real, sizeof(real), "%s/real", d.dir);
	snprintf(link, sizeof(link), "%s/link", d.dir);
	if (mkdir(real, 0700) != 0 || symlink("real", link) != 0 ||
	    lchown(link, NOBODY, NOBODY) != 0)
		bail("cannot set up links: %s", strerror(errno));
	snprintf(path, sizeof(path), "%s/ctl.sock", link);
	control_conf(conf, sizeof(conf), path, "0600");
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	ok(d_log_count(&d, "/link is a symbolic link owned by uid 65534") ==
	    1 && !is_socket(path), "a directory reached through another "
	    "user's symbolic link: refused");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");

	/* Ours (root's): followed. */
	if (lchown(link, 0, 0) != 0)
		bail("lchown: %s", strerror(errno));
	if (d_start(&d, NULL, NULL) != 0)
		bail("daemon did not start");
	ok(is_socket(path) && d_log_count(&d, "control socket disabled") == 1,
	    "through a symbolic link owned by root: accepted");
	d_stop(&d, SIGTERM, 10000);
	d_cleanup(&d);
}

/* Whatever is at the socket's path, other than a stale socket, stays. */
static void
test_control_path(void)
{
	struct daemon	 d = { 0 };
	char		 target[400], conf[1024];

	d_init(&d);
	snprintf(target, sizeof(target), "%s/target", d.dir);
	write_text(target, SECRET, 0600);
	if (symlink(target, d.control) != 0)
		bail("symlink: %s", strerror(errno));
	control_conf(conf, sizeof(conf), d.control, "0666");
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	ok(d_log_count(&d, "control socket disabled: ") == 1 &&
	    d_log_count(&d, "/control.sock is a symbolic link; not following "
	    "or replacing it") == 1, "a symbolic link at the socket's path: "
	    "the control socket is disabled, saying why");
	ok(is_link_to(d.control, target), "the link is left as it was");
	ok(file_has(target, SECRET) && file_mode(target) == 0600,
	    "its target is unchanged");
	ok(echo_roundtrip(d.echo_port, "served"), "TCP is served");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	ok(is_link_to(d.control, target), "the link is still there after "
	    "exit");

	unlink(d.control);
	write_text(d.control, SECRET, 0600);
	if (d_start(&d, NULL, NULL) != 0)
		bail("daemon did not start");
	ok(d_log_count(&d, "/control.sock exists and is not a socket; not "
	    "replacing it") == 1 && file_has(d.control, SECRET),
	    "a regular file at the socket's path: left alone");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d);
}

/* Mode changes on reload act on our socket, never through a link. */
static void
test_control_reload_mode(void)
{
	struct daemon	 d = { 0 };
	char		 target[400], conf[1024];
	int		 reloaded, mode;

	d_init(&d);
	snprintf(target, sizeof(target), "%s/target", d.dir);
	write_text(target, SECRET, 0600);
	control_conf(conf, sizeof(conf), d.control, "0600");
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	ok(file_mode(d.control) == 0600, "socket created with mode 0600");
	control_conf(conf, sizeof(conf), d.control, "0660");
	write_text(d.conf, conf, 0644);
	kill(d.pid, SIGHUP);
	reloaded = d_log_wait(&d, "reloaded configuration (generation 2)", 1,
	    10000);
	mode = file_mode(d.control);
	ok(reloaded && mode == 0660, "a reload to mode 0660 changes the "
	    "socket's mode (%04o)", mode);

	/* The socket is swapped for a link to a file of root's. */
	if (unlink(d.control) != 0 || symlink(target, d.control) != 0)
		bail("cannot swap the socket: %s", strerror(errno));
	control_conf(conf, sizeof(conf), d.control, "0666");
	write_text(d.conf, conf, 0644);
	kill(d.pid, SIGHUP);
	ok(d_log_wait(&d, "reloaded configuration (generation 3)", 1, 10000),
	    "a reload to mode 0666 after the swap succeeds");
	mode = file_mode(target);
	ok(mode == 0600 && file_has(target, SECRET), "the link's target "
	    "keeps mode 0600 (%04o) and its content", mode);
	ok(d_log_count(&d, "was removed or replaced; not changing its mode "
	    "or group") == 1, "the swap is logged");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	ok(is_link_to(d.control, target) && file_has(target, SECRET),
	    "at exit the link, not ours, is left in place");
	d_cleanup(&d);
}

/* A new path on reload: no name of the old predictable form is used. */
static void
test_control_tmpname(void)
{
	struct daemon	 d = { 0 };
	char		 target[400], moved[400], planted[500], conf[1024];
	char		*out, *err;
	int		 st;

	d_init(&d);
	snprintf(target, sizeof(target), "%s/target", d.dir);
	snprintf(moved, sizeof(moved), "%s/moved.sock", d.dir);
	write_text(target, SECRET, 0600);
	control_conf(conf, sizeof(conf), d.control, "0600");
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	/* brokerd used to bind PATH.PID and chmod it by name. */
	snprintf(planted, sizeof(planted), "%s.%d", moved, (int)d.pid);
	if (symlink(target, planted) != 0)
		bail("symlink: %s", strerror(errno));
	control_conf(conf, sizeof(conf), moved, "0666");
	write_text(d.conf, conf, 0644);
	kill(d.pid, SIGHUP);
	ok(d_log_wait(&d, "reloaded configuration (generation 2)", 1, 10000),
	    "a reload moves the control socket");
	ok(is_socket(moved) && file_mode(moved) == 0666 &&
	    !is_socket(d.control), "the new socket has mode 0666, the old one "
	    "is gone");
	if ((size_t)snprintf(d.control, sizeof(d.control), "%s", moved) >=
	    sizeof(d.control))
		bail("path too long");
	st = d_ctl(&d, "ping", &out, &err);
	ok(st == 0, "and it answers");
	free(out);
	free(err);
	ok(is_link_to(planted, target), "a link planted at the old temporary "
	    "name PATH.PID is left alone");
	ok(file_has(target, SECRET) && file_mode(target) == 0600,
	    "and its target is unchanged");
	ok(count_prefix(d.dir, ".brokerd-") == 0, "no private directory left "
	    "behind");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	d_cleanup(&d);
}

/*
 * Starts the daemon on a FIFO as its config file: it waits there, its pid
 * known and nothing written yet, until feed_fifo() gives it conf.
 */
static void
spawn_on_fifo(struct daemon *d)
{
	d_init(d);
	if (mkfifo(d->conf, 0600) != 0)
		bail("mkfifo: %s", strerror(errno));
	d_spawn(d, NULL, NULL);
}

static void
feed_fifo(struct daemon *d, const char *conf)
{
	int fd;

	if ((fd = open(d->conf, O_WRONLY)) < 0 ||
	    write(fd, conf, strlen(conf)) != (ssize_t)strlen(conf))
		bail("cannot feed the FIFO: %s", strerror(errno));
	close(fd);
}

/* The pidfile's temporary name: created, never opened if it exists. */
static void
test_pidfile_tmp(void)
{
	struct daemon	 d = { 0 };
	char		 target[400], planted[500], conf[1024], pid[32];

	spawn_on_fifo(&d);
	snprintf(target, sizeof(target), "%s/target", d.dir);
	write_text(target, SECRET, 0600);
	/* brokerd used to write PIDFILE.PID.tmp, opened with O_TRUNC. */
	snprintf(planted, sizeof(planted), "%s.%d.tmp", d.pidfile,
	    (int)d.pid);
	if (symlink(target, planted) != 0)
		bail("symlink: %s", strerror(errno));
	control_conf(conf, sizeof(conf), d.control, "0600");
	feed_fifo(&d, conf);
	if (d_wait_started(&d) != 0)
		bail("daemon did not start");
	snprintf(pid, sizeof(pid), "%d\n", (int)d.pid);
	ok(file_has(target, SECRET) && file_mode(target) == 0600,
	    "a link planted at the pidfile's old temporary name: its target "
	    "is not written");
	ok(file_has(d.pidfile, pid), "the pidfile holds the pid");
	ok(count_prefix(d.dir, ".brokerd-pid-") == 0, "no temporary file "
	    "left behind");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	ok(access(d.pidfile, F_OK) != 0, "pidfile removed at exit");
	d_cleanup(&d);
}

/* A link at the pidfile's path is replaced, never followed. */
static void
test_pidfile_link(void)
{
	struct daemon	 d = { 0 };
	struct stat	 st;
	char		 target[400], pid[32];
	long long	 t0;

	spawn_on_fifo(&d);
	snprintf(target, sizeof(target), "%s/target", d.dir);
	write_text(target, SECRET, 0600);
	if (symlink(target, d.pidfile) != 0)
		bail("symlink: %s", strerror(errno));
	feed_fifo(&d, LISTEN);
	t0 = now_ms();
	while ((lstat(d.pidfile, &st) != 0 || !S_ISREG(st.st_mode)) &&
	    now_ms() - t0 < 30000 && d_alive(&d))
		msleep(10);
	if (d_wait_started(&d) != 0)
		bail("daemon did not start");
	snprintf(pid, sizeof(pid), "%d\n", (int)d.pid);
	ok(lstat(d.pidfile, &st) == 0 && S_ISREG(st.st_mode) &&
	    file_has(d.pidfile, pid), "a symbolic link at the pidfile's path "
	    "is replaced by the pidfile");
	ok(file_has(target, SECRET) && file_mode(target) == 0600,
	    "its target is not written");
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	ok(access(d.pidfile, F_OK) != 0 && file_has(target, SECRET),
	    "at exit the pidfile is removed, the target kept");
	d_cleanup(&d);
}

/* At exit, a pidfile that is no longer ours stays. */
static void
test_pidfile_replaced(void)
{
	struct daemon	 d = { 0 };
	char		 other[400];

	d_init(&d);
	snprintf(other, sizeof(other), "%s/other", d.dir);
	if (d_start(&d, LISTEN, NULL) != 0)
		bail("daemon did not start");
	write_text(other, "12345\n", 0644);
	if (rename(other, d.pidfile) != 0)
		bail("rename: %s", strerror(errno));
	is_int(d_stop(&d, SIGTERM, 10000), 0, "exit 0");
	ok(file_has(d.pidfile, "12345\n"), "a pidfile replaced by another "
	    "one is not removed at exit");
	ok(d_log_count(&d, "brokerd.pid was replaced; leaving it") == 1,
	    "and that is logged");
	d_cleanup(&d);
}

/* Reads a pid from path; 0 if there is none. */
static pid_t
read_pid(const char *path)
{
	char	buf[32] = "";
	FILE	*f = fopen(path, "r");

	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	return (pid_t)atoi(buf);
}

/* -c and -p relative to where brokerd starts, after it detached. */
static void
test_relative_paths(void)
{
	struct daemon	 d = { 0 };
	char		 args[200], name[64], rooted[80], here[400];
	char		 conf[1024], *out, *err;
	pid_t		 starter, dpid;
	long long	 t0;
	int		 st, r;

	/* The detached daemon is re-parented to us, so we can reap it. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
		bail("PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
	d_init(&d);
	snprintf(name, sizeof(name), "brokerd-test-%d.pid", (int)getpid());
	snprintf(rooted, sizeof(rooted), "/%s", name);
	snprintf(here, sizeof(here), "%s/%s", d.dir, name);
	control_conf(conf, sizeof(conf), d.control, "0600");
	write_text(d.conf, conf, 0644);
	snprintf(args, sizeof(args), "-c brokerd.conf -p %s", name);
	starter = d_exec(&d, d.dir, args);
	t0 = now_ms();
	while ((r = waitpid(starter, &st, WNOHANG)) == 0 &&
	    now_ms() - t0 < 60000)
		msleep(10);
	if (r != starter)
		bail("brokerd did not detach");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "brokerd -c brokerd.conf "
	    "-p %s, detaching: started, exit 0", name);
	dpid = read_pid(here);
	ok(dpid > 0 && access(rooted, F_OK) != 0, "the pidfile is in the "
	    "starting directory, not in /");
	if (dpid <= 0 && (dpid = read_pid(rooted)) > 0)
		diag("the pidfile went to %s", rooted);

	/* The same file, changed: a command the old one did not have. */
	snprintf(conf + strlen(conf), sizeof(conf) - strlen(conf),
	    "commands = { marker = { argv = [ \"true\" ]; }; };\n");
	write_text(d.conf, conf, 0644);
	st = d_ctl(&d, "reload", &out, &err);
	ok(st == 0 && strstr(out, "generation 2") != NULL, "RELOAD re-reads "
	    "brokerd.conf in the starting directory (%s%s)", out, err);
	free(out);
	free(err);
	{
		char *argv[] = { getenv("BROKERCTL"), "-S", d.control, "run",
		    "marker", NULL };

		st = run_prog(argv, NULL, 0, &out, NULL, &err, 20000);
		ok(st == 0, "and the command it added runs");
		free(out);
		free(err);
	}
	if (dpid > 0) {
		kill(dpid, SIGTERM);
		t0 = now_ms();
		while ((r = waitpid(dpid, &st, WNOHANG)) == 0 &&
		    now_ms() - t0 < 20000)
			msleep(10);
		if (r != dpid) {
			kill(dpid, SIGKILL);
			waitpid(dpid, &st, 0);
		}
		ok(r == dpid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "the detached daemon exits 0 on SIGTERM");
		ok(access(here, F_OK) != 0, "and removes its pidfile");
	} else
		skip(2, "no pid to stop the detached daemon with");
	if (read_pid(rooted) == dpid && dpid > 0)
		unlink(rooted);
	d_cleanup(&d);
}

int
main(void)
{
	if (getenv("BROKERCTL") == NULL)
		bail("BROKERCTL must be set");
	test_control_dir();
	test_control_dir_links();
	test_control_path();
	test_control_reload_mode();
	test_control_tmpname();
	test_pidfile_tmp();
	test_pidfile_link();
	test_pidfile_replaced();
	test_relative_paths();
	return done_testing();
}
