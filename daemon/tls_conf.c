/*
 * A listener's tls block -> struct tls_spec: names and a version, no
 * file opened (see tls.h).  Built without TLS, the block is an error.
 */
#include "autoconf.h"

#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "common/util.h"
#include "daemon/settings.h"
#include "daemon/tls.h"

void
tls_spec_free(struct tls_spec *t)
{
	if (t == NULL)
		return;
	free(t->certificate);
	free(t->key);
	free(t->client_ca);
	tls_ctx_unref(t->ctx);
	free(t);
}

#ifdef HAVE_TLS
/* An absolute path, into *out; -1 after an error. */
static int
tls_path(struct loader *ld, const config_setting_t *m, char **out)
{
	const char	*str;
	char		 name[128];

	if ((str = settings_string(ld, m)) == NULL)
		return -1;
	if (str[0] != '/') {
		settings_path(m, name, sizeof(name));
		/* The daemon changes to / once it runs in the background. */
		settings_error(ld, m, "%s \"%s\" must be an absolute path",
		    name, str);
		return -1;
	}
	free(*out);
	*out = xstrdup(str);
	return 0;
}

int
tls_spec_load(struct loader *ld, const config_setting_t *s,
    struct tls_spec **out)
{
	struct tls_spec		*t;
	config_setting_t	*m;
	const char		*str;
	char			 name[128];
	int			 j, ok = 1;

	*out = NULL;
	if (settings_type(ld, s, CONFIG_TYPE_GROUP) != 0)
		return -1;
	t = xcalloc(1, sizeof(*t));
	t->min_version = 12;
	t->line = (int)config_setting_source_line(s);
	for (j = 0; (m = config_setting_get_elem(s, (unsigned)j)); j++) {
		const char *key = config_setting_name(m);

		if (strcmp(key, "certificate") == 0) {
			if (tls_path(ld, m, &t->certificate) != 0)
				ok = 0;
		} else if (strcmp(key, "key") == 0) {
			if (tls_path(ld, m, &t->key) != 0)
				ok = 0;
		} else if (strcmp(key, "client_ca") == 0) {
			if (tls_path(ld, m, &t->client_ca) != 0)
				ok = 0;
		} else if (strcmp(key, "min_version") == 0) {
			if ((str = settings_string(ld, m)) == NULL)
				ok = 0;
			else if (strcmp(str, "1.2") == 0)
				t->min_version = 12;
			else if (strcmp(str, "1.3") == 0)
				t->min_version = 13;
			else {
				settings_path(m, name, sizeof(name));
				settings_error(ld, m, "%s \"%s\" is not \"1.2\" "
				    "or \"1.3\"", name, str);
				ok = 0;
			}
		} else {
			settings_unknown(ld, m);
			ok = 0;
		}
	}
	if (ok && t->certificate == NULL) {
		settings_error(ld, s, "tls block has no certificate");
		ok = 0;
	}
	if (ok && t->key == NULL) {
		settings_error(ld, s, "tls block has no key");
		ok = 0;
	}
	if (!ok) {
		tls_spec_free(t);
		return -1;
	}
	*out = t;
	return 0;
}
#else
int
tls_spec_load(struct loader *ld, const config_setting_t *s,
    struct tls_spec **out)
{
	*out = NULL;
	settings_error(ld, s, "tls: this brokerd is built without TLS "
	    "(configure --disable-tls); rebuild it with OpenSSL 3");
	return -1;
}
#endif
