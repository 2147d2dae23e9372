/*
 * The commands section of the configuration: each command's argv, input,
 * output, timeout, lists, limits, environment and directory, checked,
 * and argv[0] resolved against CHILD_PATH.
 */
#include "autoconf.h"

#include <libconfig.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/config_cmd.h"
#include "daemon/settings.h"

/* Looks name up in CHILD_PATH; returns a malloc'd path or NULL. */
char *
config_command_path(const char *name)
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

void
config_command_free(struct command_spec *cs)
{
	int i;

	free(cs->name);
	for (i = 0; i < cs->argc; i++)
		free(cs->argv[i]);
	free(cs->argv);
	free(cs->path);
	acl_unref(cs->allow);
	acl_unref(cs->deny);
	for (i = 0; cs->envp != NULL && cs->envp[i] != NULL; i++)
		free(cs->envp[i]);
	free(cs->envp);
	free(cs->cwd);
}

static int
load_argv(struct loader *ld, struct command_spec *cs,
    const config_setting_t *m, const char *cname)
{
	config_setting_t	*a;
	int			 k, n;

	if (settings_type(ld, m, CONFIG_TYPE_LIST) != 0)
		return -1;
	n = config_setting_length(m);
	if (n == 0) {
		settings_error(ld, m, "commands.%s.argv is empty", cname);
		return -1;
	}
	cs->argv = xcalloc((size_t)n + 1, sizeof(char *));
	for (k = 0; k < n; k++) {
		a = config_setting_get_elem(m, (unsigned)k);
		if (config_setting_type(a) != CONFIG_TYPE_STRING) {
			settings_error(ld, a, "commands.%s.argv elements must "
			    "be strings", cname);
			return -1;
		}
		cs->argv[cs->argc++] = xstrdup(config_setting_get_string(a));
	}
	if (cs->argv[0][0] == '\0') {
		settings_error(ld, m, "commands.%s.argv[0] is empty", cname);
		return -1;
	}
	if (strchr(cs->argv[0], '/') != NULL && cs->argv[0][0] != '/') {
		settings_error(ld, m, "commands.%s.argv[0] must be a command "
		    "name or an absolute path", cname);
		return -1;
	}
	return 0;
}

/* Whether "NAME=value" starts with a variable name a shell would take. */
static size_t
env_name_len(const char *s)
{
	size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_");

	return n > 0 && (s[0] < '0' || s[0] > '9') && s[n] == '=' ? n : 0;
}

/* env: PATH (fixed) and these "NAME=value" entries, the whole of it. */
static int
load_env(struct loader *ld, struct command_spec *cs,
    const config_setting_t *m, const char *cname)
{
	config_setting_t	*a;
	const char		*str;
	int			 k, j, n, e = 1;
	size_t			 len;

	if (settings_type(ld, m, CONFIG_TYPE_LIST) != 0)
		return -1;
	n = config_setting_length(m);
	cs->envp = xcalloc((size_t)n + 2, sizeof(char *));
	cs->envp[0] = xstrdup("PATH=" CHILD_PATH);
	for (k = 0; k < n; k++) {
		a = config_setting_get_elem(m, (unsigned)k);
		if (config_setting_type(a) != CONFIG_TYPE_STRING) {
			settings_error(ld, a, "commands.%s.env elements must "
			    "be strings", cname);
			return -1;
		}
		str = config_setting_get_string(a);
		if ((len = env_name_len(str)) == 0) {
			settings_error(ld, a, "commands.%s.env: \"%s\" is not "
			    "NAME=value", cname, str);
			return -1;
		}
		if (len == 4 && strncmp(str, "PATH", 4) == 0) {
			settings_error(ld, a, "commands.%s.env: PATH is set by "
			    "brokerd (%s)", cname, CHILD_PATH);
			return -1;
		}
		for (j = 1; j < e; j++)
			if (strncmp(cs->envp[j], str, len + 1) == 0)
				break;
		if (j < e) {
			settings_error(ld, a, "commands.%s.env: %.*s is set "
			    "twice", cname, (int)len, str);
			return -1;
		}
		cs->envp[e++] = xstrdup(str);
	}
	return 0;
}

static const struct {
	const char	*key;
	size_t		 off;
	int		 lo, hi;
} cmd_limit_keys[] = {
#define L(k, lo, hi) { #k, offsetof(struct cmd_limits, k), lo, hi }
	L(cpu_s, 1, 86400),
	L(memory_mb, 1, 1048576),
	L(open_files, 1, 1048576),
	L(processes, 1, 1000000),
	L(output_mb, 1, 1048576),
#undef L
};
#define NCMD_LIMIT_KEYS	\
	(sizeof(cmd_limit_keys) / sizeof(cmd_limit_keys[0]))

