/*
 * libconfig file -> struct config.  Every key has a default; unknown keys,
 * wrong types and out-of-range values are errors reported as
 * "file:line: message", all of them, not just the first.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon/config.h"
#include "common/log.h"
#include "common/util.h"

/* An error line, before escaping. */
#define CONFIG_ERROR_MAX	512

struct loader {
	const char		*file;
	struct config_errors	*errs;
	int			 nerr;
};

/*
 * Adds an error line, escaped: it quotes strings of the file (and names
 * it), and ends up in log lines and in RELOAD's one-line reply.
 */
static void
add_error(struct loader *ld, const char *line)
{
	char esc[4 * CONFIG_ERROR_MAX + 4];

	str_escape(esc, sizeof(esc), line, strlen(line), CONFIG_ERROR_MAX);
	ld->errs->msg = xreallocarray(ld->errs->msg, ld->errs->n + 1,
	    sizeof(char *));
	ld->errs->msg[ld->errs->n++] = xstrdup(esc);
	ld->nerr++;
}

static void LOG_PRINTF(3, 4)
cerr(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	char	 line[CONFIG_ERROR_MAX];
	va_list	 ap;
	int	 lineno = s != NULL ? (int)config_setting_source_line(s) : 0;
	int	 n;

	n = snprintf(line, sizeof(line), "%s:%d: ", ld->file, lineno);
	if (n >= 0 && (size_t)n < sizeof(line)) {
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	add_error(ld, line);
}

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
	case SERVICE_N:
		break;
	}
	return "?";
}

static const char *
type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_ARRAY:
		return "an array";
	case CONFIG_TYPE_LIST:
		return "a list";
	}
	return "of an unknown type";
}

/* Setting names for messages: "limits.max_line", "commands.df.argv". */
static void
setting_path(const config_setting_t *s, char *buf, size_t size)
{
	const char *parts[8];
	int	n = 0, i;
	size_t	o = 0;

	for (; s != NULL && n < 8; s = config_setting_parent(s))
		if (config_setting_name(s) != NULL)
			parts[n++] = config_setting_name(s);
	buf[0] = '\0';
	for (i = n - 1; i >= 0 && o < size; i--)
		o += (size_t)snprintf(buf + o, size - o, "%s%s",
		    i == n - 1 ? "" : ".", parts[i]);
}

static int
want_type(struct loader *ld, const config_setting_t *s, int type)
{
	char	name[128];
	int	t = config_setting_type(s);

	if (t == type || (type == CONFIG_TYPE_INT && t == CONFIG_TYPE_INT64))
		return 0;
	if (type == CONFIG_TYPE_LIST && t == CONFIG_TYPE_ARRAY)
		return 0;
	setting_path(s, name, sizeof(name));
	cerr(ld, s, "%s must be %s, not %s", name, type_name(type),
	    type_name(t));
	return -1;
}

