/*
 * Fuzzes the config loader (daemon/config.c) through both entry points:
 * config_load_string on the input made NUL-terminated, and config_load
 * on the same bytes in a memfd (/proc/self/fd/N).  Both must agree on
 * success and on every error message.  A loaded config must satisfy what
 * the daemon relies on; a failed one must say why, as "file:line: ...".
 */
#include "autoconf.h"

#include <sys/mman.h>

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon/config.h"
#include "tests/fuzz/fuzz.h"

const char *__lsan_default_suppressions(void);

/*
 * libconfig 1.5's own leaks on syntax errors (see lsan.supp), built in so
 * that a sanitizer build's make check needs no LSAN_OPTIONS for them.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

static void
check_config(const struct config *c)
{
	size_t	i;
	int	k;

	CHECK(c->refs == 1 && c->file != NULL);
	CHECK(c->nlisten > 0 && c->listen != NULL);
	for (i = 0; i < c->nlisten; i++) {
		CHECK(c->listen[i].address != NULL &&
		    c->listen[i].address[0] != '\0');
		CHECK(c->listen[i].port >= 0 && c->listen[i].port <= 65535);
		CHECK(c->listen[i].service == SERVICE_ECHO ||
		    c->listen[i].service == SERVICE_BROKER);
	}
	CHECK(c->control_path != NULL && c->control_path[0] == '/' &&
	    strlen(c->control_path) < 108);
	CHECK(c->control_mode <= 0777);
	CHECK(c->workers >= 1 && c->workers <= 64);
	CHECK(c->limits.max_line >= 64 && c->limits.max_clients >= 1 &&
	    c->limits.max_children >= 1);
	for (i = 0; i < c->ncommands; i++) {
		const struct command_spec *cs = &c->commands[i];

		CHECK(cs->name != NULL && cs->argv != NULL && cs->argc > 0);
		CHECK(cs->argv[cs->argc] == NULL && cs->argv[0][0] != '\0');
		for (k = 0; k < cs->argc; k++)
			CHECK(cs->argv[k] != NULL);
		CHECK(config_command(c, cs->name) != NULL);
	}
}

static void
check_errors(const struct config_errors *e, const char *name)
{
	size_t	i, n = strlen(name);

	CHECK(e->n > 0);
	for (i = 0; i < e->n; i++)
		CHECK(strncmp(e->msg[i], name, n) == 0 &&
		    e->msg[i][n] == ':');
}

/* libconfig's @include would open files named by the input. */
static int
has_include(const char *text)
{
	const char *p;

	for (p = text; (p = strchr(p, '@')) != NULL; p++)
		if (strncasecmp(p + 1, "include", 7) == 0)
			return 1;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int		 fd = -1;
	static char		 path[64];
	struct config_errors	 e1 = { NULL, 0 }, e2 = { NULL, 0 };
	struct config		*c1, *c2;
	char			*text;
	size_t			 len, i;

	text = malloc(size + 1);
	CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	if (has_include(text)) {
		free(text);
		return 0;
	}
	len = strlen(text);
	if (fd < 0) {
		fd = memfd_create("fuzz_config", MFD_CLOEXEC);
		CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, text, len, 0) == (ssize_t)len);

	c1 = config_load_string(path, text, &e1);
	c2 = config_load(path, &e2);
	if (c1 != NULL) {
		CHECK(e1.n == 0);
		check_config(c1);
		CHECK(config_ref(c1) == c1 && c1->refs == 2);
		config_unref(c1);
		config_unref(c1);
	} else
		check_errors(&e1, path);
	if (c2 != NULL) {
		CHECK(e2.n == 0);
		check_config(c2);
		config_unref(c2);
	} else
		check_errors(&e2, path);
	/* The file and the string reader are one parser. */
	CHECK((c1 == NULL) == (c2 == NULL) && e1.n == e2.n);
	for (i = 0; i < e1.n; i++)
		CHECK(strcmp(e1.msg[i], e2.msg[i]) == 0);
	config_errors_free(&e1);
	config_errors_free(&e2);
	free(text);
	return 0;
}