static int
load_limits(struct loader *ld, struct cmd_limits *lim,
    const config_setting_t *g)
{
	config_setting_t	*m;
	size_t			 k;
	int			 j, ok = 1;

	if (settings_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return -1;
	for (j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
		for (k = 0; k < NCMD_LIMIT_KEYS; k++)
			if (strcmp(config_setting_name(m),
			    cmd_limit_keys[k].key) == 0)
				break;
		if (k == NCMD_LIMIT_KEYS) {
			settings_unknown(ld, m);
			ok = 0;
		} else if (settings_int(ld, m, cmd_limit_keys[k].lo,
		    cmd_limit_keys[k].hi, (int *)(void *)((char *)lim +
		    cmd_limit_keys[k].off)) != 0)
			ok = 0;
	}
	return ok ? 0 : -1;
}

/* One key of a command; -1 (error added) if it is bad. */
static int
load_key(struct loader *ld, struct command_spec *cs,
    const config_setting_t *m, const char *cname)
{
	const char	*key = config_setting_name(m), *str;
	struct acl	*a;

	if (strcmp(key, "argv") == 0)
		return load_argv(ld, cs, m, cname);
	if (strcmp(key, "input") == 0)
		return settings_bool(ld, m, &cs->input);
	if (strcmp(key, "output") == 0) {
		if ((str = settings_string(ld, m)) == NULL)
			return -1;
		if (strcmp(str, "raw") == 0)
			cs->output = OUTPUT_RAW;
		else if (strcmp(str, "df") == 0)
			cs->output = OUTPUT_DF;
		else {
			settings_error(ld, m, "commands.%s.output must be "
			    "\"raw\" or \"df\"", cname);
			return -1;
		}
		return 0;
	}
	if (strcmp(key, "timeout_s") == 0)
		return settings_int(ld, m, 1, 86400, &cs->timeout_s);
	if (strcmp(key, "allow") == 0 || strcmp(key, "deny") == 0) {
		if ((a = acl_load(ld, m)) == NULL)
			return -1;
		acl_unref(key[0] == 'a' ? cs->allow : cs->deny);
		*(key[0] == 'a' ? &cs->allow : &cs->deny) = a;
		return 0;
	}
	if (strcmp(key, "max_running") == 0)
		return settings_int(ld, m, 1, 10000, &cs->max_running);
	if (strcmp(key, "limits") == 0)
		return load_limits(ld, &cs->limits, m);
	if (strcmp(key, "env") == 0)
		return load_env(ld, cs, m, cname);
	if (strcmp(key, "cwd") == 0) {
		if ((str = settings_string(ld, m)) == NULL)
			return -1;
		if (str[0] != '/') {
			settings_error(ld, m, "commands.%s.cwd must be an "
			    "absolute path", cname);
			return -1;
		}
		free(cs->cwd);
		cs->cwd = xstrdup(str);
		return 0;
	}
	settings_unknown(ld, m);
	return -1;
}

static int
load_command(struct loader *ld, struct command_spec *cs,
    const config_setting_t *g)
{
	config_setting_t	*m;
	const char		*cname = config_setting_name(g);
	int			 j, ok = 1;

	memset(cs, 0, sizeof(*cs));
	if (settings_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return -1;
	for (j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
		if (load_key(ld, cs, m, cname) != 0)
			ok = 0;
	}
	if (ok && cs->argv == NULL) {
		settings_error(ld, g, "commands.%s has no argv", cname);
		ok = 0;
	}
	if (!ok) {
		config_command_free(cs);
		return -1;
	}
	cs->name = xstrdup(cname);
	/* A missing binary is not a config error: RUN reports it as 502. */
	cs->path = config_command_path(cs->argv[0]);
	return 0;
}

void
config_commands_load(struct loader *ld, const config_setting_t *g,
    struct command_spec **cmds, size_t *ncmds)
{
	size_t	i;
	int	n;

	if (settings_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return;
	for (i = 0; i < *ncmds; i++)
		config_command_free(&(*cmds)[i]);
	free(*cmds);
	n = config_setting_length(g);
	*cmds = xcalloc((size_t)n, sizeof(**cmds));
	*ncmds = 0;
	for (i = 0; i < (size_t)n; i++)
		if (load_command(ld, &(*cmds)[*ncmds],
		    config_setting_get_elem(g, (unsigned)i)) == 0)
			(*ncmds)++;
}
