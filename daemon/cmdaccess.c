/* Command authorization and instance limits; see cmdaccess.h. */
#include "autoconf.h"

#include <stdio.h>
#include <string.h>

#include "daemon/child.h"
#include "daemon/cmdaccess.h"
#include "daemon/server.h"

struct count {
	const char	*name;
	unsigned	 n;
};

static void
count_one(pid_t pid, const char *name, long long age_ms, void *arg)
{
	struct count *c = arg;

	(void)pid;
	(void)age_ms;
	if (strcmp(name, c->name) == 0)
		c->n++;
}

/* At most limits.max_children to look at: no table to keep in step. */
unsigned
cmdaccess_running(const char *name)
{
	struct count c = { name, 0 };

	children_foreach(count_one, &c);
	return c.n;
}

int
cmdaccess_check(const struct command_spec *cmd, const struct acl_peer *peer,
    char *msg, size_t size)
{
	unsigned n;

	if (peer->sa != NULL && !acl_permits(cmd->allow, cmd->deny, peer)) {
		stats_inc(STAT_requests_refused_acl);
		snprintf(msg, size, "not allowed to run %s", cmd->name);
		return 403;
	}
	if (cmd->max_running > 0 &&
	    (n = cmdaccess_running(cmd->name)) >= (unsigned)cmd->max_running) {
		snprintf(msg, size, "busy: %u of %s running (max_running %d)",
		    n, cmd->name, cmd->max_running);
		return 429;
	}
	return 0;
}

void
cmdaccess_report(struct stats_out *out)
{
	const struct config	*cfg = srv.cfg;
	char			 key[160];
	size_t			 i;

	for (i = 0; cfg != NULL && i < cfg->ncommands; i++) {
		const struct command_spec *cmd = &cfg->commands[i];

		snprintf(key, sizeof(key), "command.%s.running", cmd->name);
		stats_kv(out, key, "%u", cmdaccess_running(cmd->name));
		snprintf(key, sizeof(key), "command.%s.max_running",
		    cmd->name);
		stats_kv(out, key, "%d", cmd->max_running);
	}
}
