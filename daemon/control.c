/*
 * The control socket: created atomically (bind a temporary name, rename
 * over the real one), a stale socket replaced, a live one never stolen,
 * peers checked with SO_PEERCRED before a byte is read.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/listener.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/control.h"
#include "daemon/watch.h"

static struct event_base	*cbase;
static control_accept_fn	 accept_fn;
static struct evconnlistener	*clev;
static char			*cpath;
static mode_t			 cmode;
static gid_t			 cgid = (gid_t)-1;
static dev_t			 cdev;
static ino_t			 cino;

void
control_init(struct event_base *base, control_accept_fn fn)
{
	cbase = base;
	accept_fn = fn;
}

const char *
control_path(void)
{
	return cpath;
}

static const char *
control_ctx(void *arg)
{
	(void)arg;
	return cpath;
}

static void
control_accept(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int len, void *arg)
{
	struct ucred	cred;
	socklen_t	clen = sizeof(cred);
	char		peer[64];

	(void)lev;
	(void)sa;
	(void)len;
	(void)arg;
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
		close(fd);
		return;
	}
	accept_fn(fd, peer);
}
WATCH_LISTENER_CB(control_accept_cb, control_accept, control_ctx)

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

static int
open_socket(const struct config *cfg, char *err, size_t errlen)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	struct evconnlistener	*lev;
	char			 tmp[sizeof(sun.sun_path)], *dir, *copy;
	mode_t			 old;
	int			 fd;

	copy = xstrdup(cfg->control_path);
	dir = dirname(copy);
	/* A runtime directory of our own is 0700; an existing one stays. */
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		free(copy);
		return -1;
	}
	free(copy);
	if (socket_is_live(cfg->control_path)) {
		snprintf(err, errlen, "another daemon answers on %s; not "
		    "taking it over", cfg->control_path);
		return CONTROL_LIVE;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld", cfg->control_path,
	    (long)getpid()) >= sizeof(tmp)) {
		snprintf(err, errlen, "control path too long");
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, tmp, sizeof(tmp));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	unlink(tmp);
	/* No window where the socket exists with looser permissions. */
	old = umask(0777 & ~cfg->control_mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		umask(old);
		snprintf(err, errlen, "cannot bind %s: %s", tmp,
		    strerror(errno));
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(tmp, cfg->control_mode) != 0 ||
	    (cfg->control_gid != (gid_t)-1 &&
	    chown(tmp, (uid_t)-1, cfg->control_gid) != 0) ||
	    listen(fd, 16) != 0 || rename(tmp, cfg->control_path) != 0 ||
	    stat(cfg->control_path, &st) != 0) {
		snprintf(err, errlen, "cannot set up %s: %s",
		    cfg->control_path, strerror(errno));
		unlink(tmp);
		close(fd);
		return -1;
	}
	lev = evconnlistener_new(cbase, control_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (lev == NULL) {
		snprintf(err, errlen, "evconnlistener failed");
		unlink(cfg->control_path);
		close(fd);
		return -1;
	}
	control_close();
	clev = lev;
	cpath = xstrdup(cfg->control_path);
	cmode = cfg->control_mode;
	cgid = cfg->control_gid;
	cdev = st.st_dev;
	cino = st.st_ino;
	log_info("control socket %s (mode %04o)", cpath, (unsigned)cmode);
	return 0;
}

int
control_open(const struct config *cfg, char *err, size_t errlen)
{
	return open_socket(cfg, err, errlen);
}

int
control_reconcile(const struct config *cfg, char *err, size_t errlen)
{
	if (cpath == NULL || strcmp(cpath, cfg->control_path) != 0)
		return open_socket(cfg, err, errlen);
	/* Same socket: adjust it in place, never rebind our own. */
	if (cmode != cfg->control_mode && chmod(cpath, cfg->control_mode) != 0)
		log_warn("chmod %s", cpath);
	if (cfg->control_gid != (gid_t)-1 && cfg->control_gid != cgid &&
	    chown(cpath, (uid_t)-1, cfg->control_gid) != 0)
		log_warn("chown %s", cpath);
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
	evconnlistener_free(clev);
	clev = NULL;
	/* Remove the file only if it is still the one we created. */
	if (stat(cpath, &st) == 0 && st.st_dev == cdev && st.st_ino == cino)
		unlink(cpath);
	free(cpath);
	cpath = NULL;
}
