/*
 * libFuzzer target: the header rewrite of a locally submitted message
 * (sm_prepare in mta/sendmail_args.c), the input of the setgid sendmail
 * and so of any local user, and the RFC 5322 address lists it reads.
 * The message is an exactly sized heap copy: ASan sees any read before
 * or after it.  Invariants: without -t there is never an error and the
 * output always holds the line that ends the header; every -t
 * recipient is a non-empty string and none is listed twice (compared
 * without case); every address of a list is a non-empty string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sendmail.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_rcpts(char **v, size_t n)
{
	size_t	 i, j;

	for (i = 0; i < n; i++) {
		if (v[i] == NULL || *v[i] == '\0')
			abort();
		for (j = 0; j < i; j++)
			if (strcasecmp(v[i], v[j]) == 0)
				abort();
	}
}

static void
free_list(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct sm_header_ctx c = { "u@h", "Full Name", "D", "<id@h>", NULL, 0 };
	struct buf	 out;
	char		*m, **v = NULL;
	size_t		 n = 0, i;

	if ((m = malloc(len ? len : 1)) == NULL)
		return 0;
	memcpy(m, data, len);
	buf_init(&out);
	if (sm_prepare(m, len, &c, &out, NULL, NULL) != NULL)
		abort();
	if (out.len == 0 || memchr(out.data, '\n', out.len) == NULL)
		abort();
	buf_free(&out);
	buf_init(&out);
	(void)sm_prepare(m, len, &c, &out, &v, &n);
	check_rcpts(v, n);
	free_list(v, n);
	buf_free(&out);
	(void)sm_addr_list(m, len, &v, &n);
	for (i = 0; i < n; i++)
		if (v[i] == NULL || *v[i] == '\0')
			abort();
	free_list(v, n);
	free(m);
	return 0;
}
