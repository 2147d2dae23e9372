/*
 * brokerd's TLS listeners, with certificates made at test time by
 * tests/tls/mkpki.sh: server-only TLS (PING, DF, UPPER byte-exact,
 * echo), client certificates accepted and refused, what brokerd -t and a
 * reload say about bad files, a reload swapping the certificate under an
 * open connection, peers that do not speak TLS or stall in the
 * handshake, and three clients: brokerctl, openssl s_client and Python's
 * ssl module (tests/tls/client.py).
 */
#include "autoconf.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "tests/tap.h"

#define CTL_WAIT_MS	60000

static const char *brokerctl, *brokerd, *top;

/* Runs argv[0] with up to 20 arguments; stdin from in (NULL: empty). */
static int
runv(const char *in, size_t inlen, char **out, size_t *outlen, char **err,
    const char *prog, va_list ap)
{
	char	*argv[22];
	int	 n = 0;

	argv[n++] = (char *)prog;
	while (n < 21 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	argv[n] = NULL;
	return run_prog(argv, in, inlen, out, outlen, err, CTL_WAIT_MS);
}

static int
run(char **out, char **err, const char *prog, ...)
{
	va_list	ap;
	int	r;

	va_start(ap, prog);
	r = runv(NULL, 0, out, NULL, err, prog, ap);
	va_end(ap);
	return r;
}

#ifdef HAVE_TLS
static int
ctl(const char *in, size_t inlen, char **out, size_t *outlen, char **err,
    ...)
{
	va_list	ap;
	int	r;

	va_start(ap, err);
	r = runv(in, inlen, out, outlen, err, brokerctl, ap);
	va_end(ap);
	return r;
}

static struct daemon	 d;
static char		 pki[300];
static char		 echo_port[16], srv_port[16], mtls_port[16];
static char		 acl_port[16];

/* pki/name (or d.dir/name for a leading '@'), in rotating buffers. */
static const char *
pk(const char *name)
{
	static char	buf[16][600];
	static int	i;

	i = (i + 1) % 16;
	if (name[0] == '@')
		snprintf(buf[i], sizeof(buf[i]), "%s/%s", d.dir, name + 1);
	else
		snprintf(buf[i], sizeof(buf[i]), "%s/%s", pki, name);
	return buf[i];
}

static void
copy_file(const char *dst, const char *src, int mode)
{
	char	tmp[700], buf[8192];
	size_t	n;
	FILE	*in, *out;

	snprintf(tmp, sizeof(tmp), "%s.new", dst);
	if ((in = fopen(src, "r")) == NULL || (out = fopen(tmp, "w")) == NULL)
		bail("copy %s: %s", src, strerror(errno));
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	if (fclose(out) != 0 || chmod(tmp, (mode_t)mode) != 0 ||
	    rename(tmp, dst) != 0)
		bail("copy to %s: %s", dst, strerror(errno));
}

/* The port of the nth (0: first) listener of service in the log. */
static int
nth_port(const char *service, int nth)
{
	char	*log = d_log(&d), *p = log, *q, pat[32];
	int	 port = 0;

	snprintf(pat, sizeof(pat), " (%s)\n", service);
	while ((p = strstr(p, "listening on ")) != NULL &&
	    (q = strchr(p, '\n')) != NULL) {
		if (strncmp(q - strlen(pat) + 1, pat, strlen(pat)) == 0 &&
		    nth-- == 0) {
			port = atoi((const char *)memrchr(p, ':',
			    (size_t)(q - p)) + 1);
			break;
		}
		p = q;
	}
	free(log);
	return port;
}

static void
test_pki(void)
{
	char	script[600], *out, *err;
	int	st;

	snprintf(script, sizeof(script), "%s/tests/tls/mkpki.sh", top);
	snprintf(pki, sizeof(pki), "%s/pki", d.dir);
	st = run(&out, &err, "/bin/sh", script, pki, NULL);
	if (st != 0)
		bail("mkpki.sh failed (%d): %s", st, err);
	free(out);
	free(err);
	/* What the reload test swaps; a key that is too open. */
	copy_file(pk("@cur.pem"), pk("server.pem"), 0644);
	copy_file(pk("@cur.key"), pk("server.key"), 0600);
	copy_file(pk("@open.key"), pk("server.key"), 0640);
}

/* brokerd -t on a config with one TLS broker listener made of tls. */
static int
check_tls(const char *tls, char **err)
{
	char	conf[2048], path[600], *out;
	int	st;

	snprintf(path, sizeof(path), "%s/t.conf", d.dir);
	snprintf(conf, sizeof(conf), "listen = ( { service = \"broker\"; "
	    "address = \"127.0.0.1\"; port = 0; tls = { %s }; } );\n", tls);
	write_text(path, conf, 0644);
	st = run(&out, err, brokerd, "-t", "-c", path, NULL);
	free(out);
	return st;
}

static void
test_check(void)
{
	char	tls[1500], *err, *out;
	int	st;

	snprintf(tls, sizeof(tls), "certificate = \"%s\"; key = \"%s\"; "
	    "client_ca = \"%s\"; min_version = \"1.3\";", pk("server.pem"),
	    pk("server.key"), pk("ca.pem"));
	st = check_tls(tls, &err);
	ok(st == 0, "brokerd -t: a tls block with every key is ok");
	free(err);
	snprintf(tls, sizeof(tls), "certificate = \"%s\"; key = \"%s\";",
	    pk("server.pem"), pk("other.key"));
	st = check_tls(tls, &err);
	ok(st == 1 && strstr(err, "other.key: the key does not match the "
	    "certificate") != NULL, "brokerd -t: a key not matching the "
	    "certificate is an error naming the key");
	if (st != 1)
		diag("%d: %s", st, err);
	free(err);
	snprintf(tls, sizeof(tls), "certificate = \"%s\"; key = \"%s\";",
	    pk("server.pem"), pk("@open.key"));
	st = check_tls(tls, &err);
	ok(st == 1 && strstr(err, "open.key: private key is accessible by "
	    "group or others (mode 0640); chmod 600 it") != NULL,
	    "brokerd -t: a key group may read is refused, as ssh would");
	free(err);
	snprintf(tls, sizeof(tls), "certificate = \"%s\"; key = \"%s\";",
	    pk("missing.pem"), pk("server.key"));
	st = check_tls(tls, &err);
	ok(st == 1 && strstr(err, "missing.pem: No such file or directory") !=
	    NULL, "brokerd -t: a missing certificate is \"file: reason\"");
	free(err);
	st = check_tls("certificate = \"server.pem\"; key = \"/k\"; "
	    "min_version = \"1.1\"; ciphers = \"x\";", &err);
	ok(st == 1 && strstr(err, "must be an absolute path") != NULL &&
	    strstr(err, "tls.min_version \"1.1\" is not \"1.2\" or \"1.3\"") !=
	    NULL && strstr(err, "unknown key listen.tls.ciphers") != NULL,
	    "brokerd -t: relative path, unknown version and key reported");
	if (st != 1)
		diag("%s", err);
	free(err);
	write_text(pk("@m.conf"), "listen = ( { service = \"metrics\"; "
	    "port = 0; tls = { certificate = \"/c\"; key = \"/k\"; }; } );\n",
	    0644);
	st = run(&out, &err, brokerd, "-t", "-c", pk("@m.conf"), NULL);
	ok(st == 1 && strstr(err, "a metrics listener takes no tls block") !=
	    NULL, "brokerd -t: no tls block on a metrics listener");
	free(out); free(err);
}

/*
 * The daemon's configuration into conf; echo_tls: the second echo
 * listener has a tls block too (with control, for a reload: d_start
 * adds that line only to a configuration that has none).
 */
static void
make_conf(char *conf, size_t size, int echo_tls)
{
	char	echo2[1024], control[400];

	snprintf(echo2, sizeof(echo2), "tls = { certificate = \"%s\"; "
	    "key = \"%s\"; };", pk("server.pem"), pk("server.key"));
	snprintf(control, sizeof(control), "control = { path = \"%s\"; };\n",
	    d.control);
	snprintf(conf, size,
	    "listen = (\n"
	    "  { service = \"echo\"; address = \"127.0.0.1\"; port = 0;\n"
	    "    tls = { certificate = \"%s\"; key = \"%s\"; }; },\n"
	    "  { service = \"broker\"; address = \"127.0.0.1\"; port = 0;\n"
	    "    tls = { certificate = \"%s\"; key = \"%s\"; }; },\n"
	    "  { service = \"broker\"; address = \"127.0.0.1\"; port = 0;\n"
	    "    tls = { certificate = \"%s\"; key = \"%s\";\n"
	    "            client_ca = \"%s\"; min_version = \"1.3\"; }; },\n"
	    "  { service = \"echo\"; address = \"127.0.0.1\"; port = 0; %s },\n"
	    "  { service = \"broker\"; address = \"127.0.0.1\"; port = 0;\n"
	    "    allow = [ \"192.0.2.1\", \"cn:monitor\" ];\n"
	    "    tls = { certificate = \"%s\"; key = \"%s\";\n"
	    "            client_ca = \"%s\"; }; }\n"
	    ");\n"
	    "limits = { request_timeout_s = 3; };\n"
	    "commands = {\n"
	    "  df    = { argv = [ \"df\", \"-hl\" ]; output = \"df\"; };\n"
	    "  upper = { argv = [ \"tr\", \"[:lower:]\", \"[:upper:]\" ];\n"
	    "            input = true; };\n"
	    "  mon   = { argv = [ \"df\", \"-hl\" ]; output = \"df\";\n"
	    "            allow = [ \"cn:monitor\", \"192.0.2.1\" ]; };\n"
	    "  either = { argv = [ \"echo\", \"either\" ];\n"
	    "             allow = [ \"cn:nobody\", \"127.0.0.0/8\" ]; };\n"
	    "};\n%s",
	    pk("@cur.pem"), pk("@cur.key"), pk("@cur.pem"), pk("@cur.key"),
	    pk("server.pem"), pk("server.key"), pk("ca.pem"),
	    echo_tls ? echo2 : "",
	    pk("server.pem"), pk("server.key"), pk("ca.pem"), control);
}

static void
start_daemon(void)
{
	char	conf[8192];

	make_conf(conf, sizeof(conf), 0);
	if (d_start(&d, conf, NULL) != 0)
		bail("brokerd did not start with TLS listeners: %s",
		    d_log(&d));
	snprintf(echo_port, sizeof(echo_port), "%d", nth_port("echo", 0));
	snprintf(srv_port, sizeof(srv_port), "%d", nth_port("broker", 0));
	snprintf(mtls_port, sizeof(mtls_port), "%d", nth_port("broker", 1));
	snprintf(acl_port, sizeof(acl_port), "%d", nth_port("broker", 2));
}

/* A STATS value over TLS with the monitor certificate, or -1. */
static long long
tls_stat(const char *key)
{
	char		*out, *err, *p, pat[80];
	long long	 v = -1;

	ctl(NULL, 0, &out, NULL, &err, "-H", "127.0.0.1", "-p", mtls_port,
	    "--ca", pk("ca.pem"), "--cert", pk("monitor.pem"), "--key",
	    pk("monitor.key"), "stats", NULL);
	snprintf(pat, sizeof(pat), "\n%s ", key);
	if ((p = strstr(out, pat)) != NULL)
		v = strtoll(p + strlen(pat), NULL, 10);
	free(out);
	free(err);
	return v;
}

static char
upper_of(size_t off, void *arg)
{
	(void)arg;
	return "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n"[off % 37];
}

static void
test_server_only(void)
{
	char	*out, *err, *in, *want;
	size_t	 len, outlen, i, n;
	int	 st;

	st = ctl(NULL, 0, &out, NULL, &err, "-H", "127.0.0.1", "-p", srv_port,
	    "--ca", pk("ca.pem"), "ping", NULL);
	ok(st == 0 && strcmp(out, "pong\n") == 0, "server-only TLS: ping");
	if (st != 0)
		diag("%d %s %s", st, out, err);
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-p", srv_port, "--ca",
	    pk("ca.pem"), "df", NULL);
	ok(st == 0 && strstr(out, "Free space:\n") == out,
	    "server-only TLS, to localhost: df");
	free(out); free(err);
	/* 64 MiB each way; under valgrind 4 MiB, which still spans records. */
	len = harness_wrapped() ? 4u << 20 : 64u << 20;
	in = malloc(len);
	want = malloc(len);
	for (i = 0; i < len; i++) {
		want[i] = upper_of(i, NULL);
		in[i] = (char)(want[i] >= 'A' && want[i] <= 'Z' ?
		    want[i] - 'A' + 'a' : want[i]);
	}
	st = ctl(in, len, &out, &outlen, &err, "-H", "127.0.0.1", "-p",
	    srv_port, "--ca", pk("ca.pem"), "upper", NULL);
	ok(st == 0 && outlen == len && memcmp(out, want, len) == 0,
	    "server-only TLS: upper, %zu MiB byte-exact", len >> 20);
	if (st != 0 || outlen != len)
		diag("status %d, %zu bytes: %s", st, outlen, err);
	free(out); free(err);
	/* Echo: 1 MiB through brokerctl. */
	n = 1u << 20;
	st = ctl(in, n, &out, &outlen, &err, "-H", "127.0.0.1", "-p",
	    echo_port, "--ca", pk("ca.pem"), "echo", NULL);
	ok(st == 0 && outlen == n && memcmp(out, in, n) == 0,
	    "TLS echo: 1 MiB back unchanged");
	if (st != 0 || outlen != n)
		diag("status %d, %zu bytes: %s", st, outlen, err);
	free(out); free(err);
	free(in);
	free(want);
}

