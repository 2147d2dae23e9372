/*
 * acl.c (entries, matching, IPv4-mapped peers) and the access keys of
 * the configuration: lists, rates, user and group, command limits.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/acl.h"
#include "daemon/config.h"
#include "tests/tap.h"

static int
parses(const char *text)
{
	struct acl_entry	e;
	char			err[256];
	int			r;

	r = acl_parse(text, &e, err, sizeof(err)) == 0;
	if (r)
		free(e.cn);
	return r;
}

/* A list of one entry, matched against addr ("1.2.3.4" or "::1"). */
static int
matches(const char *entry, const char *addr)
{
	struct sockaddr_storage	ss;
	struct sockaddr_in	*sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)&ss;
	struct acl		 a = { 1, NULL, 1 };
	struct acl_entry	 e;
	struct acl_peer		 p = { (struct sockaddr *)&ss, NULL };
	char			 err[256];

	if (acl_parse(entry, &e, err, sizeof(err)) != 0)
		return -1;
	a.e = &e;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		return -1;
	return acl_match(&a, &p);
}

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

static void
test_entries(void)
{
	ok(parses("192.0.2.1"), "an IPv4 address");
	ok(parses("192.0.2.0/24"), "an IPv4 prefix");
	ok(parses("0.0.0.0/0"), "every IPv4 address");
	ok(parses("::1"), "an IPv6 address");
	ok(parses("2001:db8::/32"), "an IPv6 prefix");
	ok(parses("::ffff:192.0.2.0/120"), "an IPv4-mapped prefix");
	ok(!parses("192.0.2.1/24"), "host bits past the prefix: an error");
	ok(!parses("192.0.2.0/33"), "/33 for IPv4: an error");
	ok(!parses("::/129"), "/129: an error");
	ok(!parses("192.0.2.0/"), "an empty prefix length: an error");
	ok(!parses("192.0.2.0/+8"), "a signed prefix length: an error");
	ok(!parses("localhost"), "a name: an error (nothing is resolved)");
	ok(!parses(""), "empty: an error");
#ifdef HAVE_TLS
	ok(parses("cn:monitor"), "cn: entries: a verified TLS name");
#else
	ok(!parses("cn:monitor"), "cn: entries: not without TLS");
#endif

	is_int(matches("127.0.0.0/8", "127.0.0.3"), 1, "/8 matches");
	is_int(matches("127.0.0.2", "127.0.0.3"), 0, "/32 is one address");
	is_int(matches("192.0.2.128/25", "192.0.2.127"), 0,
	    "/25: the lower half is out");
	is_int(matches("192.0.2.128/25", "192.0.2.200"), 1,
	    "/25: the upper half is in");
	is_int(matches("0.0.0.0/0", "203.0.113.9"), 1, "/0 matches all");
	is_int(matches("127.0.0.1", "::ffff:127.0.0.1"), 1,
	    "an IPv4-mapped peer matches an IPv4 entry");
	is_int(matches("::ffff:127.0.0.0/104", "127.0.0.9"), 1,
	    "an IPv4-mapped entry matches an IPv4 peer");
	is_int(matches("::1", "127.0.0.1"), 0, "::1 is not 127.0.0.1");
	is_int(matches("::/0", "127.0.0.1"), 0,
	    "::/0 holds no IPv4 peer");
	is_int(matches("2001:db8::/33", "2001:db8:8000::1"), 0,
	    "/33: the second half is out");
	is_int(matches("::1/128", "::1"), 1, "::1/128 matches ::1");
}

