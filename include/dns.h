/*
 * dns: every DNS lookup postern makes, through libunbound, with its DNSSEC
 * status (RFC 4033 §5: secure, insecure, bogus) and a fourth state,
 * indeterminate: no complete answer came back (time-out, SERVFAIL,
 * REFUSED, resolver error).  Only a complete, validated answer is
 * "insecure"; an indeterminate one never lowers a TLS level (RFC 7672
 * §2.1.1).  A bogus answer is never treated as data: callers defer.  One context per process, made after
 * fork().  The resolver is the system's forwarders, a named forwarder, or
 * full recursion from root hints with a trust-anchor file (config.h).
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stddef.h>
#include <stdint.h>

struct config;

enum dns_rc {
	DNS_FOUND = 0,		/* records returned */
	DNS_NODATA,		/* name exists, no records of this type */
	DNS_NXDOMAIN,
	DNS_TEMPFAIL		/* SERVFAIL, timeout, resolver error */
};

/* Zero is indeterminate, so that a reply nobody filled in is never
 * mistaken for a proof of insecurity. */
enum dns_sec {
	DNS_INDETERMINATE = 0,	/* no complete answer: proves nothing */
	DNS_INSECURE,		/* complete answer, provably unsigned */
	DNS_SECURE,
	DNS_BOGUS
};

struct dns_rr {
	uint8_t		*data;		/* rdata, wire format */
	size_t		 len;
};

struct dns_reply {
	enum dns_rc	 rc;
	enum dns_sec	 sec;
	char		 why[256];	/* bogus reason or resolver error */
	char		 canon[256];	/* owner after CNAME expansion */
	uint32_t	 ttl;
	struct dns_rr	*rr;
	size_t		 nrr;
};

struct dns_ctx;

struct dns_ctx	*dns_new(const struct config *, char *err, size_t errlen);
void		 dns_free(struct dns_ctx *);
/* Builds and finalizes a context as a delivery would, then drops it, so
 * that every resolver_option and resolver_config error (with its
 * "file:line:") is a start-up error, and so is any setting that would
 * switch DNSSEC validation off (dns_option.h), from whatever file it
 * came.  0, or -1 with the reason in err. */
int		 dns_check(const struct config *, char *err, size_t errlen);
/* Deadline of one dns_query() in milliseconds (default 30 s). */
void		 dns_set_timeout(struct dns_ctx *, int msec);
/* 0 with reply filled (rc says what was found), -1 on a local error. */
int		 dns_query(struct dns_ctx *, const char *name, int rrtype,
		    struct dns_reply *);
void		 dns_reply_free(struct dns_reply *);
const char	*dns_rc_name(enum dns_rc);
const char	*dns_sec_name(enum dns_sec);

/* Wire-format name at data[off..len) to dotted text (no trailing dot,
 * lower case).  Returns bytes consumed, or -1 when malformed.  No
 * compression pointers are followed (rdata from libunbound has none). */
int		 dns_name_to_text(const uint8_t *data, size_t len, size_t off,
		    char *out, size_t outlen);

#endif