static void
test_mutual(void)
{
	static const struct {
		const char *cert, *key, *what, *reason;
	} bad[] = {
		{ NULL, NULL, "no certificate",
		    "peer did not return a certificate" },
		{ "stranger.pem", "stranger.key", "a certificate of another CA",
		    "certificate verify failed (unable to get local issuer "
		    "certificate)" },
		{ "expired.pem", "expired.key", "an expired certificate",
		    "certificate verify failed (certificate has expired)" },
	};
	char		*out, *err, line[200];
	long long	 f0, f1;
	size_t		 i;
	int		 st;

	st = ctl(NULL, 0, &out, NULL, &err, "-H", "127.0.0.1", "-p",
	    mtls_port, "--ca", pk("ca.pem"), "--cert", pk("monitor.pem"),
	    "--key", pk("monitor.key"), "run", "nonexistent", NULL);
	ok(st != 0 && d_log_wait(&d, " cn=monitor: request RUN nonexistent: "
	    "ERR 404", 1, 5000),
	    "mutual TLS: accepted, and the request's log line names the CN");
	free(out); free(err);
	f0 = tls_stat("tls_handshake_failures");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* One failure line a second: each gets its own. */
		msleep(1100);
		if (bad[i].cert != NULL)
			st = ctl(NULL, 0, &out, NULL, &err, "-H", "127.0.0.1",
			    "-p", mtls_port, "--ca", pk("ca.pem"), "--cert",
			    pk(bad[i].cert), "--key", pk(bad[i].key), "ping",
			    NULL);
		else
			st = ctl(NULL, 0, &out, NULL, &err, "-H", "127.0.0.1",
			    "-p", mtls_port, "--ca", pk("ca.pem"), "ping",
			    NULL);
		snprintf(line, sizeof(line), "TLS handshake failed: %s",
		    bad[i].reason);
		if (!ok(st == 77 && d_log_wait(&d, line, 1, 5000),
		    "mutual TLS: %s is refused (exit 77), logged with the "
		    "peer and the reason", bad[i].what)) {
			diag("%d: %s", st, err);
			d_log_diag(&d, "handshake failed");
		}
		free(out); free(err);
	}
	f1 = tls_stat("tls_handshake_failures");
	ok(f1 == f0 + 3, "STATS tls_handshake_failures counts them (%lld)",
	    f1 - f0);
}

