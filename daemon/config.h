/* The configuration snapshot: parsed once, immutable, reference counted. */
#ifndef BROKERD_CONFIG_H
#define BROKERD_CONFIG_H

#include <sys/types.h>
#include <stddef.h>

#include "daemon/acl.h"
#include "daemon/config_cmd.h"
#include "daemon/settings.h"
#include "daemon/tls.h"

enum service_id { SERVICE_ECHO, SERVICE_BROKER, SERVICE_CONTROL,
	SERVICE_METRICS, SERVICE_N };

struct listen_spec {
	enum service_id	 service;
	char		*address;	/* "*" means every address */
	int		 port;
	int		 line;
	struct tls_spec	*tls;		/* NULL: plain */
	/* Its own lists, else the top-level ones (NULL: none). */
	struct acl	*allow, *deny;
	int		 max_cps;	/* connections a second; 0: any */
};

struct limits {
	int	max_clients;
	int	max_clients_per_source;
	int	max_children;
	int	max_line;
	int	idle_timeout_s;
	int	request_timeout_s;
	int	command_timeout_s;
	int	shutdown_timeout_s;
	int	drain_delay_s;
};

struct config {
	int			 refs;
	char			*file;
	struct listen_spec	*listen;
	size_t			 nlisten;
	char			*control_path;
	mode_t			 control_mode;
	char			*control_group;
	gid_t			 control_gid;	/* (gid_t)-1: no group */
	int			 workers;
	int			 slow_callback_ms;
	int			 debug;
	int			 log_level;
	int			 log_facility;
	int			 resolve_peers;
	struct limits		 limits;
	struct command_spec	*commands;
	size_t			 ncommands;
	struct acl		*allow, *deny;	/* top level (NULL: none) */
	char			*user;		/* NULL: none */
	char			*group;		/* NULL: the user's */
	uid_t			 uid;		/* of user */
	gid_t			 gid;		/* of group, or user's */
};

/* NULL on error, with every problem found appended to errs. */
struct config	*config_load(const char *file, struct config_errors *errs);
/* The same from text already in memory; name is used in messages. */
struct config	*config_load_string(const char *name, const char *text,
		    struct config_errors *errs);
struct config	*config_ref(struct config *);
void		 config_unref(struct config *);
const struct command_spec *config_command(const struct config *,
		    const char *name);
const char	*config_service_name(enum service_id);
void		 config_errors_free(struct config_errors *);

#endif
