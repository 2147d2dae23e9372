/*
 * Running a configured command for a broker request (DF, UPPER, RUN):
 * its output framed to the client at the client's pace, df's kept for
 * parsing, its exit status in the final line.
 */
#ifndef BROKERD_SESSION_CHILD_H
#define BROKERD_SESSION_CHILD_H

#include "daemon/config.h"
#include "daemon/session_int.h"

/* Answers 429 or 500/502 itself when the command cannot start. */
void	session_child_start(struct session *, const struct command_spec *);

#endif
