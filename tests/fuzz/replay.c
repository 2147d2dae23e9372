/*
 * Stands in for libFuzzer's main() outside fuzzing builds: runs a target
 * once over each checked-in input, so make check (and its sanitizer
 * build) replays the corpus and every saved crash.  Each input runs in a
 * child, so a crash is one "not ok" naming the file, not a lost test.
 *
 * With no arguments, fuzz_NAME reads $TOP_SRCDIR/tests/fuzz/corpus/NAME/
 * and the files tests/fuzz/crashes/NAME-*.  An input listed in
 * tests/fuzz/crashes/KNOWN ("file  reason") is a known, unfixed bug: its
 * failure is a TODO, and once it passes the suite says so (XPASS).
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/tap.h"
#include "tests/fuzz/fuzz.h"


static char	*known;		/* contents of crashes/KNOWN, or NULL */
static int	 nfailed;	/* failures not marked TODO */

static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	do {
		if (len == cap)
			buf = realloc(buf, cap = cap ? cap * 2 : 4096);
		if (buf == NULL)
			bail("out of memory reading %s", path);
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*lenp = len;
	return buf;
}

/* The reason a file is a known crash, or NULL. */
static const char *
known_reason(const char *name)
{
	static char	 why[256];
	const char	*p = known;
	size_t		 n = strlen(name);

	while (p != NULL && *p != '\0') {
		const char *eol = strchr(p, '\n');

		if (eol == NULL)
			eol = p + strlen(p);
		if (*p != '#' && strncmp(p, name, n) == 0 &&
		    (p[n] == ' ' || p[n] == '\t')) {
			p += n + strspn(p + n, " \t");
			snprintf(why, sizeof(why), "%.*s", (int)(eol - p), p);
			return why;
		}
		p = *eol != '\0' ? eol + 1 : eol;
	}
	return NULL;
}

static void
run_one(const char *path, const char *name)
{
	const char	*base = strrchr(path, '/');
	const char	*why = known_reason(base != NULL ? base + 1 : path);
	char		*buf;
	size_t		 len;
	pid_t		 pid;
	int		 st, good;

	if ((buf = slurp(path, &len)) == NULL) {
		ok(0, "%s: %s", path, strerror(errno));
		return;
	}
	fflush(stdout);
	if ((pid = fork()) < 0)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		/* An exact-size copy, so ASan sees reads past the end. */
		uint8_t *copy = malloc(len ? len : 1);

		memcpy(copy, buf, len);
		LLVMFuzzerTestOneInput(copy, len);
		free(copy);
		free(buf);
		/* exit, not _exit: LeakSanitizer checks at exit. */
		exit(0);
	}
	free(buf);
	if (waitpid(pid, &st, 0) != pid)
		bail("waitpid: %s", strerror(errno));
	good = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (!good)
		diag("%s: %s %d", name, WIFSIGNALED(st) ? "killed by signal" :
		    "exit status", WIFSIGNALED(st) ? WTERMSIG(st) :
		    WEXITSTATUS(st));
	if (why != NULL)
		ok(good, "%s # TODO known crash: %s", name, why);
	else if (!ok(good, "%s", name))
		nfailed++;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file in dir whose name starts with prefix. */
static int
run_dir(const char *dir, const char *prefix, const char *label)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		**names = NULL, path[4096], name[512];
	size_t		 n = 0, i;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		if (names == NULL || (names[n] = strdup(de->d_name)) == NULL)
			bail("out of memory");
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
			snprintf(name, sizeof(name), "%s%s", label, names[i]);
			run_one(path, name);
		}
		free(names[i]);
	}
	free(names);
	return (int)n;
}

int
main(int argc, char **argv)
{
	const char	*top = getenv("TOP_SRCDIR"), *base;
	char		 dir[4096], prefix[64], *p;
	size_t		 len;
	int		 i, n = 0;

	plan_lazy();
	if (argc > 1) {
		for (i = 1; i < argc; i++)
			run_one(argv[i], argv[i]);
		done_testing();
		return nfailed > 0;
	}
	if (top == NULL)
		bail("TOP_SRCDIR must be set (run through make check)");
	base = (p = strrchr(argv[0], '/')) != NULL ? p + 1 : argv[0];
	if (strncmp(base, "fuzz_", 5) != 0)
		bail("%s: cannot tell the target from the name", argv[0]);
	base += 5;
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/crashes/KNOWN", top);
	known = slurp(dir, &len);
	if (known != NULL) {
		known = realloc(known, len + 1);
		known[len] = '\0';
	}
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top, base);
	snprintf(prefix, sizeof(prefix), "%s/", base);
	n += run_dir(dir, "", prefix);
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/crashes", top);
	snprintf(prefix, sizeof(prefix), "%s-", base);
	n += run_dir(dir, prefix, "crashes/");
	if (n == 0)
		bail("no inputs for %s under %s/tests/fuzz", base, top);
	free(known);
	/* done_testing() would count the TODO failures too. */
	done_testing();
	return nfailed > 0;
}
