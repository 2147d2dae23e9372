/*
 * brokerctl: command-line client for brokerd's echo and broker services.
 *
 * One connection per invocation.  A single poll(2) loop moves bytes both
 * ways at once: the daemon streams a command's output while its input is
 * still arriving, so a client that wrote everything before reading would
 * deadlock once both socket buffers filled.  At most one input frame and
 * one read chunk are held at a time, so memory stays flat for any stream.
 */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/proto.h"
#include "common/util.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif
#define CONTROL_SOCKET	RUNSTATEDIR "/brokerd/brokerd.sock"

#define PORT_ECHO	"10000"
#define PORT_BROKER	"10001"
#define INPUT_FRAME	(64 * 1024)
#define READ_CHUNK	(64 * 1024)
#define TABLE_MAX	(1024 * 1024)	/* df/stats replies are held whole */
#define REPLY_LINE_MAX	(64 * 1024)	/* ERR 500 of RELOAD lists errors */

enum {
	EXIT_ERR = 1,		/* the daemon answered ERR, or local I/O */
	EXIT_USAGE = 2,
	EXIT_NOCONN = 69,
	EXIT_PROTO = 70,
	EXIT_TIMEOUT = 75
};

static struct {
	const char	*host;
	const char	*port;
	const char	*sock;
	int		 timeout_ms;	/* -1: no limit */
	int		 json;
	int		 quiet;
	int		 verbose;
} opt = { "localhost", NULL, NULL, 10000, 0, 0, 0 };

static char	*peer;		/* "HOST port PORT" or the socket path */

enum out_state { OUT_REQUEST, OUT_TEXT, OUT_STDIN, OUT_END, OUT_IDLE };

struct piece {
	const char	*buf;
	size_t		 len;
};

struct pump {
	int		 fd;
	int		 framed;	/* broker protocol, not raw echo */
	enum out_state	 state;
	enum out_state	 after_request;
	const char	*request;	/* request line, LF included */
	struct piece	*pieces;
	int		 npieces;
	int		 pi;
	size_t		 poff;
	char		*obuf;		/* header room, then one frame */
	size_t		 ooff;
	size_t		 olen;
	int		 werr;		/* errno of a failed send */
	struct proto_parser parser;
	void		(*sink)(const char *, size_t);
	int		 done;
	int		 code;
	char		*text;		/* final line's text */
	long long	 last;		/* mono_ms of the last progress */
};

struct table {
	char		**f;		/* nrows * ncols fields */
	size_t		 nrows;
};

static char	*tbuf;		/* collected DATA of a df/stats reply */
static size_t	 tlen;

static const char *df_keys[] = {
	"filesystem", "size", "used", "avail", "use%", "mounted_on"
};
static const char *df_titles[] = {
	"Filesystem", "Size", "Used", "Avail", "Use%", "Mounted on"
};
#define DF_NCOLS	6

/* err(3) and warnx(3) already print the "brokerctl: " prefix. */
#define vlog(...)	do {						\
	if (opt.verbose)						\
		warnx(__VA_ARGS__);					\
} while (0)

#define SYNOPSIS	"usage: brokerctl [-jqv] [-H host] [-p port] " \
	"[-S socket] [-t seconds] command [args]\n"

static void
usage(void)
{
	fputs(SYNOPSIS "commands:\n"
	    "  echo [msg ...]            echo service (stdin when no msg)\n"
	    "  df [--all] [--native]     free space per filesystem\n"
	    "  upper [text ...]          upper-case text (stdin when none)\n"
	    "  run [-n] name [text ...]  run a configured command\n"
	    "  stats                     daemon counters\n"
	    "  ping | version            liveness, daemon version\n"
	    "  reload                    reload the configuration\n"
	    "  loglevel level            set the log level\n", stdout);
}

