/*
 * libFuzzer target: the local part of a recipient as mta/rcpt_local.c
 * takes it from the RCPT path (untrusted bytes, NUL-terminated as the
 * parser hands them on), and the verdict over every combination of
 * lookup results.  Invariants: an accepted name is the text before the
 * last "@", lower-cased, at most ALIAS_MAX_NAME octets; a refused one is
 * empty or too long; the verdict never rejects when a lookup failed or
 * found the name.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "rcpt_local.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_verdicts(const char *name)
{
	struct rcpt_facts f;
	int		  a, u, bits;

	for (bits = 0; bits < 4; bits++)
		for (a = 0; a < 3; a++)
			for (u = 0; u < 3; u++) {
				f.check = bits & 1;
				f.catchall = (bits >> 1) & 1;
				f.name = name;
				f.alias = (enum rcpt_lookup)a;
				f.user = (enum rcpt_lookup)u;
				if (rcpt_local_decide(&f) == RCPT_REJECT &&
				    (a != RCPT_LOOKUP_NOTFOUND ||
				    u != RCPT_LOOKUP_NOTFOUND || !f.check ||
				    f.catchall || rcpt_local_reserved(name)))
					abort();
			}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char		 name[ALIAS_MAX_NAME + 1], *addr;
	const char	*at;
	size_t		 n, i;

	if ((addr = malloc(len + 1)) == NULL)
		return 0;
	memcpy(addr, data, len);
	addr[len] = '\0';		/* the parser's strings end at a NUL */
	at = strrchr(addr, '@');
	n = at ? (size_t)(at - addr) : strlen(addr);
	if (rcpt_local_name(addr, name, sizeof(name)) != NULL) {
		if (n != 0 && n <= ALIAS_MAX_NAME)
			abort();
	} else {
		if (strlen(name) != n || n == 0 || n > ALIAS_MAX_NAME)
			abort();
		for (i = 0; i < n; i++)
			if (name[i] != (char)tolower((unsigned char)addr[i]))
				abort();
		check_verdicts(name);
	}
	free(addr);
	return 0;
}
