/* Logging: syslog(3), or stderr lines "ident[pid]: level: ctx: msg". */
#include "autoconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

static const char	*log_ident = "brokerd";
static int		 log_foreground = 1;
static int		 log_level = LOG_INFO;
static int		 log_facility = LOG_DAEMON;
static int		 log_startup;

static const struct {
	const char	*name;
	int		 level;
} levels[] = {
	{ "emerg", LOG_EMERG }, { "alert", LOG_ALERT }, { "crit", LOG_CRIT },
	{ "error", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
};

static const struct {
	const char	*name;
	int		 facility;
} facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER }, { "auth", LOG_AUTH },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

void
log_init(const char *ident, int foreground, int facility)
{
	log_ident = ident;
	log_foreground = foreground;
	log_facility = facility;
	if (!foreground)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void
log_setfacility(int facility)
{
	if (facility == log_facility)
		return;
	log_facility = facility;
	if (!log_foreground) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	}
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

void
log_setstartup(int on)
{
	log_startup = on;
}

int
log_enabled(int level)
{
	return level <= log_level;
}

const char *
log_levelname(int level)
{
	size_t i;

	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (levels[i].level == level)
			return levels[i].name;
	return "?";
}

int
log_levelbyname(const char *name)
{
	size_t i;

	if (strcasecmp(name, "err") == 0)
		return LOG_ERR;
	if (strcasecmp(name, "warn") == 0)
		return LOG_WARNING;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(levels[i].name, name) == 0)
			return levels[i].level;
	return -1;
}

int
log_facilitybyname(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(facilities[i].name, name) == 0)
			return facilities[i].facility;
	return -1;
}

static void LOG_PRINTF(3, 0)
log_write(int level, const char *ctx, const char *fmt, va_list ap)
{
	char	msg[2048];
	int	saved = errno;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_foreground || (log_startup && level <= LOG_ERR)) {
		if (ctx != NULL)
			fprintf(stderr, "%s[%ld]: %s: %s: %s\n", log_ident,
			    (long)getpid(), log_levelname(level), ctx, msg);
		else
			fprintf(stderr, "%s[%ld]: %s: %s\n", log_ident,
			    (long)getpid(), log_levelname(level), msg);
	}
	if (!log_foreground) {
		if (ctx != NULL)
			syslog(level, "%s: %s", ctx, msg);
		else
			syslog(level, "%s", msg);
	}
	errno = saved;
}

void
log_vctx(int level, const char *ctx, const char *fmt, va_list ap)
{
	if (level <= log_level)
		log_write(level, ctx, fmt, ap);
}

void
log_always(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_write(level, NULL, fmt, ap);
	va_end(ap);
}

void
log_ctx(int level, const char *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vctx(level, ctx, fmt, ap);
	va_end(ap);
}

/* Appends ": strerror(errno)" the way warn(3) does. */
static void LOG_PRINTF(2, 0)
log_verrno(int level, const char *fmt, va_list ap)
{
	char	buf[1024];
	int	saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_ctx(level, NULL, "%s: %s", buf, strerror(saved));
	errno = saved;
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verrno(LOG_WARNING, fmt, ap);
	va_end(ap);
}

#define LOG_SIMPLE(fn, level)					\
void								\
fn(const char *fmt, ...)					\
{								\
	va_list ap;						\
								\
	va_start(ap, fmt);					\
	log_vctx(level, NULL, fmt, ap);				\
	va_end(ap);						\
}

LOG_SIMPLE(log_warnx, LOG_WARNING)
LOG_SIMPLE(log_notice, LOG_NOTICE)
LOG_SIMPLE(log_info, LOG_INFO)
LOG_SIMPLE(log_debug, LOG_DEBUG)
LOG_SIMPLE(log_err, LOG_ERR)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_verrno(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vctx(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
