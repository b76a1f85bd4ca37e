/*
 * dns_conf: postern.conf's resolver_config files and resolver_option lines
 * applied to a libunbound context (dns.c calls it once per context).  The
 * files first, in order, then all options as one unbound.conf fragment,
 * so an option overrides a file.  Errors are "file:line: ..." of the
 * postern.conf line at fault.  A setting that switches DNSSEC validation
 * off (dns_option.h) is refused, also when a file or an include: set it.
 */
#ifndef POSTERN_DNS_CONF_H
#define POSTERN_DNS_CONF_H

#include <stddef.h>

struct config;
struct ub_ctx;

/* 0, or -1 with the reason in err. */
int	dns_conf_apply(struct ub_ctx *, const struct config *, char *err,
	    size_t errlen);

#endif
