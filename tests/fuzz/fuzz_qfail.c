/*
 * libFuzzer target: qfail_stat_state() over /proc/PID/stat text, whose
 * command name any local user chooses (prctl PR_SET_NAME: spaces and
 * parentheses included).  Exactly sized copy: ASan sees any overread.
 * Invariants: the letter found is the byte two after the last ')' and
 * is not a space; no ')' means no letter.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qfail.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char		*m = malloc(len ? len : 1);
	char		 st;
	size_t		 i, close = len;

	memcpy(m, data, len);
	st = qfail_stat_state(m, len);
	for (i = 0; i < len; i++)
		if (m[i] == ')')
			close = i;
	if (close == len && st != 0)
		abort();
	if (st != 0 && (close + 2 >= len || m[close + 2] != st ||
	    st == ' '))
		abort();
	(void)qfail_state_dead(st);
	free(m);
	return 0;
}
