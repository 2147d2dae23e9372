/*
 * The commands section of the configuration: each command's argv, input,
 * output and timeout, checked, and argv[0] resolved against CHILD_PATH.
 */
#include "autoconf.h"

#include <libconfig.h>
#include <limits.h>
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
}

static int
load_command(struct loader *ld, struct command_spec *cs,
    const config_setting_t *g)
{
	config_setting_t	*m, *a;
	const char		*str;
	int			 j, k, n, ok = 1, have_argv = 0;

	memset(cs, 0, sizeof(*cs));
	if (settings_type(ld, g, CONFIG_TYPE_GROUP) != 0)
		return -1;
	for (j = 0; (m = config_setting_get_elem(g, (unsigned)j)); j++) {
		const char *key = config_setting_name(m);

		if (strcmp(key, "argv") == 0) {
			if (settings_type(ld, m, CONFIG_TYPE_LIST) != 0) {
				ok = 0;
				continue;
			}
			n = config_setting_length(m);
			if (n == 0) {
				settings_error(ld, m, "commands.%s.argv is "
				    "empty", config_setting_name(g));
				ok = 0;
				continue;
			}
			cs->argv = xcalloc((size_t)n + 1, sizeof(char *));
			for (k = 0; k < n; k++) {
				a = config_setting_get_elem(m, (unsigned)k);
				if (config_setting_type(a) !=
				    CONFIG_TYPE_STRING) {
					settings_error(ld, a,
					    "commands.%s.argv elements must "
					    "be strings",
					    config_setting_name(g));
					ok = 0;
					break;
				}
				cs->argv[cs->argc++] =
				    xstrdup(config_setting_get_string(a));
			}
			if (ok && cs->argv[0][0] == '\0') {
				settings_error(ld, m, "commands.%s.argv[0] is "
				    "empty", config_setting_name(g));
				ok = 0;
			} else if (ok && strchr(cs->argv[0], '/') != NULL &&
			    cs->argv[0][0] != '/') {
				settings_error(ld, m, "commands.%s.argv[0] "
				    "must be a command name or an absolute "
				    "path", config_setting_name(g));
				ok = 0;
			}
			have_argv = 1;
		} else if (strcmp(key, "input") == 0) {
			if (settings_bool(ld, m, &cs->input) != 0)
				ok = 0;
		} else if (strcmp(key, "output") == 0) {
			if ((str = settings_string(ld, m)) == NULL)
				ok = 0;
			else if (strcmp(str, "raw") == 0)
				cs->output = OUTPUT_RAW;
			else if (strcmp(str, "df") == 0)
				cs->output = OUTPUT_DF;
			else {
				settings_error(ld, m, "commands.%s.output "
				    "must be \"raw\" or \"df\"",
				    config_setting_name(g));
				ok = 0;
			}
		} else if (strcmp(key, "timeout_s") == 0) {
			if (settings_int(ld, m, 1, 86400, &cs->timeout_s) != 0)
				ok = 0;
		} else {
			settings_unknown(ld, m);
			ok = 0;
		}
	}
	if (ok && !have_argv) {
		settings_error(ld, g, "commands.%s has no argv",
		    config_setting_name(g));
		ok = 0;
	}
	if (!ok) {
		config_command_free(cs);
		return -1;
	}
	cs->name = xstrdup(config_setting_name(g));
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
