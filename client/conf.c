/*
 * brokerctl's view of the daemon's configuration, read as unbound-control
 * reads unbound.conf: only the keys that say where the daemon listens and
 * how long it lets a command run.  A file that cannot be read leaves the
 * built-in defaults; brokerd -t is the place to check it.
 */
#include "autoconf.h"

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libconfig.h>

#include "client/client.h"

#define COMMAND_TIMEOUT_S	30	/* brokerd's limits.command_timeout_s */

static config_t	 cf;
static const char *conf_path;	/* the file named by -c or the default */
static int	 conf_read;	/* whether it was read */

void
conf_load(const char *path, int given)
{
	char	 why[512];

	conf_path = path;
	config_init(&cf);
	errno = 0;
	if (config_read_file(&cf, path) == CONFIG_TRUE) {
		vlog("read %s", path);
		conf_read = 1;
		return;
	}
	if (config_error_type(&cf) == CONFIG_ERR_FILE_IO)
		snprintf(why, sizeof(why), "%s: %s", path,
		    strerror(errno != 0 ? errno : EIO));
	else
		snprintf(why, sizeof(why), "%s:%d: %s",
		    config_error_file(&cf) != NULL ? config_error_file(&cf) :
		    path, config_error_line(&cf), config_error_text(&cf));
	/* The default file may well be absent, or readable by root only. */
	if (given && !opt.quiet)
		warnx("%s; using the built-in defaults", why);
	else
		vlog("%s; using the built-in defaults", why);
	config_destroy(&cf);
}

const char *
conf_control_path(char *from, size_t size)
{
	const char *path;

	if (!conf_read) {
		snprintf(from, size, "the default, as %s could not be read",
		    conf_path);
		return CONTROL_SOCKET;
	}
	if (config_lookup_string(&cf, "control.path", &path) == CONFIG_TRUE &&
	    path[0] == '/') {
		snprintf(from, size, "control.path in %s", conf_path);
		return path;
	}
	snprintf(from, size, "the default, as %s sets no control.path",
	    conf_path);
	return CONTROL_SOCKET;
}

const char *
conf_port(const char *service, int tls)
{
	static char	 buf[16];
	config_setting_t *list, *g;
	const char	*s;
	unsigned int	 i;
	int		 port;

	if (!conf_read || (list = config_lookup(&cf, "listen")) == NULL)
		return NULL;
	for (i = 0; (g = config_setting_get_elem(list, i)) != NULL; i++) {
		if (config_setting_lookup_string(g, "service", &s) !=
		    CONFIG_TRUE || strcmp(s, service) != 0 ||
		    (config_setting_get_member(g, "tls") != NULL) != tls)
			continue;
		/* Port 0 is a fresh ephemeral port: nothing to aim at. */
		if (config_setting_lookup_int(g, "port", &port) !=
		    CONFIG_TRUE || port < 1 || port > 65535)
			continue;
		snprintf(buf, sizeof(buf), "%d", port);
		return buf;
	}
	return NULL;
}

int
conf_command_timeout_s(const char *command)
{
	config_setting_t *g;
	int		 t;

	if (!conf_read)
		return COMMAND_TIMEOUT_S;
	if (command != NULL && (g = config_lookup(&cf, "commands")) != NULL &&
	    (g = config_setting_get_member(g, command)) != NULL &&
	    config_setting_lookup_int(g, "timeout_s", &t) == CONFIG_TRUE &&
	    t > 0)
		return t;
	if (config_lookup_int(&cf, "limits.command_timeout_s", &t) ==
	    CONFIG_TRUE && t > 0)
		return t;
	return COMMAND_TIMEOUT_S;
}
