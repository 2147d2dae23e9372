/* The audit line of every request; see audit.h and brokerd(8). */
#include "autoconf.h"

#include <sys/wait.h>

#include <ctype.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/audit.h"
#include "daemon/session_int.h"

void
audit_begin(struct session *s, const char *verb, const char *arg,
    unsigned long long in0)
{
	struct audit	*a = &s->audit;
	size_t		 i;

	memset(a, 0, sizeof(*a));
	a->start_ms = mono_ms();
	a->in0 = in0;
	a->out0 = s->conn->bytes_out;
	if (verb == NULL)
		verb = "-";
	str_escape(a->verb, sizeof(a->verb), verb, strlen(verb), 32);
	for (i = 0; a->verb[i] != '\0'; i++)
		a->verb[i] = (char)toupper((unsigned char)a->verb[i]);
	if (arg != NULL)
		str_escape(a->name, sizeof(a->name), arg, strlen(arg), 40);
}

void
audit_open(struct session *s)
{
	if (s->audit.start_ms == 0)
		audit_begin(s, NULL, NULL, s->line_in);
}

void
audit_command(struct session *s, const char *name)
{
	if (s->audit.name[0] == '\0')
		str_escape(s->audit.name, sizeof(s->audit.name), name,
		    strlen(name), 40);
}

void
audit_status(struct session *s, int status)
{
	s->audit.status = status;
	s->audit.has_status = 1;
}

void
audit_logged(struct session *s)
{
	s->audit.logged = 1;
}

/* "exit 2", "killed by SIGTERM". */
static void
status_text(char *buf, size_t size, int st)
{
	const char *abbrev;

	if (WIFEXITED(st))
		snprintf(buf, size, ", exit %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st) &&
	    (abbrev = sigabbrev_np(WTERMSIG(st))) != NULL)
		snprintf(buf, size, ", killed by SIG%s", abbrev);
	else if (WIFSIGNALED(st))
		snprintf(buf, size, ", killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, size, ", status 0x%x", (unsigned)st);
}

/*
 * "request VERB[ NAME]: OUTCOME[, STATUS], SECONDS s, IN bytes in, OUT
 * bytes out[: TEXT]"
 */
static void
audit_line(struct session *s, int level, const char *outcome,
    const char *text)
{
	struct audit		*a = &s->audit;
	unsigned long long	 consumed;
	long long		 now = mono_ms();
	char			 st[48] = "";

	if (a->start_ms == 0)
		audit_open(s);
	consumed = s->conn->bytes_in - evbuffer_get_length(s->in);
	if (a->has_status)
		status_text(st, sizeof(st), a->status);
	log_ctx(level, s->conn->ctx, "request %s%s%s: %s%s, %lld.%03lld s, "
	    "%llu bytes in, %llu bytes out%s%s", a->verb,
	    a->name[0] ? " " : "", a->name, outcome, st,
	    (now - a->start_ms) / 1000, (now - a->start_ms) % 1000,
	    consumed > a->in0 ? consumed - a->in0 : 0,
	    s->conn->bytes_out - a->out0, text != NULL ? ": " : "",
	    text != NULL ? text : "");
	a->start_ms = 0;
}

void
audit_end(struct session *s, int code, const char *text)
{
	char outcome[16];

	/* An abandoned request had its line; a courtesy reply follows. */
	if (s->abandoned)
		return;
	if (code == 0) {
		audit_line(s, LOG_INFO, "OK", NULL);
		return;
	}
	snprintf(outcome, sizeof(outcome), "ERR %d", code);
	/* A command's failure is its status (and stderr, logged apart). */
	if (s->audit.has_status || s->audit.logged)
		text = NULL;
	/* 503: refused while draining, as the admin asked. */
	audit_line(s, code >= 500 && code != 503 ? LOG_WARNING : LOG_INFO,
	    outcome, text);
}

void
audit_abandon(struct session *s, const char *why)
{
	audit_line(s, LOG_NOTICE, "abandoned", why);
}