/* brokerctl to port with the client certificate of who (NULL: none). */
static int
ctl_as(const char *who, const char *port, char **out, char **err,
    const char *verb, const char *arg)
{
	char	cert[64], key[64];

	if (who == NULL)
		return ctl(NULL, 0, out, NULL, err, "-H", "127.0.0.1", "-p",
		    port, "--ca", pk("ca.pem"), verb, arg, NULL);
	snprintf(cert, sizeof(cert), "%s.pem", who);
	snprintf(key, sizeof(key), "%s.key", who);
	return ctl(NULL, 0, out, NULL, err, "-H", "127.0.0.1", "-p", port,
	    "--ca", pk("ca.pem"), "--cert", pk(cert), "--key", pk(key), verb,
	    arg, NULL);
}

/* cn: entries in a command's allow list and in a listener's. */
static void
test_cn(void)
{
	char		*out, *err;
	long long	 r0;
	int		 st;

	st = ctl_as("monitor", mtls_port, &out, &err, "run", "mon");
	ok(st == 0 && strchr(out, '/') != NULL,
	    "cn: CN monitor may run mon (allow [ cn:monitor, 192.0.2.1 ])");
	if (st != 0)
		diag("%d %s", st, err);
	free(out); free(err);
	st = ctl_as("other", mtls_port, &out, &err, "run", "mon");
	ok(st != 0 && strstr(err, "ERR 403 not allowed to run mon") != NULL,
	    "cn: CN other gets ERR 403 for mon");
	if (st == 0 || strstr(err, "ERR 403") == NULL)
		diag("%d %s", st, err);
	free(out); free(err);
	st = ctl_as(NULL, srv_port, &out, &err, "run", "mon");
	ok(st != 0 && strstr(err, "ERR 403 not allowed to run mon") != NULL,
	    "cn: a TLS peer without a certificate gets ERR 403 for mon");
	free(out); free(err);
	st = ctl_as("other", mtls_port, &out, &err, "run", "either");
	ok(st == 0 && strcmp(out, "either\n") == 0, "cn: CN other may run "
	    "either (allow [ cn:nobody, 127.0.0.0/8 ]) by its address");
	free(out); free(err);
	st = ctl_as("monitor", acl_port, &out, &err, "ping", NULL);
	ok(st == 0 && strcmp(out, "pong\n") == 0, "cn: a listener with "
	    "allow [ 192.0.2.1, cn:monitor ] lets CN monitor in");
	if (st != 0)
		diag("%d %s", st, err);
	free(out); free(err);
	r0 = tls_stat("connections_refused_acl");
	st = ctl_as("other", acl_port, &out, &err, "ping", NULL);
	ok(st != 0 && strstr(err, "access denied") != NULL &&
	    d_log_wait(&d, " cn=other: access denied after the TLS "
	    "handshake: closing", 1, 5000), "cn: ...and refuses CN other "
	    "after the handshake, with ERR 403 over TLS, logged");
	if (st == 0 || strstr(err, "access denied") == NULL)
		diag("%d %s", st, err);
	free(out); free(err);
	ok(tls_stat("connections_refused_acl") == r0 + 1,
	    "cn: counted in connections_refused_acl");
}

