/*
 * libconfig file -> struct config.  Every key has a default; unknown keys,
 * wrong types and out-of-range values are errors reported as
 * "file:line: message", all of them, not just the first.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/config.h"
#include "daemon/config_cmd.h"
#include "daemon/settings.h"

void
config_errors_free(struct config_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		free(errs->msg[i]);
	free(errs->msg);
	errs->msg = NULL;
	errs->n = 0;
}

const char *
config_service_name(enum service_id s)
{
	switch (s) {
	case SERVICE_ECHO:
		return "echo";
	case SERVICE_BROKER:
		return "broker";
	case SERVICE_CONTROL:
		return "control";
	case SERVICE_METRICS:
		return "metrics";
	case SERVICE_N:
		break;
	}
	return "?";
}

/* Whether s has only the printable, non-blank bytes names are made of. */
static int
host_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return 0;
	return 1;
}

/* An allow or deny list into *out (replacing it); 0 if it is bad. */
static int
load_acl(struct loader *ld, const config_setting_t *s, struct acl **out)
{
	struct acl *a = acl_load(ld, s);

	if (a == NULL)
		return 0;
	acl_unref(*out);
	*out = a;
	return 1;
}

static void
load_listen(struct loader *ld, struct config *c, const config_setting_t *list)
{
	int	i, j, n;

	if (settings_type(ld, list, CONFIG_TYPE_LIST) != 0)
		return;
	n = config_setting_length(list);
	c->listen = xcalloc((size_t)n, sizeof(*c->listen));
	c->nlisten = 0;
	for (i = 0; i < n; i++) {
		config_setting_t	*g = config_setting_get_elem(list,
					    (unsigned)i), *m;
		struct listen_spec	 ls = { .service = SERVICE_ECHO,
					    .port = -1 };
		const char		*str;
		int			 ok = 1, have_service = 0;

		ls.line = (int)config_setting_source_line(g);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			settings_error(ld, g, "listen entries must be groups "
			    "{ service = ...; address = ...; port = ...; }");
			continue;
		}
		for (j = 0; (m = config_setting_get_elem(g, (unsigned)j));
		    j++) {
			const char *key = config_setting_name(m);

			if (strcmp(key, "service") == 0) {
				if ((str = settings_string(ld, m)) == NULL) {
					ok = 0;
				} else if (strcmp(str, "echo") == 0) {
					ls.service = SERVICE_ECHO;
					have_service = 1;
				} else if (strcmp(str, "broker") == 0) {
					ls.service = SERVICE_BROKER;
					have_service = 1;
				} else if (strcmp(str, "metrics") == 0) {
					ls.service = SERVICE_METRICS;
					have_service = 1;
				} else {
					settings_error(ld, m, "unknown service "
					    "\"%s\" (echo, broker or metrics)",
					    str);
					ok = 0;
				}
			} else if (strcmp(key, "address") == 0) {
				if ((str = settings_string(ld, m)) == NULL)
					ok = 0;
				else if (!host_chars(str)) {
					/* It would reach messages raw. */
					settings_error(ld, m, "listen address "
					    "\"%s\" is not a host name or an "
					    "address", str);
					ok = 0;
				} else
					ls.address = (char *)str;
			} else if (strcmp(key, "port") == 0) {
				if (settings_int(ld, m, 0, 65535,
				    &ls.port) != 0)
					ok = 0;
			} else if (strcmp(key, "tls") == 0) {
				tls_spec_free(ls.tls);
				if (tls_spec_load(ld, m, &ls.tls) != 0)
					ok = 0;
			} else if (strcmp(key, "allow") == 0 ||
			    strcmp(key, "deny") == 0) {
				if (!load_acl(ld, m, key[0] == 'a' ?
				    &ls.allow : &ls.deny))
					ok = 0;
			} else if (strcmp(key, "max_connections_per_second") ==
			    0) {
				if (settings_int(ld, m, 1, 1000000,
				    &ls.max_cps) != 0)
					ok = 0;
			} else {
				settings_unknown(ld, m);
				ok = 0;
			}
		}
		if (ok && !have_service) {
			settings_error(ld, g, "listen entry has no service");
			ok = 0;
		}
		if (ok && ls.port < 0) {
			settings_error(ld, g, "listen entry has no port");
			ok = 0;
		}
		/* evhttp serves it: the TLS transport would never be used. */
		if (ok && ls.tls != NULL && ls.service == SERVICE_METRICS) {
			settings_error(ld, g, "listen.tls: the metrics service "
			    "does not speak TLS");
			ok = 0;
		}
		if (!ok) {
			acl_unref(ls.allow);
			acl_unref(ls.deny);
			tls_spec_free(ls.tls);
			continue;
		}
		if (ls.address == NULL)
			ls.address = "localhost";
		for (j = 0; j < (int)c->nlisten; j++) {
			struct listen_spec *o = &c->listen[j];

			/* Port 0 asks for a fresh ephemeral port each time. */
			if (ls.port != 0 && o->port == ls.port &&
			    strcmp(o->address, ls.address) == 0) {
				settings_error(ld, g, "duplicate listener %s "
				    "port %d (already at line %d)", ls.address,
				    ls.port, o->line);
				ok = 0;
				break;
			}
		}
		if (!ok) {
			acl_unref(ls.allow);
			acl_unref(ls.deny);
			tls_spec_free(ls.tls);
			continue;
		}
		ls.address = xstrdup(ls.address);
		c->listen[c->nlisten++] = ls;
	}
}

