/*
 * libFuzzer target: the resolver_option checks of policy/dns_option.c
 * over arbitrary text (a NUL-terminated copy, as config.c hands them on).
 * Invariants: dns_option_value() writes a terminated string that fits,
 * and is a substring of the input; a refused setting is never accepted
 * by dns_option_check() as an option of the same name and value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_option.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	char	*opt, value[64], name[64];
	size_t	 n;

	if ((opt = malloc(len + 1)) == NULL)
		return 0;
	memcpy(opt, data, len);
	opt[len] = '\0';
	(void)dns_option_check(opt);
	if (dns_option_value(opt, value, sizeof(value)) == 0) {
		if (strlen(value) >= sizeof(value) ||
		    strstr(opt, value) == NULL)
			abort();
		n = strcspn(opt, ":");
		if (opt[n] == ':' && n > 0 && n < sizeof(name)) {
			memcpy(name, opt, n);
			name[n] = '\0';
			if (dns_setting_refused(name, value) != NULL &&
			    dns_option_check(opt) == NULL)
				abort();
		}
	}
	free(opt);
	return 0;
}
