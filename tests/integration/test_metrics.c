/*
 * The metrics service: GET /metrics in the Prometheus text format, as
 * promtool checks it and as a real Prometheus server scrapes it; 404 and
 * 405, oversized headers, a slowloris client, max_clients, reload.
 */
#include "autoconf.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/stats.h"
#include "tests/integration/harness.h"
#include "tests/tap.h"

#define REQ_TIMEOUT_S	2

/* Under valgrind a scrape takes 0.2 s: no slow-callback warning then. */
#define CONF \
	"listen = ( { service = \"broker\"; address = \"127.0.0.1\"; port = 0; },\n" \
	"  { service = \"metrics\"; address = \"127.0.0.1\"; port = 0; } );\n" \
	"limits = { request_timeout_s = 2; };\nslow_callback_ms = 2000;\n"

#define CONF_NO_METRICS \
	"listen = ( { service = \"broker\"; address = \"127.0.0.1\"; port = 0; } );\n" \
	"limits = { request_timeout_s = 2; };\nslow_callback_ms = 2000;\n"

static const char *const counters[] = {
#define X(name) #name,
	STATS_COUNTERS(X)
#undef X
};

struct http {
	int	 status;
	char	*raw;		/* NUL-terminated */
	char	*body;		/* in raw; NULL without a header end */
	int	 eof;		/* the daemon closed */
};

/* The port of the nth "listening on 127.0.0.1:P (metrics)" line (1...). */
static int
metrics_port(struct daemon *d, int nth)
{
	char		*log = d_log(d), *p = log, *q;
	int		 port = 0;

	while (nth > 0 && (p = strstr(p, "listening on ")) != NULL) {
		p += strlen("listening on ");
		if ((q = strchr(p, '\n')) == NULL)
			break;
		if (q - p > 10 && strncmp(q - 10, " (metrics)", 10) == 0 &&
		    --nth == 0)
			port = atoi((char *)memrchr(p, ':',
			    (size_t)(q - p)) + 1);
	}
	free(log);
	return port;
}

/* Sends req as it is; reads the response until EOF. */
static void
http_raw(int port, const char *req, size_t len, struct http *h)
{
	char	*buf;
	ssize_t	 n;
	int	 fd = tcp_connect(port);

	memset(h, 0, sizeof(*h));
	h->status = -1;
	if (fd < 0) {
		h->raw = strdup("");
		return;
	}
	send_all(fd, req, len);
	n = read_to_eof(fd, &buf, 10000);
	h->eof = eof_within(fd, 0) == 1 || n >= 0;
	close(fd);
	h->raw = malloc((size_t)(n > 0 ? n : 0) + 1);
	memcpy(h->raw, buf, (size_t)(n > 0 ? n : 0));
	h->raw[n > 0 ? n : 0] = '\0';
	free(buf);
	if (sscanf(h->raw, "HTTP/1.%*d %d", &h->status) != 1)
		h->status = -1;
	if ((h->body = strstr(h->raw, "\r\n\r\n")) != NULL)
		h->body += 4;
}

static void
http_do(int port, const char *method, const char *path, struct http *h)
{
	char req[512];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "\r\n", method, path);
	http_raw(port, req, strlen(req), h);
}

/* The value of the sample line "name value" (name with its labels). */
static double
sample(const char *text, const char *name)
{
	const char	*p = text;
	size_t		 n = strlen(name);

	for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 :
	    NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return atof(p + n + 1);
	return -1;
}

