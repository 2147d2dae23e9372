/*
 * brokerctl's connection: resolve, connect with the -t limit, to a TCP
 * listener or the unix control socket; then the transport, plain or TLS
 * (tls.c), behind one set of calls, so the pump does not know which.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "client/client.h"

struct conn {
	int		 fd;
	struct tls	*tls;		/* NULL: plain */
};

static char	*peer_name;		/* "HOST port PORT" or the socket path */
static struct conn conn;	/* one connection per run */

const char *
conn_peer(void)
{
	return peer_name;
}

/* 0 connected, -1 failed with errno set, -2 timed out. */
static int
connect_one(int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct pollfd	pfd;
	long long	deadline;
	socklen_t	len = sizeof(int);
	int		err, r;

	if (connect(fd, sa, salen) == 0)
		return 0;
	/* After EINTR the connect goes on in the background, as here. */
	if (errno != EINPROGRESS && errno != EINTR)
		return -1;
	deadline = opt.timeout_ms < 0 ? -1 : mono_ms() + opt.timeout_ms;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		r = poll(&pfd, 1, mono_left_ms(deadline));
		if (r > 0)
			break;
		if (r == 0) {
			if (deadline >= 0 && mono_ms() >= deadline)
				return -2;
		} else if (errno != EINTR)
			return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * Tries every address the host resolves to, in getaddrinfo's order; a
 * unix socket goes through the same loop as a one-entry list.
 */
static int
conn_connect(const char *port)
{
	struct addrinfo	 hints, unix_ai, *res, *ai;
	struct sockaddr_un sun;
	char		 addr[ADDR_STRLEN];
	int		 fd, r, lasterr = ECONNREFUSED, timedout = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (opt.sock != NULL) {
		peer_name = xstrdup(opt.sock);
		vlog("connecting to %s", peer_name);
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(peer_name) >= sizeof(sun.sun_path))
			errx(EXIT_NOCONN, "cannot connect to %s: %s", peer_name,
			    strerror(ENAMETOOLONG));
		memcpy(sun.sun_path, peer_name, strlen(peer_name));
		unix_ai = hints;
		unix_ai.ai_family = AF_UNIX;
		unix_ai.ai_addr = (struct sockaddr *)&sun;
		unix_ai.ai_addrlen = sizeof(sun);
		res = &unix_ai;
	} else {
		if (asprintf(&peer_name, "%s port %s", opt.host, port) == -1)
			err(EXIT_ERR, "asprintf");
		vlog("connecting to %s", peer_name);
		if ((r = getaddrinfo(opt.host, port, &hints, &res)) != 0)
			errx(EXIT_NOCONN, "cannot connect to %s: %s", peer_name,
			    r == EAI_SYSTEM ? strerror(errno) :
			    gai_strerror(r));
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			lasterr = errno;
			continue;
		}
		addr_format(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr));
		r = connect_one(fd, ai->ai_addr, ai->ai_addrlen);
		if (r == 0) {
			vlog("connected to %s", addr);
			if (res != &unix_ai)
				freeaddrinfo(res);
			return fd;
		}
		if (r == -2) {
			timedout = 1;
			vlog("%s: timed out", addr);
		} else {
			lasterr = errno;
			vlog("%s: %s", addr, strerror(lasterr));
		}
		if (close(fd) == -1)
			vlog("close: %s", strerror(errno));
	}
	if (res != &unix_ai)
		freeaddrinfo(res);
	if (timedout)
		errx(EXIT_TIMEOUT, "timed out connecting to %s", peer_name);
	if (opt.sock != NULL && (lasterr == ENOENT || lasterr == ENOTDIR ||
	    lasterr == ECONNREFUSED)) {
		/* Say where the path came from and how to name another. */
		warnx("cannot connect to %s: %s", peer_name, strerror(lasterr));
		errx(EXIT_NOCONN, "that path is %s; is brokerd running? "
		    "-S SOCKET names another socket, -c FILE another "
		    "brokerd.conf", opt.sock_from);
	}
	errx(EXIT_NOCONN, "cannot connect to %s: %s", peer_name,
	    strerror(lasterr));
}

struct conn *
conn_open(const char *port)
{
	if (opt.tls && opt.sock != NULL)
		brokerctl_usage_error("--tls applies to TCP only, not to the "
		    "control socket %s", opt.sock);
#ifdef HAVE_TLS
	/*
	 * A file that is wrong is found before any connection.  (Without
	 * TLS in the build, main() refused the options.)
	 */
	if (opt.tls)
		tls_setup();
#endif
	conn.fd = conn_connect(port);
	conn.tls = NULL;
#ifdef HAVE_TLS
	/* The handshake gets its own -t, as connecting did. */
	if (opt.tls)
		conn.tls = tls_start(conn.fd, peer_name, opt.timeout_ms < 0 ? -1 :
		    mono_ms() + opt.timeout_ms);
#endif
	return &conn;
}

#ifdef HAVE_TLS
#define TLS_OR(c, call, plain)	((c)->tls != NULL ? (call) : (plain))
#else
#define TLS_OR(c, call, plain)	((void)(c), (plain))
#endif

ssize_t
conn_read(struct conn *c, void *buf, size_t len)
{
	return TLS_OR(c, tls_read(c->tls, buf, len), read(c->fd, buf, len));
}

ssize_t
conn_write(struct conn *c, const void *buf, size_t len)
{
	return TLS_OR(c, tls_write(c->tls, buf, len),
	    write(c->fd, buf, len));
}

int
conn_shutdown(struct conn *c)
{
	return TLS_OR(c, tls_shutdown(c->tls), shutdown(c->fd, SHUT_WR));
}

short
conn_events(struct conn *c, int writing)
{
	return TLS_OR(c, tls_events(c->tls, writing),
	    POLLIN | (writing ? POLLOUT : 0));
}

int
conn_readable(struct conn *c, short revents)
{
	return TLS_OR(c, tls_readable(c->tls, revents),
	    (revents & (POLLIN | POLLHUP | POLLERR)) != 0);
}

int
conn_writable(struct conn *c, short revents)
{
	return TLS_OR(c, tls_writable(c->tls, revents),
	    (revents & (POLLOUT | POLLHUP | POLLERR)) != 0);
}

int
conn_pending(struct conn *c)
{
	return TLS_OR(c, tls_pending(c->tls), 0);
}

int
conn_fd(struct conn *c)
{
	return c->fd;
}

void
conn_close(struct conn *c)
{
	vlog("closing");
#ifdef HAVE_TLS
	if (c->tls != NULL)
		tls_close(c->tls);
	c->tls = NULL;
#endif
	if (close(c->fd) == -1)
		vlog("close: %s", strerror(errno));
	c->fd = -1;
}
