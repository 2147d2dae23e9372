/*
 * Access lists: the allow and deny lists of brokerd.conf(5).  An entry is
 * an IPv4 or IPv6 address or a CIDR prefix ("192.0.2.0/24",
 * "2001:db8::/32"); nothing is resolved.  A peer whose address is an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is matched as IPv4, and so is
 * an entry written that way.
 *
 * An entry is tagged with its kind and a peer is a description: besides
 * addresses, "cn:NAME" matches a peer whose transport verified that name
 * (TLS: the subject CN of its client certificate, xport_identity()).  A
 * list with both kinds allows a peer that matches either.
 *
 * Lists are immutable once loaded and reference counted: a listener
 * without lists of its own shares the top-level ones.
 */
#ifndef BROKERD_ACL_H
#define BROKERD_ACL_H

#include <sys/socket.h>
#include <stddef.h>

#include <libconfig.h>

#include "daemon/settings.h"

enum acl_kind {
	ACL_NET,		/* an address or a prefix */
	ACL_CN			/* "cn:NAME": a verified identity */
};

struct acl_entry {
	enum acl_kind	 kind;
	int		 family;	/* AF_INET, AF_INET6 */
	int		 prefix;	/* bits */
	unsigned char	 addr[16];	/* host bits zero */
	char		*cn;		/* ACL_CN: NAME */
};

struct acl {
	int			 refs;
	struct acl_entry	*e;
	size_t			 n;
};

/* Who is asking. */
struct acl_peer {
	const struct sockaddr	*sa;	/* NULL: no address (local) */
	const char		*cn;	/* verified name; NULL: none */
};

/*
 * One entry, parsed; -1 with err set if it is none.  An address with
 * host bits set past its prefix is an error, not silently masked.
 */
int	acl_parse(const char *text, struct acl_entry *, char *err,
	    size_t errlen);
/* The list setting s (["a", "b/24", ...]); NULL (errors added) if bad. */
struct acl *acl_load(struct loader *, const config_setting_t *s);
struct acl *acl_ref(struct acl *);
void	acl_unref(struct acl *);
/* Whether acl (NULL: none) has an entry of kind. */
int	acl_has(const struct acl *, enum acl_kind);
/* Whether an entry of acl matches the peer. */
int	acl_match(const struct acl *, const struct acl_peer *);
/*
 * Whether the peer gets in: it is in allow (NULL: everyone is) and not
 * in deny (NULL: nobody is); deny wins.
 */
int	acl_permits(const struct acl *allow, const struct acl *deny,
	    const struct acl_peer *);

#endif
