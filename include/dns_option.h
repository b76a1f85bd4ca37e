/*
 * dns_option: the pure checks on a resolver_option line (one unbound.conf(5)
 * server: option, "name: value") and on a resolver setting, whatever file
 * it came from.  A setting that would quietly switch DNSSEC validation off
 * is refused: DANE (RFC 7672 §2.1.1) and the "bogus defers" rule rest on
 * a validating resolver, and none of these settings says so in an answer.
 * No I/O here; dns.c applies the options and asks libunbound what it got.
 */
#ifndef POSTERN_DNS_OPTION_H
#define POSTERN_DNS_OPTION_H

#include <stddef.h>

/* NULL when opt has the shape of one server: option, "name: value", and
 * is not refused by dns_setting_refused(); else why not (a clause, no
 * value, a bad name, a setting that switches validation off). */
const char	*dns_option_check(const char *opt);
/* NULL unless option name (without its colon) set to value (quotes
 * removed) would switch DNSSEC validation off for some or all names. */
const char	*dns_setting_refused(const char *name, const char *value);
/* The value of opt ("name: value") without quotes or a trailing
 * comment, in out.  0, or -1 when it does not fit or a quote is open. */
int		 dns_option_value(const char *opt, char *out, size_t outlen);

#endif
