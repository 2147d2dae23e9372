/*
 * brokerctl's TLS: the context made from --ca, --cert and --key (TLS 1.2
 * at least, no renegotiation, no compression, the server's certificate
 * and name always verified), the handshake within -t, and nonblocking
 * read, write and shutdown under conn.c.  Each call notes what OpenSSL
 * waits for (WANT_READ or WANT_WRITE, either way round), which is what
 * the pump then polls for; bytes OpenSSL already holds are read without
 * waiting for poll (tls_pending).
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "client/client.h"

#define SHOWN_NAMES	4	/* a certificate's names in a message */
#define SHOWN_BYTES	120	/* of each text from a certificate */
#define TEXT_SIZE	(SHOWN_BYTES * 4 + 8)

struct tls {
	SSL		*ssl;
	const char	*peer;
	short		 rd_want;	/* what the last read waits for */
	short		 wr_want;	/* the same for write and shutdown */
	int		 rd_blocked;	/* the last read waits: not pending */
	int		 failed;	/* the connection broke: no shutdown */
	int		 shut;		/* close_notify sent */
};

/* What the verify callback saw where the server's chain failed first. */
static struct {
	int	 error;		/* X509_V_ERR_*, 0: none */
	int	 depth;
	char	 subject[TEXT_SIZE];
	char	 issuer[TEXT_SIZE];
	char	 names[SHOWN_NAMES * TEXT_SIZE];
	char	 valid[160];
} vfail;

static SSL_CTX	*ctx;
static struct tls tls_conn;	/* one connection per run */
static int	 cert_asked;	/* the server asked for one we lack */

/* Appends printf-style text to buf, cut at its size. */
static void __attribute__((format(printf, 3, 4)))
cat(char *buf, size_t size, const char *fmt, ...)
{
	size_t	len = strlen(buf);
	va_list	ap;

	if (len + 1 >= size)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
}

/* OpenSSL's reason for the oldest queued error, never NULL. */
static const char *
ssl_reason(void)
{
	static char	 buf[64];
	unsigned long	 e = ERR_peek_error();
	const char	*r;

	if (e == 0)
		return "no reason given";
	if ((r = ERR_reason_error_string(e)) != NULL)
		return r;
	snprintf(buf, sizeof(buf), "error %#lx", e);
	return buf;
}

/* A local failure (a file, memory): exits 1 with OpenSSL's reason. */
static void __attribute__((noreturn, format(printf, 1, 2)))
local_fail(const char *fmt, ...)
{
	char	what[512];
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	errx(EXIT_ERR, "%s: %s", what, ssl_reason());
}

/* Escaped text of BIO b's contents into buf; frees b. */
static void
bio_text(BIO *b, char *buf, size_t size)
{
	char	*p;
	long	 n;

	buf[0] = '\0';
	if (b == NULL)
		return;
	n = BIO_get_mem_data(b, &p);
	if (n > 0)
		str_escape(buf, size, p, (size_t)n, SHOWN_BYTES);
	BIO_free(b);
}

static void
name_text(const X509_NAME *name, char *buf, size_t size)
{
	BIO	*b = BIO_new(BIO_s_mem());

	if (b != NULL && X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0) {
		BIO_free(b);
		b = NULL;
	}
	bio_text(b, buf, size);
}

static void
time_text(const ASN1_TIME *t, char *buf, size_t size)
{
	BIO	*b = BIO_new(BIO_s_mem());

	if (b != NULL && ASN1_TIME_print(b, t) != 1) {
		BIO_free(b);
		b = NULL;
	}
	bio_text(b, buf, size);
}

/* "DNS:a, IP:127.0.0.1, ..." from the subjectAltName, or its CN. */
static void
names_text(X509 *x, char *buf, size_t size)
{
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*g;
	char		 one[TEXT_SIZE], ip[INET6_ADDRSTRLEN];
	const unsigned char *p;
	int		 i, n, shown = 0, len;

	buf[0] = '\0';
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
	for (i = 0; i < n; i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		one[0] = '\0';
		if (g->type == GEN_DNS) {
			p = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			str_escape(one, sizeof(one), (const char *)p,
			    (size_t)len, SHOWN_BYTES);
			cat(buf, size, "%sDNS:%s", shown ? ", " : "", one);
		} else if (g->type == GEN_IPADD) {
			p = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if ((len != 4 && len != 16) || inet_ntop(len == 4 ?
			    AF_INET : AF_INET6, p, ip, sizeof(ip)) == NULL)
				continue;
			cat(buf, size, "%sIP:%s", shown ? ", " : "", ip);
		} else
			continue;
		if (++shown == SHOWN_NAMES && i + 1 < n) {
			cat(buf, size, ", ...");
			break;
		}
	}
	GENERAL_NAMES_free(gens);
	if (shown == 0) {
		name_text(X509_get_subject_name(x), one, sizeof(one));
		snprintf(buf, size, "%s (no subjectAltName)", one);
	}
}

