/* The pidfile (brokerd -p). */
#ifndef BROKERD_PIDFILE_H
#define BROKERD_PIDFILE_H

/* Writes our pid to path (absolute); -1, logged, on failure. */
int	pidfile_write(const char *path);
/* Removes it, if written and still the file we wrote (logged if not). */
void	pidfile_remove(void);

#endif
