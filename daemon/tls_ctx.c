/*
 * A listener's OpenSSL context, made from its tls block (see tls.h): the
 * certificate chain, the private key (refused if group or others may
 * read it, as ssh refuses one), whether it matches the certificate, and
 * the CA that client certificates must chain to.  TLS 1.2 or 1.3 as
 * configured, no renegotiation, no compression; OpenSSL's system
 * defaults otherwise (Debian: security level 2).
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_TLS
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#endif

#include "common/util.h"
#include "daemon/config.h"
#include "daemon/tls.h"

#ifdef HAVE_TLS
struct ssl_ctx_st *
tls_ctx_ref(struct ssl_ctx_st *ctx)
{
	if (ctx != NULL)
		SSL_CTX_up_ref(ctx);
	return ctx;
}

void
tls_ctx_unref(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);	/* NULL is a no-op */
}

/* "file: OpenSSL's reason", and the error queue emptied. */
static void
ossl_error(char *err, size_t errlen, const char *file, const char *what)
{
	unsigned long	 e = ERR_peek_last_error();
	const char	*r = e != 0 ? ERR_reason_error_string(e) : NULL;

	snprintf(err, errlen, "%s: %s%s%s", file, what, r != NULL ? ": " : "",
	    r != NULL ? r : "");
	ERR_clear_error();
}

/* Whether file can be opened; if not, "file: strerror". */
static int
can_read(const char *file, char *err, size_t errlen)
{
	struct stat	st;
	int		fd;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", file);
		return -1;
	}
	return 0;
}

/* A key is never asked a passphrase for: the daemon has no terminal. */
static int
no_passphrase(char *buf, int size, int rw, void *arg)
{
	(void)buf;
	(void)size;
	(void)rw;
	*(int *)arg = 1;
	return -1;
}

/* file's key, for the certificate cert (already in ctx). */
static int
load_key(SSL_CTX *ctx, const char *file, const char *cert, char *err,
    size_t errlen)
{
	struct stat	 st;
	EVP_PKEY	*pkey;
	FILE		*f;
	int		 fd, asked = 0;

	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1 ||
	    fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* What was checked is what is read: the same open file. */
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
		if (!S_ISREG(st.st_mode))
			snprintf(err, errlen, "%s: not a regular file", file);
		else
			snprintf(err, errlen, "%s: private key is accessible "
			    "by group or others (mode %04o); chmod 600 it",
			    file, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -1;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", file, strerror(errno));
		close(fd);
		return -1;
	}
	pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, &asked);
	fclose(f);
	if (pkey == NULL) {
		if (asked) {
			snprintf(err, errlen, "%s: the private key is "
			    "encrypted; brokerd needs it unencrypted", file);
			ERR_clear_error();
		} else
			ossl_error(err, errlen, file, "no private key");
		return -1;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1) {
		EVP_PKEY_free(pkey);
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			snprintf(err, errlen, "%s: the key does not match the "
			    "certificate %s", file, cert);
		} else
			ossl_error(err, errlen, file, "unusable private key");
		return -1;
	}
	EVP_PKEY_free(pkey);
	return 0;
}

