/*
 * The control socket: only in a directory nobody else can write to (or a
 * sticky one), bound inside a private directory of a random name, given
 * its mode and group there and renamed into place; a stale socket is
 * replaced, a live one never stolen, anything else never touched.  Peers
 * are checked with SO_PEERCRED before a byte is read.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/admit.h"
#include "daemon/control.h"
#include "daemon/listen.h"
#include "daemon/safepath.h"

#define SOCK_NAME	"s"	/* inside the private directory */
#define REFUSED		"ERR 403 not permitted\n"	/* to a peer refused */

static control_accept_fn	 accept_fn;
static const struct service	*control_svc;
static struct listener		*clev;
static char			*cpath;
static int			 cdirfd = -1;	/* cpath's directory */
static char			 cname[NAME_MAX + 1]; /* cpath's last part */
static mode_t			 cmode;
static gid_t			 cgid = (gid_t)-1;
static dev_t			 cdev;
static ino_t			 cino;

void
control_init(control_accept_fn fn, const struct service *svc)
{
	accept_fn = fn;
	control_svc = svc;
}

const char *
control_path(void)
{
	return cpath;
}

/* Called by the listener; timed there. */
static void
control_accept(struct listener *l, evutil_socket_t fd,
    const struct sockaddr *sa, int len)
{
	struct ucred	cred;
	socklen_t	clen = sizeof(cred);
	char		peer[64];

	(void)sa;
	(void)len;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) {
		log_warn("control: SO_PEERCRED");
		close(fd);
		return;
	}
	snprintf(peer, sizeof(peer), "uid %u pid %d", (unsigned)cred.uid,
	    (int)cred.pid);
	/* Root, ourselves, or the configured group; nobody else. */
	if (cred.uid != 0 && cred.uid != geteuid() &&
	    (cgid == (gid_t)-1 || cred.gid != cgid)) {
		log_notice("control: refusing %s (gid %u)", peer,
		    (unsigned)cred.gid);
		admit_tell(fd, REFUSED);
		close(fd);
		return;
	}
	accept_fn(l->svc, fd, peer);
}

/* 1 if a daemon answers at path, 0 if not (stale or absent). */
static int
socket_is_live(const char *path)
{
	struct sockaddr_un	sun;
	int			fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	return r == 0;
}

/*
 * What is at name in dirfd may be replaced: nothing, or a socket no
 * daemon answers on.  Otherwise CONTROL_LIVE or -1, with err set; shown
 * is the path escaped for messages.
 */
static int
check_target(int dirfd, const char *name, const char *path,
    const char *shown, char *err, size_t errlen)
{
	struct stat st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", shown, strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		snprintf(err, errlen, "%s is a symbolic link; not following "
		    "or replacing it", shown);
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not "
		    "replacing it", shown);
		return -1;
	}
	if (socket_is_live(path)) {
		snprintf(err, errlen, "another daemon answers on %s; not "
		    "taking it over", shown);
		return CONTROL_LIVE;
	}
	return 0;
}

/*
 * Binds a listening socket as SOCK_NAME in pfd, a directory of our own
 * that nobody else can enter, with cfg's mode and group; st gets its
 * inode.  The socket, or -1 with err set.
 */
