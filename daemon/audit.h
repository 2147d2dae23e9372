/*
 * The audit trail: one line per finished request (brokerd(8), "The audit
 * line"), written where every request ends: reply_final(), or where the
 * client went away.  The session notes what the line needs as the
 * request goes: its verb, what it ran and how that ended.
 */
#ifndef BROKERD_AUDIT_H
#define BROKERD_AUDIT_H

struct session;

struct audit {
	long long		 start_ms;	/* 0: no request open */
	unsigned long long	 in0, out0;	/* the connection's counts */
	char			 verb[40];	/* escaped */
	char			 name[48];	/* argument or command */
	int			 status;	/* a command's wait status */
	int			 has_status;
	int			 logged;	/* its failure, already */
};

/*
 * A request line (verb as it came, NULL if it could not be split; arg,
 * its first argument or NULL) began at in0 bytes of input.
 */
void	audit_begin(struct session *, const char *verb, const char *arg,
	    unsigned long long in0);
/*
 * A final line is due: if no request line began (a framing error between
 * requests), the request is "-", from the line it failed on.
 */
void	audit_open(struct session *);
/* The command that runs for it, when the request line did not name it. */
void	audit_command(struct session *, const char *name);
/* How it ended (a wait status). */
void	audit_status(struct session *, int status);
/* Its failure was logged with its details: the line will not repeat them. */
void	audit_logged(struct session *);
/* Its final line: code 0 (OK) or an ERR code with its text. */
void	audit_end(struct session *, int code, const char *text);
/* The client went away while it ran (why, and what was done about it). */
void	audit_abandon(struct session *, const char *why);

#endif
