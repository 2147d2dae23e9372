/*
 * Integration test harness: sockets to the daemon, and the broker
 * protocol's replies read the way a careful client reads them.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proto.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

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

void
nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

int
tcp_connect_nb(int port)
{
	struct sockaddr_in	sin;
	int			fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

int
eof_within(int fd, int ms)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	char		c;
	ssize_t		n;

	if (poll(&pfd, 1, ms) <= 0)
		return 0;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n > 0)
		return 2;
	if (n == 0 || errno == ECONNRESET)
		return 1;
	return 0;
}

int
read_byte(int fd, int ms, char *c)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	ssize_t		n;

	if (poll(&pfd, 1, ms) <= 0)
		return -1;
	n = recv(fd, c, 1, MSG_DONTWAIT);
	return n == 1 ? 1 : n == 0 ? 0 : -1;
}

long long
stat_port(int port, const char *key)
{
	struct reply	r;
	long long	v = -1;
	int		fd = tcp_connect(port);

	if (fd < 0)
		return -1;
	if (request(fd, "STATS", &r) == 0)
		v = stat_value(r.data, key);
	reply_free(&r);
	close(fd);
	return v;
}

pid_t
stats_child_pid(int port, const char *name, int timeout_ms)
{
	long long start = now_ms();

	do {
		struct reply	 r;
		const char	*p;
		pid_t		 pid = 0;
		int		 fd = tcp_connect(port);

		if (fd < 0)
			return -1;
		request(fd, "STATS", &r);
		for (p = r.data; p != NULL && *p != '\0'; ) {
			char	nm[64];
			int	pp;

			if (sscanf(p, "child.%*d\tpid %d command %63s", &pp,
			    nm) == 2 && strcmp(nm, name) == 0) {
				pid = pp;
				break;
			}
			if ((p = strchr(p, '\n')) != NULL)
				p++;
		}
		reply_free(&r);
		close(fd);
		if (pid > 0)
			return pid;
		msleep(20);
	} while (now_ms() - start < timeout_ms);
	return -1;
}