/* Group name or number -> gid. */
static int
lookup_group(const char *name, gid_t *gid)
{
	struct group	 gr, *res = NULL;
	char		 buf[4096], *end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (*end == '\0' && errno == 0) {
		*gid = (gid_t)v;
		return 0;
	}
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
		return -1;
	*gid = gr.gr_gid;
	return 0;
}

/* user or group: a name or a number, looked up in finish_access(). */
static void
load_identity(struct loader *ld, struct config *c, const config_setting_t *m)
{
	const char	*str;
	char		**to = strcmp(config_setting_name(m), "user") == 0 ?
			    &c->user : &c->group;

	if ((str = settings_string(ld, m)) == NULL)
		return;
	free(*to);
	*to = xstrdup(str);
}

/* User name or number -> uid and its primary gid (-1: no entry). */
static int
lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd	 pw, *res = NULL;
	char		 buf[4096], *end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(name, &end, 10);
	if (name[0] >= '0' && name[0] <= '9' && *end == '\0' && errno == 0 &&
	    v < (unsigned long)(uid_t)-1) {
		*uid = (uid_t)v;
		*gid = (gid_t)-1;
		if (getpwuid_r(*uid, &pw, buf, sizeof(buf), &res) == 0 &&
		    res != NULL)
			*gid = pw.pw_gid;
		return 0;
	}
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return -1;
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

/*
 * After the whole file: user and group resolved, and the top-level
 * lists shared by the listeners that have none of their own.
 */
static void
finish_access(struct loader *ld, struct config *c, config_setting_t *root)
{
	config_setting_t	*us = config_setting_get_member(root, "user");
	config_setting_t	*gs = config_setting_get_member(root, "group");
	size_t			 i;

	if (c->user != NULL) {
		if (lookup_user(c->user, &c->uid, &c->gid) != 0)
			settings_error(ld, us, "user \"%s\" is not a known "
			    "user", c->user);
		else if (c->uid == 0)
			settings_error(ld, us, "user \"%s\" is root: name "
			    "an unprivileged user to run as", c->user);
		else if (c->gid == (gid_t)-1 && c->group == NULL)
			settings_error(ld, us, "user %s has no passwd entry, "
			    "so no group: set group as well", c->user);
	}
	if (c->group != NULL) {
		if (c->user == NULL)
			settings_error(ld, gs, "group is set but user is not");
		else if (lookup_group(c->group, &c->gid) != 0)
			settings_error(ld, gs, "group \"%s\" is not a known "
			    "group", c->group);
	}
	for (i = 0; i < c->nlisten; i++) {
		if (c->listen[i].allow == NULL)
			c->listen[i].allow = acl_ref(c->allow);
		if (c->listen[i].deny == NULL)
			c->listen[i].deny = acl_ref(c->deny);
	}
}

