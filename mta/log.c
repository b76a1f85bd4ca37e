/*
 * One line per event: syslog(3) for the daemon, stderr in the foreground,
 * or a file (tests).  Shape of OpenSMTPD's log.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"

static int	 to_stderr = 1;
static int	 log_fd = -1;
static int	 verbose;
static char	 ident[64] = "postern";

void
log_init(const char *id, int foreground, const char *file)
{
	log_setident(id);
	to_stderr = foreground;
	if (file != NULL && *file != '\0') {
		log_fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0640);
		if (log_fd == -1)
			fprintf(stderr, "%s: %s: %s\n", ident, file,
			    strerror(errno));
	}
	if (!to_stderr && log_fd == -1)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_setident(const char *id)
{
	if (id != NULL)
		(void)strlcpy(ident, id, sizeof(ident));
}

void
log_setverbose(int v)
{
	verbose = v;
}

int
log_getverbose(void)
{
	return verbose;
}

/* Writes the whole line with one write(2) so concurrent processes do
 * not interleave within a line. */
static void
vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char		 msg[2048], line[2300], stamp[32];
	struct tm	 tm;
	time_t		 now;
	int		 n;

	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	if (!to_stderr && log_fd == -1) {
		if (suffix != NULL)
			syslog(pri, "%s: %s", msg, suffix);
		else
			syslog(pri, "%s", msg);
		return;
	}
	now = time(NULL);
	(void)localtime_r(&now, &tm);
	(void)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s %s[%ld]: %s%s%s\n", stamp, ident,
	    (long)getpid(), msg, suffix ? ": " : "", suffix ? suffix : "");
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (write(log_fd != -1 ? log_fd : STDERR_FILENO, line, n) == -1)
		return;
}

void
log_warn(const char *fmt, ...)
{
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_WARNING, fmt, ap, NULL);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	int	 saved = errno;
	va_list	 ap;

	if (verbose < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	int	 saved = errno;
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