/* Notes the first failure of the chain; OpenSSL's verdict stands. */
static int
verify_cb(int ok, X509_STORE_CTX *sctx)
{
	X509	*x;
	char	 from[64], until[64];

	if (ok || vfail.error != 0)
		return ok;
	vfail.error = X509_STORE_CTX_get_error(sctx);
	vfail.depth = X509_STORE_CTX_get_error_depth(sctx);
	if ((x = X509_STORE_CTX_get_current_cert(sctx)) != NULL) {
		name_text(X509_get_subject_name(x), vfail.subject,
		    sizeof(vfail.subject));
		name_text(X509_get_issuer_name(x), vfail.issuer,
		    sizeof(vfail.issuer));
		names_text(x, vfail.names, sizeof(vfail.names));
		time_text(X509_get0_notBefore(x), from, sizeof(from));
		time_text(X509_get0_notAfter(x), until, sizeof(until));
		snprintf(vfail.valid, sizeof(vfail.valid), "from %s until %s",
		    from, until);
	}
	return ok;
}

static void
ctx_load_ca(void)
{
	struct stat st;

	if (opt.ca == NULL) {
		/* Debian's /etc/ssl/certs; SSL_CERT_FILE, SSL_CERT_DIR. */
		if (SSL_CTX_set_default_verify_paths(ctx) != 1)
			local_fail("the system's CA store");
		return;
	}
	if (stat(opt.ca, &st) == -1)
		errx(EXIT_ERR, "--ca %s: %s", opt.ca, strerror(errno));
	/* A directory is one of hashed names, as c_rehash makes. */
	if (SSL_CTX_load_verify_locations(ctx, S_ISDIR(st.st_mode) ? NULL :
	    opt.ca, S_ISDIR(st.st_mode) ? opt.ca : NULL) != 1)
		local_fail("--ca %s", opt.ca);
}

static void
ctx_load_cert(void)
{
	const char	*key = opt.key != NULL ? opt.key : opt.cert;
	struct stat	 st;

	if (opt.cert == NULL)
		return;
	if (stat(opt.cert, &st) == -1)
		errx(EXIT_ERR, "--cert %s: %s", opt.cert, strerror(errno));
	if (SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1)
		local_fail("--cert %s", opt.cert);
	if (stat(key, &st) == -1)
		errx(EXIT_ERR, "--key %s: %s", key, strerror(errno));
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		if (opt.key == NULL)
			local_fail("--cert %s holds no private key that goes "
			    "with it (see --key)", opt.cert);
		local_fail("--key %s, with --cert %s", key, opt.cert);
	}
	if (SSL_CTX_check_private_key(ctx) != 1)
		local_fail("--key %s, with --cert %s", key, opt.cert);
}

/* Called only when the server asks for a certificate and we have none. */
static int
client_cert_cb(SSL *ssl, X509 **x, EVP_PKEY **pkey)
{
	(void)ssl;
	(void)x;
	(void)pkey;
	cert_asked = 1;
	return 0;
}

void
tls_setup(void)
{
	if (ctx != NULL)
		return;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		local_fail("SSL_CTX_new");
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		local_fail("TLS 1.2");
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	/* The pump resends from a buffer whose start moves. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* One read(2) for several records; tls_pending covers the rest. */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
	SSL_CTX_set_client_cert_cb(ctx, client_cert_cb);
	ctx_load_ca();
	ctx_load_cert();
}

static const char *
server_name(void)
{
	return opt.servername != NULL ? opt.servername : opt.host;
}

/* The server's certificate did not verify: say what and where to look. */
static void __attribute__((noreturn))
verify_failed(struct tls *t)
{
	const char *why = X509_verify_cert_error_string(vfail.error);
	char	name[TEXT_SIZE];

	str_escape(name, sizeof(name), server_name(), strlen(server_name()),
	    SHOWN_BYTES);
	switch (vfail.error) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		errx(EXIT_TLSAUTH, "certificate verify failed: %s: %s "
		    "presented a certificate for %s, not for %s (see "
		    "--servername)", why, t->peer, vfail.names, name);
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		errx(EXIT_TLSAUTH, "certificate verify failed: %s: %s "
		    "presented a certificate issued by \"%s\", which is not "
		    "trusted by %s (see --ca)", why, t->peer, vfail.issuer,
		    opt.ca != NULL ? opt.ca : "the system's store");
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		errx(EXIT_TLSAUTH, "certificate verify failed: %s: \"%s\" "
		    "of %s is valid %s", why, vfail.subject, t->peer,
		    vfail.valid);
	default:
		errx(EXIT_TLSAUTH, "certificate verify failed: %s: \"%s\" "
		    "(depth %d) of %s", why, vfail.subject, vfail.depth,
		    t->peer);
	}
}

