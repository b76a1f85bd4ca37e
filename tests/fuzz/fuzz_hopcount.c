/*
 * libFuzzer target: the header-section scanner of mta/hopcount.c over
 * untrusted message bytes (exactly sized copy: ASan sees any overread).
 * Invariants: every field lies inside the input, in order, with a
 * non-empty name that holds no colon and starts with no white space;
 * the count never exceeds the number of fields and does not change when
 * a body follows the first empty line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hopcount.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_fields(const char *m, size_t len)
{
	struct hop_field f;
	size_t		 off = 0, last = 0, n = 0;

	while (hop_next_field(m, len, &off, &f)) {
		if (f.name < m + last || f.value + f.valuelen > m + len ||
		    f.namelen == 0 || off > len ||
		    memchr(f.name, ':', f.namelen) != NULL ||
		    f.name[0] == ' ' || f.name[0] == '\t')
			abort();
		last = off;
		n++;
	}
	if (hop_count(m, len) > n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	*m = malloc(len + 16);
	size_t	 h;

	if (m == NULL)
		return 0;
	memcpy(m, data, len);
	check_fields(m, len);
	h = hop_count(m, len);
	(void)hop_delivered_to(m, len, "a@b");
	/* A body after the header section never adds hops. */
	memcpy(m + len, "\r\n\r\nReceived: x", 15);
	if (hop_count(m, len + 15) < h || hop_count(m, len + 15) > h + 1)
		abort();
	free(m);
	return 0;
}