static void __attribute__((noreturn, format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fputs(SYNOPSIS, stderr);
	exit(EXIT_USAGE);
}

/* Milliseconds left until deadline, as a poll(2) timeout. */
static int
remaining(long long deadline)
{
	long long left;

	if (deadline < 0)
		return -1;
	left = deadline - mono_ms();
	if (left < 0)
		return 0;
	return left > INT_MAX ? INT_MAX : (int)left;
}

/* 0 connected, -1 failed with errno set, -2 timed out. */
static int
connect_one(int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct pollfd	pfd;
	long long	deadline;
	socklen_t	len = sizeof(int);
	int		err, r;

	if (connect(fd, sa, salen) == 0)
		return 0;
	/* After EINTR the connect goes on in the background, as here. */
	if (errno != EINPROGRESS && errno != EINTR)
		return -1;
	deadline = opt.timeout_ms < 0 ? -1 : mono_ms() + opt.timeout_ms;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	for (;;) {
		r = poll(&pfd, 1, remaining(deadline));
		if (r > 0)
			break;
		if (r == 0) {
			if (deadline >= 0 && mono_ms() >= deadline)
				return -2;
		} else if (errno != EINTR)
			return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/*
 * Tries every address the host resolves to, in getaddrinfo's order; a
 * unix socket goes through the same loop as a one-entry list.
 */
static int
conn_open(const char *default_port)
{
	struct addrinfo	 hints, unix_ai, *res, *ai;
	struct sockaddr_un sun;
	const char	*port = opt.port != NULL ? opt.port : default_port;
	char		 addr[ADDR_STRLEN];
	int		 fd, r, lasterr = ECONNREFUSED, timedout = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (opt.sock != NULL) {
		peer = xstrdup(opt.sock);
		vlog("connecting to %s", peer);
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(peer) >= sizeof(sun.sun_path))
			errx(EXIT_NOCONN, "cannot connect to %s: %s", peer,
			    strerror(ENAMETOOLONG));
		memcpy(sun.sun_path, peer, strlen(peer));
		unix_ai = hints;
		unix_ai.ai_family = AF_UNIX;
		unix_ai.ai_addr = (struct sockaddr *)&sun;
		unix_ai.ai_addrlen = sizeof(sun);
		res = &unix_ai;
	} else {
		if (asprintf(&peer, "%s port %s", opt.host, port) == -1)
			err(EXIT_ERR, "asprintf");
		vlog("connecting to %s", peer);
		if ((r = getaddrinfo(opt.host, port, &hints, &res)) != 0)
			errx(EXIT_NOCONN, "cannot connect to %s: %s", peer,
			    r == EAI_SYSTEM ? strerror(errno) :
			    gai_strerror(r));
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
		    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd == -1) {
			lasterr = errno;
			continue;
		}
		addr_format(ai->ai_addr, ai->ai_addrlen, addr, sizeof(addr));
		r = connect_one(fd, ai->ai_addr, ai->ai_addrlen);
		if (r == 0) {
			vlog("connected to %s", addr);
			if (res != &unix_ai)
				freeaddrinfo(res);
			return fd;
		}
		if (r == -2) {
			timedout = 1;
			vlog("%s: timed out", addr);
		} else {
			lasterr = errno;
			vlog("%s: %s", addr, strerror(lasterr));
		}
		if (close(fd) == -1)
			vlog("close: %s", strerror(errno));
	}
	if (res != &unix_ai)
		freeaddrinfo(res);
	if (timedout)
		errx(EXIT_TIMEOUT, "timed out connecting to %s", peer);
	errx(EXIT_NOCONN, "cannot connect to %s: %s", peer,
	    strerror(lasterr));
}

/* The payload sits at obuf + PROTO_DATA_HDR_MAX; its header goes before. */
static void
frame_out(struct pump *p, size_t n)
{
	char	hdr[PROTO_DATA_HDR_MAX];
	size_t	hlen;

	if (!p->framed) {
		p->ooff = PROTO_DATA_HDR_MAX;
		p->olen = n;
		return;
	}
	hlen = proto_data_header(hdr, n);
	p->ooff = PROTO_DATA_HDR_MAX - hlen;
	memcpy(p->obuf + p->ooff, hdr, hlen);
	p->olen = hlen + n;
}

/* Produces the next output chunk; called only when obuf is empty. */
static void
out_fill(struct pump *p)
{
	const struct piece *pc;
	size_t	n;

	switch (p->state) {
	case OUT_REQUEST:
		n = strlen(p->request);
		memcpy(p->obuf, p->request, n);
		p->ooff = 0;
		p->olen = n;
		p->state = p->after_request;
		break;
	case OUT_TEXT:
		/* One piece per write: echo sends each MSG separately. */
		while (p->pi < p->npieces && p->poff == p->pieces[p->pi].len) {
			p->pi++;
			p->poff = 0;
		}
		if (p->pi < p->npieces) {
			pc = &p->pieces[p->pi];
			n = pc->len - p->poff;
			if (n > INPUT_FRAME)
				n = INPUT_FRAME;
			memcpy(p->obuf + PROTO_DATA_HDR_MAX, pc->buf + p->poff,
			    n);
			p->poff += n;
			frame_out(p, n);
			break;
		}
		p->state = OUT_END;
		/* FALLTHROUGH */
	case OUT_END:
		if (p->framed) {
			memcpy(p->obuf, "END\n", 4);
			p->ooff = 0;
			p->olen = 4;
		} else if (shutdown(p->fd, SHUT_WR) == -1)
			err(EXIT_PROTO, "shutdown %s", peer);
		p->state = OUT_IDLE;
		break;
	case OUT_STDIN:
	case OUT_IDLE:
		break;
	}
}

static void
stdin_read(struct pump *p)
{
	ssize_t	n;

	n = read(STDIN_FILENO, p->obuf + PROTO_DATA_HDR_MAX, INPUT_FRAME);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		err(EXIT_ERR, "stdin");
	}
	p->last = mono_ms();
	if (n == 0)
		p->state = OUT_END;
	else
		frame_out(p, (size_t)n);
}

