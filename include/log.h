/*
 * log: one line per event, to syslog(3) (daemon) or stderr (foreground).
 * Every function preserves errno.  log_warn() appends strerror(errno).
 * fatal()/fatalx() are for start-up and impossible states only.
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* to_stderr: foreground; file: optional path appended to instead (tests). */
void	log_init(const char *ident, int to_stderr, const char *file);
void	log_setverbose(int);
int	log_getverbose(void);
void	log_setident(const char *);

void	log_warn(const char *, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void	log_info(const char *, ...) LOG_PRINTF(1, 2);
void	log_debug(const char *, ...) LOG_PRINTF(1, 2);
_Noreturn void	fatal(const char *, ...) LOG_PRINTF(1, 2);
_Noreturn void	fatalx(const char *, ...) LOG_PRINTF(1, 2);

#endif