static void
load_control(struct loader *ld, struct config *c, const config_setting_t *g)
{
	config_setting_t	*m;
	const char		*str;
	char			*end;
	unsigned long		 mode;
	int			 j;

	if (settings_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return;
	for (j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
		const char *key = config_setting_name(m);

		if (strcmp(key, "path") == 0) {
			if ((str = settings_string(ld, m)) == NULL)
				continue;
			if (str[0] != '/') {
				settings_error(ld, m, "control.path must be "
				    "absolute");
				continue;
			}
			if (strlen(str) >= 108) {
				settings_error(ld, m, "control.path is too "
				    "long for a unix socket (107 bytes at "
				    "most)");
				continue;
			}
			free(c->control_path);
			c->control_path = xstrdup(str);
		} else if (strcmp(key, "mode") == 0) {
			if ((str = settings_string(ld, m)) == NULL)
				continue;
			errno = 0;
			mode = strtoul(str, &end, 8);
			if (*end != '\0' || errno != 0 || mode > 0777) {
				settings_error(ld, m, "control.mode \"%s\" is "
				    "not an octal mode such as \"0600\"", str);
				continue;
			}
			c->control_mode = (mode_t)mode;
		} else if (strcmp(key, "group") == 0) {
			if ((str = settings_string(ld, m)) == NULL)
				continue;
			if (lookup_group(str, &c->control_gid) != 0) {
				settings_error(ld, m, "control.group \"%s\" "
				    "is not a known group", str);
				continue;
			}
			free(c->control_group);
			c->control_group = xstrdup(str);
		} else
			settings_unknown(ld, m);
	}
}

static void
load_log(struct loader *ld, struct config *c, const config_setting_t *g)
{
	config_setting_t	*m;
	const char		*str;
	int			 j, v;

	if (settings_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return;
	for (j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
		const char *key = config_setting_name(m);

		if (strcmp(key, "level") == 0) {
			if ((str = settings_string(ld, m)) == NULL)
				continue;
			if ((v = log_levelbyname(str)) < 0)
				settings_error(ld, m, "unknown log level "
				    "\"%s\" (error, warning, notice, info or "
				    "debug)", str);
			else
				c->log_level = v;
		} else if (strcmp(key, "facility") == 0) {
			if ((str = settings_string(ld, m)) == NULL)
				continue;
			if ((v = log_facilitybyname(str)) < 0)
				settings_error(ld, m, "unknown syslog "
				    "facility \"%s\" (daemon, user, auth, "
				    "local0 to local7)", str);
			else
				c->log_facility = v;
		} else if (strcmp(key, "resolve_peers") == 0)
			settings_bool(ld, m, &c->resolve_peers);
		else
			settings_unknown(ld, m);
	}
}

static const struct {
	const char	*key;
	size_t		 off;
	int		 lo, hi;
} limit_keys[] = {
#define L(k, lo, hi) { #k, offsetof(struct limits, k), lo, hi }
	L(max_clients, 1, 1000000),
	L(max_clients_per_source, 1, 1000000),
	L(max_children, 1, 10000),
	L(max_line, 64, 65536),
	L(idle_timeout_s, 1, 86400 * 7),
	L(request_timeout_s, 1, 86400),
	L(command_timeout_s, 1, 86400),
	L(shutdown_timeout_s, 1, 3600),
	L(drain_delay_s, 0, 3600),
#undef L
};

static void
load_limits(struct loader *ld, struct config *c, const config_setting_t *g)
{
	config_setting_t	*m;
	size_t			 k;
	int			 j;

	if (settings_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return;
	for (j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
		const char *key = config_setting_name(m);

		for (k = 0; k < sizeof(limit_keys) / sizeof(limit_keys[0]);
		    k++)
			if (strcmp(key, limit_keys[k].key) == 0)
				break;
		if (k == sizeof(limit_keys) / sizeof(limit_keys[0])) {
			settings_unknown(ld, m);
			continue;
		}
		settings_int(ld, m, limit_keys[k].lo, limit_keys[k].hi,
		    (int *)(void *)((char *)&c->limits + limit_keys[k].off));
	}
}

static void
set_defaults(struct config *c)
{
	static const char *df[] = { "df", "-hl", NULL };
	static const char *upper[] = { "tr", "[:lower:]", "[:upper:]", NULL };
	int i;

	c->refs = 1;
	c->listen = xcalloc(2, sizeof(*c->listen));
	c->listen[0] = (struct listen_spec){ .service = SERVICE_ECHO,
	    .address = xstrdup("localhost"), .port = 10000 };
	c->listen[1] = (struct listen_spec){ .service = SERVICE_BROKER,
	    .address = xstrdup("localhost"), .port = 10001 };
	c->nlisten = 2;
	c->control_path = xstrdup(RUNSTATEDIR "/brokerd/brokerd.sock");
	c->control_mode = 0600;
	c->control_gid = (gid_t)-1;
	c->workers = 3;
	c->slow_callback_ms = 100;
	c->log_level = LOG_INFO;
	c->log_facility = LOG_DAEMON;
	/* drain_delay_s 5 covers contrib/haproxy's checks (1 s, fall 2). */
	c->limits = (struct limits){ 1024, 64, 32, 1024, 300, 10, 30, 10, 5 };
	c->commands = xcalloc(2, sizeof(*c->commands));
	c->ncommands = 2;
	c->commands[0].name = xstrdup("df");
	c->commands[0].argv = xcalloc(3, sizeof(char *));
	for (i = 0; df[i] != NULL; i++)
		c->commands[0].argv[c->commands[0].argc++] = xstrdup(df[i]);
	c->commands[0].output = OUTPUT_DF;
	c->commands[0].path = config_command_path("df");
	c->commands[1].name = xstrdup("upper");
	c->commands[1].argv = xcalloc(4, sizeof(char *));
	for (i = 0; upper[i] != NULL; i++)
		c->commands[1].argv[c->commands[1].argc++] =
		    xstrdup(upper[i]);
	c->commands[1].input = 1;
	c->commands[1].path = config_command_path("tr");
}

static void
listen_spec_free(struct listen_spec *ls)
{
	free(ls->address);
	acl_unref(ls->allow);
	acl_unref(ls->deny);
	tls_spec_free(ls->tls);
}

static void
config_free(struct config *c)
{
	size_t i;

	free(c->file);
	for (i = 0; i < c->nlisten; i++)
		listen_spec_free(&c->listen[i]);
	free(c->listen);
	free(c->control_path);
	free(c->control_group);
	for (i = 0; i < c->ncommands; i++)
		config_command_free(&c->commands[i]);
	free(c->commands);
	acl_unref(c->allow);
	acl_unref(c->deny);
	free(c->user);
	free(c->group);
	free(c);
}

static struct config *
config_build(const char *file, config_t *cf, int readok,
    struct config_errors *errs)
{
	struct loader		 ld = { file, errs, 0 };
	struct config		*c;
	config_setting_t	*root, *m;
	int			 j;

	if (!readok) {
		const char	*ef = config_error_file(cf);
		char		 line[CONFIG_ERROR_MAX];

		/* libconfig's own position; ef may come from an @include. */
		if (config_error_type(cf) == CONFIG_ERR_FILE_IO)
			snprintf(line, sizeof(line), "%s: %s", file,
			    strerror(errno != 0 ? errno : EIO));
		else
			snprintf(line, sizeof(line), "%s:%d: %s",
			    ef != NULL ? ef : file, config_error_line(cf),
			    config_error_text(cf));
		settings_add_error(&ld, line);
		return NULL;
	}

	c = xcalloc(1, sizeof(*c));
	set_defaults(c);
	c->file = xstrdup(file);
	root = config_root_setting(cf);
	for (j = 0; (m = config_setting_get_elem(root, (unsigned)j)); j++) {
		const char *key = config_setting_name(m);

		if (strcmp(key, "listen") == 0) {
			for (size_t i = 0; i < c->nlisten; i++)
				listen_spec_free(&c->listen[i]);
			free(c->listen);
			c->listen = NULL;
			c->nlisten = 0;
			load_listen(&ld, c, m);
		} else if (strcmp(key, "control") == 0)
			load_control(&ld, c, m);
		else if (strcmp(key, "workers") == 0)
			settings_int(&ld, m, 2, 64, &c->workers);
		else if (strcmp(key, "slow_callback_ms") == 0)
			settings_int(&ld, m, 0, 600000, &c->slow_callback_ms);
		else if (strcmp(key, "debug") == 0)
			settings_bool(&ld, m, &c->debug);
		else if (strcmp(key, "log") == 0)
			load_log(&ld, c, m);
		else if (strcmp(key, "limits") == 0)
			load_limits(&ld, c, m);
		else if (strcmp(key, "commands") == 0)
			config_commands_load(&ld, m, &c->commands,
			    &c->ncommands);
		else if (strcmp(key, "allow") == 0)
			(void)load_acl(&ld, m, &c->allow);
		else if (strcmp(key, "deny") == 0)
			(void)load_acl(&ld, m, &c->deny);
		else if (strcmp(key, "user") == 0 || strcmp(key, "group") == 0)
			load_identity(&ld, c, m);
		else
			settings_unknown(&ld, m);
	}
	finish_access(&ld, c, root);
	if (ld.nerr == 0 && c->nlisten == 0)
		settings_error(&ld, config_lookup(cf, "listen"),
		    "listen has no entries: nothing to serve");
	if (ld.nerr > 0) {
		config_free(c);
		return NULL;
	}
	return c;
}

struct config *
config_load(const char *file, struct config_errors *errs)
{
	struct config	*c;
	config_t	 cf;
	int		 ok;

	/* A private libconfig instance per load: safe on any thread. */
	config_init(&cf);
	errno = 0;
	ok = config_read_file(&cf, file) == CONFIG_TRUE;
	c = config_build(file, &cf, ok, errs);
	config_destroy(&cf);
	return c;
}

struct config *
config_load_string(const char *name, const char *text,
    struct config_errors *errs)
{
	struct config	*c;
	config_t	 cf;
	int		 ok;

	config_init(&cf);
	ok = config_read_string(&cf, text) == CONFIG_TRUE;
	c = config_build(name, &cf, ok, errs);
	config_destroy(&cf);
	return c;
}

struct config *
config_ref(struct config *c)
{
	c->refs++;
	return c;
}

void
config_unref(struct config *c)
{
	if (c != NULL && --c->refs == 0)
		config_free(c);
}

const struct command_spec *
config_command(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ncommands; i++)
		if (strcmp(c->commands[i].name, name) == 0)
			return &c->commands[i];
	return NULL;
}
