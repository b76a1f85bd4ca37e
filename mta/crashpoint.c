/*
 * The test_crash_point knob (include/crashpoint.h): an abrupt death at a
 * named step, exactly what a power cut or kill -9 does there.
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crashpoint.h"
#include "log.h"

int
crash_point_set(const struct config *conf, const char *point)
{
	return conf->test_crash_point != NULL &&
	    strcmp(conf->test_crash_point, point) == 0;
}

void
crash_point(const struct config *conf, const char *point)
{
	if (!crash_point_set(conf, point))
		return;
	log_warnx("test_crash_point %s: pid %ld kills itself", point,
	    (long)getpid());
	(void)kill(getpid(), SIGKILL);
	/* SIGKILL cannot be caught; never reached. */
	_exit(137);
}
