/* Reading into an evbuffer in big steps; see bufio.h. */
#include "autoconf.h"

#include <sys/uio.h>

#include <errno.h>

#include "daemon/bufio.h"

/*
 * Steps of 64 KiB chains: libevent rounds a chain's size, its header
 * included, up to a power of two, so 64 KiB of data would take 128 KiB.
 */
#define BUFIO_STEP	(64 * 1024 - 64)

ssize_t
bufio_read(struct evbuffer *buf, evutil_socket_t fd, size_t max)
{
	struct evbuffer_iovec	v[2];
	struct iovec		iov[2];
	size_t			total = 0, step, left;
	ssize_t			n;
	int			i, nv;

	while (total < max) {
		step = max - total < BUFIO_STEP ? max - total : BUFIO_STEP;
		nv = evbuffer_reserve_space(buf, (ev_ssize_t)step, v, 2);
		if (nv <= 0)
			break;
		/* The space reserved may be more than asked for. */
		for (i = 0, left = step; i < nv; i++) {
			iov[i].iov_base = v[i].iov_base;
			iov[i].iov_len = v[i].iov_len < left ? v[i].iov_len :
			    left;
			left -= iov[i].iov_len;
		}
		do
			n = readv(fd, iov, nv);
		while (n < 0 && errno == EINTR);
		if (n <= 0) {
			evbuffer_commit_space(buf, v, 0);
			if (total > 0)
				break;
			return n;
		}
		/* Commit exactly what readv filled, across the vectors. */
		for (i = 0, left = (size_t)n; i < nv; i++) {
			if (v[i].iov_len > left)
				v[i].iov_len = left;
			left -= v[i].iov_len;
		}
		evbuffer_commit_space(buf, v, nv);
		total += (size_t)n;
		if ((size_t)n < step)
			break;		/* drained for now */
	}
	return (ssize_t)total;
}