static int
has_line(const char *text, const char *line)
{
	size_t		 n = strlen(line);
	const char	*p;

	for (p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

/* A STATS value, asked over the control socket (never refused). */
static long long
ctl_stat(struct daemon *d, const char *key)
{
	struct reply	r;
	long long	v = -1;
	int		fd = unix_connect(d->control);

	if (fd < 0)
		return -1;
	if (request(fd, "STATS", &r) == 0 && r.code == 0)
		v = stat_value(r.data, key);
	reply_free(&r);
	close(fd);
	return v;
}

static int
wait_stat(struct daemon *d, const char *key, long long want, int ms)
{
	long long t0 = now_ms();

	do {
		if (ctl_stat(d, key) == want)
			return 1;
		msleep(50);
	} while (now_ms() - t0 < ms);
	return 0;
}

static void
check_promtool(const char *body)
{
	char	*argv[] = { "/usr/bin/promtool", "check", "metrics", NULL };
	char	*out = NULL, *err = NULL;
	int	 st;

	st = run_prog(argv, body, strlen(body), &out, NULL, &err, 20000);
	if (access(argv[0], X_OK) != 0) {
		skip(1, "promtool not installed (Debian package prometheus)");
	} else if (!is_int(st, 0, "promtool check metrics passes")) {
		diag("promtool: %s%s", out ? out : "", err ? err : "");
	}
	free(out);
	free(err);
}

/* Every family: the format, the values, what STATS counts. */
static void
check_body(struct daemon *d, const char *body, time_t t_start)
{
	char	line[256];
	double	prev = 0, v, start;
	size_t	i;
	int	all = 1, mono = 1;
	static const char *const le[] = { "0.0001", "0.001", "0.01", "0.1",
	    "1", "+Inf" };

	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		if (strcmp(counters[i], "requests") == 0)
			continue;
		snprintf(line, sizeof(line), "# TYPE brokerd_%s_total counter",
		    counters[i]);
		if (!has_line(body, line)) {
			diag("missing: %s", line);
			all = 0;
		}
	}
	ok(all, "every STATS counter (%zu) is a brokerd_*_total counter",
	    sizeof(counters) / sizeof(counters[0]) - 1);
	is_int((long long)sample(body,
	    "brokerd_requests_total{verb=\"ping\"}"), 3,
	    "requests by verb: 3 PINGs");
	is_int((long long)sample(body,
	    "brokerd_requests_total{verb=\"other\"}"), 1,
	    "requests by verb: 1 unknown verb");
	ok(has_line(body, "# TYPE brokerd_requests_total counter") &&
	    sample(body, "brokerd_requests_total") < 0,
	    "requests: one family, by verb only");
	is_int((long long)sample(body, "brokerd_errors_total{code=\"400\"}"),
	    ctl_stat(d, "errors.400"), "errors by code match STATS");
	is_int((long long)sample(body,
	    "brokerd_connections{service=\"metrics\"}"), 1,
	    "the scrape's own connection is counted");
	ok(has_line(body, "# TYPE brokerd_connections gauge") &&
	    has_line(body, "# TYPE brokerd_children_running gauge") &&
	    has_line(body, "# TYPE brokerd_pool_threads gauge") &&
	    sample(body, "brokerd_pool_threads") == 3,
	    "connections, children and pool gauges");
#ifdef HAVE_TLS
	ok(has_line(body, "# TYPE brokerd_tls_connections gauge") &&
	    sample(body, "brokerd_tls_connections") == 0,
	    "tls_connections, a gauge of the connections section");
#else
	skip(1, "built without TLS: no tls_connections");
#endif
	snprintf(line, sizeof(line), "brokerd_build_info{version=\"%s\"} 1",
	    PACKAGE_VERSION);
	ok(has_line(body, line), "%s", line);
	is_int((long long)sample(body, "brokerd_config_generation"), 1,
	    "brokerd_config_generation 1");
	start = sample(body, "brokerd_start_time_seconds");
	ok(start >= (double)t_start - 1 &&
	    start <= (double)time(NULL) + 1, "brokerd_start_time_seconds "
	    "%.0f is when it started", start);
	ok(has_line(body,
	    "# TYPE brokerd_callback_duration_seconds histogram"),
	    "callback durations: a histogram");
	for (i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
		snprintf(line, sizeof(line),
		    "brokerd_callback_duration_seconds_bucket{le=\"%s\"}",
		    le[i]);
		if ((v = sample(body, line)) < prev) {
			diag("%s %f after %f", line, v, prev);
			mono = 0;
		}
		prev = v;
	}
	ok(mono && prev > 0 && prev == sample(body,
	    "brokerd_callback_duration_seconds_count") && sample(body,
	    "brokerd_callback_duration_seconds_sum") > 0,
	    "buckets cumulative, +Inf = _count, a _sum");
}

static void
test_http(struct daemon *d, int port)
{
	struct http	h;
	char		big[20000];
	int		n;

	http_do(port, "HEAD", "/metrics", &h);
	ok(h.status == 200 && h.body != NULL && *h.body == '\0' &&
	    strstr(h.raw, "Content-Length: ") != NULL,
	    "HEAD /metrics: 200, no body");
	free(h.raw);
	http_do(port, "GET", "/", &h);
	is_int(h.status, 404, "GET /: 404");
	free(h.raw);
	http_do(port, "GET", "/metricsx", &h);
	is_int(h.status, 404, "GET /metricsx: 404");
	free(h.raw);
	http_do(port, "POST", "/metrics", &h);
	ok(h.status == 405 && strstr(h.raw, "\r\nAllow: GET, HEAD\r\n") !=
	    NULL, "POST /metrics: 405 with Allow: GET, HEAD");
	free(h.raw);
	http_do(port, "DELETE", "/x", &h);
	is_int(h.status, 405, "DELETE /x: 405");
	free(h.raw);

	/* A request line and headers past 8 KiB. */
	n = snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nX-Big: ");
	memset(big + n, 'a', 12000);
	memcpy(big + n + 12000, "\r\n\r\n", 4);
	http_raw(port, big, (size_t)n + 12004, &h);
	ok(h.status >= 400 && h.status < 500 && h.eof && (h.body == NULL ||
	    strstr(h.body, "brokerd_") == NULL),
	    "12 KB of headers: refused (%d) and closed", h.status);
	free(h.raw);
	/* Just below the limit is served. */
	n = snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nX-Big: ");
	memset(big + n, 'a', 6000);
	memcpy(big + n + 6000, "\r\n\r\n", 4);
	http_raw(port, big, (size_t)n + 6004, &h);
	is_int(h.status, 200, "6 KB of headers: served");
	free(h.raw);
	ok(d_alive(d), "the daemon is still running");
}

/* A header every 250 ms: alive by evhttp's timeout, not by ours. */
static void
test_slowloris(struct daemon *d, int port)
{
	long long	t0 = now_ms(), ms;
	int		fd = tcp_connect(port), closed = 0;

	send_all(fd, "GET /metrics HTTP/1.1\r\n", 23);
	while (now_ms() - t0 < REQ_TIMEOUT_S * 1000 + 8000) {
		if (eof_within(fd, 250) != 0) {
			closed = 1;
			break;
		}
		if (send(fd, "X-A: b\r\n", 8, MSG_NOSIGNAL) != 8) {
			closed = 1;
			break;
		}
	}
	ms = now_ms() - t0;
	ok(closed && ms >= REQ_TIMEOUT_S * 1000 - 300,
	    "a slowloris client is closed at request_timeout_s (%lld ms)",
	    ms);
	ok(d_log_wait(d, "no complete request in 2 s, closing", 1, 3000),
	    "and logged");
	close(fd);
}

/* Add and remove a metrics listener by reload; the listener list. */
static void
test_reload(struct daemon *d, int port)
{
	struct http	 h;
	char		*s, *out = NULL, *err = NULL;
	int		 fd, nport = 0;

	if (asprintf(&s, "%scontrol = { path = \"%s\"; };\n", CONF_NO_METRICS,
	    d->control) < 0)
		bail("asprintf");
	replace_text(d->conf, s);
	free(s);
	ok(d_ctl(d, "reload", &out, &err) == 0 && d_log_wait(d,
	    "closing listener 127.0.0.1:", 1, 5000) && d_log_count(d,
	    "closing listener") == 1 && d_log_count(d, "(metrics)") == 2,
	    "reload without the metrics entry closes its listener");
	free(out);
	free(err);
	fd = tcp_connect(port);
	ok(fd < 0, "its port is closed");
	if (fd >= 0)
		close(fd);
	if (d_ctl(d, "stats", &out, &err) == 0)
		ok(strstr(out, "metrics 127.0.0.1:") == NULL,
		    "STATS lists no metrics listener");
	free(out);
	free(err);

	if (asprintf(&s, "%scontrol = { path = \"%s\"; };\n", CONF,
	    d->control) < 0)
		bail("asprintf");
	replace_text(d->conf, s);
	free(s);
	ok(d_ctl(d, "reload", &out, &err) == 0 && d_log_wait(d,
	    "(metrics)", 3, 5000) && (nport = metrics_port(d, 2)) > 0,
	    "reload with it opens a new one");
	free(out);
	free(err);
	http_do(nport, "GET", "/metrics", &h);
	ok(h.status == 200 && h.body != NULL &&
	    sample(h.body, "brokerd_config_generation") == 3,
	    "scraped on its new port: config_generation 3");
	free(h.raw);
	if (d_ctl(d, "stats", &out, &err) == 0) {
		char want[64];

		snprintf(want, sizeof(want), "metrics 127.0.0.1:%d\n", nport);
		ok(strstr(out, want) != NULL, "STATS lists it: %s", want);
	}
	free(out);
	free(err);
}

static void
test_service(void)
{
	struct daemon	 d = { 0 };
	struct reply	 r;
	struct http	 h;
	time_t		 t0 = time(NULL);
	int		 port, bfd, i, nfds;

	if (d_start(&d, CONF, NULL) != 0)
		bail("brokerd did not start");
	nfds = proc_nfds(d.pid);
	port = metrics_port(&d, 1);
	ok(port > 0, "a metrics listener (port %d)", port);
	bfd = tcp_connect(d.broker_port);
	for (i = 0; i < 3; i++) {
		request(bfd, "PING", &r);
		reply_free(&r);
	}
	request(bfd, "NOSUCHVERB", &r);
	reply_free(&r);
	close(bfd);

	http_do(port, "GET", "/metrics", &h);
	is_int(h.status, 200, "GET /metrics: 200");
	ok(strstr(h.raw, "\r\nContent-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\n") != NULL, "text format 0.0.4");
	if (h.body != NULL) {
		check_body(&d, h.body, t0);
		check_promtool(h.body);
	}
	free(h.raw);

	test_http(&d, port);
	test_slowloris(&d, port);
	ok(wait_stat(&d, "connections.metrics", 0, 5000),
	    "every metrics connection is gone from STATS");
	ok(wait_fds(d.pid, nfds, 3000), "and every fd of theirs is closed");
	test_reload(&d, port);
	is_int(d_stop(&d, SIGTERM, 10000), 0, "SIGTERM: exit status 0");
	/* As root without user, a warning: brokerd(8), SECURITY. */
	if (!ok(d_log_count(&d, "warning:") ==
	    d_log_count(&d, "warning: running as root") &&
	    d_log_count(&d, "error:") == 0, "no warnings or errors"))
		d_log_diag(&d, "warning:");
	d_cleanup(&d);
}

/*
 * Admission: metrics connections count against max_clients and
 * max_clients_per_source; the drain closes them at once.
 */
static void
test_max_clients(void)
{
	struct daemon	d = { 0 };
	struct http	h;
	long long	t0;
	int		port, fds[3], fd, i;

	if (d_start(&d, "listen = ( { service = \"metrics\"; address = "
	    "\"127.0.0.1\"; port = 0; } );\nlimits = { max_clients = 3; "
	    "max_clients_per_source = 2; request_timeout_s = 30; "
	    "shutdown_timeout_s = 30; };\n",
	    NULL) != 0)
		bail("brokerd did not start");
	port = metrics_port(&d, 1);
	for (i = 0; i < 2; i++)
		fds[i] = tcp_connect_from("127.0.0.1", port);
	ok(wait_stat(&d, "connections.metrics", 2, 5000),
	    "two idle metrics connections from 127.0.0.1 admitted");
	fd = tcp_connect_from("127.0.0.1", port);
	is_int(eof_within(fd, 3000), 1, "a third from there, past "
	    "max_clients_per_source = 2, is closed unread");
	close(fd);
	fds[2] = tcp_connect_from("127.0.0.2", port);
	ok(wait_stat(&d, "connections.metrics", 3, 5000),
	    "one from 127.0.0.2 is admitted");
	fd = tcp_connect_from("127.0.0.3", port);
	is_int(eof_within(fd, 3000), 1,
	    "one more, past max_clients = 3, is closed unread");
	close(fd);
	ok(ctl_stat(&d, "connections_refused_per_source") == 1 &&
	    ctl_stat(&d, "connections_refused_max_clients") == 1,
	    "both refusals counted");
	close(fds[0]);
	ok(wait_stat(&d, "connections.metrics", 2, 5000),
	    "a closed one frees its slot");
	http_do(port, "GET", "/metrics", &h);
	ok(h.status == 200 && h.body != NULL && sample(h.body,
	    "brokerd_connections_refused_max_clients_total") == 1 &&
	    sample(h.body, "brokerd_connections_refused_per_source_total") ==
	    1, "then a scrape is served, and shows the refusals");
	free(h.raw);
	/* Two idle metrics connections hold no drain up. */
	t0 = now_ms();
	is_int(d_stop(&d, SIGTERM, 20000), 0, "SIGTERM: exit status 0");
	ok(now_ms() - t0 < 8000 && eof_within(fds[1], 0) == 1 &&
	    eof_within(fds[2], 0) == 1, "at once (%lld ms), its metrics "
	    "connections closed", now_ms() - t0);
	close(fds[1]);
	close(fds[2]);
	d_cleanup(&d);
}

/* During drain_delay_s the metrics are served, and say it drains. */
static void
test_drain_delay(void)
{
	struct daemon	d = { 0 };
	struct http	h;
	int		port;

	if (d_start(&d, "listen = ( { service = \"metrics\"; address = "
	    "\"127.0.0.1\"; port = 0; } );\nlimits = { drain_delay_s = 30; "
	    "};\n", NULL) != 0)
		bail("brokerd did not start");
	port = metrics_port(&d, 1);
	http_do(port, "GET", "/metrics", &h);
	ok(h.status == 200 && h.body != NULL &&
	    sample(h.body, "brokerd_draining") == 0, "brokerd_draining 0");
	free(h.raw);
	kill(d.pid, SIGTERM);
	ok(d_log_wait(&d, "failing health checks", 1, 5000),
	    "SIGTERM: the drain delay begins");
	http_do(port, "GET", "/metrics", &h);
	ok(h.status == 200 && h.body != NULL &&
	    sample(h.body, "brokerd_draining") == 1,
	    "scraped during drain_delay_s: brokerd_draining 1");
	free(h.raw);
	is_int(d_stop(&d, SIGINT, 10000), 0, "SIGINT: exit status 0");
	d_cleanup(&d);
}

/* The access lists: a metrics listener's own deny list refuses. */
static void
test_access_lists(void)
{
	struct daemon	d = { 0 };
	struct http	h;

	if (d_start(&d, "listen = ( { service = \"metrics\"; address = "
	    "\"127.0.0.1\"; port = 0; deny = [ \"127.0.0.0/8\" ]; },\n"
	    "  { service = \"metrics\"; address = \"127.0.0.1\"; port = 0; "
	    "} );\n", NULL) != 0)
		bail("brokerd did not start");
	http_do(metrics_port(&d, 1), "GET", "/metrics", &h);
	ok(h.status == 403 && h.eof && strstr(h.raw, "brokerd_") == NULL,
	    "a metrics listener's deny list: 403, closed, nothing served");
	free(h.raw);
	is_int(ctl_stat(&d, "connections_refused_acl"), 1, "and counted");
	http_do(metrics_port(&d, 2), "GET", "/metrics", &h);
	ok(h.status == 200 && h.body != NULL && sample(h.body,
	    "brokerd_connections_refused_acl_total") == 1,
	    "the other listener serves, and shows the refusal");
	free(h.raw);
	is_int(d_stop(&d, SIGTERM, 10000), 0, "SIGTERM: exit status 0");
	d_cleanup(&d);
}

/* GET path from a local HTTP server (Prometheus' API); the body. */
static char *
api_get(int port, const char *path)
{
	struct http	h;
	char		req[1024];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "Connection: close\r\n\r\n", path);
	http_raw(port, req, strlen(req), &h);
	if (h.status != 200 || h.body == NULL) {
		free(h.raw);
		return NULL;
	}
	memmove(h.raw, h.body, strlen(h.body) + 1);
	return h.raw;
}

