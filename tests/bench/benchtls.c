/* TLS for the bench clients: see benchtls.h. */
#include "autoconf.h"

#include <errno.h>
#include <poll.h>
#include <string.h>

#include <openssl/err.h>

#include "tests/bench/benchtls.h"
#include "tests/bench/benchutil.h"

const char *
btls_reason(void)
{
	unsigned long	e = ERR_peek_error();
	const char	*r;

	if (e == 0)
		return errno != 0 ? strerror(errno) : "no reason given";
	r = ERR_reason_error_string(e);
	return r != NULL ? r : "unknown error";
}

SSL_CTX *
btls_client_ctx(void)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
		bench_die("TLS context: %s", btls_reason());
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	return ctx;
}

SSL *
btls_connect(SSL_CTX *ctx, int fd)
{
	SSL	*ssl;

	ERR_clear_error();
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_connect(ssl) != 1)
		bench_die("TLS handshake: %s", btls_reason());
	return ssl;
}

/* -1 and *want for WANT_READ/WANT_WRITE; dies on anything else. */
static ssize_t
io_wait(SSL *ssl, int r, int *want, const char *what)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want = POLLIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = POLLOUT;
		return -1;
	}
	bench_die("TLS %s: %s", what, btls_reason());
}

ssize_t
btls_read(SSL *ssl, void *buf, size_t len, int *want)
{
	size_t	n, got = 0;
	int	r;

	/* One record per SSL_read: take what is there, pending included. */
	while (got < len) {
		ERR_clear_error();
		errno = 0;
		r = SSL_read_ex(ssl, (char *)buf + got, len - got, &n);
		if (r == 1) {
			got += n;
			continue;
		}
		if (got > 0)
			break;
		if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN)
			return 0;
		return io_wait(ssl, r, want, "read");
	}
	return (ssize_t)got;
}

ssize_t
btls_write(SSL *ssl, const void *buf, size_t len, int *want)
{
	size_t	n, done = 0;
	int	r;

	while (done < len) {
		ERR_clear_error();
		errno = 0;
		r = SSL_write_ex(ssl, (const char *)buf + done, len - done, &n);
		if (r == 1) {
			done += n;
			continue;
		}
		if (done > 0)
			break;
		return io_wait(ssl, r, want, "write");
	}
	return (ssize_t)done;
}
