/*
 * Files the daemon creates where others might write: directories checked
 * before they are trusted, names nobody can guess.
 */
#ifndef BROKERD_SAFEPATH_H
#define BROKERD_SAFEPATH_H

#include <stddef.h>

/*
 * Opens dir, an absolute path, as a directory descriptor, walking it one
 * component at a time: every directory on the way must be owned by root
 * or the effective user and writable by nobody else unless it is sticky
 * (/tmp), and a symbolic link on the way is followed only if root or the
 * effective user owns it.  With create, a missing last component is made
 * with mode 0700.  -1 with err set (paths escaped) on refusal or error.
 */
int	safepath_dir_open(const char *dir, int create, char *err,
	    size_t errlen);
/* prefix followed by 12 random letters and digits. */
void	safepath_tmpname(char *buf, size_t size, const char *prefix);
/* Splits path into its directory and last component; -1 if it has none. */
int	safepath_split(const char *path, char *dir, size_t dirlen, char *name,
	    size_t namelen);

#endif