static int
get_int(struct loader *ld, const config_setting_t *s, long long lo,
    long long hi, int *out)
{
	char		name[128];
	long long	v;

	if (want_type(ld, s, CONFIG_TYPE_INT) != 0)
		return -1;
	v = config_setting_get_int64(s);
	if (v < lo || v > hi) {
		setting_path(s, name, sizeof(name));
		cerr(ld, s, "%s = %lld is out of range (%lld to %lld)", name,
		    v, lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int
get_bool(struct loader *ld, const config_setting_t *s, int *out)
{
	if (want_type(ld, s, CONFIG_TYPE_BOOL) != 0)
		return -1;
	*out = config_setting_get_bool(s);
	return 0;
}

static const char *
get_string(struct loader *ld, const config_setting_t *s)
{
	char name[128];

	if (want_type(ld, s, CONFIG_TYPE_STRING) != 0)
		return NULL;
	if (*config_setting_get_string(s) == '\0') {
		setting_path(s, name, sizeof(name));
		cerr(ld, s, "%s must not be empty", name);
		return NULL;
	}
	return config_setting_get_string(s);
}

static void
unknown_key(struct loader *ld, const config_setting_t *s)
{
	char name[128];

	setting_path(s, name, sizeof(name));
	cerr(ld, s, "unknown key %s", name);
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

static void
load_listen(struct loader *ld, struct config *c, const config_setting_t *list)
{
	int	i, j, n;

	if (want_type(ld, list, CONFIG_TYPE_LIST) != 0)
		return;
	n = config_setting_length(list);
	c->listen = xcalloc((size_t)n, sizeof(*c->listen));
	c->nlisten = 0;
	for (i = 0; i < n; i++) {
		config_setting_t	*g = config_setting_get_elem(list,
					    (unsigned)i), *m;
		struct listen_spec	 ls = { SERVICE_ECHO, NULL, -1, 0 };
		const char		*str;
		int			 ok = 1, have_service = 0;

		ls.line = (int)config_setting_source_line(g);
		if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
			cerr(ld, g, "listen entries must be groups "
			    "{ service = ...; address = ...; port = ...; }");
			continue;
		}
		for (j = 0; (m = config_setting_get_elem(g, (unsigned)j));
		    j++) {
			const char *key = config_setting_name(m);

			if (strcmp(key, "service") == 0) {
				if ((str = get_string(ld, m)) == NULL) {
					ok = 0;
				} else if (strcmp(str, "echo") == 0) {
					ls.service = SERVICE_ECHO;
					have_service = 1;
				} else if (strcmp(str, "broker") == 0) {
					ls.service = SERVICE_BROKER;
					have_service = 1;
				} else {
					cerr(ld, m, "unknown service \"%s\" "
					    "(echo or broker)", str);
					ok = 0;
				}
			} else if (strcmp(key, "address") == 0) {
				if ((str = get_string(ld, m)) == NULL)
					ok = 0;
				else if (!host_chars(str)) {
					/* It would reach messages raw. */
					cerr(ld, m, "listen address \"%s\" is "
					    "not a host name or an address",
					    str);
					ok = 0;
				} else
					ls.address = (char *)str;
			} else if (strcmp(key, "port") == 0) {
				if (get_int(ld, m, 0, 65535, &ls.port) != 0)
					ok = 0;
			} else {
				unknown_key(ld, m);
				ok = 0;
			}
		}
		if (ok && !have_service) {
			cerr(ld, g, "listen entry has no service");
			ok = 0;
		}
		if (ok && ls.port < 0) {
			cerr(ld, g, "listen entry has no port");
			ok = 0;
		}
		if (!ok)
			continue;
		if (ls.address == NULL)
			ls.address = "localhost";
		for (j = 0; j < (int)c->nlisten; j++) {
			struct listen_spec *o = &c->listen[j];

			/* Port 0 asks for a fresh ephemeral port each time. */
			if (ls.port != 0 && o->port == ls.port &&
			    strcmp(o->address, ls.address) == 0) {
				cerr(ld, g, "duplicate listener %s port %d "
				    "(already at line %d)", ls.address,
				    ls.port, o->line);
				ok = 0;
				break;
			}
		}
		if (!ok)
			continue;
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

static void
load_control(struct loader *ld, struct config *c, const config_setting_t *g)
{
	config_setting_t	*m;
	const char		*str;
	char			*end;
	unsigned long		 mode;
	int			 j;

	if (want_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return;
	for (j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
		const char *key = config_setting_name(m);

		if (strcmp(key, "path") == 0) {
			if ((str = get_string(ld, m)) == NULL)
				continue;
			if (str[0] != '/') {
				cerr(ld, m, "control.path must be absolute");
				continue;
			}
			if (strlen(str) >= 108) {
				cerr(ld, m, "control.path is too long for a "
				    "unix socket (107 bytes at most)");
				continue;
			}
			free(c->control_path);
			c->control_path = xstrdup(str);
		} else if (strcmp(key, "mode") == 0) {
			if ((str = get_string(ld, m)) == NULL)
				continue;
			errno = 0;
			mode = strtoul(str, &end, 8);
			if (*end != '\0' || errno != 0 || mode > 0777) {
				cerr(ld, m, "control.mode \"%s\" is not an "
				    "octal mode such as \"0600\"", str);
				continue;
			}
			c->control_mode = (mode_t)mode;
		} else if (strcmp(key, "group") == 0) {
			if ((str = get_string(ld, m)) == NULL)
				continue;
			if (lookup_group(str, &c->control_gid) != 0) {
				cerr(ld, m, "control.group \"%s\" is not a "
				    "known group", str);
				continue;
			}
			free(c->control_group);
			c->control_group = xstrdup(str);
		} else
			unknown_key(ld, m);
	}
}

static void
load_log(struct loader *ld, struct config *c, const config_setting_t *g)
{
	config_setting_t	*m;
	const char		*str;
	int			 j, v;

	if (want_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return;
	for (j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
		const char *key = config_setting_name(m);

		if (strcmp(key, "level") == 0) {
			if ((str = get_string(ld, m)) == NULL)
				continue;
			if ((v = log_levelbyname(str)) < 0)
				cerr(ld, m, "unknown log level \"%s\" (error, "
				    "warning, notice, info or debug)", str);
			else
				c->log_level = v;
		} else if (strcmp(key, "facility") == 0) {
			if ((str = get_string(ld, m)) == NULL)
				continue;
			if ((v = log_facilitybyname(str)) < 0)
				cerr(ld, m, "unknown syslog facility \"%s\" "
				    "(daemon, user, auth, local0 to local7)",
				    str);
			else
				c->log_facility = v;
		} else if (strcmp(key, "resolve_peers") == 0)
			get_bool(ld, m, &c->resolve_peers);
		else
			unknown_key(ld, m);
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
#undef L
};

static void
load_limits(struct loader *ld, struct config *c, const config_setting_t *g)
{
	config_setting_t	*m;
	size_t			 k;
	int			 j;

	if (want_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return;
	for (j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
		const char *key = config_setting_name(m);

		for (k = 0; k < sizeof(limit_keys) / sizeof(limit_keys[0]);
		    k++)
			if (strcmp(key, limit_keys[k].key) == 0)
				break;
		if (k == sizeof(limit_keys) / sizeof(limit_keys[0])) {
			unknown_key(ld, m);
			continue;
		}
		get_int(ld, m, limit_keys[k].lo, limit_keys[k].hi,
		    (int *)(void *)((char *)&c->limits + limit_keys[k].off));
	}
}

/* Looks name up in CHILD_PATH; returns a malloc'd path or NULL. */
static char *
resolve_path(const char *name)
{
	char	 buf[PATH_MAX];
	const char *p = CHILD_PATH, *colon;

	if (strchr(name, '/') != NULL)
		return access(name, X_OK) == 0 ? xstrdup(name) : NULL;
	while (*p != '\0') {
		size_t dl;

		colon = strchr(p, ':');
		dl = colon != NULL ? (size_t)(colon - p) : strlen(p);
		if ((size_t)snprintf(buf, sizeof(buf), "%.*s/%s", (int)dl, p,
		    name) < sizeof(buf) && access(buf, X_OK) == 0)
			return xstrdup(buf);
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	return NULL;
}

static void
command_free(struct command_spec *cs)
{
	int i;

	free(cs->name);
	for (i = 0; i < cs->argc; i++)
		free(cs->argv[i]);
	free(cs->argv);
	free(cs->path);
}

static int
load_command(struct loader *ld, struct command_spec *cs,
    const config_setting_t *g)
{
	config_setting_t	*m, *a;
	const char		*str;
	int			 j, k, n, ok = 1, have_argv = 0;

	memset(cs, 0, sizeof(*cs));
	if (want_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return -1;
	for (j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
		const char *key = config_setting_name(m);

		if (strcmp(key, "argv") == 0) {
			if (want_type(ld, m, CONFIG_TYPE_LIST) != 0) {
				ok = 0;
				continue;
			}
			n = config_setting_length(m);
			if (n == 0) {
				cerr(ld, m, "commands.%s.argv is empty",
				    config_setting_name(g));
				ok = 0;
				continue;
			}
			cs->argv = xcalloc((size_t)n + 1, sizeof(char *));
			for (k = 0; k < n; k++) {
				a = config_setting_get_elem(m, (unsigned)k);
				if (config_setting_type(a) !=
				    CONFIG_TYPE_STRING) {
					cerr(ld, a, "commands.%s.argv "
					    "elements must be strings",
					    config_setting_name(g));
					ok = 0;
					break;
				}
				cs->argv[cs->argc++] =
				    xstrdup(config_setting_get_string(a));
			}
			if (ok && cs->argv[0][0] == '\0') {
				cerr(ld, m, "commands.%s.argv[0] is empty",
				    config_setting_name(g));
				ok = 0;
			} else if (ok && strchr(cs->argv[0], '/') != NULL &&
			    cs->argv[0][0] != '/') {
				cerr(ld, m, "commands.%s.argv[0] must be a "
				    "command name or an absolute path",
				    config_setting_name(g));
				ok = 0;
			}
			have_argv = 1;
		} else if (strcmp(key, "input") == 0) {
			if (get_bool(ld, m, &cs->input) != 0)
				ok = 0;
		} else if (strcmp(key, "output") == 0) {
			if ((str = get_string(ld, m)) == NULL)
				ok = 0;
			else if (strcmp(str, "raw") == 0)
				cs->output = OUTPUT_RAW;
			else if (strcmp(str, "df") == 0)
				cs->output = OUTPUT_DF;
			else {
				cerr(ld, m, "commands.%s.output must be "
				    "\"raw\" or \"df\"",
				    config_setting_name(g));
				ok = 0;
			}
		} else if (strcmp(key, "timeout_s") == 0) {
			if (get_int(ld, m, 1, 86400, &cs->timeout_s) != 0)
				ok = 0;
		} else {
			unknown_key(ld, m);
			ok = 0;
		}
	}
	if (ok && !have_argv) {
		cerr(ld, g, "commands.%s has no argv", config_setting_name(g));
		ok = 0;
	}
	if (!ok) {
		command_free(cs);
		return -1;
	}
	cs->name = xstrdup(config_setting_name(g));
	/* A missing binary is not a config error: RUN reports it as 502. */
	cs->path = resolve_path(cs->argv[0]);
	return 0;
}

static void
load_commands(struct loader *ld, struct config *c, const config_setting_t *g)
{
	int	i, n;

	if (want_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return;
	for (i = 0; i < (int)c->ncommands; i++)
		command_free(&c->commands[i]);
	free(c->commands);
	n = config_setting_length(g);
	c->commands = xcalloc((size_t)n, sizeof(*c->commands));
	c->ncommands = 0;
	for (i = 0; i < n; i++)
		if (load_command(ld, &c->commands[c->ncommands],
		    config_setting_get_elem(g, (unsigned)i)) == 0)
			c->ncommands++;
}

static void
set_defaults(struct config *c)
{
	static const char *df[] = { "df", "-hl", NULL };
	static const char *upper[] = { "tr", "[:lower:]", "[:upper:]", NULL };
	int i;

	c->refs = 1;
	c->listen = xcalloc(2, sizeof(*c->listen));
	c->listen[0] = (struct listen_spec){ SERVICE_ECHO,
	    xstrdup("localhost"), 10000, 0 };
	c->listen[1] = (struct listen_spec){ SERVICE_BROKER,
	    xstrdup("localhost"), 10001, 0 };
	c->nlisten = 2;
	c->control_path = xstrdup(RUNSTATEDIR "/brokerd/brokerd.sock");
	c->control_mode = 0600;
	c->control_gid = (gid_t)-1;
	c->workers = 3;
	c->slow_callback_ms = 100;
	c->log_level = LOG_INFO;
	c->log_facility = LOG_DAEMON;
	c->limits = (struct limits){ 1024, 64, 32, 1024, 300, 10, 30, 10 };
	c->commands = xcalloc(2, sizeof(*c->commands));
	c->ncommands = 2;
	c->commands[0].name = xstrdup("df");
	c->commands[0].argv = xcalloc(3, sizeof(char *));
	for (i = 0; df[i] != NULL; i++)
		c->commands[0].argv[c->commands[0].argc++] = xstrdup(df[i]);
	c->commands[0].output = OUTPUT_DF;
	c->commands[0].path = resolve_path("df");
	c->commands[1].name = xstrdup("upper");
	c->commands[1].argv = xcalloc(4, sizeof(char *));
	for (i = 0; upper[i] != NULL; i++)
		c->commands[1].argv[c->commands[1].argc++] =
		    xstrdup(upper[i]);
	c->commands[1].input = 1;
	c->commands[1].path = resolve_path("tr");
}

static void
config_free(struct config *c)
{
	size_t i;

	free(c->file);
	for (i = 0; i < c->nlisten; i++)
		free(c->listen[i].address);
	free(c->listen);
	free(c->control_path);
	free(c->control_group);
	for (i = 0; i < c->ncommands; i++)
		command_free(&c->commands[i]);
	free(c->commands);
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
		add_error(&ld, line);
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
				free(c->listen[i].address);
			free(c->listen);
			c->listen = NULL;
			c->nlisten = 0;
			load_listen(&ld, c, m);
		} else if (strcmp(key, "control") == 0)
			load_control(&ld, c, m);
		else if (strcmp(key, "workers") == 0)
			get_int(&ld, m, 2, 64, &c->workers);
		else if (strcmp(key, "slow_callback_ms") == 0)
			get_int(&ld, m, 0, 600000, &c->slow_callback_ms);
		else if (strcmp(key, "debug") == 0)
			get_bool(&ld, m, &c->debug);
		else if (strcmp(key, "log") == 0)
			load_log(&ld, c, m);
		else if (strcmp(key, "limits") == 0)
			load_limits(&ld, c, m);
		else if (strcmp(key, "commands") == 0)
			load_commands(&ld, c, m);
		else
			unknown_key(&ld, m);
	}
	if (ld.nerr == 0 && c->nlisten == 0)
		cerr(&ld, config_lookup(cf, "listen"),
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