static void
sock_write(struct pump *p)
{
	ssize_t	n;

	n = write(p->fd, p->obuf + p->ooff, p->olen);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		/* The daemon may have answered and closed: read that first. */
		p->werr = errno;
		p->olen = 0;
		p->state = OUT_IDLE;
		vlog("send: %s", strerror(errno));
		return;
	}
	vlog("sending %zd bytes", n);
	p->ooff += (size_t)n;
	p->olen -= (size_t)n;
	p->last = mono_ms();
}

static void
reply_feed(struct pump *p, const char *buf, size_t len)
{
	struct proto_event ev;
	const char *text;
	char	esc[256];
	size_t	used;
	int	code;

	while (len > 0 && !p->done) {
		used = proto_feed(&p->parser, buf, len, &ev);
		buf += used;
		len -= used;
		switch (ev.kind) {
		case PROTO_NONE:
			break;
		case PROTO_DATA:
			if (ev.len > 0)
				p->sink(ev.data, ev.len);
			break;
		case PROTO_LINE:
			code = proto_parse_final(ev.line, &text);
			if (code < 0) {
				str_escape(esc, sizeof(esc), ev.line, ev.len,
				    80);
				errx(EXIT_PROTO, "unexpected reply from "
				    "%s: \"%s\"", peer, esc);
			}
			p->code = code;
			p->text = xstrdup(text);
			p->done = 1;
			break;
		case PROTO_ERR_LONG:
			errx(EXIT_PROTO, "reply line from %s too long", peer);
		case PROTO_ERR_FRAME:
			errx(EXIT_PROTO, "malformed DATA frame from %s", peer);
		}
	}
}

