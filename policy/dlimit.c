/*
 * Limits on one delivery job and on slow destinations (dlimit.h).
 * Pure: the callers bring the clock and the counts.
 */
#include <stddef.h>
#include <stdint.h>

#include "dlimit.h"

int64_t
dlimit_stage_ms(int64_t stage_ms, int64_t now, int64_t deadline)
{
	int64_t	 left;

	if (deadline <= 0)
		return stage_ms;
	left = deadline - now;
	if (left < 0)
		left = 0;
	return stage_ms < left ? stage_ms : left;
}

/* The deadline first: it is the one that frees the worker whatever the
 * peer does; then the session limit, then the address limit. */
const char *
dlimit_next_addr(const struct dlimit_job *j, int64_t now)
{
	if (j->deadline > 0 && now >= j->deadline)
		return "delivery_job_timeout";
	if (j->session_limit > 0 && j->sessions >= j->session_limit)
		return "mx_session_limit";
	if (j->addr_limit > 0 && j->addrs >= j->addr_limit)
		return "mx_address_limit";
	return NULL;
}

int
dlimit_suspect(const struct dlimit_dest *d, int64_t now, int64_t slow_ms)
{
	if (d->suspect_until > now)
		return 1;
	return d->oldest_start > 0 && slow_ms > 0 &&
	    now - d->oldest_start > slow_ms;
}

int64_t
dlimit_after_report(int64_t suspect_until, unsigned accepted,
    unsigned deferred, int cut, int64_t now, int64_t hold_ms)
{
	if (cut || (deferred > 0 && accepted == 0))
		return now + hold_ms;
	if (accepted > 0)
		return 0;
	return suspect_until;
}

int
dlimit_admit(const struct dlimit_slots *s, int suspect, int dsn)
{
	size_t	 reserve = s->reserve;

	if (s->running >= s->max)
		return 0;
	if (dsn || !suspect)
		return 1;
	if (reserve >= s->max)
		reserve = s->max - 1;
	return s->running < s->max - reserve;
}