/* A coprocess: tests/tls/client.py PORT lines, with pipes. */
struct co {
	pid_t	pid;
	FILE	*in, *out;
};

static void
co_start(struct co *c, const char *port, const char *servername)
{
	char	script[600];
	int	pin[2], pout[2];

	snprintf(script, sizeof(script), "%s/tests/tls/client.py", top);
	if (pipe(pin) != 0 || pipe(pout) != 0)
		bail("pipe");
	if ((c->pid = fork()) == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		close(pin[1]);
		close(pout[0]);
		execlp("python3", "python3", script, port, "lines",
		    "--ca", pk("ca.pem"), "--servername", servername,
		    (char *)NULL);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	c->in = fdopen(pin[1], "w");
	c->out = fdopen(pout[0], "r");
}

/* The next line of its output ("" at EOF), bounded by its own timeout. */
static const char *
co_line(struct co *c, const char *send)
{
	static char line[256];

	if (send != NULL) {
		fprintf(c->in, "%s\n", send);
		fflush(c->in);
	}
	if (fgets(line, sizeof(line), c->out) == NULL)
		line[0] = '\0';
	line[strcspn(line, "\n")] = '\0';
	return line;
}

static void
co_end(struct co *c)
{
	fclose(c->in);
	fclose(c->out);
	waitpid(c->pid, NULL, 0);
}

static void
serial_of(const char *line, char *buf, size_t size)
{
	snprintf(buf, size, "%s", strncmp(line, "serial ", 7) == 0 ?
	    line + 7 : "none");
}

static void
test_reload(void)
{
	struct co	 old, fresh;
	char		 s0[64], s1[64], *out, *err;
	int		 st;

	co_start(&old, srv_port, "localhost");
	serial_of(co_line(&old, NULL), s0, sizeof(s0));
	ok(strcmp(co_line(&old, "PING"), "OK pong") == 0,
	    "python ssl: a connection before the reload: pong (serial %s)",
	    s0);
	copy_file(pk("@cur.pem"), pk("server.pem"), 0644);
	copy_file(pk("@cur.key"), pk("other.key"), 0600);
	st = d_ctl(&d, "reload", &out, &err);
	if (!ok(st != 0 && strstr(err, "cur.key: the key does not match "
	    "the certificate") != NULL, "reload with a mismatched key fails, "
	    "saying which file and why"))
		diag("%s %s", out, err);
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-H", "127.0.0.1", "-p", srv_port,
	    "--ca", pk("ca.pem"), "ping", NULL);
	ok(st == 0, "after the failed reload the old one still serves");
	free(out); free(err);
	/* alias: another certificate of the CA, named broker.example. */
	copy_file(pk("@cur.pem"), pk("alias.pem"), 0644);
	copy_file(pk("@cur.key"), pk("alias.key"), 0600);
	st = d_ctl(&d, "reload", &out, &err);
	if (!ok(st == 0, "reload with a new certificate and key"))
		diag("%s %s", out, err);
	free(out); free(err);
	co_start(&fresh, srv_port, "broker.example");
	serial_of(co_line(&fresh, NULL), s1, sizeof(s1));
	ok(strcmp(s1, "none") != 0 && strcmp(s1, s0) != 0 &&
	    strcmp(co_line(&fresh, "PING"), "OK pong") == 0,
	    "a new connection gets the new certificate (serial %s)", s1);
	co_end(&fresh);
	ok(strcmp(co_line(&old, "PING"), "OK pong") == 0,
	    "the connection from before the reload still works");
	co_end(&old);
}

