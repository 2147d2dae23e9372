/*
 * brokerctl's private interfaces: options and exit statuses (brokerctl.c),
 * the daemon's configuration file (conf.c), the connection (conn.c), the
 * duplex pump (pump.c), output rendering (output.c) and the commands
 * (cmd.c).
 */
#ifndef BROKERCTL_H
#define BROKERCTL_H

#include <err.h>
#include <stddef.h>

#include "common/proto.h"

#ifndef RUNSTATEDIR
#define RUNSTATEDIR	"/run"
#endif
#define CONTROL_SOCKET	RUNSTATEDIR "/brokerd/brokerd.sock"

#define PORT_ECHO	"10000"
#define PORT_BROKER	"10001"
#define INPUT_FRAME	(64 * 1024)

enum {
	EXIT_ERR = 1,		/* the daemon answered ERR, or local I/O */
	EXIT_USAGE = 2,
	EXIT_NOCONN = 69,
	EXIT_PROTO = 70,
	EXIT_TIMEOUT = 75
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
};
extern struct options opt;

/* err(3) and warnx(3) already print the "brokerctl: " prefix. */
#define vlog(...)	do {						\
	if (opt.verbose)						\
		warnx(__VA_ARGS__);					\
} while (0)

/* brokerctl.c */
void	brokerctl_usage_error(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));

/* conf.c: the few keys of brokerd.conf that brokerctl uses. */
void	conf_load(const char *path, int given);
/* control.path, or the default; from says which, for messages. */
const char *conf_control_path(char *from, size_t size);
/* The first listener's port for service ("echo", "broker"), or NULL. */
const char *conf_port(const char *service);
/* commands.NAME.timeout_s, else limits.command_timeout_s, else 30. */
int	conf_command_timeout_s(const char *command);

/*
 * conn.c: connects to opt.sock, else to opt.host at port; exits with
 * EXIT_NOCONN or EXIT_TIMEOUT when it cannot.
 */
int	conn_open(const char *port);
/* "HOST port PORT" or the socket path, for messages. */
const char *conn_peer(void);
/* Milliseconds left until deadline (-1: none), as a poll(2) timeout. */
int	conn_remaining(long long deadline);

/* pump.c */
#define ECHO_HEAD	256

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
	/* Echo: what went out must come back, in order. */
	unsigned long long sent;
	unsigned long long echoed;
	char		 head[ECHO_HEAD];	/* the first bytes sent */
};

void	pump_init(struct pump *, int fd, int framed);
/* Runs until the final line (framed) or EOF (echo); exits on errors. */
void	pump_run(struct pump *);
void	pump_close(struct pump *);

/* output.c: a df or stats reply, collected by the sink, then printed. */
void	output_collect(const char *, size_t);
void	output_df(int all);
void	output_stats(void);

/*
 * cmd.c: runs argv[0] and flushes stdout; -1 when there is no such
 * command.  A reader of stdout that went away ends brokerctl with 0.
 */
int	cmd_exec(int argc, char **argv);

#endif