static int
bind_private(int pfd, const struct config *cfg, struct stat *st, char *err,
    size_t errlen)
{
	struct sockaddr_un	sun;
	mode_t			old;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* bind(2) takes no directory descriptor; /proc lends it a path. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/%s",
	    pfd, SOCK_NAME);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* No moment where the socket has looser permissions. */
	old = umask(0777 & ~cfg->control_mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		umask(old);
		snprintf(err, errlen, "cannot bind %s: %s", sun.sun_path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	/* Nobody else can enter the directory: the name is ours. */
	if (fchmodat(pfd, SOCK_NAME, cfg->control_mode, 0) != 0 ||
	    (cfg->control_gid != (gid_t)-1 && fchownat(pfd, SOCK_NAME,
	    (uid_t)-1, cfg->control_gid, AT_SYMLINK_NOFOLLOW) != 0) ||
	    fstatat(pfd, SOCK_NAME, st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    listen(fd, 16) != 0) {
		snprintf(err, errlen, "cannot set up the socket: %s",
		    strerror(errno));
		unlinkat(pfd, SOCK_NAME, 0);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A socket for cfg at dirfd/name: made in a private directory of a
 * random name, moved into place by rename(2), which replaces a stale
 * socket and never follows a link.  The socket, or -1 with err set.
 */
static int
make_socket(int dirfd, const char *name, const struct config *cfg,
    struct stat *st, char *err, size_t errlen)
{
	char	tmpname[32];
	int	pfd, fd = -1, tries;

	for (tries = 0; tries < 10; tries++) {
		safepath_tmpname(tmpname, sizeof(tmpname), ".brokerd-");
		if (mkdirat(dirfd, tmpname, 0700) == 0)
			break;
		if (errno != EEXIST) {
			snprintf(err, errlen, "cannot create a private "
			    "directory: %s", strerror(errno));
			return -1;
		}
	}
	if (tries == 10) {
		snprintf(err, errlen, "cannot create a private directory: %s",
		    strerror(EEXIST));
		return -1;
	}
	pfd = openat(dirfd, tmpname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (pfd < 0)
		snprintf(err, errlen, "cannot open a private directory: %s",
		    strerror(errno));
	else if ((fd = bind_private(pfd, cfg, st, err, errlen)) >= 0 &&
	    renameat(pfd, SOCK_NAME, dirfd, name) != 0) {
		snprintf(err, errlen, "cannot rename the socket into place: %s",
		    strerror(errno));
		unlinkat(pfd, SOCK_NAME, 0);
		close(fd);
		fd = -1;
	}
	if (pfd >= 0)
		close(pfd);
	unlinkat(dirfd, tmpname, AT_REMOVEDIR);
	return fd;
}

static int
open_socket(const struct config *cfg, char *err, size_t errlen)
{
	struct stat	 st;
	struct listener	*l;
	char		 dir[PATH_MAX], name[NAME_MAX + 1], shown[512];
	char		 why[900];
	int		 dirfd, fd, r;

	str_escape(shown, sizeof(shown), cfg->control_path,
	    strlen(cfg->control_path), 200);
	if (safepath_split(cfg->control_path, dir, sizeof(dir), name,
	    sizeof(name)) != 0) {
		snprintf(err, errlen, "%s: not a file name", shown);
		return -1;
	}
	if ((dirfd = safepath_dir_open(dir, 1, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "unsafe directory for %s: %s", shown,
		    why);
		return -1;
	}
	if ((r = check_target(dirfd, name, cfg->control_path, shown, err,
	    errlen)) != 0 ||
	    (fd = make_socket(dirfd, name, cfg, &st, err, errlen)) < 0) {
		close(dirfd);
		return r != 0 ? r : -1;
	}
	if ((l = listen_wrap(fd, SERVICE_CONTROL, control_svc,
	    cfg->control_path, control_accept)) == NULL) {
		snprintf(err, errlen, "evconnlistener failed");
		unlinkat(dirfd, name, 0);
		close(fd);
		close(dirfd);
		return -1;
	}
	control_close();
	clev = l;
	cpath = xstrdup(cfg->control_path);
	cdirfd = dirfd;
	snprintf(cname, sizeof(cname), "%s", name);
	cmode = cfg->control_mode;
	cgid = cfg->control_gid;
	cdev = st.st_dev;
	cino = st.st_ino;
	log_info("control socket %s (mode %04o)", clev->name, (unsigned)cmode);
	return 0;
}

int
control_open(const struct config *cfg, char *err, size_t errlen)
{
	return open_socket(cfg, err, errlen);
}

/*
 * The socket file, if the name still leads to the inode we created: an
 * O_PATH descriptor, so what follows acts on that inode whatever the name
 * leads to by then.  -1 if it was removed or replaced.
 */
static int
open_ours(void)
{
	struct stat	st;
	int		fd;

	fd = openat(cdirfd, cname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_dev != cdev || st.st_ino != cino) {
		close(fd);
		return -1;
	}
	return fd;
}

int
control_reconcile(const struct config *cfg, char *err, size_t errlen)
{
	char	proc[64];
	int	fd, r;

	/* Disabled so far: try again, but do not fail the reload for it. */
	if (cpath == NULL) {
		if (open_socket(cfg, err, errlen) != 0)
			log_warnx("control socket disabled: %s", err);
		return 0;
	}
	/*
	 * A new path that cannot be opened is a warning, as at start-up:
	 * the socket in use stays, and the next reload tries again.  Only
	 * another daemon's live socket fails the reload (and start-up).
	 */
	if (strcmp(cpath, cfg->control_path) != 0) {
		if ((r = open_socket(cfg, err, errlen)) == -1) {
			log_warnx("control socket not moved, %s kept: %s",
			    clev->name, err);
			return 0;
		}
		return r;
	}
	/* Same socket: adjust it in place, never rebind our own. */
	if (cmode == cfg->control_mode && (cfg->control_gid == (gid_t)-1 ||
	    cfg->control_gid == cgid))
		return 0;
	if ((fd = open_ours()) < 0) {
		log_warnx("control socket %s was removed or replaced; not "
		    "changing its mode or group", clev->name);
		return 0;
	}
	/* chmod(2) of an O_PATH descriptor: through its /proc link. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (cmode != cfg->control_mode && chmod(proc, cfg->control_mode) != 0)
		log_warn("chmod %s", clev->name);
	if (cfg->control_gid != (gid_t)-1 && cfg->control_gid != cgid &&
	    fchownat(fd, "", (uid_t)-1, cfg->control_gid, AT_EMPTY_PATH) != 0)
		log_warn("chown %s", clev->name);
	close(fd);
	cmode = cfg->control_mode;
	cgid = cfg->control_gid;
	return 0;
}

void
control_close(void)
{
	struct stat st;

	if (clev == NULL)
		return;
	listen_free(clev);
	clev = NULL;
	/* Remove the file only if it is still the one we created. */
	if (fstatat(cdirfd, cname, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    st.st_dev == cdev && st.st_ino == cino)
		unlinkat(cdirfd, cname, 0);
	close(cdirfd);
	cdirfd = -1;
	free(cpath);
	cpath = NULL;
}
