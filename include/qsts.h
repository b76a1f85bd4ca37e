/*
 * qsts: the MTA-STS policy cache (RFC 8461 §5.1), the queue database's
 * "sts_cache" table keyed by policy domain.  Records are opaque here:
 * policy/sts_fetch.c writes what sts_cache_encode() makes and reads it
 * back with sts_cache_decode() (mta_sts.h), so policy/ never sees the
 * database and queue/ never parses a policy.
 */
#ifndef POSTERN_QSTS_H
#define POSTERN_QSTS_H

#include <stddef.h>

struct queue;

#define QSTS_TABLE	"sts_cache"

/* The record cached for domain: 0 with *rec malloc'd, or -1 when there
 * is none or it cannot be read (both mean "fetch"). */
int	qsts_get(struct queue *, const char *domain, char **rec, size_t *len);
/* Replaces the record of domain: 0, or -1. */
int	qsts_put(struct queue *, const char *domain, const void *rec,
	    size_t len);

#endif
