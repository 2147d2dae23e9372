/*
 * TLS on a listener: its `tls` block (brokerd.conf(5)), the OpenSSL
 * context made from it, and the TLS transport (xport_tls.c) that
 * connections accepted there get.
 *
 * The block is parsed with the rest of the file (tls_conf.c): names only,
 * no file is opened, so parsing stays pure (the fuzzer and the string
 * loader see the same thing as the file loader).  tls_config_prepare()
 * then reads the certificates and keys of a parsed configuration into one
 * context per listen entry, on a worker thread, before the snapshot is
 * published; each failure is "conffile:line: file: reason".  A reload
 * does it again, so new connections get the new files while established
 * ones keep the context (and certificate) they were accepted with: an
 * SSL object holds a reference to its context.
 *
 * Built without TLS (configure --disable-tls), a tls block is a
 * configuration error that says so, and nothing here opens a file.
 */
#ifndef BROKERD_TLS_H
#define BROKERD_TLS_H

#include <sys/socket.h>

#include <libconfig.h>

#include <event2/event.h>

#include "daemon/settings.h"
#include "daemon/stats.h"

struct config;
struct xport;
struct ssl_ctx_st;	/* OpenSSL's SSL_CTX */
struct ssl_st;		/* OpenSSL's SSL */

/* A listener's tls block. */
struct tls_spec {
	char			*certificate;	/* chain, leaf first */
	char			*key;
	char			*client_ca;	/* NULL: no client certs */
	int			 min_version;	/* 12 or 13 */
	int			 line;
	struct ssl_ctx_st	*ctx;		/* tls_config_prepare() */
};

/* Parses setting s (the tls group) into *out; -1 after errors. */
int	tls_spec_load(struct loader *, const config_setting_t *s,
	    struct tls_spec **out);
void	tls_spec_free(struct tls_spec *);
/* Contexts are reference counted (any thread); NULL is ignored. */
struct ssl_ctx_st *tls_ctx_ref(struct ssl_ctx_st *);
void	tls_ctx_unref(struct ssl_ctx_st *);

/*
 * Loads the context of every listen entry of c that has a tls block
 * (blocking: a worker thread or brokerd -t); problems go to errs.
 */
void	tls_config_prepare(struct config *c, struct config_errors *errs);

/*
 * The TLS transport (xport.h) over the accepted socket fd: the handshake
 * first, within handshake_s, then idle_s as the plain one.  ctx names it
 * in logs; once a client certificate is verified, " cn=NAME" (escaped)
 * is appended to it (ctxsize bytes in all), so every later line of the
 * connection names its peer.  opened(arg) is called once the handshake
 * is done, before the service hears of any byte; it may close the
 * connection.  NULL if it cannot be set up (fd is then still the
 * caller's).
 */
struct xport *xport_tls_new(struct event_base *, struct ssl_ctx_st *,
	    evutil_socket_t fd, const struct sockaddr *sa, socklen_t salen,
	    int idle_s, int handshake_s, char *ctx, size_t ctxsize,
	    void (*opened)(void *), void *arg);
/*
 * (TLS builds.)  Why a handshake failed (r from SSL_do_handshake), as one
 * line; and the verified client certificate's subject CN, allocated, or
 * NULL when there is none or it holds a NUL byte.
 */
void	tls_ssl_reason(struct ssl_st *, int r, char *buf, size_t size);
char	*tls_ssl_peer_cn(struct ssl_st *);
/* TLS connections open now, for STATS. */
unsigned tls_connections(void);

#endif
