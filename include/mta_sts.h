/*
 * mta_sts: SMTP MTA Strict Transport Security, RFC 8461.  The
 * "_mta-sts.<domain>" TXT record (§3.1) names the policy version; the
 * policy itself is fetched from https://mta-sts.<domain>/.well-known/
 * mta-sts.txt (§3.3: PKIX-verified HTTPS, SNI and host name checked, no
 * redirects, 200 only, at most 64 KiB, under a deadline; over netio,
 * netio_https.h) and cached in the queue's "sts_cache" table (qsts.h)
 * until max_age (§5.1; at most 31557600 s).
 * A failed refresh keeps the cached policy.  Parsers are pure.
 */
#ifndef POSTERN_MTA_STS_H
#define POSTERN_MTA_STS_H

#include <stddef.h>
#include <stdint.h>

struct dns_ctx;
struct queue;

#define STS_MAX_MX		16
#define STS_MAX_AGE		31557600	/* RFC 8461 §3.2 */
#define STS_MAX_POLICY		65536		/* RFC 8461 §3.3: 64 KiB */
#define STS_FETCH_TIMEOUT_MS	20000
#define STS_ID_MAX		32		/* RFC 8461 §3.1: 1*32 alnum */

enum sts_mode {
	STS_MODE_NONE = 0,
	STS_MODE_TESTING,
	STS_MODE_ENFORCE
};

struct sts_policy {
	enum sts_mode	 mode;
	char		 mx[STS_MAX_MX][256];	/* lower case patterns */
	size_t		 nmx;
	long long	 max_age;
	char		 id[STS_ID_MAX + 1];	/* TXT id it was fetched for */
	long long	 fetched;		/* seconds since the epoch */
	int		 cached;		/* came from sts_cache */
};

struct sts_opts {
	const char	*cafile;	/* NULL or "": system CA store */
	int		 port;		/* 443; tests may change it */
	int		 timeout_ms;	/* whole fetch */
	int		 no_store;	/* read the cache, never write it */
};

/* TXT rdata strings joined to "v=STSv1; id=..." (RFC 8461 §3.1).  NULL
 * with the id, or a reason. */
const char	*sts_txt_parse(const char *txt, size_t len, char *id,
		    size_t idlen);
/* Policy body (RFC 8461 §3.2).  NULL with p filled, or a reason. */
const char	*sts_policy_parse(const char *text, size_t len,
		    struct sts_policy *p);
/* RFC 8461 §4.1: "mx.example.org" or "*.example.org" (one label). */
int		 sts_mx_match(const char *pattern, const char *host);
/* Whether host matches one of the policy's mx patterns. */
int		 sts_policy_mx_ok(const struct sts_policy *, const char *host);
const char	*sts_mode_name(enum sts_mode);
/* RFC 8461 §3.3: status, media type, Transfer-Encoding and
 * Content-Length of an HTTP response; the body is copied to body (at
 * most STS_MAX_POLICY bytes).  NULL or a reason. */
const char	*sts_http_parse(const char *resp, size_t len, char *body,
		    size_t bodymax, size_t *bodylen);
/* Cache record: "1 fetched id\n" + the policy text. */
char		*sts_cache_encode(const struct sts_policy *, const char *text,
		    size_t textlen, size_t *len);
const char	*sts_cache_decode(const char *rec, size_t len,
		    struct sts_policy *p);

/*
 * The policy in force for domain, from cache or fetched: 1 with p filled
 * (any mode), 0 when the domain has none (why says so), -1 when a
 * DNSSEC-bogus answer forbids delivery (why says so).  q may be NULL (no
 * cache).  now is the current time in seconds.
 */
int		 sts_get(struct dns_ctx *, struct queue *, const char *domain,
		    const struct sts_opts *, long long now,
		    struct sts_policy *p, char *why, size_t whylen);
/* Only the HTTPS fetch: 0 with the body, or -1 with a reason. */
int		 sts_fetch(struct dns_ctx *, const char *domain,
		    const struct sts_opts *, char *body, size_t bodymax,
		    size_t *bodylen, char *why, size_t whylen);

#endif
