/* Logging to syslog, or to stderr in the foreground. */
#ifndef BROKERD_LOG_H
#define BROKERD_LOG_H

#include <stdarg.h>
#include <syslog.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void	log_init(const char *ident, int foreground, int facility);
void	log_setlevel(int level);
int	log_getlevel(void);
void	log_setfacility(int facility);
/* While set, messages at LOG_ERR and worse also go to stderr. */
void	log_setstartup(int on);
int	log_enabled(int level);
const char *log_levelname(int level);
int	log_levelbyname(const char *name);
int	log_facilitybyname(const char *name);

void	log_ctx(int level, const char *ctx, const char *fmt, ...)
	    LOG_PRINTF(3, 4);
void	log_vctx(int level, const char *ctx, const char *fmt, va_list ap)
	    LOG_PRINTF(3, 0);
/* At level, whatever the level set (a change of the level itself). */
void	log_always(int level, const char *fmt, ...) LOG_PRINTF(2, 3);
void	log_warn(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_notice(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_info(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_debug(const char *fmt, ...) LOG_PRINTF(1, 2);
void	log_err(const char *fmt, ...) LOG_PRINTF(1, 2);
void	fatal(const char *fmt, ...) LOG_PRINTF(1, 2)
	    __attribute__((noreturn));
void	fatalx(const char *fmt, ...) LOG_PRINTF(1, 2)
	    __attribute__((noreturn));

#endif