/* Whether an alert is the server refusing the client's certificate. */
static int
alert_about_cert(int alert)
{
	switch (alert) {
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_ACCESS_DENIED:
	case SSL_AD_CERTIFICATE_REQUIRED:
		return 1;
	}
	return 0;
}

/*
 * A fatal TLS error (SSL_ERROR_SSL, or a system error in the handshake):
 * the certificate checks exit EXIT_TLSAUTH, the rest EXIT_PROTO.  In
 * TLS 1.3 the server refuses a client certificate after the client's
 * handshake is over, so that alert may come in a read.
 */
static void __attribute__((noreturn))
tls_fail(struct tls *t, int kind, int handshake, int saved_errno)
{
	unsigned long	e = ERR_peek_error();
	int		reason = ERR_GET_REASON(e), alert;
	const char	*what = handshake ? "TLS handshake with" :
	    "TLS session with";

	if (handshake && vfail.error != 0)
		verify_failed(t);
	if (kind == SSL_ERROR_SYSCALL && e == 0)
		errx(EXIT_PROTO, "%s %s: %s", what, t->peer, saved_errno ?
		    strerror(saved_errno) : "connection closed");
	if (ERR_GET_LIB(e) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET) {
		alert = reason - SSL_AD_REASON_OFFSET;
		/* TLS 1.2 says only "handshake failure" then. */
		if (alert == SSL_AD_CERTIFICATE_REQUIRED || (cert_asked &&
		    (alert == SSL_AD_HANDSHAKE_FAILURE ||
		    alert_about_cert(alert))))
			errx(EXIT_TLSAUTH, "%s refused the TLS session: %s: it "
			    "wants a client certificate (see --cert)",
			    t->peer, ssl_reason());
		if (alert_about_cert(alert))
			errx(EXIT_TLSAUTH, "%s refused the TLS session: %s%s%s",
			    t->peer, ssl_reason(), opt.cert != NULL ?
			    ": it does not accept the certificate of --cert " :
			    "", opt.cert != NULL ? opt.cert : "");
		errx(EXIT_PROTO, "%s refused the TLS session: %s", t->peer,
		    ssl_reason());
	}
	if (ERR_GET_LIB(e) == ERR_LIB_SSL && handshake) {
		switch (reason) {
		case SSL_R_WRONG_VERSION_NUMBER:
		case SSL_R_PACKET_LENGTH_TOO_LONG:
		case SSL_R_HTTP_REQUEST:
		case SSL_R_RECORD_LENGTH_MISMATCH:
			errx(EXIT_PROTO, "%s does not speak TLS (%s): a plain "
			    "listener? (see -p)", t->peer, ssl_reason());
		case SSL_R_UNEXPECTED_EOF_WHILE_READING:
			errx(EXIT_PROTO, "%s closed the connection during the "
			    "TLS handshake", t->peer);
		}
	}
	errx(EXIT_PROTO, "%s %s failed: %s", what, t->peer, ssl_reason());
}

static void
handshake(struct tls *t, int fd, long long deadline)
{
	struct pollfd	pfd;
	int		r, e, saved;

	pfd.fd = fd;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_connect(t->ssl);
		saved = errno;
		if (r == 1)
			return;
		e = SSL_get_error(t->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			pfd.events = POLLIN;
		else if (e == SSL_ERROR_WANT_WRITE)
			pfd.events = POLLOUT;
		else
			tls_fail(t, e, 1, saved);
		pfd.revents = 0;
		r = poll(&pfd, 1, mono_left_ms(deadline));
		if (r == -1 && errno != EINTR)
			err(EXIT_ERR, "poll");
		/* A plain listener may wait for a line that never ends. */
		if (r == 0 && deadline >= 0 && mono_ms() >= deadline)
			errx(EXIT_TIMEOUT, "timed out in the TLS handshake "
			    "with %s (a plain listener? see -p)", t->peer);
	}
}