/* Raw bytes at the TLS broker port: closed soon, nothing spins. */
static void
test_not_tls(void)
{
	char		 junk[4096];
	long long	 t0, f0, ticks;
	size_t		 i;
	int		 fd, r;

	f0 = tls_stat("tls_handshake_failures");
	ticks = proc_cpu_ticks(d.pid);
	fd = tcp_connect(atoi(srv_port));
	send_all(fd, "PING\n", 5);
	ok(wait_eof(fd, 5000), "a plain-text client on the TLS port is "
	    "closed");
	close(fd);
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7919 + (i >> 3));
	fd = tcp_connect(atoi(srv_port));
	send_all(fd, junk, sizeof(junk));
	ok(wait_eof(fd, 5000), "random bytes on the TLS port: closed");
	close(fd);
	/* A record header promising 512 bytes, then 10 of them: stalled. */
	fd = tcp_connect(atoi(srv_port));
	send_all(fd, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03", 10);
	t0 = now_ms();
	r = wait_eof(fd, 15000);
	t0 = now_ms() - t0;
	ok(r && t0 >= 2500 && t0 < 12000, "a client stalled in the "
	    "handshake is closed at request_timeout_s (after %lld ms)", t0);
	close(fd);
	ok(d_log_wait(&d, "TLS handshake failed: not done within "
	    "limits.request_timeout_s", 1, 2000), "...and logged so");
	ticks = proc_cpu_ticks(d.pid) - ticks;
	ok(ticks < 200, "the daemon did not spin meanwhile (%lld ticks)",
	    ticks);
	ok(tls_stat("tls_handshake_failures") == f0 + 3,
	    "each counted as a handshake failure");
}

