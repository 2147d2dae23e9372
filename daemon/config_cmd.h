/*
 * The commands section of the configuration: each command's argv,
 * input, output, timeout, who may run it, how many at once, its limits,
 * environment and directory, checked, argv[0] resolved against
 * CHILD_PATH.  config.c reads the rest.
 */
#ifndef BROKERD_CONFIG_CMD_H
#define BROKERD_CONFIG_CMD_H

#include <stddef.h>

#include <libconfig.h>

#include "daemon/acl.h"
#include "daemon/settings.h"

/* The PATH commands run with; argv[0] is resolved against it at load. */
#define CHILD_PATH	"/usr/sbin:/usr/bin:/sbin:/bin"

enum cmd_output { OUTPUT_RAW, OUTPUT_DF };

/* A command's resource limits (0: not set). */
struct cmd_limits {
	int	cpu_s;		/* RLIMIT_CPU */
	int	memory_mb;	/* RLIMIT_AS */
	int	open_files;	/* RLIMIT_NOFILE */
	int	processes;	/* RLIMIT_NPROC */
	int	output_mb;	/* stdout, then killed: ERR 413 */
};

struct command_spec {
	char		*name;
	char	       **argv;		/* NULL-terminated */
	int		 argc;
	char		*path;		/* argv[0] resolved, or NULL */
	int		 input;
	enum cmd_output	 output;
	int		 timeout_s;	/* 0: limits.command_timeout_s */
	struct acl	*allow, *deny;	/* who may run it (NULL: anyone) */
	int		 max_running;	/* instances at once; 0: any */
	struct cmd_limits limits;
	char	       **envp;		/* PATH=..., then env; NULL: none */
	char		*cwd;		/* NULL: "/" */
};

/* The group g: replaces the n commands at *cmds. */
void	config_commands_load(struct loader *, const config_setting_t *g,
	    struct command_spec **cmds, size_t *n);
void	config_command_free(struct command_spec *);
/* name looked up in CHILD_PATH: a malloc'd path, or NULL. */
char	*config_command_path(const char *name);

#endif
