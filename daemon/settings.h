/*
 * Reading libconfig settings for the configuration loader: a value of
 * the wanted type and range, or an error line "file:line: message",
 * escaped, added to the loader's list (all of them, not just the first).
 */
#ifndef BROKERD_SETTINGS_H
#define BROKERD_SETTINGS_H

#include <stddef.h>

#include <libconfig.h>

#include "common/log.h"

/* "file:line: message" lines, escaped. */
struct config_errors {
	char	**msg;
	size_t	  n;
};

/* An error line, before escaping. */
#define CONFIG_ERROR_MAX	512

/* One load of one file. */
struct loader {
	const char		*file;
	struct config_errors	*errs;
	int			 nerr;
};

void	settings_add_error(struct loader *, const char *line);
/* At s's line of the file. */
void	settings_error(struct loader *, const config_setting_t *s,
	    const char *fmt, ...) LOG_PRINTF(3, 4);
/* "unknown key limits.foo". */
void	settings_unknown(struct loader *, const config_setting_t *);
/* Setting names for messages: "limits.max_line", "commands.df.argv". */
void	settings_path(const config_setting_t *, char *buf, size_t size);
/* 0 if s is of type (an int64 is an int, an array a list), else -1. */
int	settings_type(struct loader *, const config_setting_t *s, int type);
int	settings_int(struct loader *, const config_setting_t *, long long lo,
	    long long hi, int *out);
int	settings_bool(struct loader *, const config_setting_t *, int *out);
/* NULL (an error) if it is not a string or is empty. */
const char *settings_string(struct loader *, const config_setting_t *);

#endif
