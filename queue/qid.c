/*
 * Queue ids: QID_LEN upper-case hex digits, 13 of microseconds since the
 * epoch (enough until the year 2112) and 3 of a per-process sequence mixed
 * with the pid.  Ids sort by arrival; two processes can still produce the
 * same id in the same microsecond, so the queue inserts with no-overwrite
 * and asks for a fresh id on a collision.
 */
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "queue.h"
#include "util.h"

static const char hexdigits[] = "0123456789ABCDEF";

void
qid_make(char out[QID_LEN + 1])
{
	static int64_t	 last;
	static pid_t	 lastpid;
	static uint32_t	 seq;
	int64_t		 now = now_usec();
	uint64_t	 v;
	uint32_t	 mix;
	pid_t		 pid = getpid();
	int		 i;

	/* A forked child starts its own sequence. */
	if (pid != lastpid) {
		lastpid = pid;
		last = 0;
		seq = 0;
	}
	/* Never go backwards within one process (clock steps). */
	if (now <= last)
		now = last + 1;
	last = now;
	mix = ((uint32_t)pid * 2654435761U >> 20) + seq++;
	v = ((uint64_t)now & 0xFFFFFFFFFFFFFULL) << 12 | (mix & 0xFFF);
	for (i = QID_LEN - 1; i >= 0; i--) {
		out[i] = hexdigits[v & 0xF];
		v >>= 4;
	}
	out[QID_LEN] = '\0';
}

int
qid_valid(const char *s)
{
	size_t	 i;

	if (s == NULL)
		return 0;
	for (i = 0; i < QID_LEN; i++) {
		if (s[i] == '\0' || strchr(hexdigits, s[i]) == NULL)
			return 0;
	}
	return s[QID_LEN] == '\0';
}