/* Whether brokerctl's stats output has key, padded, then value. */
static int
has_stat(const char *out, const char *key, const char *value)
{
	char		 pat[80];
	const char	*p;

	snprintf(pat, sizeof(pat), "\n%s ", key);
	if ((p = strstr(out, pat)) == NULL)
		return 0;
	p += strlen(pat);
	p += strspn(p, " ");
	return strncmp(p, value, strlen(value)) == 0 &&
	    p[strlen(value)] == '\n';
}

static void
test_stats_interop(void)
{
	char	*out, *err, n[16];
	int	 st;

	ctl(NULL, 0, &out, NULL, &err, "-H", "127.0.0.1", "-p", mtls_port,
	    "--ca", pk("ca.pem"), "--cert", pk("monitor.pem"), "--key",
	    pk("monitor.key"), "stats", NULL);
	ok(has_stat(out, "listener.0.tls", "on") &&
	    has_stat(out, "listener.2.tls", "on") &&
	    has_stat(out, "listener.3.tls", "off"),
	    "STATS says which listeners have TLS");
	ok(has_stat(out, "tls_connections", "1"),
	    "STATS tls_connections: the one asking");
	ok(tls_stat("tls_handshakes") > 0, "STATS tls_handshakes counts");
	free(out); free(err);
	/*
	 * openssl s_client: one request and its reply; -quiet waits for
	 * the server to close, which a broker does not: cut short.
	 */
	{
		char *argv[] = { "/usr/bin/env", "openssl", "s_client",
		    "-quiet",
		    "-verify_return_error", "-CAfile", (char *)pk("ca.pem"),
		    "-cert", (char *)pk("other.pem"), "-key",
		    (char *)pk("other.key"), "-connect", NULL, NULL };
		char addr[64];

		snprintf(addr, sizeof(addr), "127.0.0.1:%s", mtls_port);
		argv[12] = addr;
		st = run_prog(argv, "PING\n", 5, &out, NULL, &err,
		    harness_wrapped() ? 20000 : 4000);
		ok(strstr(out, "OK pong\n") == out,
		    "openssl s_client with a client certificate: pong");
		if (strstr(out, "OK pong\n") != out)
			diag("%d: %s %s", st, out, err);
		free(out); free(err);
	}
	{
		char script[600];

		snprintf(script, sizeof(script), "%s/tests/tls/client.py",
		    top);
		snprintf(n, sizeof(n), "%d", 300000);
		st = run(&out, &err, "/usr/bin/env", "python3", script,
		    echo_port, "echo", n, "--ca", pk("ca.pem"),
		    "--servername", "broker.example", NULL);
		ok(st == 0 && strstr(out, "echo 300000 ok\n") != NULL,
		    "python ssl: echo 300000 bytes (to the reloaded "
		    "certificate)");
		if (st != 0)
			diag("%s %s", out, err);
		free(out); free(err);
	}
}
/* A reload gives a kept plain listener a tls block: same port, TLS. */
static void
test_plain_to_tls(void)
{
	char	conf[8192], port[16], *out, *err;
	int	st;

	snprintf(port, sizeof(port), "%d", nth_port("echo", 1));
	ok(echo_roundtrip(atoi(port), "plain"), "the plain echo listener");
	make_conf(conf, sizeof(conf), 1);
	replace_text(d.conf, conf);
	st = d_ctl(&d, "reload", &out, &err);
	if (!ok(st == 0, "reload: the plain echo listener gets a tls block"))
		diag("%s %s", out, err);
	free(out); free(err);
	ok(nth_port("echo", 1) == atoi(port) &&
	    d_log_count(&d, "closing listener") == 0,
	    "the listener is kept, on the same port");
	st = ctl(NULL, 0, &out, NULL, &err, "-p", port, "--ca", pk("ca.pem"),
	    "echo", "over TLS now", NULL);
	ok(st == 0 && strcmp(out, "over TLS now") == 0,
	    "a new connection to it speaks TLS");
	if (st != 0)
		diag("%d %s %s", st, out, err);
	free(out); free(err);
	ok(!echo_roundtrip(atoi(port), "plain"),
	    "a plain client there is no longer echoed");
}
#endif

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	brokerctl = getenv("BROKERCTL");
	brokerd = getenv("BROKERD");
	top = getenv("TOP_SRCDIR");
	if (brokerctl == NULL || brokerd == NULL || top == NULL)
		bail("BROKERD, BROKERCTL and TOP_SRCDIR must be set (run "
		    "through make check)");
	plan_lazy();
#ifndef HAVE_TLS
	{
		struct daemon	 d;
		char		 path[600], *out, *err;
		int		 st;

		d_init(&d);
		snprintf(path, sizeof(path), "%s/t.conf", d.dir);
		write_text(path, "listen = ( { service = \"broker\"; port = 0; "
		    "tls = { certificate = \"/c\"; key = \"/k\"; }; } );\n",
		    0644);
		st = run(&out, &err, brokerd, "-t", "-c", path, NULL);
		ok(st == 1 && strstr(err, "this brokerd is built without "
		    "TLS") != NULL, "built without TLS: a tls block is a "
		    "config error that says so");
		free(out); free(err);
		d_cleanup(&d);
		return done_testing();
	}
#else
	d_init(&d);
	test_pki();
	test_check();
	start_daemon();
	test_server_only();
	test_mutual();
	test_cn();
	test_not_tls();
	test_reload();
	test_stats_interop();
	test_plain_to_tls();
	ok(d_stop(&d, SIGTERM, 20000) == 0, "the daemon exits cleanly");
	d_cleanup(&d);
	return done_testing();
#endif
}