static void
sock_read(struct pump *p)
{
	static char buf[READ_CHUNK];
	ssize_t	n;

	n = read(p->fd, buf, sizeof(buf));
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		if (p->werr != 0)
			errx(EXIT_PROTO, "send to %s: %s", peer,
			    strerror(p->werr));
		err(EXIT_PROTO, "receive from %s", peer);
	}
	if (n == 0) {
		if (p->werr != 0)
			errx(EXIT_PROTO, "send to %s: %s", peer,
			    strerror(p->werr));
		if (p->framed)
			errx(EXIT_PROTO, "%s closed the connection before "
			    "the reply was complete", peer);
		if (p->state != OUT_IDLE || p->olen > 0)
			errx(EXIT_PROTO, "%s closed the connection before "
			    "all data was sent", peer);
		p->done = 1;
		return;
	}
	vlog("received %zd bytes", n);
	p->last = mono_ms();
	if (p->framed)
		reply_feed(p, buf, (size_t)n);
	else
		p->sink(buf, (size_t)n);
}

/*
 * Runs until the final line (broker) or EOF (echo).  The -t limit counts
 * from the last byte moved, and not while waiting on stdin: a slow typist
 * is not a silent daemon.
 */
static void
pump_run(struct pump *p)
{
	struct pollfd pfd[2];
	long long deadline;
	nfds_t	nfd;
	int	want_stdin, r;

	p->last = mono_ms();
	while (!p->done) {
		if (p->olen == 0 && p->state != OUT_STDIN &&
		    p->state != OUT_IDLE)
			out_fill(p);
		want_stdin = p->state == OUT_STDIN && p->olen == 0;
		pfd[0].fd = p->fd;
		pfd[0].events = POLLIN | (p->olen > 0 ? POLLOUT : 0);
		pfd[0].revents = 0;
		nfd = 1;
		if (want_stdin) {
			pfd[1].fd = STDIN_FILENO;
			pfd[1].events = POLLIN;
			pfd[1].revents = 0;
			nfd = 2;
		}
		deadline = -1;
		if (opt.timeout_ms >= 0 && !want_stdin) {
			deadline = p->last + opt.timeout_ms;
			if (mono_ms() >= deadline)
				errx(EXIT_TIMEOUT, "timed out waiting for %s",
				    peer);
		}
		r = poll(pfd, nfd, remaining(deadline));
		if (r == -1) {
			if (errno == EINTR)
				continue;
			err(EXIT_ERR, "poll");
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			sock_read(p);
		if (!p->done && p->olen > 0 &&
		    (pfd[0].revents & (POLLOUT | POLLERR | POLLHUP)))
			sock_write(p);
		if (!p->done && nfd == 2 && pfd[1].revents != 0)
			stdin_read(p);
	}
}

static void
pump_init(struct pump *p, int fd, int framed)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->framed = framed;
	p->obuf = xmalloc(PROTO_DATA_HDR_MAX + INPUT_FRAME);
	if (framed)
		proto_init(&p->parser, REPLY_LINE_MAX, PROTO_MAX_FRAME);
}

static void
pump_close(struct pump *p)
{
	vlog("closing");
	if (close(p->fd) == -1)
		vlog("close: %s", strerror(errno));
	if (p->framed)
		proto_free(&p->parser);
	free(p->obuf);
}

static void
sink_stdout(const char *buf, size_t len)
{
	if (write_all(STDOUT_FILENO, buf, len) == -1)
		err(EXIT_ERR, "stdout");
}

static void
sink_table(const char *buf, size_t len)
{
	if (len > TABLE_MAX - tlen)
		errx(EXIT_PROTO, "reply from %s larger than %d bytes", peer,
		    TABLE_MAX);
	if (tbuf == NULL)
		tbuf = xmalloc(TABLE_MAX + 1);
	memcpy(tbuf + tlen, buf, len);
	tlen += len;
}

/* A request line "VERB[ ARG]\n"; ARG must be one protocol word. */
static char *
make_request(const char *verb, const char *arg)
{
	const char *s;
	char	*line;

	if (arg != NULL) {
		if (*arg == '\0' || strlen(arg) > INPUT_FRAME / 2)
			usage_error("%s: empty or too long", verb);
		for (s = arg; *s != '\0'; s++)
			if ((unsigned char)*s <= ' ' || *s == 0x7f)
				usage_error("%s: argument with spaces or "
				    "control characters", verb);
	}
	if (asprintf(&line, "%s%s%s\n", verb, arg != NULL ? " " : "",
	    arg != NULL ? arg : "") == -1)
		err(EXIT_ERR, "asprintf");
	return line;
}

