/*
 * Deliberate faults for tests/sanitizer/test_harness.py: linked only into
 * tests/sanitizer/postern-faulty, through the linker's --wrap, so that no
 * postern source carries them and no normal build can contain them.
 * Each wrapper calls the real function, and first commits one fault when
 * its input is a trigger name:
 *   HELO fault-heap.test      heap-buffer-overflow in the session child
 *   HELO fault-ub.test        signed integer overflow in the session child
 *   postern policy fault-leak.test   a leak in a short-lived command
 *   mail to fault-root@LOCAL  heap-use-after-free in the root local
 *                             delivery child
 */
#ifndef POSTERN_FAULT_INJECT
#error "fault.c is only for the faulty test binary (POSTERN_FAULT_INJECT)"
#endif

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "dns.h"
#include "mx.h"
#include "outcome.h"
#include "smtp_parse.h"

const char	*__real_smtp_helo_parse(const char *, size_t,
		    char[SMTP_DOMAIN_MAX + 1]);
const char	*__wrap_smtp_helo_parse(const char *, size_t,
		    char[SMTP_DOMAIN_MAX + 1]);
int		 __real_mx_route_build(struct dns_ctx *, const char *,
		    const struct mx_self *, uint32_t, struct mx_route *,
		    struct outcome *);
int		 __wrap_mx_route_build(struct dns_ctx *, const char *,
		    const struct mx_self *, uint32_t, struct mx_route *,
		    struct outcome *);
const char	*__real_aliases_expand(const struct alias_ops *, const char *,
		    struct alias_list *, int *);
const char	*__wrap_aliases_expand(const struct alias_ops *, const char *,
		    struct alias_list *, int *);

/* Where a faulty result goes, so that the compiler keeps it. */
static volatile int	 fault_sink;

static int
is(const char *s, size_t len, const char *trigger)
{
	return len == strlen(trigger) && memcmp(s, trigger, len) == 0;
}

const char *
__wrap_smtp_helo_parse(const char *arg, size_t len,
    char out[SMTP_DOMAIN_MAX + 1])
{
	char		*p;
	volatile int	 big = INT_MAX;

	if (is(arg, len, "fault-heap.test")) {
		/* One byte too short for the terminating NUL. */
		p = malloc(len);
		memcpy(p, arg, len);
		((volatile char *)p)[len] = '\0';
		free(p);
	} else if (is(arg, len, "fault-ub.test"))
		fault_sink = big + (int)len;
	return __real_smtp_helo_parse(arg, len, out);
}

int
__wrap_mx_route_build(struct dns_ctx *dns, const char *domain,
    const struct mx_self *self, uint32_t seed, struct mx_route *rt,
    struct outcome *why)
{
	char *volatile	 p;

	if (strcmp(domain, "fault-leak.test") == 0) {
		/* Allocated, and the only pointer to it dropped. */
		p = malloc(64);
		memset(p, 'x', 64);
		p = NULL;
	}
	return __real_mx_route_build(dns, domain, self, seed, rt, why);
}

const char *
__wrap_aliases_expand(const struct alias_ops *ops, const char *name,
    struct alias_list *l, int *temp)
{
	char *volatile	 p;

	if (strcmp(name, "fault-root") == 0) {
		p = malloc(16);
		free(p);
		p[0] = 'x';
	}
	return __real_aliases_expand(ops, name, l, temp);
}
