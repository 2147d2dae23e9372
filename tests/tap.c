/* A minimal TAP producer. */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tap.h"

static int	ntest, nfail, planned = -1;

void
plan(int n)
{
	planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

void
plan_lazy(void)
{
	planned = -1;
}

static int __attribute__((format(printf, 2, 0)))
vok(int cond, const char *fmt, va_list ap)
{
	ntest++;
	printf("%s %d - ", cond ? "ok" : "not ok", ntest);
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	if (!cond)
		nfail++;
	return cond;
}

int
ok(int cond, const char *fmt, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, fmt);
	r = vok(cond, fmt, ap);
	va_end(ap);
	return r;
}

int
is_int(long long got, long long want, const char *fmt, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, fmt);
	r = vok(got == want, fmt, ap);
	va_end(ap);
	if (!r)
		diag("got %lld, want %lld", got, want);
	return r;
}

int
is_str(const char *got, const char *want, const char *fmt, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, fmt);
	r = vok(got != NULL && strcmp(got, want) == 0, fmt, ap);
	va_end(ap);
	if (!r)
		diag("got \"%s\", want \"%s\"", got ? got : "(null)", want);
	return r;
}

void
skip(int n, const char *why)
{
	while (n-- > 0) {
		ntest++;
		printf("ok %d # SKIP %s\n", ntest, why);
	}
	fflush(stdout);
}

void
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void
bail(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

int
done_testing(void)
{
	if (planned < 0)
		printf("1..%d\n", ntest);
	else if (planned != ntest) {
		printf("# planned %d tests, ran %d\n", planned, ntest);
		return 1;
	}
	fflush(stdout);
	return nfail > 0;
}
