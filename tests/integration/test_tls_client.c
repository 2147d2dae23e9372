/*
 * brokerctl's TLS against real TLS servers, before brokerd has any:
 * tests/tls/peer.py (Python's ssl module, speaking just enough of the
 * broker and echo protocols) and openssl s_server, with certificates
 * made at test time by tests/tls/mkpki.sh.  What is checked is what a
 * user sees: output bytes, exit statuses, messages, and what the server
 * saw (the client certificate's CN, the bytes echoed).
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

#define PEER_WAIT_MS	15000	/* start-up of python3 on a busy machine */
#define CTL_WAIT_MS	30000

static const char *brokerctl, *top;

/* Runs brokerctl with up to 16 arguments; stdin from in (NULL: empty). */
static int
ctl(const char *in, size_t inlen, char **out, size_t *outlen, char **err,
    ...)
{
	char	*argv[18];
	va_list	 ap;
	int	 n = 0;

	argv[n++] = (char *)brokerctl;
	va_start(ap, err);
	while (n < 17 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	return run_prog(argv, in, inlen, out, outlen, err, CTL_WAIT_MS);
}

/* Whether err has every one of the NULL-terminated strings. */
static int
has(const char *err, ...)
{
	const char *s;
	va_list	ap;
	int	r = 1;

	va_start(ap, err);
	while ((s = va_arg(ap, const char *)) != NULL)
		if (strstr(err, s) == NULL)
			r = 0;
	va_end(ap);
	if (!r)
		diag("stderr: %s", err);
	return r;
}

static void
test_help(void)
{
	static const char *const opts[] = { "--tls ", "--ca file ",
	    "--cert file ", "--key file ", "--servername name " };
	char	*out, *err, *man, path[700], want[64];
	size_t	 i;
	FILE	*f;
	long	 n;

	ctl(NULL, 0, &out, NULL, &err, "-h", NULL);
	snprintf(path, sizeof(path), "%s/man/brokerctl.1.in", top);
	if ((f = fopen(path, "r")) == NULL)
		bail("%s: %s", path, strerror(errno));
	man = malloc(1 << 20);
	n = (long)fread(man, 1, (1 << 20) - 1, f);
	fclose(f);
	man[n < 0 ? 0 : n] = '\0';
	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		snprintf(want, sizeof(want), "\n  %s", opts[i]);
		ok(strstr(out, want) != NULL, "-h explains %.*s",
		    (int)strlen(opts[i]) - 1, opts[i]);
		/* ".It Fl \-ca Ar file" */
		snprintf(want, sizeof(want), ".It Fl \\-%.*s",
		    (int)strcspn(opts[i] + 2, " "), opts[i] + 2);
		ok(strstr(man, want) != NULL, "brokerctl.1 has %s", want);
	}
	ok(strstr(out, "77 a certificate refused") != NULL &&
	    strstr(man, ".It 77\n") != NULL,
	    "-h and brokerctl.1 list exit status 77");
	free(out);
	free(err);
	free(man);
}

#ifdef HAVE_TLS
static struct daemon d;		/* only its temp dir: no brokerd here */
static char	 pki[512];

/* pki/name, in one of a few rotating static buffers. */
static const char *
pk(const char *name)
{
	static char	buf[8][600];
	static int	i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", pki, name);
	return buf[i];
}

struct server {
	pid_t	pid;
	char	port[16];
	char	log[600];	/* its stderr (peer.py) or stdout (s_server) */
};

/*
 * Starts argv with stdout into a pipe (peer.py: "port N") or a file
 * (s_server: "ACCEPT [::]:N"), stderr into s->log, and waits for the
 * port, bounded.
 */
