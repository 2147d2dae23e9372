/* config.c: defaults, the shipped file, and every error class. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "daemon/config.h"
#include "tests/tap.h"

/* Loads text; returns the errors joined by "|" (or "" on success). */
static char *
load(const char *text, struct config **out)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*c;
	static char		 buf[4096];
	size_t			 i;

	c = config_load_string("t.conf", text, &errs);
	buf[0] = '\0';
	for (i = 0; i < errs.n; i++) {
		strncat(buf, errs.msg[i], sizeof(buf) - strlen(buf) - 2);
		strcat(buf, "|");
	}
	config_errors_free(&errs);
	if (out != NULL)
		*out = c;
	else
		config_unref(c);
	return buf;
}

static void
expect_error(const char *text, const char *want, const char *what)
{
	char *got = load(text, NULL);

	if (!ok(strstr(got, want) != NULL, "%s", what))
		diag("errors: %s; want \"%s\"", got, want);
}

/* The shipped file with its metrics listener uncommented, as it says. */
static void
shipped_metrics(const char *path)
{
	static const char	 line[] = "  #, { service = \"metrics\"";
	struct config		*c = NULL;
	char			*text, *p;
	FILE			*f = fopen(path, "r");
	size_t			 n;

	text = calloc(1, 1 << 20);
	n = f != NULL ? fread(text, 1, (1 << 20) - 1, f) : 0;
	if (f != NULL)
		fclose(f);
	text[n] = '\0';
	p = strstr(text, line);
	ok(p != NULL, "shipped file: a metrics listener commented out");
	if (p != NULL) {
		p[2] = ' ';
		is_str(load(text, &c), "", "it parses uncommented");
		ok(c != NULL && c->nlisten == 3 &&
		    c->listen[2].service == SERVICE_METRICS &&
		    c->listen[2].port == 9101 &&
		    strcmp(c->listen[2].address, "127.0.0.1") == 0,
		    "metrics on 127.0.0.1:9101");
		config_unref(c);
	}
	free(text);
}

