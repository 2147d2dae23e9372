/*
 * Integration test harness: the daemon under test (started, watched,
 * stopped, its log read), programs run to completion, files.  Sockets
 * are in harness_net.c, /proc in harness_proc.c, the duplex pumps in
 * harness_pump.c.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/tap.h"

int harness_listen_fd = -1;

long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

void
d_init(struct daemon *d)
{
	if (d->dir[0] != '\0')
		return;
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/brokerd-test.XXXXXX");
	if (mkdtemp(d->dir) == NULL)
		bail("mkdtemp: %s", strerror(errno));
	snprintf(d->conf, sizeof(d->conf), "%s/brokerd.conf", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/brokerd.log", d->dir);
	snprintf(d->pidfile, sizeof(d->pidfile), "%s/brokerd.pid", d->dir);
	snprintf(d->control, sizeof(d->control), "%s/control.sock", d->dir);
}

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

/* Finds "listening on 127.0.0.1:PORT (SERVICE)" in the log. */
static int
find_port(const char *log, const char *service)
{
	char		 pat[64];
	const char	*p = log, *q;

	snprintf(pat, sizeof(pat), " (%s)", service);
	while ((p = strstr(p, "listening on ")) != NULL) {
		p += strlen("listening on ");
		q = strchr(p, '\n');
		if (q == NULL)
			break;
		if ((size_t)(q - p) > strlen(pat) &&
		    strncmp(q - strlen(pat), pat, strlen(pat)) == 0) {
			const char *colon = memrchr(p, ':', (size_t)(q - p));

			if (colon != NULL)
				return atoi(colon + 1);
		}
	}
	return 0;
}

/* The daemon's argv: the wrapper's words, the binary, then args. */
static int
daemon_argv(char *argv[], int max, char **wcopy, char **acopy,
    const char *args)
{
	const char	*bin = getenv("BROKERD");
	const char	*wrap = getenv("BROKERD_WRAPPER");
	char		*tok;
	int		 argc = 0;

	*wcopy = *acopy = NULL;
	if (wrap != NULL && *wrap != '\0') {
		*wcopy = strdup(wrap);
		for (tok = strtok(*wcopy, " "); tok && argc < max - 24;
		    tok = strtok(NULL, " "))
			argv[argc++] = tok;
	}
	argv[argc++] = (char *)(bin != NULL ? bin : "../daemon/brokerd");
	*acopy = strdup(args);
	for (tok = strtok(*acopy, " "); tok && argc < max - 1;
	    tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	return argc;
}

int
harness_wrapped(void)
{
	const char *wrap = getenv("BROKERD_WRAPPER");

	return wrap != NULL && *wrap != '\0';
}

int
ok_rss(int cond, const char *fmt, ...)
{
	va_list	ap;
	char	what[512], why[600];

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!harness_wrapped())
		return ok(cond, "%s", what);
	snprintf(why, sizeof(why), "the daemon runs under BROKERD_WRAPPER, "
	    "whose own memory its RSS would count: %s", what);
	skip(1, why);
	return 1;
}

