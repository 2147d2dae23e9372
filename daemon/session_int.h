/*
 * The broker session's state, shared by its files (session.h is what
 * the rest of the daemon sees).  From the top down, each file calls only
 * those below it:
 *
 *   session.c        the request loop: input, backpressure, timeouts
 *   verbs.c          the verb table, dispatch and the verbs' handlers
 *   session_child.c  running a configured command for a request
 *   render.c         the DF table and the STATS reply
 *   splice.c         command input moved by splice(2)
 *   reply.c          DATA frames and the final line of every request
 *
 * A request that runs on after its handler returns (a command, a pool
 * job, a reload) calls s->resume when it ends, and the loop goes on.
 */
#ifndef BROKERD_SESSION_INT_H
#define BROKERD_SESSION_INT_H

#include <stddef.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "common/proto.h"
#include "daemon/audit.h"
#include "daemon/config.h"
#include "daemon/conn.h"
#include "daemon/reload.h"

/*
 * What a connection holds (brokerd(8), "Memory per connection"): CONN_MAX
 * of unparsed input and pending output together, plus one 4 KiB read and
 * the last reply; max_clients times that must fit the unit's MemoryMax.
 * Requests are taken while less than OUT_HIGH is pending, input is read
 * up to IN_MAX, and a command's output up to CONN_MAX, which streams
 * measurably faster than OUT_HIGH would.  A running command's input
 * (CHILD_STDIN_HIGH) and df output (DF_MAX) come on top, at most
 * limits.max_children times.
 */
#define CONN_MAX	(128 * 1024)
#define OUT_HIGH	(64 * 1024)
#define OUT_LOW		(32 * 1024)
#define IN_MAX		(64 * 1024)	/* unparsed input while busy */
#define DF_MAX		(1024 * 1024)	/* df output we are willing to parse */
#define READ_MORE	(256 * 1024)	/* per read callback, beyond 4 KiB */

/* Where the input that follows a request line goes. */
enum input { INPUT_NONE, INPUT_FORWARD, INPUT_DISCARD };

/*
 * Who reads the socket: the read callback, into s->in, with the idle
 * timeout; the splice path (the callback only says it is readable),
 * with none; or nobody.
 */
enum rmode { READ_OFF, READ_BUF, READ_SPLICE };

/* Where a verb is allowed (verbs.c). */
#define VERB_BROKER	0x01	/* on a broker listener */
#define VERB_CONTROL	0x02	/* on the control socket */
#define VERB_DEBUG	0x04	/* and only in debug mode */

struct child;
struct dfn_req;

struct session {
	struct conn		*conn;
	void		       (*resume)(struct session *);
	unsigned		 where;		/* VERB_BROKER or _CONTROL */
	struct evbuffer		*in;	/* read, not parsed yet */
	struct evbuffer		*out;	/* on its way to the client */
	enum rmode		 rmode;
	int			 writing;	/* write interest armed */
	size_t			 wlow;	/* output this low: take more */
	struct proto_parser	 parser;
	struct event		*req_timer;
	enum input		 input;
	int			 running;	/* a request runs on */
	unsigned long		 requests;	/* request lines so far */
	int			 eof;
	int			 closing;
	int			 abandoned;	/* the client went away */
	struct audit		 audit;		/* of the request running */
	unsigned long long	 line_in;	/* input consumed before it */
	struct event		*probe;	/* at EOF, while a request runs */
	/* A command running for the request (session_child.c). */
	struct config		*cfg;	/* held while it runs */
	const struct command_spec *cmd;
	struct child		*child;
	struct evbuffer		*rbuf;	/* its output, being framed */
	struct evbuffer		*dfout;	/* df's output, to be parsed */
	size_t			 dfdropped;
	unsigned long long	 cmd_out;	/* its output (output_mb) */
	/* Its input by splice(2) (splice.c). */
	int			 splice;
	int			 stage[2];	/* staging pipe */
	size_t			 staged;	/* bytes in it */
	int			 stage_end;	/* END came: close stdin */
	/* Other requests that run on (verbs.c). */
	struct dfn_req		*dfn;		/* DF --native */
	struct reload_waiter	 reload;	/* RELOAD */
};

#endif