/*
 * Sends one broker request, with input from pieces (OUT_TEXT), stdin
 * (OUT_STDIN), none but END (OUT_END) or no input section (OUT_IDLE).
 * Exits 1 on ERR; returns the OK text.
 */
static char *
broker_call(const char *request, enum out_state input, struct piece *pieces,
    int npieces, void (*sink)(const char *, size_t))
{
	struct pump p;

	pump_init(&p, conn_open(PORT_BROKER), 1);
	p.request = request;
	p.state = OUT_REQUEST;
	p.after_request = input;
	p.pieces = pieces;
	p.npieces = npieces;
	p.sink = sink;
	pump_run(&p);
	pump_close(&p);
	if (p.code != 0)
		errx(EXIT_ERR, "ERR %d%s%s", p.code, *p.text ? " " : "",
		    p.text);
	vlog("OK %s", p.text);
	return p.text;
}

/* A df reply's OK text is "<rows>[ warning: <text>]". */
static void
report_warning(const char *text)
{
	const char *w;

	if (!opt.quiet && (w = strstr(text, "warning: ")) != NULL)
		fprintf(stderr, "brokerctl: %s\n", w);
}

/* \t \n \\ back to bytes; any other backslash is kept as it is. */
static void
unescape(char *s)
{
	char	*d = s;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0' && strchr("tn\\", s[1])) {
			s++;
			*d++ = *s == 't' ? '\t' : *s == 'n' ? '\n' : '\\';
		} else
			*d++ = *s;
	}
	*d = '\0';
}

/*
 * Splits tbuf into rows of exactly ncols tab-separated fields (the last
 * field of a stats line keeps any further tabs).  Fields point into tbuf.
 */
static void
table_parse(struct table *t, size_t ncols, int df)
{
	char	*line, *end, *nl, *tab;
	size_t	 i;

	memset(t, 0, sizeof(*t));
	if (tbuf == NULL)
		tbuf = xmalloc(1);
	end = tbuf + tlen;
	for (line = tbuf; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			nl = end;
		*nl = '\0';
		t->f = xreallocarray(t->f, (t->nrows + 1) * ncols,
		    sizeof(char *));
		for (i = 0; i < ncols; i++) {
			t->f[t->nrows * ncols + i] = line;
			tab = strchr(line, '\t');
			if (i + 1 < ncols) {
				if (tab == NULL)
					errx(EXIT_PROTO, "malformed line %zu "
					    "in reply from %s", t->nrows + 1,
					    peer);
				*tab = '\0';
				line = tab + 1;
			} else if (df && tab != NULL)
				errx(EXIT_PROTO, "malformed line %zu in reply "
				    "from %s", t->nrows + 1, peer);
		}
		if (df)
			for (i = 0; i < ncols; i++)
				unescape(t->f[t->nrows * ncols + i]);
		t->nrows++;
	}
}

/*
 * Prints s to fp with control characters and backslashes escaped, or only
 * measures it when fp is NULL.  UTF-8 continuation bytes take no column.
 */
static int
disp(const char *s, FILE *fp)
{
	char	esc[8];
	int	w = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\t' || *s == '\n' || *s == '\r' || *s == '\\')
			(void)snprintf(esc, sizeof(esc), "\\%c", *s == '\t' ?
			    't' : *s == '\n' ? 'n' : *s == '\r' ? 'r' : '\\');
		else if ((unsigned char)*s < ' ' || *s == 0x7f)
			(void)snprintf(esc, sizeof(esc), "\\x%02x",
			    (unsigned char)*s);
		else {
			w += (*s & 0xc0) != 0x80;
			if (fp != NULL)
				putc(*s, fp);
			continue;
		}
		w += (int)strlen(esc);
		if (fp != NULL)
			fputs(esc, fp);
	}
	return w;
}

