/*
 * The MTA-STS policy cache over the queue's key-value tables, so that
 * policy/ reaches Berkeley DB only through queue/ (docs/tls-policy.md).
 */
#include <stddef.h>

#include "qsts.h"
#include "queue.h"

int
qsts_get(struct queue *q, const char *domain, char **rec, size_t *len)
{
	*rec = NULL;
	*len = 0;
	/* queue_kv_get(): 1 absent, -1 error; both leave nothing cached. */
	return q != NULL && queue_kv_get(q, QSTS_TABLE, domain, rec, len) ==
	    0 ? 0 : -1;
}

int
qsts_put(struct queue *q, const char *domain, const void *rec, size_t len)
{
	if (q == NULL)
		return -1;
	return queue_kv_put(q, QSTS_TABLE, domain, rec, len) == 0 ? 0 : -1;
}