static void
server_start(struct server *s, char *const argv[], const char *name,
    int ssl_server)
{
	static int	 n;
	struct pollfd	 pfd;
	long long	 t0 = now_ms();
	char		 buf[256], *p;
	size_t		 len = 0;
	ssize_t		 r;
	int		 pout[2], fd;

	snprintf(s->log, sizeof(s->log), "%s/%s-%d.log", d.dir, name, ++n);
	if ((fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    pipe(pout) == -1)
		bail("%s: %s", s->log, strerror(errno));
	if ((s->pid = fork()) == 0) {
		int	nul = open("/dev/null", O_RDONLY);

		if (nul == -1 || dup2(nul, 0) == -1)
			_exit(127);
		dup2(ssl_server ? fd : pout[1], 1);
		dup2(fd, 2);
		close(pout[0]);
		close(pout[1]);
		close(fd);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pout[1]);
	close(fd);
	s->port[0] = '\0';
	while (s->port[0] == '\0' && now_ms() - t0 < PEER_WAIT_MS) {
		if (ssl_server) {
			/* s_server prints "ACCEPT [::]:PORT" once it listens. */
			FILE	*f = fopen(s->log, "r");

			while (f != NULL && fgets(buf, sizeof(buf), f) != NULL)
				if (strncmp(buf, "ACCEPT ", 7) == 0 &&
				    (p = strrchr(buf, ':')) != NULL)
					snprintf(s->port, sizeof(s->port),
					    "%d", atoi(p + 1));
			if (f != NULL)
				fclose(f);
			if (s->port[0] == '\0')
				usleep(20000);
			continue;
		}
		pfd.fd = pout[0];
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		r = read(pout[0], buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		buf[len] = '\0';
		if (strncmp(buf, "port ", 5) == 0 && strchr(buf, '\n'))
			snprintf(s->port, sizeof(s->port), "%d",
			    atoi(buf + 5));
	}
	close(pout[0]);
	if (s->port[0] == '\0') {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		bail("%s did not start listening; see %s", argv[0], s->log);
	}
}

/* peer.py MODE [options...]: a Python ssl server. */
static void
peer_start(struct server *s, const char *mode, ...)
{
	char	*argv[20], script[600];
	va_list	 ap;
	int	 n = 0;

	snprintf(script, sizeof(script), "%s/tests/tls/peer.py", top);
	argv[n++] = "python3";
	argv[n++] = script;
	argv[n++] = (char *)mode;
	va_start(ap, mode);
	while (n < 19 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	server_start(s, argv, "peer", 0);
}

/* Exit status of the server once it has served its connections. */
static int
server_wait(struct server *s)
{
	long long t0 = now_ms();
	int	  st;

	while (waitpid(s->pid, &st, WNOHANG) == 0) {
		if (now_ms() - t0 > 10000) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
			diag("server %d killed: it did not end", (int)s->pid);
			return -1;
		}
		usleep(10000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Whether the server's log has text. */
static int
server_saw(struct server *s, const char *text)
{
	char	buf[65536];
	FILE	*f = fopen(s->log, "r");
	size_t	 n = 0;

	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	if (strstr(buf, text) == NULL) {
		diag("server log %s: %s", s->log, buf);
		return 0;
	}
	return 1;
}

/* Writes the files a and b, one after the other, to dst. */
static void
concat(const char *dst, const char *a, const char *b)
{
	const char *src[2] = { a, b };
	char	buf[8192];
	size_t	n;
	FILE	*in, *out;
	int	i;

	if ((out = fopen(dst, "w")) == NULL)
		bail("%s: %s", dst, strerror(errno));
	for (i = 0; i < 2; i++) {
		if ((in = fopen(src[i], "r")) == NULL)
			bail("%s: %s", src[i], strerror(errno));
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			fwrite(buf, 1, n, out);
		fclose(in);
	}
	if (fclose(out) != 0)
		bail("%s: %s", dst, strerror(errno));
}

static void
test_pki(void)
{
	static const char *const keys[] = { "ca.key", "server.key",
	    "alias.key", "monitor.key", "other.key", "expired.key", "ca2.key",
	    "stranger.key" };
	char	*argv[4], script[600], *out, *err;
	size_t	 i;
	int	 st, bad = 0;

	snprintf(script, sizeof(script), "%s/tests/tls/mkpki.sh", top);
	snprintf(pki, sizeof(pki), "%s/pki", d.dir);
	argv[0] = "/bin/sh";
	argv[1] = script;
	argv[2] = pki;
	argv[3] = NULL;
	st = run_prog(argv, NULL, 0, &out, NULL, &err, 60000);
	if (st != 0)
		bail("mkpki.sh failed (%d): %s", st, err);
	free(out);
	free(err);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (file_mode(pk(keys[i])) != 0600) {
			diag("%s: mode %o", keys[i], file_mode(pk(keys[i])));
			bad++;
		}
	ok(bad == 0, "mkpki.sh: every key is mode 0600");
}

/* A good certificate, its names, the CAs, SSL_pending. */
static void
test_server_cert(void)
{
	struct server s;
	char	*out, *err;
	int	 st;

	peer_start(&s, "broker", "--cert", pk("server.pem"), "--key",
	    pk("server.key"), "--count", "7", NULL);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "-p", s.port, "ping", NULL);
	ok(st == 0 && strcmp(out, "pong\n") == 0 && *err == '\0',
	    "--ca: ping over TLS 1.3 to localhost: pong");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "-H", "127.0.0.1", "-p", s.port, "version", NULL);
	ok(st == 0 && strcmp(out, "peer cn=none\n") == 0,
	    "-H 127.0.0.1 matches the certificate's IP name; no client "
	    "certificate sent when none is given");
	free(out); free(err);
	/* The final line is in a second record of the same segment. */
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "5", "--ca", pk("ca.pem"),
	    "-p", s.port, "run", "-n", "pending", NULL);
	ok(st == 0 && strcmp(out, "held by OpenSSL\n") == 0,
	    "bytes OpenSSL already holds are read without waiting for poll "
	    "(SSL_pending): exit %d", st);
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--tls", "-p", s.port,
	    "ping", NULL);
	ok(st == 77 && *out == '\0' && has(err, "brokerctl: certificate "
	    "verify failed: unable to get local issuer certificate: "
	    "localhost port ", "issued by \"CN=brokerd test CA\", which is "
	    "not trusted by the system's store (see --ca)\n", NULL),
	    "--tls alone: the system's store does not know the test CA: "
	    "exit 77");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca2.pem"),
	    "-p", s.port, "ping", NULL);
	ok(st == 77 && has(err, "certificate verify failed: unable to get "
	    "local issuer certificate", "not trusted by ", "ca2.pem (see "
	    "--ca)", NULL), "--ca of another CA: unknown CA, exit 77");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "--servername", "broker.example", "-p", s.port, "ping", NULL);
	ok(st == 77 && has(err, "certificate verify failed: hostname "
	    "mismatch: localhost port ", " presented a certificate for "
	    "DNS:localhost, IP:127.0.0.1, IP:::1, not for broker.example "
	    "(see --servername)\n", NULL),
	    "--servername is the name checked: a name the certificate lacks "
	    "fails, exit 77");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "--cert", pk("monitor.pem"), "--key", pk("monitor.key"),
	    "-p", s.port, "version", NULL);
	ok(st == 0 && strcmp(out, "peer cn=none\n") == 0,
	    "--cert and --key for a server that asks for no certificate: "
	    "none sent, no error");
	free(out); free(err);
	is_int(server_wait(&s), 0, "peer.py served 7 connections");
}