struct tls *
tls_start(int fd, const char *peer, long long deadline)
{
	struct tls	*t = &tls_conn;
	const char	*name = server_name();
	unsigned char	 ip[sizeof(struct in6_addr)];
	char		 subject[TEXT_SIZE];
	int		 is_ip;

	tls_setup();
	memset(t, 0, sizeof(*t));
	memset(&vfail, 0, sizeof(vfail));
	t->peer = peer;
	t->rd_want = POLLIN;
	t->wr_want = POLLOUT;
	if ((t->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(t->ssl, fd) != 1)
		local_fail("SSL_new");
	/* An address is matched against IP names and sent as no SNI. */
	is_ip = inet_pton(AF_INET, name, ip) == 1 ||
	    inet_pton(AF_INET6, name, ip) == 1;
	if (is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl),
		    name) != 1)
			local_fail("%s", name);
	} else {
		SSL_set_hostflags(t->ssl,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(t->ssl, name) != 1 ||
		    SSL_set_tlsext_host_name(t->ssl, name) != 1)
			local_fail("server name %s", name);
	}
	vlog("TLS handshake with %s, checking the name %s", peer, name);
	handshake(t, fd, deadline);
	name_text(X509_get_subject_name(SSL_get0_peer_certificate(t->ssl)),
	    subject, sizeof(subject));
	vlog("%s, %s; certificate \"%s\" verified", SSL_get_version(t->ssl),
	    SSL_get_cipher_name(t->ssl), subject);
	return t;
}

ssize_t
tls_read(struct tls *t, void *buf, size_t len)
{
	size_t	n;
	int	r, e, saved;

	ERR_clear_error();
	errno = 0;
	r = SSL_read_ex(t->ssl, buf, len, &n);
	saved = errno;
	if (r == 1) {
		t->rd_want = POLLIN;
		t->rd_blocked = 0;
		return (ssize_t)n;
	}
	switch ((e = SSL_get_error(t->ssl, r))) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		t->rd_want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		t->rd_blocked = 1;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;		/* close_notify */
	case SSL_ERROR_SYSCALL:
		t->failed = 1;
		errno = saved != 0 ? saved : ECONNRESET;
		return -1;
	}
	/*
	 * An end without close_notify: the protocol above sees whether
	 * anything is missing (a reply's final line, echo's byte count).
	 */
	if (ERR_GET_LIB(ERR_peek_error()) == ERR_LIB_SSL &&
	    ERR_GET_REASON(ERR_peek_error()) ==
	    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		vlog("%s closed the connection without a TLS close_notify",
		    t->peer);
		t->failed = 1;
		return 0;
	}
	tls_fail(t, e, 0, saved);
}

/*
 * A write or shutdown that did not go through: -1 with errno EAGAIN,
 * what it waits for noted, or the system's error (the pump reads the
 * reply before it reports a failed send); exits on a TLS error.
 */
static int
write_failed(struct tls *t, int e, int saved)
{
	if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
		t->wr_want = e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		errno = EAGAIN;
		return -1;
	}
	if (e == SSL_ERROR_SYSCALL) {
		t->failed = 1;
		errno = saved != 0 ? saved : EPIPE;
		return -1;
	}
	tls_fail(t, e, 0, saved);
}

ssize_t
tls_write(struct tls *t, const void *buf, size_t len)
{
	size_t	n, done = 0;
	int	r, saved;

	while (done < len) {
		ERR_clear_error();
		errno = 0;
		r = SSL_write_ex(t->ssl, (const char *)buf + done, len - done,
		    &n);
		saved = errno;
		if (r == 1) {
			done += n;
			continue;
		}
		(void)write_failed(t, SSL_get_error(t->ssl, r), saved);
		/* What went out counts; a failure shows again next time. */
		if (done > 0)
			break;
		return -1;
	}
	if (done == len)
		t->wr_want = POLLOUT;
	/* A write may have read records: they may be pending now. */
	t->rd_blocked = 0;
	return (ssize_t)done;
}

int
tls_shutdown(struct tls *t)
{
	int	r, saved;

	ERR_clear_error();
	errno = 0;
	r = SSL_shutdown(t->ssl);
	saved = errno;
	/* 0: sent, the server's not yet in; reading goes on. */
	if (r >= 0) {
		t->shut = 1;
		t->wr_want = POLLOUT;
		return 0;
	}
	return write_failed(t, SSL_get_error(t->ssl, r), saved);
}

short
tls_events(struct tls *t, int writing)
{
	return t->rd_want | (writing ? t->wr_want : 0);
}

int
tls_pending(struct tls *t)
{
	return !t->rd_blocked && SSL_has_pending(t->ssl);
}

int
tls_readable(struct tls *t, short revents)
{
	return tls_pending(t) ||
	    (revents & (t->rd_want | POLLHUP | POLLERR)) != 0;
}

int
tls_writable(struct tls *t, short revents)
{
	return (revents & (t->wr_want | POLLHUP | POLLERR)) != 0;
}

void
tls_close(struct tls *t)
{
	/* Best effort, not waited for: the reply is complete. */
	if (!t->failed && !t->shut) {
		ERR_clear_error();
		(void)SSL_shutdown(t->ssl);
	}
	SSL_free(t->ssl);
	t->ssl = NULL;
	SSL_CTX_free(ctx);
	ctx = NULL;
	ERR_clear_error();
}