static pid_t
prometheus_start(struct daemon *d, int mport, int *aport)
{
	char	conf[400], data[400], logf[400], text[512], listen[64];
	char	cfarg[450], dtarg[450];
	pid_t	pid;
	int	fd;

	snprintf(conf, sizeof(conf), "%s/prometheus.yml", d->dir);
	snprintf(data, sizeof(data), "%s/tsdb", d->dir);
	snprintf(logf, sizeof(logf), "%s/prometheus.log", d->dir);
	snprintf(text, sizeof(text), "global:\n  scrape_interval: 1s\n"
	    "  scrape_timeout: 1s\nscrape_configs:\n  - job_name: brokerd\n"
	    "    static_configs:\n      - targets: ['127.0.0.1:%d']\n",
	    mport);
	write_text(conf, text, 0644);
	*aport = free_port();
	snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d",
	    *aport);
	snprintf(cfarg, sizeof(cfarg), "--config.file=%s", conf);
	snprintf(dtarg, sizeof(dtarg), "--storage.tsdb.path=%s", data);
	if ((pid = fork()) < 0)
		bail("fork: %s", strerror(errno));
	if (pid == 0) {
		fd = open(logf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("prometheus", "prometheus", cfarg, dtarg, listen,
		    "--log.level=warn", "--web.enable-lifecycle", (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* A real Prometheus scrapes brokerd; its query API has the PINGs. */
static void
test_prometheus(void)
{
	struct daemon	 d = { 0 };
	struct reply	 r;
	char		*body = NULL;
	long long	 t0;
	pid_t		 pid;
	int		 port, aport, bfd, i, st;

	if (access("/usr/bin/prometheus", X_OK) != 0) {
		skip(3, "prometheus not installed (Debian package prometheus;"
		    " apt-get failed?)");
		return;
	}
	if (d_start(&d, CONF, NULL) != 0)
		bail("brokerd did not start");
	port = metrics_port(&d, 1);
	bfd = tcp_connect(d.broker_port);
	for (i = 0; i < 5; i++) {
		request(bfd, "PING", &r);
		reply_free(&r);
	}
	close(bfd);
	t0 = now_ms();
	pid = prometheus_start(&d, port, &aport);
	while (now_ms() - t0 < 60000) {
		free(body);
		body = api_get(aport, "/api/v1/query?query="
		    "brokerd_requests_total%7Bverb%3D%22ping%22%7D");
		if (body != NULL && strstr(body, "\"result\":[{") != NULL)
			break;
		if (waitpid(pid, &st, WNOHANG) == pid) {
			pid = -1;
			break;
		}
		msleep(250);
	}
	ok(body != NULL && strstr(body, "\"verb\":\"ping\"") != NULL &&
	    strstr(body, "\"job\":\"brokerd\"") != NULL,
	    "Prometheus scraped brokerd (%lld ms after it started)",
	    now_ms() - t0);
	ok(body != NULL && strstr(body, ",\"5\"]") != NULL,
	    "its API answers brokerd_requests_total{verb=\"ping\"} = 5");
	if (body == NULL || strstr(body, ",\"5\"]") == NULL)
		diag("query answer: %s", body ? body : "(none)");
	free(body);
	body = api_get(aport, "/api/v1/query?query=up%7Bjob%3D%22brokerd%22"
	    "%7D");
	ok(body != NULL && strstr(body, ",\"1\"]") != NULL,
	    "up{job=\"brokerd\"} = 1");
	free(body);
	if (pid > 0) {
		kill(pid, SIGTERM);
		t0 = now_ms();
		while (waitpid(pid, &st, WNOHANG) != pid) {
			if (now_ms() - t0 > 10000) {
				kill(pid, SIGKILL);
				waitpid(pid, &st, 0);
				break;
			}
			msleep(50);
		}
	} else
		diag("prometheus exited early; see its log in %s", d.dir);
	is_int(d_stop(&d, SIGTERM, 10000), 0, "SIGTERM: exit status 0");
	d_cleanup(&d);
}

int
main(void)
{
	long long t0 = now_ms();

	plan_lazy();
	test_service();
	test_max_clients();
	test_access_lists();
	test_drain_delay();
	test_prometheus();
	diag("test_metrics took %lld ms", now_ms() - t0);
	return done_testing();
}