/* A certificate for broker.example only: --servername reaches it. */
static void
test_servername(void)
{
	struct server s;
	char	*out, *err;
	int	 st;

	peer_start(&s, "broker", "--cert", pk("alias.pem"), "--key",
	    pk("alias.key"), "--count", "3", NULL);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "-p", s.port, "ping", NULL);
	ok(st == 77 && *out == '\0' && has(err, "brokerctl: certificate "
	    "verify failed: hostname mismatch: localhost port ", " presented "
	    "a certificate for DNS:broker.example, not for localhost (see "
	    "--servername)\n", NULL), "wrong host name: exit 77, the names "
	    "on both sides");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "-H", "127.0.0.1", "-p", s.port, "ping", NULL);
	ok(st == 77 && has(err, "certificate verify failed: IP address "
	    "mismatch: 127.0.0.1 port ", "not for 127.0.0.1", NULL),
	    "an address the certificate lacks: exit 77");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "--servername", "broker.example", "-p", s.port, "ping", NULL);
	ok(st == 0 && strcmp(out, "pong\n") == 0,
	    "--servername broker.example: verified, pong");
	free(out); free(err);
	is_int(server_wait(&s), 0, "peer.py served 3 connections");
}

/* A server that wants a client certificate, in TLS 1.3 and 1.2. */
static void
test_client_cert(const char *tls_max)
{
	struct server s;
	char	*out, *err, both[700];
	int	 st;

	peer_start(&s, "broker", "--cert", pk("server.pem"), "--key",
	    pk("server.key"), "--client-ca", pk("ca.pem"), "--tls-max",
	    tls_max, "--count", "5", NULL);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "--cert", pk("monitor.pem"), "--key", pk("monitor.key"),
	    "-p", s.port, "version", NULL);
	ok(st == 0 && strcmp(out, "peer cn=monitor\n") == 0,
	    "TLS %s, mutual: the server verified CN=monitor", tls_max);
	free(out); free(err);
	/* A certificate and its key in one file. */
	snprintf(both, sizeof(both), "%s/other-both.pem", d.dir);
	concat(both, pk("other.pem"), pk("other.key"));
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "--cert", both, "-p", s.port, "version", NULL);
	ok(st == 0 && strcmp(out, "peer cn=other\n") == 0,
	    "TLS %s: --cert alone, the key in the same file: CN=other",
	    tls_max);
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "-p", s.port, "version", NULL);
	ok(st == 77 && *out == '\0' && has(err, "brokerctl: localhost port ",
	    " refused the TLS session: ", ": it wants a client certificate "
	    "(see --cert)\n", NULL),
	    "TLS %s: no client certificate: the server refuses, exit 77",
	    tls_max);
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "--cert", pk("stranger.pem"), "--key", pk("stranger.key"),
	    "-p", s.port, "version", NULL);
	ok(st == 77 && has(err, "refused the TLS session: tlsv1 alert "
	    "unknown ca: it does not accept the certificate of --cert ",
	    "stranger.pem\n", NULL),
	    "TLS %s: a certificate from another CA: refused, exit 77",
	    tls_max);
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "10", "--ca", pk("ca.pem"),
	    "--cert", pk("expired.pem"), "--key", pk("expired.key"),
	    "-p", s.port, "version", NULL);
	ok(st == 77 && has(err, "refused the TLS session: sslv3 alert "
	    "certificate expired", NULL),
	    "TLS %s: an expired certificate: refused, exit 77", tls_max);
	free(out); free(err);
	is_int(server_wait(&s), 0, "peer.py served 5 connections");
	snprintf(both, sizeof(both), "TLSv%s, client cn=monitor", tls_max);
	ok(server_saw(&s, both) && server_saw(&s, "handshake failed"),
	    "the server's log: TLS %s, and the refused handshakes", tls_max);
}

