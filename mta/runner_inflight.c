/*
 * The runner's in-flight set (runner_inflight.h): a hash of the
 * recipients handed to workers, and of those paused after their worker
 * failed, keyed by qid + idx.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "runner_inflight.h"
#include "runner_state.h"
#include "util.h"

static size_t
inflight_hash(const char *qid, uint32_t idx)
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */
	size_t		 i;

	for (i = 0; qid[i] != '\0'; i++)
		h = (h ^ (unsigned char)qid[i]) * 16777619u;
	for (i = 0; i < 4; i++)
		h = (h ^ ((idx >> (8 * i)) & 0xff)) * 16777619u;
	return h & (RUNNER_BUCKETS - 1);
}

struct inflight **
runner_inflight_slot(struct runner *r, const char *qid, uint32_t idx)
{
	struct inflight	**p = &r->bucket[inflight_hash(qid, idx)];

	for (; *p != NULL; p = &(*p)->next)
		if ((*p)->idx == idx && strcmp((*p)->qid, qid) == 0)
			break;
	return p;
}

void
runner_inflight_add(struct runner *r, const char *qid, uint32_t idx, pid_t pid)
{
	struct inflight	**p = runner_inflight_slot(r, qid, idx), *e;

	if ((e = *p) == NULL) {
		e = xcalloc(1, sizeof(*e));
		(void)strlcpy(e->qid, qid, sizeof(e->qid));
		e->idx = idx;
		*p = e;
	} else if (e->pid == 0)
		r->npaused--;
	e->pid = pid;
}

void
runner_inflight_del(struct runner *r, const char *qid, uint32_t idx)
{
	struct inflight	**p = runner_inflight_slot(r, qid, idx), *e;

	if ((e = *p) == NULL)
		return;
	if (e->pid == 0)
		r->npaused--;
	*p = e->next;
	free(e);
}

void
runner_inflight_pause(struct runner *r, const char *qid, uint32_t idx, int64_t until)
{
	struct inflight	*e = *runner_inflight_slot(r, qid, idx);

	if (e == NULL || e->pid == 0)
		return;
	e->pid = 0;
	e->hold_until = until;
	r->npaused++;
}

/* Drops pauses that are over (all of them when all is set); returns the
 * earliest pause still running, or 0. */
int64_t
runner_inflight_unpause(struct runner *r, int64_t now, int all)
{
	struct inflight	**p, *e;
	int64_t		 earliest = 0;
	size_t		 b;

	for (b = 0; b < RUNNER_BUCKETS && r->npaused > 0; b++) {
		for (p = &r->bucket[b]; (e = *p) != NULL; ) {
			if (e->pid == 0 && (all || e->hold_until <= now)) {
				*p = e->next;
				free(e);
				r->npaused--;
				continue;
			}
			if (e->pid == 0 && (earliest == 0 ||
			    e->hold_until < earliest))
				earliest = e->hold_until;
			p = &e->next;
		}
	}
	return earliest;
}