pid_t
d_exec(struct daemon *d, const char *cwd, const char *args)
{
	char	*argv[64], *wcopy, *acopy;
	int	 fd;
	pid_t	 pid;

	d_init(d);
	daemon_argv(argv, 64, &wcopy, &acopy, args);
	pid = fork();
	if (pid < 0)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		dup2(fd, STDERR_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > 2)
			close(fd);
		if (harness_listen_fd >= 0) {
			char lpid[32];

			dup2(harness_listen_fd, 3);
			snprintf(lpid, sizeof(lpid), "%d", (int)getpid());
			setenv("LISTEN_PID", lpid, 1);
			setenv("LISTEN_FDS", "1", 1);
		}
		if (cwd != NULL && chdir(cwd) != 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	free(wcopy);
	free(acopy);
	return pid;
}

/*
 * Unless text sets limits.drain_delay_s, text with drain_delay_s = 0 in
 * its top-level limits group (added at the end, or put first in the one
 * it has, on the same line: error line numbers stay); malloc'd.
 */
static char *
no_drain_delay(const char *text)
{
	const char	*g = text;
	char		*out;
	size_t		 at;

	if (strstr(text, "drain_delay_s") != NULL)
		return strdup(text);
	while (g != NULL && strncmp(g, "limits = {", 10) != 0)
		if ((g = strchr(g, '\n')) != NULL)
			g++;
	if (g == NULL) {
		if (asprintf(&out, "%s\nlimits = { drain_delay_s = 0; };\n",
		    text) < 0)
			bail("asprintf");
		return out;
	}
	at = (size_t)(g - text) + 10;
	if (asprintf(&out, "%.*s drain_delay_s = 0;%s", (int)at, text,
	    text + at) < 0)
		bail("asprintf");
	return out;
}

int
d_spawn(struct daemon *d, const char *conf_text, const char *extra)
{
	char	args[2048];

	d_init(d);
	if (conf_text != NULL) {
		char *full, *nodelay;

		/* Each daemon gets its own control socket in its temp dir. */
		if (strstr(conf_text, "control") == NULL) {
			if (asprintf(&full, "%s\ncontrol = { path = \"%s\"; };\n",
			    conf_text, d->control) < 0)
				bail("asprintf");
		} else
			full = strdup(conf_text);
		nodelay = no_drain_delay(full);
		free(full);
		full = nodelay;
		if (write_file(d->conf, full) != 0)
			bail("cannot write %s", d->conf);
		free(full);
	}
	snprintf(args, sizeof(args), "-f -c %s -p %s %s", d->conf, d->pidfile,
	    extra != NULL ? extra : "");
	unlink(d->pidfile);
	d->exited = 0;
	d->pid = d_exec(d, NULL, args);
	return 0;
}

int
d_wait_started(struct daemon *d)
{
	int		 timeout = harness_wrapped() ? 60000 : 10000, nfds;
	long long	 start;
	char		*log;

	for (start = now_ms(); now_ms() - start < timeout; msleep(10)) {
		if (!d_alive(d))
			return -1;
		if (access(d->pidfile, F_OK) == 0)
			break;
	}
	if (access(d->pidfile, F_OK) != 0) {
		diag("daemon did not start within %d ms", timeout);
		d_stop(d, SIGKILL, 2000);
		return -1;
	}
	/*
	 * The pidfile appears before the daemon closes the directory it
	 * renamed it in: a test that counts its fds next (its idle count)
	 * would count that one.  Seen under valgrind.  So: until the count
	 * holds for 20 ms.
	 */
	for (start = now_ms(); now_ms() - start < 2000;) {
		nfds = proc_nfds(d->pid);
		msleep(20);
		if (proc_nfds(d->pid) == nfds)
			break;
	}
	log = d_log(d);
	d->echo_port = find_port(log, "echo");
	d->broker_port = find_port(log, "broker");
	free(log);
	return 0;
}

int
d_start(struct daemon *d, const char *conf_text, const char *extra)
{
	d_spawn(d, conf_text, extra);
	return d_wait_started(d);
}

int
d_alive(struct daemon *d)
{
	if (d->exited)
		return 0;
	if (waitpid(d->pid, &d->status, WNOHANG) == d->pid) {
		d->exited = 1;
		return 0;
	}
	return 1;
}

int
d_stop(struct daemon *d, int sig, int timeout_ms)
{
	long long start = now_ms();

	if (d->exited)
		return d->status;
	kill(d->pid, sig);
	while (now_ms() - start < timeout_ms) {
		if (!d_alive(d))
			return d->status;
		msleep(10);
	}
	diag("daemon did not exit within %d ms; killing it", timeout_ms);
	kill(d->pid, SIGKILL);
	waitpid(d->pid, &d->status, 0);
	d->exited = 1;
	return -1;
}

char *
d_log(struct daemon *d)
{
	FILE	*f = fopen(d->log, "r");
	char	*buf;
	long	 n;

	if (f == NULL)
		return strdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	n = (long)fread(buf, 1, (size_t)n, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

int
d_log_count(struct daemon *d, const char *needle)
{
	char	*log = d_log(d), *p = log;
	int	 n = 0;

	while ((p = strstr(p, needle)) != NULL) {
		n++;
		p += strlen(needle);
	}
	free(log);
	return n;
}

void
d_log_diag(struct daemon *d, const char *needle)
{
	char	*log = d_log(d), *line, *next;

	for (line = log; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strstr(line, needle) != NULL)
			diag("log: %s", line);
	}
	free(log);
}

int
d_log_wait(struct daemon *d, const char *needle, int count, int timeout_ms)
{
	long long start = now_ms();

	do {
		if (d_log_count(d, needle) >= count)
			return 1;
		msleep(10);
	} while (now_ms() - start < timeout_ms);
	return 0;
}

/* Removes what is under path, never following a link. */
static void
remove_tree(const char *path)
{
	DIR		*dir;
	struct dirent	*de;
	struct stat	 st;
	char		 sub[1024];

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	chmod(path, 0700);
	if ((dir = opendir(path)) != NULL) {
		while ((de = readdir(dir)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			remove_tree(sub);
		}
		closedir(dir);
	}
	rmdir(path);
}

void
d_cleanup(struct daemon *d)
{
	if (getenv("KEEP_TEST_DIRS") != NULL) {
		diag("kept %s", d->dir);
		return;
	}
	remove_tree(d->dir);
}

int
run_prog(char *const argv[], const char *in, size_t inlen, char **out,
    size_t *outlen, char **err, int timeout_ms)
{
	int		 pin[2], pout[2], perr[2], status = -1;
	struct pollfd	 pfd[3];
	size_t		 inoff = 0, olen = 0, ocap = 65536, elen = 0;
	char		*obuf = malloc(ocap), ebuf[8192];
	long long	 start = now_ms();
	pid_t		 pid;
	ssize_t		 n;

	if (pipe(pin) || pipe(pout) || pipe(perr))
		bail("pipe");
	if ((pid = fork()) == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		close(pin[0]); close(pin[1]); close(pout[0]); close(pout[1]);
		close(perr[0]); close(perr[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	signal(SIGPIPE, SIG_IGN);
	if (in == NULL || inlen == 0) {
		close(pin[1]);
		pin[1] = -1;
	}
	for (;;) {
		int left = timeout_ms - (int)(now_ms() - start);

		pfd[0].fd = pin[1];
		pfd[0].events = POLLOUT;
		pfd[1].fd = pout[0];
		pfd[1].events = POLLIN;
		pfd[2].fd = perr[0];
		pfd[2].events = POLLIN;
		if (pout[0] < 0 && perr[0] < 0)
			break;
		if (left <= 0 || poll(pfd, 3, left) <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (pin[1] >= 0 && (pfd[0].revents & (POLLOUT | POLLERR))) {
			n = write(pin[1], in + inoff, inlen - inoff > 65536 ?
			    65536 : inlen - inoff);
			if (n > 0)
				inoff += (size_t)n;
			if (n < 0 || inoff == inlen) {
				close(pin[1]);
				pin[1] = -1;
			}
		}
		if (pout[0] >= 0 && (pfd[1].revents & (POLLIN | POLLHUP))) {
			if (olen == ocap)
				obuf = realloc(obuf, ocap *= 2);
			n = read(pout[0], obuf + olen, ocap - olen);
			if (n <= 0) {
				close(pout[0]);
				pout[0] = -1;
			} else
				olen += (size_t)n;
		}
		if (perr[0] >= 0 && (pfd[2].revents & (POLLIN | POLLHUP))) {
			n = read(perr[0], ebuf + elen, sizeof(ebuf) - 1 - elen);
			if (n <= 0) {
				close(perr[0]);
				perr[0] = -1;
			} else
				elen += (size_t)n;
		}
	}
	if (pin[1] >= 0)
		close(pin[1]);
	if (pout[0] >= 0)
		close(pout[0]);
	if (perr[0] >= 0)
		close(perr[0]);
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status))
		status = WEXITSTATUS(status);
	else
		status = -1;
	ebuf[elen] = '\0';
	obuf = realloc(obuf, olen + 1);
	obuf[olen] = '\0';
	if (out != NULL)
		*out = obuf;
	else
		free(obuf);
	if (outlen != NULL)
		*outlen = olen;
	if (err != NULL)
		*err = strdup(ebuf);
	return status;
}

int
d_ctl(struct daemon *d, const char *verb, char **out, char **err)
{
	const char	*brokerctl = getenv("BROKERCTL");
	char		*argv[] = { (char *)brokerctl, "-S", d->control,
	    (char *)verb, NULL };

	if (brokerctl == NULL)
		bail("BROKERCTL must be set");
	return run_prog(argv, NULL, 0, out, NULL, err, 20000);
}

int
notify_listen(struct daemon *d)
{
	struct sockaddr_un	sun = { 0 };
	int			fd;

	d_init(d);
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify",
	    d->dir) >= sizeof(sun.sun_path))
		bail("notify path too long");
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		bail("notify socket: %s", strerror(errno));
	fcntl(fd, F_SETFL, O_NONBLOCK);
	setenv("NOTIFY_SOCKET", sun.sun_path, 1);
	return fd;
}

void
notify_collect(int fd, char *seen, size_t size, int timeout_ms)
{
	char		buf[512];
	long long	t0 = now_ms();
	ssize_t		n;

	while (now_ms() - t0 < timeout_ms) {
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0) {
			msleep(10);
			continue;
		}
		buf[n] = '\0';
		if (strncmp(buf, "STATUS=", 7) == 0)
			continue;
		strncat(seen, buf, size - strlen(seen) - 2);
		strcat(seen, "|");
	}
}

int
file_has(const char *path, const char *text)
{
	char	buf[4096];
	FILE	*f = fopen(path, "r");
	size_t	n;

	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strcmp(buf, text) == 0;
}

int
file_mode(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/*
 * What to write at path: a daemon's config (d_init's name) gets
 * no_drain_delay, as in d_spawn, for reloads; malloc'd.
 */
static char *
file_text(const char *path, const char *text)
{
	const char *base = strrchr(path, '/');

	if (strcmp(base != NULL ? base + 1 : path, "brokerd.conf") == 0)
		return no_drain_delay(text);
	return strdup(text);
}

void
write_text(const char *path, const char *text, int mode)
{
	char	*full = file_text(path, text);
	int	 r = write_file(path, full);

	free(full);
	if (r != 0 || chmod(path, (mode_t)mode) != 0)
		bail("cannot write %s: %s", path, strerror(errno));
}

void
replace_text(const char *path, const char *text)
{
	char	 tmp[1024], *full = file_text(path, text);
	int	 r;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	r = write_file(tmp, full);
	free(full);
	if (r != 0 || rename(tmp, path) != 0)
		bail("cannot replace %s: %s", path, strerror(errno));
}

long
file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}
