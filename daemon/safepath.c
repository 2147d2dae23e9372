/* Trusted directories and unguessable names; see safepath.h. */
#include "autoconf.h"

#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "daemon/safepath.h"

#define MAX_LINKS	40

/* "/a/b" for messages: escaped, since the path came from outside. */
static const char *
shown(const char *path, char *buf, size_t size)
{
	str_escape(buf, size, path[0] != '\0' ? path : "/",
	    path[0] != '\0' ? strlen(path) : 1, 200);
	return buf;
}

static int
dir_trusted(int fd, const char *path, char *err, size_t errlen)
{
	struct stat	st;
	char		buf[1024];

	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s: %s", shown(path, buf, sizeof(buf)),
		    strerror(errno));
		return 0;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(err, errlen, "%s is owned by uid %u, not by root or "
		    "the daemon's user (uid %u)", shown(path, buf, sizeof(buf)),
		    (unsigned)st.st_uid, (unsigned)geteuid());
		return 0;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		snprintf(err, errlen, "%s is writable by its group or others "
		    "(mode %04o) and not sticky", shown(path, buf, sizeof(buf)),
		    (unsigned)(st.st_mode & 07777));
		return 0;
	}
	return 1;
}

static int
open_root(char *path, char *err, size_t errlen)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	path[0] = '\0';
	if (fd < 0) {
		snprintf(err, errlen, "/: %s", strerror(errno));
		return -1;
	}
	if (!dir_trusted(fd, path, err, errlen)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Replaces the component just read by the link's target: todo becomes
 * target + "/" + what was left.  0, or -1 if the result is too long.
 */
static int
splice_link(char *todo, size_t size, const char *target, const char *left)
{
	char tmp[PATH_MAX];

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/%s", target, left) >=
	    sizeof(tmp) || strlen(tmp) >= size)
		return -1;
	memcpy(todo, tmp, strlen(tmp) + 1);
	return 0;
}

int
safepath_dir_open(const char *dir, int create, char *err, size_t errlen)
{
	char		 todo[PATH_MAX], path[PATH_MAX], comp[NAME_MAX + 1];
	char		 target[PATH_MAX], buf[1024];
	const char	*p;
	struct stat	 st;
	size_t		 n, plen;
	ssize_t		 tlen;
	int		 cur, fd, links = 0;

	if (dir[0] != '/' || strlen(dir) >= sizeof(todo)) {
		snprintf(err, errlen, "%s: not an absolute path",
		    shown(dir, buf, sizeof(buf)));
		return -1;
	}
	memcpy(todo, dir, strlen(dir) + 1);
	if ((cur = open_root(path, err, errlen)) < 0)
		return -1;
	p = todo;
	for (;;) {
		while (*p == '/')
			p++;
		if (*p == '\0')
			return cur;
		n = strcspn(p, "/");
		if (n > NAME_MAX) {
			snprintf(err, errlen, "%s: %s", shown(dir, buf,
			    sizeof(buf)), strerror(ENAMETOOLONG));
			break;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		if (strcmp(comp, ".") == 0)
			continue;
		fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && create && p[strspn(p, "/")] ==
		    '\0' && (mkdirat(cur, comp, 0700) == 0 || errno == EEXIST))
			fd = openat(cur, comp, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		plen = strlen(path);
		if (strcmp(comp, "..") == 0) {
			char *slash = strrchr(path, '/');

			if (slash != NULL)
				*slash = '\0';
		} else if (plen + 1 + n < sizeof(path))
			snprintf(path + plen, sizeof(path) - plen, "/%s", comp);
		if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) &&
		    fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode)) {
			if (st.st_uid != 0 && st.st_uid != geteuid()) {
				snprintf(err, errlen, "%s is a symbolic link "
				    "owned by uid %u, not by root or the "
				    "daemon's user", shown(path, buf,
				    sizeof(buf)), (unsigned)st.st_uid);
				break;
			}
			tlen = readlinkat(cur, comp, target,
			    sizeof(target) - 1);
			if (tlen <= 0 || ++links > MAX_LINKS) {
				snprintf(err, errlen, "%s: %s", shown(path, buf,
				    sizeof(buf)), strerror(tlen < 0 ? errno :
				    ELOOP));
				break;
			}
			target[tlen] = '\0';
			if (splice_link(todo, sizeof(todo), target, p) != 0) {
				snprintf(err, errlen, "%s: %s", shown(dir, buf,
				    sizeof(buf)), strerror(ENAMETOOLONG));
				break;
			}
			p = todo;
			/* A relative target goes on from the link's dir. */
			path[plen] = '\0';
			if (target[0] == '/') {
				close(cur);
				if ((cur = open_root(path, err, errlen)) < 0)
					return -1;
			}
			continue;
		}
		if (fd < 0) {
			snprintf(err, errlen, "%s: %s", shown(path, buf,
			    sizeof(buf)), strerror(errno));
			break;
		}
		close(cur);
		cur = fd;
		if (!dir_trusted(cur, path, err, errlen))
			break;
	}
	close(cur);
	return -1;
}

void
safepath_tmpname(char *buf, size_t size, const char *prefix)
{
	static const char	 set[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char		 rnd[12];
	char			 tail[sizeof(rnd) + 1];
	size_t			 i;

	if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(rnd)) {
		/* Early boot: unguessable enough, and O_EXCL still holds. */
		unsigned long x = (unsigned long)mono_ns() ^
		    ((unsigned long)getpid() << 16) ^ (unsigned long)time(NULL);

		for (i = 0; i < sizeof(rnd); i++) {
			x = x * 6364136223846793005UL + 1442695040888963407UL;
			rnd[i] = (unsigned char)(x >> 33);
		}
	}
	for (i = 0; i < sizeof(rnd); i++)
		tail[i] = set[rnd[i] % (sizeof(set) - 1)];
	tail[sizeof(rnd)] = '\0';
	snprintf(buf, size, "%s%s", prefix, tail);
}

int
safepath_split(const char *path, char *dir, size_t dirlen, char *name,
    size_t namelen)
{
	const char	*slash = strrchr(path, '/');
	size_t		 dl;

	if (slash == NULL || slash[1] == '\0' || strcmp(slash + 1, ".") == 0 ||
	    strcmp(slash + 1, "..") == 0)
		return -1;
	dl = slash == path ? 1 : (size_t)(slash - path);
	if (dl >= dirlen || strlen(slash + 1) >= namelen)
		return -1;
	memcpy(dir, path, dl);
	dir[dl] = '\0';
	if ((size_t)snprintf(name, namelen, "%s", slash + 1) >= namelen)
		return -1;
	return 0;
}