int
main(void)
{
	struct config_errors	 errs = { NULL, 0 };
	struct config		*c;
	char			 path[1024];
	const char		*top = getenv("TOP_SRCDIR");

	/* Defaults. */
	is_str(load("", &c), "", "empty file is valid");
	ok(c != NULL, "empty file gives a config");
	is_int((long long)c->nlisten, 2, "two default listeners");
	is_int(c->listen[0].service, SERVICE_ECHO, "first is echo");
	is_int(c->listen[0].port, 10000, "echo on 10000");
	is_str(c->listen[0].address, "localhost", "on localhost");
	is_int(c->listen[1].service, SERVICE_BROKER, "second is broker");
	is_int(c->listen[1].port, 10001, "broker on 10001");
	is_int(c->workers, 3, "workers default 3");
	is_int(c->slow_callback_ms, 100, "slow_callback_ms default 100");
	is_int(c->debug, 0, "debug default false");
	is_int(c->log_level, LOG_INFO, "log level default info");
	is_int(c->log_facility, LOG_DAEMON, "facility default daemon");
	is_int((long long)c->control_mode, 0600, "control mode 0600");
	is_int(c->limits.max_clients, 1024, "max_clients 1024");
	is_int(c->limits.max_clients_per_source, 64, "per source 64");
	is_int(c->limits.max_children, 32, "max_children 32");
	is_int(c->limits.max_line, 1024, "max_line 1024");
	is_int(c->limits.idle_timeout_s, 300, "idle 300");
	is_int(c->limits.request_timeout_s, 10, "request timeout 10");
	is_int(c->limits.command_timeout_s, 30, "command timeout 30");
	is_int(c->limits.shutdown_timeout_s, 10, "shutdown timeout 10");
	is_int(c->limits.drain_delay_s, 5, "drain delay 5");
	ok(config_command(c, "df") != NULL &&
	    config_command(c, "df")->output == OUTPUT_DF, "df command");
	ok(config_command(c, "upper") != NULL &&
	    config_command(c, "upper")->input, "upper takes input");
	ok(config_command(c, "upper")->path != NULL &&
	    config_command(c, "upper")->path[0] == '/',
	    "tr resolved to an absolute path");
	config_unref(c);

	/* The shipped file. */
	snprintf(path, sizeof(path), "%s/conf/brokerd.conf",
	    top != NULL ? top : "..");
	c = config_load(path, &errs);
	ok(c != NULL, "shipped conf/brokerd.conf parses");
	if (c == NULL && errs.n > 0)
		diag("%s", errs.msg[0]);
	config_errors_free(&errs);
	config_unref(c);
	shipped_metrics(path);

	/* Values. */
	is_str(load("listen = ({ service = \"broker\"; address = \"::1\"; "
	    "port = 0; });\nworkers = 5;\nlog = { level = \"debug\"; "
	    "facility = \"local3\"; };\ncontrol = { path = \"/tmp/x.sock\"; "
	    "mode = \"0660\"; group = \"adm\"; };\n"
	    "commands = { lower = { argv = [\"tr\", \"A-Z\", \"a-z\"]; "
	    "input = true; timeout_s = 5; }; };\n", &c), "",
	    "a full config is valid");
	ok(c != NULL && c->nlisten == 1 && c->listen[0].port == 0,
	    "listen replaced, port 0 allowed");
	ok(c != NULL && c->workers == 5 && c->log_level == LOG_DEBUG &&
	    c->log_facility == LOG_LOCAL3, "workers and log set");
	ok(c != NULL && c->control_mode == 0660 &&
	    strcmp(c->control_group, "adm") == 0, "control mode and group");
	ok(c != NULL && c->ncommands == 1 && config_command(c, "df") == NULL
	    && config_command(c, "lower")->timeout_s == 5,
	    "commands table replaces the defaults");
	config_unref(c);

	/* Errors, each with file:line. */
	expect_error("workers = 3\nfoo = ;\n", "t.conf:2: syntax error",
	    "libconfig syntax error with its line");
	expect_error("\n\nbogus = 1;\n", "t.conf:3: unknown key bogus",
	    "unknown top-level key");
	expect_error("limits = {\n nope = 1; };\n",
	    "t.conf:2: unknown key limits.nope", "unknown nested key");
	expect_error("workers = \"three\";\n",
	    "t.conf:1: workers must be an integer, not a string",
	    "wrong type");
	expect_error("debug = 1;\n", "t.conf:1: debug must be a boolean",
	    "wrong type for a boolean");
	expect_error("listen = ({ service = \"echo\"; port = 70000; });\n",
	    "t.conf:1: listen.port = 70000 is out of range (0 to 65535)",
	    "port out of range");
	expect_error("listen = ({ service = \"echo\"; port = -1; });\n",
	    "out of range", "negative port");
	expect_error("commands = {\n x = { argv = []; };\n};\n",
	    "t.conf:2: commands.x.argv is empty", "empty argv");
	expect_error("commands = { x = { input = true; }; };\n",
	    "commands.x has no argv", "missing argv");
	expect_error("listen = (\n{ service = \"echo\"; address = \"a\"; "
	    "port = 5; },\n{ service = \"broker\"; address = \"a\"; port = 5; }"
	    ");\n", "t.conf:3: duplicate listener a port 5 (already at line 2)",
	    "duplicate listener");
	expect_error("listen = ({ service = \"ftp\"; port = 1; });\n",
	    "unknown service \"ftp\"", "unknown service");
	expect_error("listen = ({ port = 1; });\n", "listen entry has no "
	    "service", "listener without service");
	expect_error("listen = ();\n", "listen has no entries",
	    "no listeners");
	expect_error("log = { level = \"loud\"; };\n",
	    "unknown log level \"loud\"", "bad log level");
	expect_error("log = { facility = \"kern2\"; };\n",
	    "unknown syslog facility", "bad facility");
	expect_error("control = { mode = \"0999\"; };\n",
	    "is not an octal mode", "bad octal mode");
	expect_error("control = { path = \"rel.sock\"; };\n",
	    "control.path must be absolute", "relative control path");
	expect_error("limits = { max_line = 10; };\n",
	    "limits.max_line = 10 is out of range", "max_line too small");
	expect_error("limits = { drain_delay_s = -1; };\n",
	    "limits.drain_delay_s = -1 is out of range",
	    "negative drain delay");
	{
		char	*got = load("limits = { drain_delay_s = 0; };\n", &c);

		ok(*got == '\0' && c != NULL && c->limits.drain_delay_s == 0,
		    "drain_delay_s = 0 is valid (no delay)");
		config_unref(c);
	}
	expect_error("commands = { x = { argv = [\"bin/x\"]; }; };\n",
	    "must be a command name or an absolute path", "relative argv[0]");
	expect_error("commands = { x = { argv = [\"x\"]; output = \"xml\"; "
	    "}; };\n", "must be \"raw\" or \"df\"", "bad output kind");
	/*
	 * Strings of the file quoted in errors are escaped: each error is one
	 * line, in the log and in RELOAD's reply.
	 */
	{
		static const char *const bad[] = {
			"log = { level = \"x\\nOK generation 99\"; };\n",
			"log = { facility = \"x\\nOK 1\"; };\n",
			"listen = ({ service = \"x\\ny\"; port = 1; });\n",
			"listen = ({ service = \"echo\"; address = \"a\\nb\"; "
			    "port = 1; });\n",
			"control = { mode = \"06\\n00\"; };\n",
			"control = { group = \"no\\tsuch\\x01group\"; };\n",
		};
		size_t	i;
		char	*got;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			got = load(bad[i], NULL);
			if (!ok(got[0] != '\0' && strpbrk(got, "\n\t\r\x01")
			    == NULL && strstr(got, "\\") != NULL, "config "
			    "string with a control byte: escaped in the error "
			    "(%zu)", i))
				diag("errors: %s", got);
		}
		is_str(load(bad[0], NULL), "t.conf:1: unknown log level "
		    "\"x\\nOK generation 99\" (error, warning, notice, info or "
		    "debug)|", "the log level error, exactly");
		expect_error(bad[3], "t.conf:1: listen address \"a\\nb\" is "
		    "not a host name or an address", "an address with a line "
		    "feed is refused");
		expect_error("listen = ({ service = \"echo\"; address = \"a b\"; "
		    "port = 1; });\n", "listen address \"a b\" is not",
		    "so is one with a space");
	}

	/* Every error is reported, not just the first. */
	is_str(load("a = 1;\nb = 2;\nworkers = 0;\n", NULL),
	    "t.conf:1: unknown key a|t.conf:2: unknown key b|"
	    "t.conf:3: workers = 0 is out of range (2 to 64)|",
	    "all errors reported in order");

	/* A missing file. */
	c = config_load("/nonexistent/brokerd.conf", &errs);
	ok(c == NULL && errs.n == 1 && strstr(errs.msg[0],
	    "/nonexistent/brokerd.conf: No such file") != NULL,
	    "missing file names the file and errno");
	config_errors_free(&errs);
	return done_testing();
}
