/*
 * libFuzzer target: the MTA-STS parsers (policy/mta_sts.c, RFC 8461):
 * the TXT record, the policy body, the HTTP response and the cache
 * record; what a remote web server or DNS answer may send.  Invariants:
 * no crash, no read past len; an accepted policy has a known mode,
 * max_age within §3.2 and NUL-terminated patterns; a policy encoded for
 * the cache decodes to the same policy.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mta_sts.h"

static void
check_policy(const struct sts_policy *p)
{
	size_t	 i;

	if (p->mode != STS_MODE_NONE && p->mode != STS_MODE_TESTING &&
	    p->mode != STS_MODE_ENFORCE)
		abort();
	if (p->nmx > STS_MAX_MX || p->max_age < 0 || p->max_age > STS_MAX_AGE)
		abort();
	for (i = 0; i < p->nmx; i++)
		if (strnlen(p->mx[i], sizeof(p->mx[i])) == sizeof(p->mx[i]))
			abort();
	if (strnlen(p->id, sizeof(p->id)) == sizeof(p->id))
		abort();
}

static void
check_cache(const struct sts_policy *p, const char *text, size_t len)
{
	struct sts_policy q;
	char		*rec;
	size_t		 rlen, i;

	if ((rec = sts_cache_encode(p, text, len, &rlen)) == NULL)
		return;
	memset(&q, 0, sizeof(q));
	if (sts_cache_decode(rec, rlen, &q) != NULL)
		abort();
	if (q.mode != p->mode || q.nmx != p->nmx || q.max_age != p->max_age ||
	    strcmp(q.id, p->id) != 0 || q.fetched != p->fetched)
		abort();
	for (i = 0; i < p->nmx; i++)
		if (strcmp(q.mx[i], p->mx[i]) != 0)
			abort();
	free(rec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*in = (const char *)data;
	static char		 body[STS_MAX_POLICY];
	struct sts_policy	 p;
	char			 id[STS_ID_MAX + 1];
	size_t			 blen = 0;

	if (sts_txt_parse(in, size, id, sizeof(id)) == NULL &&
	    strnlen(id, sizeof(id)) == sizeof(id))
		abort();

	memset(&p, 0, sizeof(p));
	if (sts_policy_parse(in, size, &p) == NULL) {
		check_policy(&p);
	}

	if (sts_http_parse(in, size, body, sizeof(body), &blen) == NULL) {
		if (blen > sizeof(body))
			abort();
		memset(&p, 0, sizeof(p));
		if (sts_policy_parse(body, blen, &p) == NULL) {
			check_policy(&p);
			p.fetched = 1700000000;
			(void)memcpy(p.id, "fuzz", 5);
			check_cache(&p, body, blen);
		}
	}

	memset(&p, 0, sizeof(p));
	if (sts_cache_decode(in, size, &p) == NULL)
		check_policy(&p);
	return 0;
}