/* Files and options that are wrong: said before connecting. */
static void
test_local_errors(void)
{
	char	*out, *err;
	int	 st;

	/* Port 1: nothing listens; the file is checked first. */
	st = ctl(NULL, 0, &out, NULL, &err, "--ca", pk("ca.pem"), "--cert",
	    pk("monitor.pem"), "--key", pk("other.key"), "-p", "1", "ping",
	    NULL);
	ok(st == 1 && has(err, "other.key, with --cert ", "monitor.pem: key "
	    "values mismatch\n", NULL), "a key of another certificate: "
	    "exit 1, before connecting");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "--cert", pk("monitor.pem"),
	    "-p", "1", "ping", NULL);
	ok(st == 1 && has(err, "monitor.pem holds no private key that goes "
	    "with it (see --key)", NULL), "--cert without a key: exit 1");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "--ca", pk("nosuch.pem"), "-p",
	    "1", "ping", NULL);
	ok(st == 1 && has(err, "nosuch.pem: No such file or directory\n",
	    NULL), "--ca that is not there: exit 1");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "--ca", pk("monitor.key"), "-p",
	    "1", "ping", NULL);
	ok(st == 1 && has(err, "monitor.key: no certificate or crl found\n",
	    NULL), "--ca without certificates: exit 1");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "--key", pk("monitor.key"),
	    "ping", NULL);
	ok(st == 2 && has(err, "brokerctl: --key needs --cert\nusage: ",
	    NULL), "--key without --cert: usage, exit 2");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "--servername", "", "ping", NULL);
	ok(st == 2 && has(err, "--servername: empty argument", NULL),
	    "an empty --servername (no name check at all) is refused");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "--tls", "-S", "/nonexistent",
	    "stats", NULL);
	ok(st == 2 && has(err, "--tls applies to TCP only, not to the "
	    "control socket /nonexistent", NULL), "--tls with -S: exit 2");
	free(out); free(err);
	st = ctl(NULL, 0, &out, NULL, &err, "--tls", "reload", NULL);
	ok(st == 2 && has(err, "--tls applies to TCP only", NULL),
	    "--tls reload (the control socket): exit 2");
	free(out); free(err);
}

