/*
 * deliver_down: hosts that did not answer (refused or timed out) are
 * remembered in the queue's "destinations" table for dead_host_time,
 * shared by every worker, so that other messages do not wait on the
 * same dead host: "down/ADDR:PORT" -> "UNTIL reason" (docs/routing.md).
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "deliver.h"
#include "deliver_down.h"
#include "log.h"
#include "outcome.h"
#include "queue.h"
#include "util.h"

static void
down_key(char *key, size_t len, const struct mx_addr *a, int port)
{
	/* Fits: a->text is at most 47 characters, the port 5 digits. */
	(void)snprintf(key, len, a->family == AF_INET6 ? "down/[%s]:%d" :
	    "down/%s:%d", a->text, port);
}

int
deliver_host_down(struct queue *q, const struct config *conf,
    const struct mx_addr *a, int port, struct outcome *o)
{
	unsigned long long	 until;
	char			 key[96], num[24], *val;
	size_t			 len, n;
	int			 down = 0;

	if (conf->dead_host_time <= 0)
		return 0;
	down_key(key, sizeof(key), a, port);
	if (queue_kv_get(q, "destinations", key, &val, &len) != 0)
		return 0;
	n = strcspn(val, " ");
	if (n < sizeof(num)) {
		memcpy(num, val, n);
		num[n] = '\0';
		if (parse_ull(num, INT64_MAX, &until) == 0 &&
		    (int64_t)until > (int64_t)time(NULL)) {
			down = 1;
			outcome_set(o, OUTCOME_DEFER, "4.4.1", "not tried for "
			    "%llds: %s", (long long)until -
			    (long long)time(NULL), val + n + (val[n] == ' '));
		}
	}
	free(val);
	/* An expired entry goes now, so the table stays small. */
	if (!down)
		(void)queue_kv_del(q, "destinations", key);
	return down;
}

void
deliver_host_mark(struct queue *q, const struct config *conf,
    const char *dest, const struct mx_addr *a, int port,
    const struct outcome *o)
{
	char		 key[96], val[600];
	long long	 t = conf->dead_host_time;
	int		 n;

	/* Never longer than the shortest retry: a retry really tries. */
	if (conf->retry_min > 0 && conf->retry_min < t)
		t = conf->retry_min;
	if (t <= 0)
		return;
	down_key(key, sizeof(key), a, port);
	n = snprintf(val, sizeof(val), "%lld %s", (long long)time(NULL) + t,
	    o->text);
	if (n > 0 && queue_kv_put(q, "destinations", key, val,
	    (size_t)n < sizeof(val) ? (size_t)n : sizeof(val) - 1) == -1)
		log_warnx("%s: cannot remember %s as down", dest,
		    a->text);
}

static int
forget_cb(void *arg, const char *key, const char *val, size_t len)
{
	struct queue	*q = arg;

	(void)val;
	(void)len;
	if (strncmp(key, "down/", 5) == 0)
		(void)queue_kv_del(q, "destinations", key);
	return 0;
}

int
deliver_forget_down(struct queue *q)
{
	return queue_kv_walk(q, "destinations", forget_cb, q);
}
