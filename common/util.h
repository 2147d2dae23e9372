/* Small helpers shared by brokerd, brokerctl and the tests. */
#ifndef BROKERD_UTIL_H
#define BROKERD_UTIL_H

#include <sys/types.h>
#include <sys/socket.h>
#include <stddef.h>

/* "127.0.0.1:53122" or "[::1]:53122"; always NUL-terminated. */
#define ADDR_STRLEN 64
void	 addr_format(const struct sockaddr *sa, socklen_t len, char *buf,
	    size_t size);
/* Port of an AF_INET/AF_INET6 address, or -1. */
int	 addr_port(const struct sockaddr *sa);

/*
 * Copies at most max input bytes into buf as printable text: \n, \t, \\,
 * other controls and high bytes as \xHH; "..." marks truncation.
 */
void	 str_escape(char *buf, size_t size, const char *src, size_t len,
	    size_t max);

void	*xmalloc(size_t size);
void	*xcalloc(size_t n, size_t size);
void	*xreallocarray(void *ptr, size_t n, size_t size);
char	*xstrdup(const char *s);

/* Milliseconds on CLOCK_MONOTONIC. */
long long mono_ms(void);
/* Milliseconds from now until deadline (mono_ms; -1: none), for poll(2). */
int	mono_left_ms(long long deadline);
/* Nanoseconds on CLOCK_MONOTONIC. */
long long mono_ns(void);

/* Writes all of buf, retrying on EINTR and short writes; -1 on error. */
ssize_t	 write_all(int fd, const void *buf, size_t len);

#endif
