/*
 * Reading into an evbuffer in big steps.  libevent 2.1's evbuffer_read()
 * (and so every bufferevent) reads at most 4 KiB per call, whatever
 * bufferevent_set_max_single_read() says; streaming megabytes that way
 * costs a callback and a system call per 4 KiB.
 */
#ifndef BROKERD_BUFIO_H
#define BROKERD_BUFIO_H

#include <sys/types.h>

#include <event2/buffer.h>
#include <event2/util.h>

/*
 * readv(2) from fd into reserved space of buf until max bytes, EAGAIN or
 * EOF.  Returns the bytes read (> 0), 0 at EOF with nothing read, or -1
 * with errno (EAGAIN when nothing was there).
 */
ssize_t	bufio_read(struct evbuffer *buf, evutil_socket_t fd, size_t max);

#endif