static void
test_keys(void)
{
	struct config	*c;
	struct acl_peer	 p = { NULL, NULL };

	is_str(load("allow = [ \"127.0.0.0/8\", \"::1\" ];\n"
	    "deny = [ \"127.0.0.3\" ];\n"
	    "listen = ( { service = \"broker\"; port = 1; },\n"
	    "  { service = \"echo\"; port = 2; allow = [ \"10.0.0.1\" ];\n"
	    "    max_connections_per_second = 50; } );\n", &c), "",
	    "allow, deny, a listener's own list and rate");
	ok(c != NULL && c->listen[0].allow == c->allow &&
	    c->listen[0].deny == c->deny,
	    "a listener without lists shares the top-level ones");
	ok(c != NULL && c->listen[1].allow != c->allow &&
	    c->listen[1].allow->n == 1 && c->listen[1].deny == c->deny,
	    "its own allow replaces the top-level one; deny still applies");
	is_int(c != NULL ? c->listen[1].max_cps : -1, 50, "the rate");
	ok(c != NULL && acl_permits(NULL, NULL, &p), "no lists: anyone");
	config_unref(c);

	expect_error("allow = [ \"127.0.0.1/40\" ];",
	    "t.conf:1: allow: the prefix length of \"127.0.0.1/40\" must be "
	    "0 to 32", "a bad entry: file:line and why");
	expect_error("allow = [ \"127.0.0.1\",\n \"example.org\" ];",
	    "t.conf:2: allow: \"example.org\" is not", "a name: its line");
	expect_error("deny = \"127.0.0.1\";", "t.conf:1:", "deny not a list");
	expect_error("allow = [ 1 ];", "entries must be strings",
	    "a number in a list");
	expect_error("listen = ( { service = \"broker\"; port = 1;\n"
	    "  max_connections_per_second = 0; } );", "t.conf:2:",
	    "max_connections_per_second = 0");
	expect_error("user = \"no-such-user-here\";", "is not a known user",
	    "an unknown user");
	expect_error("user = \"root\";", "is root", "user root");
	expect_error("group = \"nogroup\";", "group is set but user is not",
	    "group without user");
	is_str(load("user = \"nobody\";\n", &c), "", "user nobody");
	ok(c != NULL && c->uid == 65534, "its uid");
	config_unref(c);

	expect_error("commands = { x = { argv = [ \"true\" ];\n"
	    "  allow = [ \"bad\" ]; }; };", "t.conf:2: commands.x.allow",
	    "a command's bad list");
	expect_error("commands = { x = { argv = [ \"true\" ];\n"
	    "  max_running = 0; }; };", "t.conf:2:", "max_running = 0");
	expect_error("commands = { x = { argv = [ \"true\" ];\n"
	    "  limits = { cpu_s = 0; }; }; };", "t.conf:2:", "cpu_s = 0");
	expect_error("commands = { x = { argv = [ \"true\" ];\n"
	    "  limits = { stack_mb = 1; }; }; };", "unknown key",
	    "an unknown limit");
	expect_error("commands = { x = { argv = [ \"true\" ];\n"
	    "  env = [ \"NOEQUALS\" ]; }; };", "is not NAME=value",
	    "env without =");
	expect_error("commands = { x = { argv = [ \"true\" ];\n"
	    "  env = [ \"PATH=/tmp\" ]; }; };", "PATH is set by brokerd",
	    "env PATH");
	expect_error("commands = { x = { argv = [ \"true\" ];\n"
	    "  env = [ \"A=1\", \"A=2\" ]; }; };", "A is set twice",
	    "env twice");
	expect_error("commands = { x = { argv = [ \"true\" ];\n"
	    "  cwd = \"tmp\"; }; };", "must be an absolute path",
	    "a relative cwd");
	is_str(load("commands = { x = { argv = [ \"true\" ];\n"
	    "  allow = [ \"127.0.0.2\" ]; deny = [ \"127.0.0.3\" ];\n"
	    "  max_running = 4; env = [ \"LC_ALL=C\", \"X=y z\" ];\n"
	    "  cwd = \"/tmp\"; limits = { cpu_s = 10; memory_mb = 256;\n"
	    "  open_files = 64; processes = 16; output_mb = 64; }; }; };\n",
	    &c), "", "every command key");
	ok(c != NULL && c->commands[0].max_running == 4 &&
	    c->commands[0].limits.output_mb == 64 &&
	    strcmp(c->commands[0].envp[0], "PATH=" CHILD_PATH) == 0 &&
	    strcmp(c->commands[0].envp[2], "X=y z") == 0 &&
	    c->commands[0].envp[3] == NULL &&
	    strcmp(c->commands[0].cwd, "/tmp") == 0, "their values");
	config_unref(c);
}

#ifdef HAVE_TLS
/* cn:NAME entries: parsed, matched against a verified name only. */
static void
test_cn_entries(void)
{
	struct acl		 a = { 1, NULL, 2 };
	struct acl_entry	 e[2];
	struct sockaddr_in	 sin;
	struct acl_peer		 p = { (struct sockaddr *)&sin, NULL };
	char			 err[256];

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
	ok(acl_parse("cn:monitor", &e[0], err, sizeof(err)) == 0 &&
	    e[0].kind == ACL_CN && strcmp(e[0].cn, "monitor") == 0,
	    "cn:monitor is a name entry");
	ok(acl_parse("cn:", &e[1], err, sizeof(err)) != 0 &&
	    strstr(err, "\"cn:\" needs a name") != NULL,
	    "cn: without a name is an error");
	ok(acl_parse("10.0.0.0/8", &e[1], err, sizeof(err)) == 0,
	    "(an address entry next to it)");
	a.e = e;
	ok(!acl_match(&a, &p), "no verified name, another address: no match");
	p.cn = "other";
	ok(!acl_match(&a, &p), "another name: no match");
	p.cn = "monitor";
	ok(acl_match(&a, &p), "the name: a match");
	p.cn = "Monitor";
	ok(!acl_match(&a, &p), "names match byte for byte");
	p.cn = NULL;
	inet_pton(AF_INET, "10.1.2.3", &sin.sin_addr);
	ok(acl_match(&a, &p), "a list with both kinds: the address matches");
	ok(acl_has(&a, ACL_CN) && acl_has(&a, ACL_NET) &&
	    !acl_has(NULL, ACL_CN), "acl_has");
	free(e[0].cn);
}
#endif

int
main(void)
{
	test_entries();
#ifdef HAVE_TLS
	test_cn_entries();
#endif
	test_keys();
	return done_testing();
}
