/*
 * TLS for the bench clients (built with TLS only): a client context for
 * full TLS 1.3 handshakes (no session cache, no resumption) that does not
 * verify the server, since the benchmark measures the server, and the
 * nonblocking read and write the clients share.
 */
#ifndef BROKERD_BENCHTLS_H
#define BROKERD_BENCHTLS_H

#include <sys/types.h>
#include <stddef.h>

#include <openssl/ssl.h>

SSL_CTX		*btls_client_ctx(void);
/* A blocking handshake on the connected blocking fd; dies on failure. */
SSL		*btls_connect(SSL_CTX *, int fd);
/*
 * Nonblocking I/O: bytes moved (btls_read: as many as the buffer takes
 * or OpenSSL has without waiting), 0 at the peer's end of data (read),
 * or -1 when it must wait, with *want the poll event (POLLIN, POLLOUT;
 * the same bits as EPOLLIN, EPOLLOUT).  Dies on errors.
 */
ssize_t		 btls_read(SSL *, void *, size_t, int *want);
ssize_t		 btls_write(SSL *, const void *, size_t, int *want);
/* OpenSSL's reason for the oldest queued error, never NULL. */
const char	*btls_reason(void);

#endif
