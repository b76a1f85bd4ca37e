/*
 * libFuzzer target: postern.conf parsing (mta/config.c) through
 * config_load_mem().  Invariants: no crash, no leak, an error is
 * "name:line: reason" or "name: reason", and an accepted configuration
 * passes config_validate() again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 c;
	char		 err[1024];

	config_defaults(&c);
	err[0] = '\0';
	if (config_load_mem(&c, "fuzz.conf", (const char *)data, size, err,
	    sizeof(err)) == -1) {
		if (strncmp(err, "fuzz.conf:", 10) != 0)
			abort();
	} else if (config_validate(&c) != NULL)
		abort();
	config_free(&c);
	return 0;
}
