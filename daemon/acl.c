/* Access lists; see acl.h. */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "daemon/acl.h"

static const unsigned char v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Whether the bits of addr past prefix are all zero. */
static int
host_bits_zero(const unsigned char *addr, int len, int prefix)
{
	int i;

	for (i = prefix / 8; i < len; i++) {
		unsigned char mask = i == prefix / 8 ?
		    (unsigned char)(0xff >> (prefix % 8)) : 0xff;

		if (addr[i] & mask)
			return 0;
	}
	return 1;
}

int
acl_parse(const char *text, struct acl_entry *e, char *err, size_t errlen)
{
	char		 host[INET6_ADDRSTRLEN + 1], *end;
	const char	*slash;
	unsigned long	 bits;
	size_t		 hl;
	int		 max;

	memset(e, 0, sizeof(*e));
	if (strncmp(text, "cn:", 3) == 0) {
#ifndef HAVE_TLS
		snprintf(err, errlen, "\"%s\": cn: entries name TLS client "
		    "certificates, and this brokerd is built without TLS", text);
		return -1;
#endif
		if (text[3] == '\0') {
			snprintf(err, errlen, "\"cn:\" needs a name, as in "
			    "\"cn:monitor\"");
			return -1;
		}
		e->kind = ACL_CN;
		e->cn = xstrdup(text + 3);
		return 0;
	}
	e->kind = ACL_NET;
	slash = strchr(text, '/');
	hl = slash != NULL ? (size_t)(slash - text) : strlen(text);
	if (hl == 0 || hl >= sizeof(host))
		goto bad;
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, e->addr) == 1) {
		e->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, e->addr) == 1) {
		e->family = AF_INET6;
		max = 128;
	} else
		goto bad;
	e->prefix = max;
	if (slash != NULL) {
		/* Digits only: strtoul would take " 8", "+8" or "-0". */
		if (slash[1] < '0' || slash[1] > '9')
			goto bad;
		errno = 0;
		bits = strtoul(slash + 1, &end, 10);
		if (*end != '\0' || errno != 0 || bits > (unsigned long)max) {
			snprintf(err, errlen, "the prefix length of \"%s\" "
			    "must be 0 to %d", text, max);
			return -1;
		}
		e->prefix = (int)bits;
	}
	if (!host_bits_zero(e->addr, max / 8, e->prefix)) {
		snprintf(err, errlen, "\"%s\" has bits set past its /%d "
		    "prefix", text, e->prefix);
		return -1;
	}
	/* ::ffff:a.b.c.d/n is a.b.c.d/(n - 96): one way to match IPv4. */
	if (e->family == AF_INET6 && e->prefix >= 96 &&
	    memcmp(e->addr, v4mapped, sizeof(v4mapped)) == 0) {
		memmove(e->addr, e->addr + 12, 4);
		memset(e->addr + 4, 0, 12);
		e->family = AF_INET;
		e->prefix -= 96;
	}
	return 0;
bad:
	snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 address, a "
	    "prefix such as 192.0.2.0/24 (names are not resolved) or "
	    "cn:NAME", text);
	return -1;
}

static void
acl_free(struct acl *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->e[i].cn);
	free(a->e);
	free(a);
}

struct acl *
acl_load(struct loader *ld, const config_setting_t *s)
{
	struct acl		*a;
	config_setting_t	*m;
	char			 err[CONFIG_ERROR_MAX], name[128];
	int			 i, n, bad = 0;

	if (settings_type(ld, s, CONFIG_TYPE_LIST) != 0)
		return NULL;
	settings_path(s, name, sizeof(name));
	n = config_setting_length(s);
	a = xcalloc(1, sizeof(*a));
	a->refs = 1;
	a->e = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*a->e));
	for (i = 0; i < n; i++) {
		m = config_setting_get_elem(s, (unsigned)i);
		if (config_setting_type(m) != CONFIG_TYPE_STRING) {
			settings_error(ld, m, "%s: entries must be strings",
			    name);
			bad = 1;
			continue;
		}
		if (acl_parse(config_setting_get_string(m), &a->e[a->n], err,
		    sizeof(err)) != 0) {
			settings_error(ld, m, "%s: %s", name, err);
			bad = 1;
			continue;
		}
		a->n++;
	}
	if (bad) {
		acl_free(a);
		return NULL;
	}
	return a;
}

struct acl *
acl_ref(struct acl *a)
{
	if (a != NULL)
		a->refs++;
	return a;
}

void
acl_unref(struct acl *a)
{
	if (a != NULL && --a->refs == 0)
		acl_free(a);
}

/* sa's address as an entry would hold it: 0 if it has none. */
static int
peer_key(const struct sockaddr *sa, unsigned char addr[16])
{
	if (sa == NULL)
		return 0;
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
		return AF_INET;
	}
	if (sa->sa_family != AF_INET6)
		return 0;
	memcpy(addr, &((const struct sockaddr_in6 *)(const void *)sa)->
	    sin6_addr, 16);
	if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
		memmove(addr, addr + 12, 4);
		return AF_INET;
	}
	return AF_INET6;
}

static int
prefix_match(const struct acl_entry *e, const unsigned char *addr)
{
	int whole = e->prefix / 8, rest = e->prefix % 8;

	if (memcmp(e->addr, addr, (size_t)whole) != 0)
		return 0;
	return rest == 0 || ((e->addr[whole] ^ addr[whole]) &
	    (unsigned char)(0xff << (8 - rest))) == 0;
}

int
acl_match(const struct acl *a, const struct acl_peer *p)
{
	unsigned char	addr[16];
	int		family = peer_key(p->sa, addr);
	size_t		i;

	for (i = 0; i < a->n; i++) {
		const struct acl_entry *e = &a->e[i];

		if (e->kind == ACL_NET && e->family == family &&
		    prefix_match(e, addr))
			return 1;
		if (e->kind == ACL_CN && p->cn != NULL &&
		    strcmp(e->cn, p->cn) == 0)
			return 1;
	}
	return 0;
}

int
acl_has(const struct acl *a, enum acl_kind kind)
{
	size_t i;

	for (i = 0; a != NULL && i < a->n; i++)
		if (a->e[i].kind == kind)
			return 1;
	return 0;
}

int
acl_permits(const struct acl *allow, const struct acl *deny,
    const struct acl_peer *p)
{
	if (deny != NULL && acl_match(deny, p))
		return 0;
	return allow == NULL || acl_match(allow, p);
}
