/* A minimal TAP producer for the C tests. */
#ifndef BROKERD_TAP_H
#define BROKERD_TAP_H

#include <stddef.h>

void	plan(int n);
void	plan_lazy(void);
int	ok(int cond, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	is_int(long long got, long long want, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	is_str(const char *got, const char *want, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	skip(int n, const char *why);
void	diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	bail(const char *fmt, ...) __attribute__((format(printf, 1, 2),
	    noreturn));
/* Exit status for main: 0 if every test passed. */
int	done_testing(void);

#endif
