/*
 * Retry schedule: the delay before the next delivery attempt.  Pure
 * arithmetic, no clock and no randomness of its own (the caller draws r),
 * so it is tested with tables.
 */
#include <stdint.h>

#include "queue.h"

/*
 * attempts is the number of attempts made so far: 0 and 1 give min, each
 * further attempt doubles, capped at max.  The jitter spreads recipients
 * deferred together (one dead destination) over +-jitter_pct % so that
 * they do not all come due in the same second.  Never returns less than 1.
 */
int64_t
retry_delay(uint32_t attempts, int64_t min, int64_t max, unsigned jitter_pct,
    uint32_t r)
{
	int64_t		 d, j, off;
	uint32_t	 i;

	if (min < 1)
		min = 1;
	if (max < min)
		max = min;
	if (jitter_pct > 100)
		jitter_pct = 100;
	d = min;
	for (i = 1; i < attempts && d < max; i++)
		d = d > max / 2 ? max : d * 2;
	if (d > max)
		d = max;
	/* d * pct / 100 without overflowing for d near INT64_MAX. */
	j = d / 100 * jitter_pct + d % 100 * jitter_pct / 100;
	if (j > 0) {
		off = (int64_t)((uint64_t)r % ((uint64_t)j * 2 + 1)) - j;
		if (off > 0 && d > INT64_MAX - off)
			off = 0;
		d += off;
	}
	return d < 1 ? 1 : d;
}
