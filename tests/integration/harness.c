/* Integration test harness. */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/proto.h"
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

static void
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

int
d_spawn(struct daemon *d, const char *conf_text, const char *extra)
{
	char	args[2048];

	d_init(d);
	if (conf_text != NULL) {
		char *full;

		/* Each daemon gets its own control socket in its temp dir. */
		if (strstr(conf_text, "control") == NULL) {
			if (asprintf(&full, "%s\ncontrol = { path = \"%s\"; };\n",
			    conf_text, d->control) < 0)
				bail("asprintf");
		} else
			full = strdup(conf_text);
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
	int		 timeout = harness_wrapped() ? 60000 : 10000;
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

long
proc_rss_kb(pid_t pid)
{
	char	path[64], line[256];
	FILE	*f;
	long	 kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = atol(line + 6);
	fclose(f);
	return kb;
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
	char		 path[64], buf[1024], *p;
	FILE		*f;
	unsigned long	 ut, st;
	size_t		 len;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (long long)ut + (long long)st;
}

char
proc_state(pid_t pid)
{
	char	 path[64], buf[512], *p;
	FILE	*f;
	size_t	 len;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return '?';
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ')
		return '?';
	return p[2];
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
listening_socket(int *port)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int			on = 1;

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

int
free_port(void)
{
	int fd, port = 0;

	if ((fd = listening_socket(&port)) >= 0)
		close(fd);
	return port;
}

int
tcp_connect_from(const char *src, int port)
{
	struct sockaddr_in	sin;
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	if (src != NULL) {
		inet_pton(AF_INET, src, &sin.sin_addr);
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
			close(fd);
			return -1;
		}
	}
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The numeric value of key in a STATS reply, or -1. */
long long
stat_value(const char *data, const char *key)
{
	size_t		 kl = strlen(key);
	const char	*p = data;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, key, kl) == 0 && p[kl] == '\t')
			return atoll(p + kl + 1);
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return -1;
}

int
unix_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
tcp_connect(int port)
{
	return tcp_connect_from(NULL, port);
}

ssize_t
send_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	size_t		 off = 0;
	ssize_t		 n;

	while (off < len) {
		n = send(fd, p + off, len - off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (size_t)n;
	}
	return (ssize_t)off;
}

int
wait_eof(int fd, int timeout_ms)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	long long	 start = now_ms();
	char		 buf[4096];
	ssize_t		 n;

	for (;;) {
		int left = timeout_ms - (int)(now_ms() - start);

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			return 0;
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return 0;
	}
}

ssize_t
read_to_eof(int fd, char **out, int timeout_ms)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	size_t		 len = 0, cap = 65536;
	char		*buf = malloc(cap);
	long long	 start = now_ms();
	ssize_t		 n;

	for (;;) {
		int left = timeout_ms - (int)(now_ms() - start);

		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		if (len == cap)
			buf = realloc(buf, cap *= 2);
		n = read(fd, buf + len, cap - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	*out = buf;
	return (ssize_t)len;
}

int
read_reply(int fd, struct reply *r, int timeout_ms)
{
	struct proto_parser	 p;
	struct proto_event	 ev;
	struct pollfd		 pfd = { fd, POLLIN, 0 };
	char			 buf[65536];
	size_t			 cap = 0, off, k;
	long long		 start = now_ms();
	ssize_t			 n;
	const char		*text;

	memset(r, 0, sizeof(*r));
	r->code = -1;
	proto_init(&p, 4096, PROTO_MAX_FRAME);
	/* One byte at a time: a reply must not eat the next one's bytes. */
	for (;;) {
		int left = timeout_ms - (int)(now_ms() - start);

		if (left <= 0 || poll(&pfd, 1, left) <= 0) {
			snprintf(r->text, sizeof(r->text), "timeout");
			break;
		}
		n = read(fd, buf, proto_in_frame(&p) ? (p.remaining < sizeof(buf) ?
		    p.remaining : sizeof(buf)) : 1);
		if (n <= 0) {
			snprintf(r->text, sizeof(r->text), "eof");
			break;
		}
		for (off = 0; off < (size_t)n; off += k) {
			k = proto_feed(&p, buf + off, (size_t)n - off, &ev);
			if (ev.kind == PROTO_DATA && ev.len > 0) {
				if (r->len + ev.len + 1 > cap) {
					cap = (r->len + ev.len + 1) * 2;
					r->data = realloc(r->data, cap);
				}
				memcpy(r->data + r->len, ev.data, ev.len);
				r->len += ev.len;
			} else if (ev.kind == PROTO_LINE) {
				r->code = proto_parse_final(ev.line, &text);
				snprintf(r->text, sizeof(r->text), "%s",
				    r->code < 0 ? ev.line : text);
				goto out;
			} else if (ev.kind != PROTO_NONE &&
			    ev.kind != PROTO_DATA) {
				snprintf(r->text, sizeof(r->text), "bad frame");
				goto out;
			}
		}
	}
out:
	proto_free(&p);
	if (r->data == NULL)
		r->data = calloc(1, 1);
	else
		r->data[r->len] = '\0';
	return r->code;
}

void
reply_free(struct reply *r)
{
	free(r->data);
	r->data = NULL;
}

int
request(int fd, const char *line, struct reply *r)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s\n", line);
	if (send_all(fd, buf, strlen(buf)) < 0) {
		memset(r, 0, sizeof(*r));
		r->code = -1;
		r->data = calloc(1, 1);
		return -1;
	}
	return read_reply(fd, r, 20000);
}

int
pong_next(int fd)
{
	struct reply	r;
	int		good;

	request(fd, "PING", &r);
	good = r.code == 0 && strcmp(r.text, "pong") == 0;
	if (!good)
		diag("after it, PING got %d %s", r.code, r.text);
	reply_free(&r);
	return good;
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
echo_roundtrip(int port, const char *msg)
{
	char	*out;
	ssize_t	 n;
	int	 fd = tcp_connect(port), good;

	if (fd < 0)
		return 0;
	send_all(fd, msg, strlen(msg));
	shutdown(fd, SHUT_WR);
	n = read_to_eof(fd, &out, 5000);
	good = n == (ssize_t)strlen(msg) && memcmp(out, msg, (size_t)n) == 0;
	free(out);
	close(fd);
	return good;
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

void
write_text(const char *path, const char *text, int mode)
{
	if (write_file(path, text) != 0 || chmod(path, (mode_t)mode) != 0)
		bail("cannot write %s: %s", path, strerror(errno));
}