static SSL_CTX *
ctx_new(const struct tls_spec *t, char *err, size_t errlen)
{
	static const unsigned char sid[] = "brokerd";
	STACK_OF(X509_NAME)	*names;
	SSL_CTX			*ctx;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		ossl_error(err, errlen, "OpenSSL", "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, t->min_version == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION);
	/*
	 * An unexpected EOF reads as the end of the stream: requests and
	 * replies say where they end, a truncation cannot pass as one.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	/*
	 * The transport retries a write from wherever its bytes are now.
	 * Idle connections give their record buffers back: 16.5 KiB an
	 * idle connection instead of 25.6 (tests/bench/RESULTS.md).
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
	/* A record's header and body in one read(2), not two. */
	SSL_CTX_set_read_ahead(ctx, 1);
	/* Resumed sessions with client certificates need one. */
	SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
	if (can_read(t->certificate, err, errlen) != 0)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, t->certificate) != 1) {
		ossl_error(err, errlen, t->certificate, "no certificate");
		goto fail;
	}
	if (load_key(ctx, t->key, t->certificate, err, errlen) != 0)
		goto fail;
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s: the key does not match the "
		    "certificate %s", t->key, t->certificate);
		goto fail;
	}
	if (t->client_ca == NULL)
		return ctx;
	if (can_read(t->client_ca, err, errlen) != 0)
		goto fail;
	if (SSL_CTX_load_verify_locations(ctx, t->client_ca, NULL) != 1) {
		ossl_error(err, errlen, t->client_ca, "no CA certificate");
		goto fail;
	}
	if ((names = SSL_load_client_CA_file(t->client_ca)) == NULL) {
		ossl_error(err, errlen, t->client_ca, "no CA certificate");
		goto fail;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_config_prepare(struct config *c, struct config_errors *errs)
{
	struct loader	 ld = { c->file, errs, 0 };
	char		 err[400], line[CONFIG_ERROR_MAX];
	size_t		 i;

	for (i = 0; i < c->nlisten; i++) {
		struct tls_spec *t = c->listen[i].tls;

		if (t == NULL || t->ctx != NULL)
			continue;
		if ((t->ctx = ctx_new(t, err, sizeof(err))) == NULL) {
			snprintf(line, sizeof(line), "%s:%d: %s", c->file,
			    t->line, err);
			settings_add_error(&ld, line);
		}
	}
}
/* OpenSSL's reason for a failed handshake (r from SSL_do_handshake). */
void
tls_ssl_reason(struct ssl_st *ssl, int r, char *buf, size_t size)
{
	unsigned long	 e;
	const char	*why;
	long		 v;
	int		 err = errno;

	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_SYSCALL:
		snprintf(buf, size, "%s", err != 0 ? strerror(err) :
		    "the peer closed the connection");
		return;
	case SSL_ERROR_ZERO_RETURN:
		snprintf(buf, size, "the peer closed the connection");
		return;
	}
	e = ERR_peek_last_error();
	why = e != 0 ? ERR_reason_error_string(e) : NULL;
	snprintf(buf, size, "%s", why != NULL ? why : "unknown error");
	v = SSL_get_verify_result(ssl);
	if (v != X509_V_OK)
		snprintf(buf + strlen(buf), size - strlen(buf), " (%s)",
		    X509_verify_cert_error_string(v));
}

char *
tls_ssl_peer_cn(struct ssl_st *ssl)
{
	X509		*peer = SSL_get0_peer_certificate(ssl);
	X509_NAME	*name;
	unsigned char	*utf8 = NULL;
	char		*cn = NULL;
	int		 i, n;

	if (peer == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return NULL;
	name = X509_get_subject_name(peer);
	if ((i = X509_NAME_get_index_by_NID(name, NID_commonName, -1)) < 0)
		return NULL;
	n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(
	    X509_NAME_get_entry(name, i)));
	/* A NUL inside would make it another name in an allow list. */
	if (n > 0 && memchr(utf8, '\0', (size_t)n) == NULL) {
		cn = xcalloc(1, (size_t)n + 1);
		memcpy(cn, utf8, (size_t)n);
	}
	OPENSSL_free(utf8);
	return cn;
}

#else
struct ssl_ctx_st *
tls_ctx_ref(struct ssl_ctx_st *ctx)
{
	return ctx;
}

void
tls_ctx_unref(struct ssl_ctx_st *ctx)
{
	(void)ctx;
}

void
tls_config_prepare(struct config *c, struct config_errors *errs)
{
	(void)c;
	(void)errs;
}

/* Never called: without TLS no listener has a context. */
struct xport *
xport_tls_new(struct event_base *base, struct ssl_ctx_st *sslctx,
    evutil_socket_t fd, const struct sockaddr *sa, socklen_t salen,
    int idle_s, int handshake_s, char *ctx, size_t ctxsize,
    void (*opened)(void *), void *arg)
{
	(void)opened;
	(void)arg;
	(void)base;
	(void)sslctx;
	(void)fd;
	(void)sa;
	(void)salen;
	(void)idle_s;
	(void)handshake_s;
	(void)ctx;
	(void)ctxsize;
	return NULL;
}

unsigned
tls_connections(void)
{
	return 0;
}
#endif
