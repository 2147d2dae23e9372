/*
 * A command's input by splice(2): from the socket into the child's stdin
 * without passing through the daemon's memory, for the broker session.
 * Only over a transport that hands out its socket (xport_splice_fd).
 */
#ifndef BROKERD_SPLICE_H
#define BROKERD_SPLICE_H

#include "daemon/session_int.h"

/* What splice_in() and splice_drain() leave the session to do. */
enum splice_result {
	SPLICE_NO,		/* nothing to splice now: read as usual */
	SPLICE_AGAIN,		/* input or state changed: process again */
	SPLICE_GONE,		/* the connection was closed */
	SPLICE_WAIT_SOCKET,	/* wait for the socket (untimed read) */
	SPLICE_WAIT_STDIN	/* stop reading, wait for the child's stdin */
};

/* 1 or 0 forces splicing on or off (tests, benchmarks); -1: decide. */
void	splice_set_mode(int);
/* Whether a command started now has its input spliced. */
int	splice_wanted(void);
/* The command of s was started with s->splice set: size its stdin pipe. */
void	splice_prepare(struct session *);
/* Moves what it can; SPLICE_NO when splicing does not apply now. */
enum splice_result splice_in(struct session *);
/* Staged input passed on first; 0 or SPLICE_WAIT_STDIN. */
enum splice_result splice_drain(struct session *);
/* END came: stdin is closed once what is staged has been passed on. */
void	splice_end(struct session *);
/* Input staged for the child, and the staging pipe, dropped. */
void	splice_close(struct session *);

#endif
