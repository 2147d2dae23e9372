/*
 * The pidfile: written under a random name that is created, never opened
 * if it exists (O_EXCL, O_NOFOLLOW), then renamed over the path, so
 * rename(2) replaces a symbolic link there instead of following it and
 * readers see no pidfile or a whole one; removed only if still ours.
 */
#include "autoconf.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/pidfile.h"
#include "daemon/safepath.h"

/* Where the pidfile is and which inode we put there. */
static int	pidfile_written;
static char	pid_dir[PATH_MAX], pid_name[NAME_MAX + 1];
static dev_t	pid_dev;
static ino_t	pid_ino;

int
pidfile_write(const char *path)
{
	struct stat	st;
	char		tmp[32], buf[32];
	int		dfd, fd = -1, n, tries;

	if (safepath_split(path, pid_dir, sizeof(pid_dir), pid_name,
	    sizeof(pid_name)) != 0) {
		log_err("pidfile %s: not a file name", path);
		return -1;
	}
	if ((dfd = open(pid_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		log_err("pidfile directory %s: %s", pid_dir, strerror(errno));
		return -1;
	}
	for (tries = 0; tries < 10 && fd < 0; tries++) {
		safepath_tmpname(tmp, sizeof(tmp), ".brokerd-pid-");
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0644);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		log_err("cannot create a pidfile in %s: %s", pid_dir,
		    strerror(errno));
		close(dfd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write_all(fd, buf, (size_t)n) < 0 || fstat(fd, &st) != 0 ||
	    close(fd) != 0) {
		log_err("cannot write pidfile %s/%s: %s", pid_dir, tmp,
		    strerror(errno));
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return -1;
	}
	if (renameat(dfd, tmp, dfd, pid_name) != 0) {
		log_err("cannot rename %s/%s to %s: %s", pid_dir, tmp, path,
		    strerror(errno));
		unlinkat(dfd, tmp, 0);
		close(dfd);
		return -1;
	}
	close(dfd);
	pid_dev = st.st_dev;
	pid_ino = st.st_ino;
	pidfile_written = 1;
	return 0;
}

void
pidfile_remove(void)
{
	struct stat	st;
	char		path[PATH_MAX + NAME_MAX + 2];
	int		dfd;

	if (!pidfile_written)
		return;
	pidfile_written = 0;
	snprintf(path, sizeof(path), "%s/%s", strcmp(pid_dir, "/") == 0 ? "" :
	    pid_dir, pid_name);
	if ((dfd = open(pid_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		log_warn("cannot remove pidfile %s", path);
		return;
	}
	if (fstatat(dfd, pid_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		if (errno != ENOENT)
			log_warn("cannot remove pidfile %s", path);
	} else if (st.st_dev != pid_dev || st.st_ino != pid_ino)
		log_warnx("pidfile %s was replaced; leaving it", path);
	else if (unlinkat(dfd, pid_name, 0) != 0 && errno != ENOENT) {
		/* After the privilege drop, as brokerd.8 says it may be. */
		if (errno == EACCES && geteuid() != 0)
			log_info("pidfile %s left in place: its directory is "
			    "not writable by uid %u", path,
			    (unsigned)geteuid());
		else
			log_warn("cannot remove pidfile %s", path);
	}
	close(dfd);
}
