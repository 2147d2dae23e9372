/*
 * brokerctl's private interfaces: options and exit statuses (opt.c; the
 * command line is parsed in brokerctl.c),
 * the daemon's configuration file (conf.c), the connection (conn.c) and
 * its TLS side (tls.c), the duplex pump (pump.c), output rendering
 * (output.c) and the commands (cmd.c).
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <sys/types.h>

#include <err.h>
#include <stddef.h>

#include "common/proto.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif
#define CONTROL_SOCKET	RUNSTATEDIR "/brokerd/brokerd.sock"
#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define CONFIG_FILE	SYSCONFDIR "/brokerd/brokerd.conf"

#define PORT_ECHO	"10000"
#define PORT_BROKER	"10001"
#define INPUT_FRAME	(64 * 1024)

enum {
	EXIT_ERR = 1,		/* the daemon answered ERR, or local I/O */
	EXIT_USAGE = 2,
	EXIT_NOCONN = 69,
	EXIT_PROTO = 70,
	EXIT_TIMEOUT = 75,
	EXIT_TLSAUTH = 77	/* a certificate refused, either way */
};

/* -t not given: the daemon's command timeout plus TIMEOUT_GRACE_S. */
#define TIMEOUT_DEFAULT	(-2)
#define TIMEOUT_GRACE_S	5

struct options {
	const char	*host;
	const char	*port;		/* -p; NULL: from the config */
	const char	*sock;		/* -S, or the control socket */
	char		 sock_from[600];	/* how sock was chosen */
	int		 timeout_ms;	/* -1: no limit, or TIMEOUT_DEFAULT */
	int		 json;
	int		 quiet;
	int		 verbose;
	int		 tls;		/* --tls, or implied by the others */
	const char	*ca;		/* --ca; NULL: the system's store */
	const char	*cert;		/* --cert */
	const char	*key;		/* --key; NULL: in the --cert file */
	const char	*servername;	/* --servername; NULL: opt.host */
};
extern struct options opt;

/* err(3) and warnx(3) already print the "brokerctl: " prefix. */
#define vlog(...)	do {						\
	if (opt.verbose)						\
		warnx(__VA_ARGS__);					\
} while (0)

/* opt.c: the help text (-h), and a usage error: message, synopsis, exit 2. */
void	brokerctl_usage(void);
void	brokerctl_usage_error(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));

/* conf.c: the few keys of brokerd.conf that brokerctl uses. */
void	conf_load(const char *path, int given);
/* control.path, or the default; from says which, for messages. */
const char *conf_control_path(char *from, size_t size);
/*
 * The port of the first listener for service ("echo", "broker") that
 * has a tls block (tls) or has none (!tls), or NULL.
 */
const char *conf_port(const char *service, int tls);
/* commands.NAME.timeout_s, else limits.command_timeout_s, else 30. */
int	conf_command_timeout_s(const char *command);

/*
 * conn.c: the connection, plain or TLS; the pump does not know which.
 * conn_open connects to opt.sock, else to opt.host at port, and with
 * opt.tls does the handshake; it exits with EXIT_NOCONN, EXIT_TIMEOUT,
 * EXIT_PROTO or EXIT_TLSAUTH when it cannot.
 */
struct conn;
struct conn *conn_open(const char *port);
/* "HOST port PORT" or the socket path, for messages. */
const char *conn_peer(void);
/*
 * Nonblocking I/O: bytes moved, 0 for the peer's end of data (read), or
 * -1 with errno set, EAGAIN when it must wait for conn_events().  A TLS
 * failure exits with its own message.
 */
ssize_t	conn_read(struct conn *, void *, size_t);
ssize_t	conn_write(struct conn *, const void *, size_t);
/* Ends the sending side (TLS: close_notify); 0, or -1 as above. */
int	conn_shutdown(struct conn *);
/* The poll(2) events to wait for; writing: a write or shutdown waits. */
short	conn_events(struct conn *, int writing);
/*
 * Whether to call conn_read, or conn_write/conn_shutdown, after poll
 * returned revents.  conn_readable is also true for bytes TLS already
 * holds (conn_pending): poll would not wake for those.
 */
int	conn_readable(struct conn *, short revents);
int	conn_writable(struct conn *, short revents);
int	conn_pending(struct conn *);
int	conn_fd(struct conn *);
void	conn_close(struct conn *);

/*
 * tls.c: the TLS side of a connection.  tls_setup() makes the context
 * from opt, or exits 1 saying which file is wrong; tls_start() does the
 * handshake on the connected fd within deadline (mono_ms, -1: none) and
 * exits on any failure.  The others are conn.c's calls for a TLS
 * connection.
 */
struct tls;
void	tls_setup(void);
struct tls *tls_start(int fd, const char *peer, long long deadline);
ssize_t	tls_read(struct tls *, void *, size_t);
ssize_t	tls_write(struct tls *, const void *, size_t);
int	tls_shutdown(struct tls *);
short	tls_events(struct tls *, int writing);
int	tls_readable(struct tls *, short revents);
int	tls_writable(struct tls *, short revents);
int	tls_pending(struct tls *);
/* Sends close_notify if it was not sent, and frees it. */
void	tls_close(struct tls *);

/* pump.c */
#define ECHO_HEAD	256

/* OUT_SHUT: echo's half-close, waiting until it can be sent. */
enum out_state { OUT_REQUEST, OUT_TEXT, OUT_STDIN, OUT_END, OUT_SHUT,
	OUT_IDLE };

struct piece {
	const char	*buf;
	size_t		 len;
};

struct pump {
	struct conn	*conn;
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
	/* Echo: what went out must come back, in order. */
	unsigned long long sent;
	unsigned long long echoed;
	char		 head[ECHO_HEAD];	/* the first bytes sent */
};

void	pump_init(struct pump *, struct conn *, int framed);
/* Runs until the final line (framed) or EOF (echo); exits on errors. */
void	pump_run(struct pump *);
void	pump_close(struct pump *);

/* output.c: a df or stats reply, collected by the sink, then printed. */
void	output_collect(const char *, size_t);
void	output_df(int all);
void	output_stats(void);
/* COMMANDS: a table (its header only if header), or JSON with -j. */
void	output_commands(int header);

/*
 * cmd.c: runs argv[0] and flushes stdout; -1 when there is no such
 * command.  A reader of stdout that went away ends brokerctl with 0.
 */
int	cmd_exec(int argc, char **argv);

#endif
