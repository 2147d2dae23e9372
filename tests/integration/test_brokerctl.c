/*
 * brokerctl as an operator meets it: finding the daemon through
 * brokerd.conf, -h and -V, waiting as long as the daemon lets a command
 * run, talking to the wrong service, a reader or stdin that is gone, the
 * df table and JSON, and refusals sent before a close (fake servers).
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/tap.h"

static const char *brokerctl;
static struct daemon d;
static char	 echo_port[16], broker_port[16];

/* The daemon's df is this table, so the output is known to the byte. */
static const char df_fixture[] =
    "Filesystem      Size  Used Avail Use% Mounted on\n"
    "/dev/vda1        16G  4.0G   11G  27% /\n"
    "tmpfs           1.0G     0  1.0G   0% /mnt/back\\slash\n"
    "/dev/vdb1       100G   50G   50G  50% /srv/a-very-long-mount-point-"
    "for-tests\n";

static void
write_file(const char *path, const char *text)
{
	FILE	*f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0)
		bail("cannot write %s", path);
}

/* dir/name, in a static buffer per call site's copy. */
static char *
path_in(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", d.dir, name);
	return buf;
}

/* Runs brokerctl with up to 8 arguments; stdin from in (NULL: empty). */
static int
ctl(const char *in, char **out, char **err, ...)
{
	char	*argv[10];
	va_list	 ap;
	int	 n = 0;

	argv[n++] = (char *)brokerctl;
	va_start(ap, err);
	while (n < 9 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	return run_prog(argv, in, in != NULL ? strlen(in) : 0, out, NULL,
	    err, 30000);
}

/*
 * Starts argv with stdin from in_fd (closed when -1, and in_fd closed
 * here), stdout on out_fd and stderr into *err_fd.
 */
static pid_t
spawn(char *const argv[], int in_fd, int out_fd, int *err_fd)
{
	int	perr[2];
	pid_t	pid;

	/* Close-on-exec: the child keeps only the ends it is given. */
	if (pipe2(perr, O_CLOEXEC) != 0)
		bail("pipe");
	if ((pid = fork()) == 0) {
		if (in_fd == -1)
			close(0);
		else
			dup2(in_fd, 0);
		dup2(out_fd, 1);
		dup2(perr[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(perr[1]);
	if (in_fd > 2)
		close(in_fd);
	*err_fd = perr[0];
	return pid;
}

/* Exit status, or -1 (and the process killed) after timeout_ms. */
static int
wait_exit(pid_t pid, int timeout_ms)
{
	long long start = now_ms();
	int	  status;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() - start > timeout_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(10000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *
slurp(int fd)
{
	char	*s;
	ssize_t	 n;

	if ((n = read_to_eof(fd, &s, 5000)) < 0)
		n = 0;
	s = realloc(s, (size_t)n + 1);
	s[n] = '\0';
	close(fd);
	return s;
}

/* The full path of prog along PATH, or NULL. */
static char *
find_program(const char *prog)
{
	static char	 buf[1024];
	char		*path, *dir, *save = NULL;

	if (getenv("PATH") == NULL)
		return NULL;
	path = strdup(getenv("PATH"));
	for (dir = strtok_r(path, ":", &save); dir != NULL;
	    dir = strtok_r(NULL, ":", &save)) {
		snprintf(buf, sizeof(buf), "%s/%s", dir, prog);
		if (access(buf, X_OK) == 0) {
			free(path);
			return buf;
		}
	}
	free(path);
	return NULL;
}

static void
test_help(void)
{
	static const char *const opts[] = {
		"  -c file ", "  -H host ", "  -h, --help ", "  -j ",
		"  -p port ", "  -q ", "  -S socket ", "  -t seconds ",
		"  -V, --version ", "  -v "
	};
	char	*out, *err, *out2, *err2, *man, mpath[1024], letter[32];
	size_t	 i;
	int	 st;
	FILE	*f;

	st = ctl(NULL, &out, &err, "-h", NULL);
	ok(st == 0 && strncmp(out, "usage: brokerctl [-hjqVv] [-c file] "
	    "[-H host] [-p port] [-S socket]\n", 67) == 0 && *err == '\0',
	    "-h: usage on stdout, exit 0");
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		char	want[64];

		snprintf(want, sizeof(want), "\n%s", opts[i]);
		ok(strstr(out, want) != NULL, "-h explains%s", opts[i] + 1);
	}
	ok(strstr(out, "75 timed out") != NULL, "-h lists the exit statuses");
	st = ctl(NULL, &out2, &err2, "--help", NULL);
	ok(st == 0 && strcmp(out, out2) == 0, "--help is -h");
	free(out); free(err); free(out2); free(err2);

	st = ctl(NULL, &out, &err, "-V", NULL);
	is_str(out, "brokerctl " PACKAGE_VERSION "\n", "-V prints the version");
	is_int(st, 0, "-V exits 0");
	free(out); free(err);
	st = ctl(NULL, &out, &err, "--version", NULL);
	ok(st == 0 && strcmp(out, "brokerctl " PACKAGE_VERSION "\n") == 0,
	    "--version too");
	free(out); free(err);
	st = ctl(NULL, &out, &err, "--bogus", "ping", NULL);
	ok(st == 2 && strncmp(err, "brokerctl: unknown option --bogus\n"
	    "usage: brokerctl ", 51) == 0, "unknown long option: exit 2");
	free(out); free(err);

	/* Each option of -h has its entry in brokerctl(1), -h included. */
	snprintf(mpath, sizeof(mpath), "%s/man/brokerctl.1.in",
	    getenv("TOP_SRCDIR"));
	if ((f = fopen(mpath, "r")) == NULL)
		bail("cannot read %s", mpath);
	man = calloc(1, 65536);
	if (fread(man, 1, 65535, f) == 0)
		bail("empty %s", mpath);
	fclose(f);
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		snprintf(letter, sizeof(letter), "\n.It Fl %c", opts[i][3]);
		ok(strstr(man, letter) != NULL, "brokerctl.1 has%s",
		    letter + 1);
	}
	ok(strstr(man, ".Sh SYNOPSIS\n.Nm\n.Op Fl hjqVv\n") != NULL,
	    "brokerctl.1 SYNOPSIS shows -h");
	ok(strstr(man, "\n.Sh DIAGNOSTICS\n") != NULL,
	    "brokerctl.1 has DIAGNOSTICS");
	free(man);
}

/* brokerctl finds the daemon through brokerd.conf, as unbound-control. */
static void
test_config(void)
{
	char	 conf[2048], cpath[512], missing[512], broken[512], nosock[512];
	char	 sockpath[512], want[2048], *out, *err;
	int	 st;

	snprintf(conf, sizeof(conf), "listen = (\n"
	    "  { service = \"echo\"; address = \"127.0.0.1\"; port = %s; },\n"
	    "  { service = \"broker\"; address = \"127.0.0.1\"; port = %s; }"
	    "\n);\ncontrol = { path = \"%s\"; };\n", echo_port, broker_port,
	    d.control);
	write_file(path_in(cpath, sizeof(cpath), "client.conf"), conf);
	st = ctl(NULL, &out, &err, "-c", cpath, "ping", NULL);
	ok(st == 0 && strcmp(out, "pong\n") == 0 && *err == '\0',
	    "-c FILE: the broker port comes from its listen list");
	free(out); free(err);
	st = ctl(NULL, &out, &err, "-c", cpath, "echo", "hi", NULL);
	ok(st == 0 && strcmp(out, "hi") == 0, "and the echo port");
	free(out); free(err);
	st = ctl(NULL, &out, &err, "-c", cpath, "reload", NULL);
	ok(st == 0 && strcmp(out, "generation 2\n") == 0,
	    "and the control socket from control.path");
	free(out); free(err);

	path_in(missing, sizeof(missing), "missing.conf");
	st = ctl(NULL, &out, &err, "-c", missing, "-p", broker_port, "ping",
	    NULL);
	snprintf(want, sizeof(want), "brokerctl: %s: No such file or "
	    "directory; using the built-in defaults\n", missing);
	ok(st == 0 && strcmp(out, "pong\n") == 0, "a missing -c file: "
	    "built-in defaults");
	is_str(err, want, "and a warning naming it");
	free(out); free(err);
	st = ctl(NULL, &out, &err, "-q", "-c", missing, "-p", broker_port,
	    "ping", NULL);
	ok(st == 0 && *err == '\0', "-q: no warning");
	free(out); free(err);

	write_file(path_in(broken, sizeof(broken), "broken.conf"),
	    "workers = 3;\nlisten = (;\n");
	st = ctl(NULL, &out, &err, "-c", broken, "-S", d.control, "reload",
	    NULL);
	snprintf(want, sizeof(want), "brokerctl: %s:2: syntax error; using "
	    "the built-in defaults\n", broken);
	ok(st == 0 && strcmp(out, "generation 3\n") == 0,
	    "a broken -c file: defaults, -S still used");
	is_str(err, want, "its warning is file:line: message");
	free(out); free(err);

	/* A socket that is not there: which path, and how to name another. */
	path_in(sockpath, sizeof(sockpath), "nosuch.sock");
	snprintf(conf, sizeof(conf), "control = { path = \"%s\"; };\n",
	    sockpath);
	write_file(path_in(nosock, sizeof(nosock), "nosock.conf"), conf);
	st = ctl(NULL, &out, &err, "-c", nosock, "reload", NULL);
	snprintf(want, sizeof(want), "brokerctl: cannot connect to %s: No "
	    "such file or directory\nbrokerctl: that path is control.path "
	    "in %s; is brokerd running? -S SOCKET names another socket, "
	    "-c FILE another brokerd.conf\n", sockpath, nosock);
	is_int(st, 69, "missing control socket: exit 69");
	is_str(err, want, "the message names the path, its origin, -S, -c");
	free(out); free(err);
	st = ctl(NULL, &out, &err, "-S", sockpath, "stats", NULL);
	snprintf(want, sizeof(want), "brokerctl: cannot connect to %s: No "
	    "such file or directory\nbrokerctl: that path is the one given "
	    "with -S; is brokerd running? -S SOCKET names another socket, "
	    "-c FILE another brokerd.conf\n", sockpath);
	ok(st == 69 && strcmp(err, want) == 0, "the same for -S");
	free(out); free(err);
}

/*
 * Without -t brokerctl waits as long as the daemon lets the command run
 * (here commands.nap.timeout_s = 11, over the old fixed 10 s) and shows
 * its ERR 504; with -t it gives up on its own.
 */
static void
test_timeout(void)
{
	char		*out, *err;
	long long	 t0, ms;
	int		 st;

	t0 = now_ms();
	st = ctl(NULL, &out, &err, "-p", broker_port, "-t", "1", "run", "-n",
	    "nap", NULL);
	ms = now_ms() - t0;
	ok(st == 75 && strstr(err, "timed out waiting for") != NULL &&
	    ms < 5000, "-t 1: exit 75 after %lld ms", ms);
	free(out); free(err);

	t0 = now_ms();
	st = ctl(NULL, &out, &err, "-c", d.conf, "-p", broker_port, "run",
	    "-n", "nap", NULL);
	ms = now_ms() - t0;
	is_int(st, 1, "no -t: the daemon's timeout ends the command, exit 1");
	is_str(err, "brokerctl: ERR 504 nap timed out after 11 s\n",
	    "and brokerctl shows its ERR 504");
	ok(ms >= 10500, "after the daemon's 11 s (%lld ms)", ms);
	free(out); free(err);

	st = ctl(NULL, &out, &err, "-t", "0", "-p", broker_port, "ping",
	    NULL);
	ok(st == 0 && strcmp(out, "pong\n") == 0, "-t 0: no limit");
	free(out); free(err);
	st = ctl(NULL, &out, &err, "-t", "-1", "ping", NULL);
	ok(st == 2 && strncmp(err, "brokerctl: bad timeout: -1\n", 27) == 0,
	    "-t -1: usage error");
	free(out); free(err);
}

static void
test_wrong_service(void)
{
	char	*out, *err, want[512];
	int	 st;

	st = ctl(NULL, &out, &err, "-H", "127.0.0.1", "-p", broker_port,
	    "echo", "hello", NULL);
	snprintf(want, sizeof(want), "brokerctl: 127.0.0.1 port %s closed "
	    "the connection having echoed 0 of the 5 bytes sent: is it the "
	    "echo service?\n", broker_port);
	is_int(st, 70, "echo to the broker port: exit 70");
	is_str(err, want, "saying what came back");
	is_str(out, "", "and printing nothing");
	free(out); free(err);

	st = ctl(NULL, &out, &err, "-H", "127.0.0.1", "-p", broker_port,
	    "echo", "PING\n", NULL);
	snprintf(want, sizeof(want), "brokerctl: 127.0.0.1 port %s is not an "
	    "echo service: it sent \"OK pong\\n\"\n", broker_port);
	ok(st == 70 && strcmp(err, want) == 0 && *out == '\0',
	    "a line the broker answers: exit 70 quoting the answer");
	free(out); free(err);

	st = ctl(NULL, &out, &err, "-H", "127.0.0.1", "-p", echo_port, "df",
	    NULL);
	snprintf(want, sizeof(want), "brokerctl: 127.0.0.1 port %s sent the "
	    "request back: an echo service, not brokerd's broker (see -p)\n",
	    echo_port);
	is_int(st, 70, "df to the echo port: exit 70");
	is_str(err, want, "saying it is an echo service");
	free(out); free(err);
	st = ctl(NULL, &out, &err, "-H", "127.0.0.1", "-p", echo_port, "run",
	    "cat", "x", NULL);
	ok(st == 70 && strcmp(err, want) == 0, "so does run");
	free(out); free(err);
}

/* A reader that went away ends brokerctl quietly with status 0. */
static void
test_closed_stdout(void)
{
	char	*argv[8], *err, buf[4096];
	size_t	 len = 0;
	ssize_t	 n;
	pid_t	 pid;
	int	 p[2], efd, st;

	argv[0] = (char *)brokerctl; argv[1] = "-p"; argv[2] = broker_port;
	argv[3] = "run"; argv[4] = "-n"; argv[5] = "yes"; argv[6] = NULL;
	if (pipe2(p, O_CLOEXEC) != 0)
		bail("pipe");
	pid = spawn(argv, open("/dev/null", O_RDONLY | O_CLOEXEC), p[1], &efd);
	close(p[1]);
	while (len < sizeof(buf) && memchr(buf, '\n', len) == NULL &&
	    (n = read(p[0], buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(p[0]);	/* | head -1 */
	st = wait_exit(pid, 10000);
	err = slurp(efd);
	ok(len >= 2 && strncmp(buf, "y\n", 2) == 0, "run -n yes | head -1 "
	    "read its line");
	is_int(st, 0, "brokerctl then exits 0");
	is_str(err, "", "saying nothing");
	free(err);

	/* A pipe closed before any output: stdio output too (stats). */
	argv[3] = "stats"; argv[4] = NULL;
	if (pipe2(p, O_CLOEXEC) != 0)
		bail("pipe");
	close(p[0]);
	pid = spawn(argv, open("/dev/null", O_RDONLY | O_CLOEXEC), p[1], &efd);
	close(p[1]);
	st = wait_exit(pid, 10000);
	err = slurp(efd);
	is_int(st, 0, "stats into a closed pipe: exit 0");
	is_str(err, "", "nothing on stderr");
	free(err);
}

/* "run cat <&-": no stdin is empty input, END at once. */
static void
test_closed_stdin(void)
{
	char	*argv[8], *err, *out;
	pid_t	 pid;
	int	 p[2], efd, st;

	argv[0] = (char *)brokerctl; argv[1] = "-p"; argv[2] = broker_port;
	argv[3] = "run"; argv[4] = "cat"; argv[5] = NULL;
	if (pipe2(p, O_CLOEXEC) != 0)
		bail("pipe");
	pid = spawn(argv, -1, p[1], &efd);
	close(p[1]);
	st = wait_exit(pid, 5000);
	out = slurp(p[0]);
	err = slurp(efd);
	is_int(st, 0, "run cat <&-: exit 0 at once");
	ok(*out == '\0' && *err == '\0', "no output, no message");
	free(out); free(err);
}

/* Each line of text as a TAP comment. */
static void
diag_lines(char *text)
{
	char	*line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		diag("%s", line);
}

/* json is valid JSON to python3 -m json.tool, and passes script. */
static void
check_json(const char *python, const char *what, const char *json,
    const char *script)
{
	char	*argv[4], *out, *err;
	int	 st;

	if (python == NULL) {
		skip(2, "python3 not found on PATH: cannot check the JSON");
		return;
	}
	argv[0] = (char *)python; argv[1] = "-m"; argv[2] = "json.tool";
	argv[3] = NULL;
	st = run_prog(argv, json, strlen(json), &out, NULL, &err, 20000);
	if (!ok(st == 0, "%s is valid JSON (python3 -m json.tool)", what))
		diag_lines(err);
	free(out); free(err);
	argv[1] = "-c";
	argv[2] = (char *)script;
	st = run_prog(argv, json, strlen(json), &out, NULL, &err, 20000);
	if (!ok(st == 0, "%s holds the values and types expected", what))
		diag_lines(err);
	free(out); free(err);
}

static void
test_df(const char *python)
{
	static const char free_space[] =
	    "Free space:\n"
	    "/                                     : 11G\n"
	    "/mnt/back\\slash                       : 1.0G\n"
	    "/srv/a-very-long-mount-point-for-tests: 50G\n";
	static const char all[] =
	    "Filesystem Size Used Avail Use% Mounted on\n"
	    "/dev/vda1   16G 4.0G   11G  27% /\n"
	    "tmpfs      1.0G    0  1.0G   0% /mnt/back\\slash\n"
	    "/dev/vdb1  100G  50G   50G  50% /srv/a-very-long-mount-point-"
	    "for-tests\n";
	char	*out, *err;
	int	 st;

	st = ctl(NULL, &out, &err, "-p", broker_port, "df", NULL);
	is_int(st, 0, "df exits 0");
	is_str(out, free_space, "df: the mount column as wide as the longest "
	    "name, a backslash as itself");
	free(out); free(err);
	st = ctl(NULL, &out, &err, "-p", broker_port, "df", "--all", NULL);
	ok(st == 0, "df --all exits 0");
	is_str(out, all, "df --all: aligned, a backslash as itself");
	free(out); free(err);

	st = ctl(NULL, &out, &err, "-p", broker_port, "-j", "df", NULL);
	ok(st == 0 && strstr(out, "\"mounted_on\": \"/mnt/back\\\\slash\"") !=
	    NULL, "df -j: the backslash once, JSON-escaped");
	check_json(python, "df -j", out, "import json, sys\n"
	    "d = json.load(sys.stdin)\n"
	    "assert len(d) == 3, d\n"
	    "assert d[1] == {'filesystem': 'tmpfs', 'size': '1.0G', "
	    "'used': '0', 'avail': '1.0G', 'use%': '0%', "
	    "'mounted_on': '/mnt/back\\\\slash'}, d[1]\n");
	free(out); free(err);
}

static void
test_stats_json(const char *python)
{
	char	*out, *err;
	int	 st;

	st = ctl(NULL, &out, &err, "-p", broker_port, "-j", "stats", NULL);
	ok(st == 0 && strstr(out, "\"pool.longest_wait_s\": 0.") != NULL,
	    "stats -j: pool.longest_wait_s is a number");
	ok(strstr(out, "\"version\": \"" PACKAGE_VERSION "\"") != NULL,
	    "and version a string");
	check_json(python, "stats -j", out, "import json, sys\n"
	    "d = json.load(sys.stdin)\n"
	    "assert isinstance(d['pool.longest_wait_s'], float), d\n"
	    "assert isinstance(d['uptime_s'], int), d\n"
	    "assert isinstance(d['requests.ping'], int), d\n"
	    "assert isinstance(d['version'], str), d\n"
	    "assert isinstance(d['slowest_callback'], str), d\n");
	free(out); free(err);
}

/* A server that answers each of n connections with line, then closes. */
static pid_t
refuser(int lfd, const char *line, int n)
{
	pid_t	pid;
	int	i, c;

	if ((pid = fork()) != 0)
		return pid;
	for (i = 0; i < n; i++) {
		if ((c = accept(lfd, NULL, NULL)) < 0)
			_exit(1);
		send_all(c, line, strlen(line));
		close(c);
	}
	_exit(0);
}

/* Refusals the daemon sends before it closes are printed, exit 1. */
static void
test_refusals(void)
{
	static const char e429[] =
	    "ERR 429 too many connections from your address\n";
	static char big[1024 * 1024];
	struct sockaddr_un sun;
	char	*out, *err, port[16], sockpath[512], *argv[8];
	pid_t	 pid;
	int	 lfd, iport, st, i, good = 0;

	if ((lfd = listening_socket(&iport)) < 0)
		bail("listening socket");
	snprintf(port, sizeof(port), "%d", iport);
	pid = refuser(lfd, e429, 6);
	for (i = 0; i < 5; i++) {
		st = ctl(NULL, &out, &err, "-H", "127.0.0.1", "-p", port,
		    "ping", NULL);
		good += st == 1 && strcmp(err, "brokerctl: " "ERR 429 too many "
		    "connections from your address\n") == 0;
		free(out); free(err);
	}
	is_int(good, 5, "ERR 429 then close: the line printed, exit 1 (5 of "
	    "5 runs)");
	/* Refused while streaming input: the line still wins. */
	memset(big, 'a', sizeof(big));
	argv[0] = (char *)brokerctl; argv[1] = "-H"; argv[2] = "127.0.0.1";
	argv[3] = "-p"; argv[4] = port; argv[5] = "upper"; argv[6] = NULL;
	st = run_prog(argv, big, sizeof(big), &out, NULL, &err, 20000);
	ok(st == 1 && strcmp(err, "brokerctl: ERR 429 too many connections "
	    "from your address\n") == 0, "and while sending 1 MiB of input");
	free(out); free(err);
	wait_exit(pid, 5000);
	close(lfd);

	path_in(sockpath, sizeof(sockpath), "fake.sock");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(sockpath) >= sizeof(sun.sun_path))
		bail("socket path too long: %s", sockpath);
	memcpy(sun.sun_path, sockpath, strlen(sockpath) + 1);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(lfd, 4) != 0)
		bail("unix socket %s", sockpath);
	pid = refuser(lfd, "ERR 403 not permitted\n", 2);
	st = ctl(NULL, &out, &err, "-S", sockpath, "stats", NULL);
	ok(st == 1 && strcmp(err, "brokerctl: ERR 403 not permitted\n") == 0,
	    "control socket: ERR 403 then close: printed, exit 1");
	free(out); free(err);
	st = ctl(NULL, &out, &err, "-S", sockpath, "reload", NULL);
	ok(st == 1 && strcmp(err, "brokerctl: ERR 403 not permitted\n") == 0,
	    "the same for reload");
	free(out); free(err);
	wait_exit(pid, 5000);
	close(lfd);
	unlink(sockpath);
}

int
main(void)
{
	char	 conf[2048], fixture[512], *python;

	signal(SIGPIPE, SIG_IGN);
	brokerctl = getenv("BROKERCTL");
	if (brokerctl == NULL || getenv("BROKERD") == NULL ||
	    getenv("TOP_SRCDIR") == NULL)
		bail("BROKERD, BROKERCTL and TOP_SRCDIR must be set (run "
		    "through make check)");
	python = find_program("python3");
	d_init(&d);
	write_file(path_in(fixture, sizeof(fixture), "df.txt"), df_fixture);
	snprintf(conf, sizeof(conf), "listen = (\n"
	    "  { service = \"echo\"; address = \"127.0.0.1\"; port = 0; },\n"
	    "  { service = \"broker\"; address = \"127.0.0.1\"; port = 0; }\n"
	    ");\ncommands = {\n"
	    "  df = { argv = [ \"cat\", \"%s\" ]; output = \"df\"; };\n"
	    "  upper = { argv = [ \"tr\", \"a-z\", \"A-Z\" ]; input = true; "
	    "};\n"
	    "  cat = { argv = [ \"cat\" ]; input = true; };\n"
	    "  yes = { argv = [ \"yes\" ]; };\n"
	    "  nap = { argv = [ \"sleep\", \"60\" ]; timeout_s = 11; };\n"
	    "};\n", fixture);
	if (d_start(&d, conf, NULL) != 0)
		bail("daemon did not start");
	snprintf(echo_port, sizeof(echo_port), "%d", d.echo_port);
	snprintf(broker_port, sizeof(broker_port), "%d", d.broker_port);

	test_help();
	test_config();
	test_timeout();
	test_wrong_service();
	test_closed_stdout();
	test_closed_stdin();
	test_df(python);
	test_stats_json(python);
	test_refusals();

	is_int(d_stop(&d, SIGTERM, 15000), 0, "SIGTERM: exit 0");
	ok(d_log_count(&d, "exited cleanly") == 1, "clean exit logged");
	d_cleanup(&d);
	return done_testing();
}
