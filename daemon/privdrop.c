/* Dropping root after start-up; see privdrop.h. */
#include "autoconf.h"

#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/privdrop.h"

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

int
privdrop_changed(const struct config *old, const struct config *new)
{
	return !same(old->user, new->user) || !same(old->group, new->group);
}

void
privdrop_apply(const struct config *cfg)
{
	uid_t	uid = cfg->uid;
	gid_t	gid = cfg->gid;

	if (geteuid() != 0) {
		if (cfg->user != NULL && geteuid() != uid)
			log_notice("user %s: not started as root; running as "
			    "uid %u", cfg->user, (unsigned)geteuid());
		return;
	}
	if (cfg->user == NULL) {
		log_warnx("running as root: set user in %s to run as an "
		    "unprivileged user, commands included", cfg->file);
		return;
	}
	/* glibc applies each of these to every thread (the pool's too). */
	if (setgroups(1, &gid) != 0)
		fatal("setgroups %u", (unsigned)gid);
	if (setresgid(gid, gid, gid) != 0)
		fatal("setresgid %u", (unsigned)gid);
	if (setresuid(uid, uid, uid) != 0)
		fatal("setresuid %u", (unsigned)uid);
	/* No way back, or we stop here. */
	if (setuid(0) == 0 || seteuid(0) == 0 || (gid != 0 && setgid(0) == 0) ||
	    getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid)
		fatalx("could regain root after dropping to %s", cfg->user);
	log_info("dropped privileges to user %s (uid %u, gid %u)", cfg->user,
	    (unsigned)uid, (unsigned)gid);
}