/* Servers that do not speak TLS: an error, never a hang. */
static void
test_not_tls(void)
{
	static const char *const modes[] = { "plain", "garbage" };
	struct server s;
	long long t0;
	char	*out, *err;
	size_t	 i;
	int	 st;

	for (i = 0; i < 2; i++) {
		peer_start(&s, modes[i], NULL);
		t0 = now_ms();
		st = ctl(NULL, 0, &out, NULL, &err, "-t", "20", "--ca",
		    pk("ca.pem"), "-p", s.port, "ping", NULL);
		ok(st == 70 && now_ms() - t0 < 10000 && has(err, "does not "
		    "speak TLS (", "a plain listener? (see -p)\n", NULL),
		    "a %s-text server: exit 70 at once, not after -t",
		    modes[i]);
		free(out); free(err);
		is_int(server_wait(&s), 0, "%s server done", modes[i]);
	}
	peer_start(&s, "silent", NULL);
	t0 = now_ms();
	st = ctl(NULL, 0, &out, NULL, &err, "-t", "1", "--ca", pk("ca.pem"),
	    "-p", s.port, "ping", NULL);
	ok(st == 75 && now_ms() - t0 >= 900 && now_ms() - t0 < 10000 &&
	    has(err, "timed out in the TLS handshake with localhost port ",
	    NULL), "a server that never answers: -t 1 ends the handshake, "
	    "exit 75 (%lld ms)", now_ms() - t0);
	free(out); free(err);
	is_int(server_wait(&s), 0, "silent server done");
}

/* Echo through TLS: a few MiB byte for byte, half-closed by close_notify. */
static void
test_echo(const char *tls_max)
{
	struct server s;
	char	*in, *out, *err, want[64];
	size_t	 n = 4 << 20, outlen = 0, i;
	unsigned int seed = 12345;
	int	 st;

	in = malloc(n);
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		in[i] = (char)(seed >> 16);
	}
	peer_start(&s, "echo", "--cert", pk("server.pem"), "--key",
	    pk("server.key"), "--tls-max", tls_max, "--count", "2", NULL);
	st = ctl(in, n, &out, &outlen, &err, "-t", "20", "--ca", pk("ca.pem"),
	    "-p", s.port, "echo", NULL);
	ok(st == 0 && outlen == n && memcmp(in, out, n) == 0,
	    "TLS %s echo: 4 MiB of stdin back byte for byte (exit %d, %zu "
	    "bytes)", tls_max, st, outlen);
	free(out); free(err);
	st = ctl(NULL, 0, &out, &outlen, &err, "-t", "20", "--ca",
	    pk("ca.pem"), "-p", s.port, "echo", "Hello, ", "World!", NULL);
	ok(st == 0 && outlen == 13 && memcmp(out, "Hello, World!", 13) == 0,
	    "TLS %s echo of two messages", tls_max);
	free(out); free(err);
	is_int(server_wait(&s), 0, "echo server done");
	/* It ends its loop only at the close_notify, then sends its own. */
	snprintf(want, sizeof(want), "echoed %zu bytes", n);
	ok(server_saw(&s, want) && server_saw(&s, "echoed 13 bytes"),
	    "TLS %s: the server got the whole stream, then the client's "
	    "close_notify", tls_max);
	free(in);
}

