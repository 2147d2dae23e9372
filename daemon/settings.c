/*
 * Reading libconfig settings for config.c: typed values with their
 * ranges, and every problem as an escaped "file:line: message"; see
 * settings.h.
 */
#include "autoconf.h"

#include <libconfig.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "daemon/settings.h"

/*
 * Adds an error line, escaped: it quotes strings of the file (and names
 * it), and ends up in log lines and in RELOAD's one-line reply.
 */
void
settings_add_error(struct loader *ld, const char *line)
{
	char esc[4 * CONFIG_ERROR_MAX + 4];

	str_escape(esc, sizeof(esc), line, strlen(line), CONFIG_ERROR_MAX);
	ld->errs->msg = xreallocarray(ld->errs->msg, ld->errs->n + 1,
	    sizeof(char *));
	ld->errs->msg[ld->errs->n++] = xstrdup(esc);
	ld->nerr++;
}

void
settings_error(struct loader *ld, const config_setting_t *s,
    const char *fmt, ...)
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
	settings_add_error(ld, line);
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

void
settings_path(const config_setting_t *s, char *buf, size_t size)
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

int
settings_type(struct loader *ld, const config_setting_t *s, int type)
{
	char	name[128];
	int	t = config_setting_type(s);

	if (t == type || (type == CONFIG_TYPE_INT && t == CONFIG_TYPE_INT64))
		return 0;
	if (type == CONFIG_TYPE_LIST && t == CONFIG_TYPE_ARRAY)
		return 0;
	settings_path(s, name, sizeof(name));
	settings_error(ld, s, "%s must be %s, not %s", name, type_name(type),
	    type_name(t));
	return -1;
}

int
settings_int(struct loader *ld, const config_setting_t *s, long long lo,
    long long hi, int *out)
{
	char		name[128];
	long long	v;

	if (settings_type(ld, s, CONFIG_TYPE_INT) != 0)
		return -1;
	v = config_setting_get_int64(s);
	if (v < lo || v > hi) {
		settings_path(s, name, sizeof(name));
		settings_error(ld, s, "%s = %lld is out of range (%lld to "
		    "%lld)", name, v, lo, hi);
		return -1;
	}
	*out = (int)v;
	return 0;
}

int
settings_bool(struct loader *ld, const config_setting_t *s, int *out)
{
	if (settings_type(ld, s, CONFIG_TYPE_BOOL) != 0)
		return -1;
	*out = config_setting_get_bool(s);
	return 0;
}

const char *
settings_string(struct loader *ld, const config_setting_t *s)
{
	char name[128];

	if (settings_type(ld, s, CONFIG_TYPE_STRING) != 0)
		return NULL;
	if (*config_setting_get_string(s) == '\0') {
		settings_path(s, name, sizeof(name));
		settings_error(ld, s, "%s must not be empty", name);
		return NULL;
	}
	return config_setting_get_string(s);
}

void
settings_unknown(struct loader *ld, const config_setting_t *s)
{
	char name[128];

	settings_path(s, name, sizeof(name));
	settings_error(ld, s, "unknown key %s", name);
}