/* Prints s padded to width, right-aligned or left-aligned. */
static void
disp_put(const char *s, int width, int right)
{
	int	pad = width - disp(s, NULL);

	if (right && pad > 0)
		printf("%*s", pad, "");
	(void)disp(s, stdout);
	if (!right && pad > 0)
		printf("%*s", pad, "");
}

/* Length of the valid UTF-8 sequence at s, 0 when invalid. */
static size_t
utf8_len(const unsigned char *s)
{
	unsigned long	cp;
	size_t		n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	/* The terminating NUL fails this test, so no overrun. */
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* JSON must be UTF-8: invalid bytes become U+FFFD. */
static void
json_str(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t	n;

	putchar('"');
	while (*s != '\0') {
		if (*s == '"' || *s == '\\') {
			printf("\\%c", *s);
			s++;
		} else if (*s < 0x20 || *s == 0x7f) {
			printf("\\u%04x", *s);
			s++;
		} else if ((n = utf8_len(s)) == 0) {
			fputs("\\ufffd", stdout);
			s++;
		} else {
			fwrite(s, 1, n, stdout);
			s += n;
		}
	}
	putchar('"');
}

/* All digits, and no leading zero that JSON would reject. */
static int
is_json_number(const char *s)
{
	const char *p;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return 1;
}

static void
df_output(const struct table *t, int all)
{
	char	**row;
	size_t	  r, i;
	int	  w[DF_NCOLS];

	if (t->nrows == 0)
		errx(EXIT_PROTO, "df reply from %s has no header", peer);
	for (i = 0; i < DF_NCOLS; i++)
		if (strcmp(t->f[i], df_keys[i]) != 0)
			errx(EXIT_PROTO, "unexpected df header from %s", peer);
	if (opt.json) {
		fputs("[", stdout);
		for (r = 1; r < t->nrows; r++) {
			row = t->f + r * DF_NCOLS;
			fputs(r > 1 ? ",\n  {" : "\n  {", stdout);
			for (i = 0; i < DF_NCOLS; i++) {
				json_str(df_keys[i]);
				fputs(": ", stdout);
				json_str(row[i]);
				fputs(i + 1 < DF_NCOLS ? ", " : "}", stdout);
			}
		}
		fputs(t->nrows > 1 ? "\n]\n" : "]\n", stdout);
		return;
	}
	if (!all) {
		/* The seed's view: mount point and available space. */
		if (!opt.quiet)
			puts("Free space:");
		for (r = 1; r < t->nrows; r++) {
			row = t->f + r * DF_NCOLS;
			disp_put(row[5], 25, 0);
			fputs(": ", stdout);
			disp_put(row[3], 0, 0);
			putchar('\n');
		}
		return;
	}
	for (i = 0; i < DF_NCOLS; i++) {
		w[i] = disp(df_titles[i], NULL);
		for (r = 1; r < t->nrows; r++)
			if (disp(t->f[r * DF_NCOLS + i], NULL) > w[i])
				w[i] = disp(t->f[r * DF_NCOLS + i], NULL);
	}
	w[DF_NCOLS - 1] = 0;	/* no trailing blanks */
	for (r = 0; r < t->nrows; r++) {
		row = r == 0 ? (char **)df_titles : t->f + r * DF_NCOLS;
		for (i = 0; i < DF_NCOLS; i++) {
			if (i > 0)
				putchar(' ');
			/* Sizes right-aligned, names left, as df does. */
			disp_put(row[i], w[i], i > 0 && i < DF_NCOLS - 1);
		}
		putchar('\n');
	}
}

static void
stats_output(const struct table *t)
{
	size_t	r;
	int	w = 0;

	if (opt.json) {
		fputs("{", stdout);
		for (r = 0; r < t->nrows; r++) {
			fputs(r > 0 ? ",\n  " : "\n  ", stdout);
			json_str(t->f[2 * r]);
			fputs(": ", stdout);
			if (is_json_number(t->f[2 * r + 1]))
				fputs(t->f[2 * r + 1], stdout);
			else
				json_str(t->f[2 * r + 1]);
		}
		fputs(t->nrows > 0 ? "\n}\n" : "}\n", stdout);
		return;
	}
	for (r = 0; r < t->nrows; r++)
		if (disp(t->f[2 * r], NULL) > w)
			w = disp(t->f[2 * r], NULL);
	for (r = 0; r < t->nrows; r++) {
		disp_put(t->f[2 * r], w + 2, 0);
		disp_put(t->f[2 * r + 1], 0, 0);
		putchar('\n');
	}
}

/* A leading "--" ends a command's options, so text may start with '-'. */
static int
skip_dashdash(int argc, char **argv, int i)
{
	return i < argc && strcmp(argv[i], "--") == 0 ? i + 1 : i;
}

static void
cmd_echo(int argc, char **argv)
{
	struct piece	*pieces;
	struct pump	 p;
	int		 i, first;

	if (opt.sock != NULL)
		usage_error("echo: -S does not apply: the echo service is "
		    "TCP only");
	first = skip_dashdash(argc, argv, 1);
	pieces = xcalloc((size_t)(argc - first) + 1, sizeof(*pieces));
	for (i = first; i < argc; i++) {
		pieces[i - first].buf = argv[i];
		pieces[i - first].len = strlen(argv[i]);
	}
	pump_init(&p, conn_open(PORT_ECHO), 0);
	p.state = argc > first ? OUT_TEXT : OUT_STDIN;
	p.pieces = pieces;
	p.npieces = argc - first;
	p.sink = sink_stdout;
	pump_run(&p);
	pump_close(&p);
	free(pieces);
}

/* UPPER and RUN: TEXT joined by single spaces, else stdin, else none. */
static void
cmd_input(const char *request, int noinput, int ntext, char **text)
{
	struct piece	 piece;
	char		*joined = NULL, *s, *ok;
	size_t		 len = 0;
	int		 i;

	memset(&piece, 0, sizeof(piece));
	if (ntext > 0 && !noinput) {
		for (i = 0; i < ntext; i++)
			len += strlen(text[i]) + 1;
		joined = xmalloc(len);
		for (s = joined, i = 0; i < ntext; i++) {
			if (i > 0)
				*s++ = ' ';
			memcpy(s, text[i], strlen(text[i]));
			s += strlen(text[i]);
		}
		piece.buf = joined;
		piece.len = (size_t)(s - joined);
	}
	ok = broker_call(request,
	    noinput ? OUT_END : ntext > 0 ? OUT_TEXT : OUT_STDIN,
	    &piece, 1, sink_stdout);
	report_warning(ok);
	free(ok);
	free(joined);
}

static void
cmd_upper(int argc, char **argv)
{
	int	first = skip_dashdash(argc, argv, 1);

	cmd_input("UPPER\n", 0, argc - first, argv + first);
}

static void
cmd_run(int argc, char **argv)
{
	char	*request;
	int	 i = 1, noinput = 0;

	if (i < argc && strcmp(argv[i], "-n") == 0) {
		noinput = 1;
		i++;
	}
	i = skip_dashdash(argc, argv, i);
	if (i >= argc)
		usage_error("run: missing command name");
	if (noinput && i + 1 < argc)
		usage_error("run: -n takes no text");
	request = make_request("RUN", argv[i]);
	cmd_input(request, noinput, argc - i - 1, argv + i + 1);
	free(request);
}

static void
cmd_df(int argc, char **argv)
{
	struct table	 t;
	int		 i, all = 0, native = 0;
	char		*text;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--all") == 0)
			all = 1;
		else if (strcmp(argv[i], "--native") == 0)
			native = 1;
		else if (strcmp(argv[i], "-j") == 0)
			opt.json = 1;
		else
			usage_error("df: unknown argument: %s", argv[i]);
	}
	text = broker_call(native ? "DF --native\n" : "DF\n", OUT_IDLE, NULL,
	    0, sink_table);
	report_warning(text);
	free(text);
	table_parse(&t, DF_NCOLS, 1);
	df_output(&t, all);
	free(t.f);
}

