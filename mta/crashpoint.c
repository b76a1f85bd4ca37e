/*
 * The test_crash_point knob (include/crashpoint.h): an abrupt death at a
 * named step, exactly what a power cut or kill -9 does there, or a stop
 * there until the test kills the process from outside.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crashpoint.h"
#include "log.h"
#include "queue.h"

#define CRASH_STOP_PREFIX	"stop:"
#define CRASH_STOP_MAX		60	/* seconds a stopped process waits */

static int
named(const struct config *conf, const char *point, int stop)
{
	const char	*v = conf->test_crash_point;
	size_t		 n = sizeof(CRASH_STOP_PREFIX) - 1;

	if (v == NULL)
		return 0;
	if (stop) {
		if (strncmp(v, CRASH_STOP_PREFIX, n) != 0)
			return 0;
		v += n;
	}
	return strcmp(v, point) == 0;
}

int
crash_point_set(const struct config *conf, const char *point)
{
	return named(conf, point, 0) || named(conf, point, 1);
}

static _Noreturn void
die(void)
{
	(void)kill(getpid(), SIGKILL);
	/* SIGKILL cannot be caught; never reached. */
	_exit(137);
}

void
crash_point(const struct config *conf, const char *point)
{
	int	 i;

	if (named(conf, point, 0)) {
		log_warnx("test_crash_point %s: pid %ld kills itself", point,
		    (long)getpid());
		die();
	}
	if (!named(conf, point, 1))
		return;
	/* The test kills us from outside; a test that does not is not
	 * left with a process holding the queue for ever. */
	log_warnx("test_crash_point %s: pid %ld stops", point,
	    (long)getpid());
	for (i = 0; i < CRASH_STOP_MAX; i++)
		(void)sleep(1);
	log_warnx("test_crash_point %s: pid %ld was not killed, kills itself",
	    point, (long)getpid());
	die();
}

/* Queue operation op (queue_set_point) reaches point "txn-OP". */
static void
queue_point(void *arg, const char *op)
{
	char	 point[64];
	int	 n;

	n = snprintf(point, sizeof(point), "txn-%s", op);
	if (n > 0 && (size_t)n < sizeof(point))
		crash_point(arg, point);
}

void
crash_point_queue(const struct config *conf, struct queue *q)
{
	if (q != NULL && conf->test_crash_point != NULL &&
	    *conf->test_crash_point != '\0')
		queue_set_point(q, queue_point,
		    (void *)(uintptr_t)conf);
}
