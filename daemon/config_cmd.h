/* The commands section of the configuration (config_cmd.c). */
#ifndef BROKERD_CONFIG_CMD_H
#define BROKERD_CONFIG_CMD_H

#include <libconfig.h>

#include "daemon/config.h"
#include "daemon/settings.h"

/* Replaces c's commands with those of the group g. */
void	config_commands_load(struct loader *, struct config *,
	    const config_setting_t *g);
void	config_command_free(struct command_spec *);
/* name looked up in CHILD_PATH: a malloc'd path, or NULL. */
char	*config_command_path(const char *name);

#endif