static void
cmd_stats(int argc, char **argv)
{
	struct table	t;
	int		i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-j") == 0)
			opt.json = 1;
		else
			usage_error("stats: unknown argument: %s", argv[i]);
	}
	free(broker_call("STATS\n", OUT_IDLE, NULL, 0, sink_table));
	table_parse(&t, 2, 0);
	stats_output(&t);
	free(t.f);
}

/* ping, version, reload, loglevel: one line out, the OK text back. */
static void
cmd_simple(int argc, char **argv)
{
	const char *verb;
	char	*request, *text;

	if (strcmp(argv[0], "loglevel") == 0) {
		if (argc != 2)
			usage_error("loglevel: exactly one level expected");
		request = make_request("LOGLEVEL", argv[1]);
	} else {
		if (argc != 1)
			usage_error("%s: no arguments expected", argv[0]);
		verb = strcmp(argv[0], "ping") == 0 ? "PING" :
		    strcmp(argv[0], "version") == 0 ? "VERSION" : "RELOAD";
		request = make_request(verb, NULL);
	}
	/* Only the control socket accepts RELOAD and LOGLEVEL. */
	if (opt.sock == NULL && (strcmp(argv[0], "reload") == 0 ||
	    strcmp(argv[0], "loglevel") == 0))
		opt.sock = CONTROL_SOCKET;
	text = broker_call(request, OUT_IDLE, NULL, 0, sink_stdout);
	if (!opt.quiet && *text != '\0')
		puts(text);
	free(text);
	free(request);
}