/*
 * openssl s_server as the peer: -rev sends each line back reversed, so
 * a palindrome is an echo; -Verify 1 wants a client certificate.
 */
static void
test_s_server(void)
{
	char	*argv[20], *out, *err;
	struct server s;
	size_t	 outlen;
	int	 st, n;

	n = 0;
	argv[n++] = "openssl";
	argv[n++] = "s_server";
	argv[n++] = "-accept";
	argv[n++] = "0";
	argv[n++] = "-naccept";
	argv[n++] = "1";
	argv[n++] = "-rev";
	argv[n++] = "-cert";
	argv[n++] = (char *)pk("server.pem");
	argv[n++] = "-key";
	argv[n++] = (char *)pk("server.key");
	argv[n++] = "-Verify";
	argv[n++] = "1";
	argv[n++] = "-verify_return_error";
	argv[n++] = "-CAfile";
	argv[n++] = (char *)pk("ca.pem");
	argv[n] = NULL;
	server_start(&s, argv, "s_server", 1);
	st = ctl(NULL, 0, &out, &outlen, &err, "-t", "10", "--ca",
	    pk("ca.pem"), "--cert", pk("monitor.pem"), "--key",
	    pk("monitor.key"), "-p", s.port, "echo", "level\n", NULL);
	ok(st == 0 && outlen == 6 && memcmp(out, "level\n", 6) == 0,
	    "openssl s_server -rev, mutual TLS: a palindrome comes back");
	free(out); free(err);
	is_int(server_wait(&s), 0, "s_server -naccept 1 done");
	ok(server_saw(&s, "Peer certificate: CN = monitor"),
	    "s_server verified the client certificate CN=monitor");

	server_start(&s, argv, "s_server", 1);
	st = ctl(NULL, 0, &out, &outlen, &err, "-t", "10", "--ca",
	    pk("ca.pem"), "-p", s.port, "echo", "level\n", NULL);
	ok(st == 77 && has(err, "refused the TLS session: ", "it wants a "
	    "client certificate (see --cert)\n", NULL),
	    "s_server -Verify 1 without a client certificate: exit 77");
	free(out); free(err);
	kill(s.pid, SIGTERM);
	server_wait(&s);
}

#endif /* HAVE_TLS */

int
main(void)
{
#ifndef HAVE_TLS
	char	*out, *err;
	int	 st;
#endif

	signal(SIGPIPE, SIG_IGN);
	brokerctl = getenv("BROKERCTL");
	top = getenv("TOP_SRCDIR");
	if (brokerctl == NULL || top == NULL)
		bail("BROKERCTL and TOP_SRCDIR must be set (run through make "
		    "check)");
	plan_lazy();
	test_help();
#ifndef HAVE_TLS
	st = ctl(NULL, 0, &out, NULL, &err, "--tls", "ping", NULL);
	ok(st == 2 && has(err, "--tls: this brokerctl was built without "
	    "TLS (configure --disable-tls)\n", NULL),
	    "built without TLS: --tls is refused, exit 2");
	free(out); free(err);
	skip(1, "configured with --disable-tls: no TLS to test");
	return done_testing();
#else
	d_init(&d);
	test_pki();
	test_server_cert();
	test_servername();
	test_client_cert("1.3");
	test_client_cert("1.2");
	test_local_errors();
	test_not_tls();
	test_echo("1.3");
	test_echo("1.2");
	test_s_server();
	d_cleanup(&d);
	return done_testing();
#endif
}