static const struct {
	const char	*name;
	void		(*fn)(int, char **);
} commands[] = {
	{ "echo", cmd_echo },
	{ "df", cmd_df },
	{ "upper", cmd_upper },
	{ "run", cmd_run },
	{ "stats", cmd_stats },
	{ "ping", cmd_simple },
	{ "version", cmd_simple },
	{ "reload", cmd_simple },
	{ "loglevel", cmd_simple },
};

static int
parse_timeout(const char *s)
{
	char	*end;
	double	 secs;

	errno = 0;
	secs = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !(secs >= 0) ||
	    secs > INT_MAX / 1000)
		usage_error("bad timeout: %s", s);
	if (secs == 0)
		return -1;	/* -t 0: wait forever */
	return secs * 1000 < 1 ? 1 : (int)(secs * 1000);
}

static const char *
parse_port(const char *s)
{
	if (*s == '\0' || s[strspn(s, "0123456789")] != '\0' ||
	    strlen(s) > 5 || atoi(s) < 1 || atoi(s) > 65535)
		usage_error("bad port: %s", s);
	return s;
}

int
main(int argc, char *argv[])
{
	size_t	i;
	int	ch;

	/* Broken connections and pipes are reported as EPIPE instead. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		err(EXIT_ERR, "signal");
	/* '+': options stop at the command, so "run -n" stays its own. */
	opterr = 0;
	while ((ch = getopt(argc, argv, "+:H:p:S:t:jqvh")) != -1) {
		switch (ch) {
		case 'H':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = parse_port(optarg);
			break;
		case 'S':
			opt.sock = optarg;
			break;
		case 't':
			opt.timeout_ms = parse_timeout(optarg);
			break;
		case 'j':
			opt.json = 1;
			break;
		case 'q':
			opt.quiet = 1;
			break;
		case 'v':
			opt.verbose = 1;
			break;
		case 'h':
			usage();
			return 0;
		case ':':
			usage_error("option -%c needs an argument", optopt);
		default:
			usage_error("unknown option -%c", optopt);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage_error("missing command");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0)
			break;
	if (i == sizeof(commands) / sizeof(commands[0]))
		usage_error("unknown command: %s", argv[0]);
	commands[i].fn(argc, argv);
	if (fflush(stdout) == EOF || ferror(stdout))
		err(EXIT_ERR, "stdout");
	return 0;
}
