/*
 * MTA-STS discovery and policy fetch, RFC 8461 §3 and §5.1.  The TXT
 * record and the addresses of mta-sts.<domain> come from the same
 * libunbound context as every other lookup (a bogus answer stops here);
 * the HTTPS client is PKIX-verified against the system CA store or the
 * configured CA file, with SNI and a host name check (§3.3), and runs
 * over netio (netio_https.h) like every other connection.  The cache is
 * the queue's, reached through qsts.h.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "compat.h"
#include "dns.h"
#include "log.h"
#include "mta_sts.h"
#include "netio_https.h"
#include "qsts.h"
#include "util.h"

#define RR_A		1
#define RR_TXT		16
#define RR_AAAA		28
#define STS_MAX_ADDRS	8
/* Status line and headers on top of the 64 KiB body. */
#define STS_MAX_RESPONSE	(STS_MAX_POLICY + 8192)

struct sts_addr {
	int		 family;
	uint8_t		 a[16];
};

/* One address family of mta-sts.<domain>; -1 when bogus. */
static int
sts_addrs(struct dns_ctx *dns, const char *host, int rrtype,
    struct sts_addr *out, size_t *n, char *why, size_t whylen)
{
	struct dns_reply r;
	size_t		 i, alen = rrtype == RR_AAAA ? 16 : 4;

	(void)dns_query(dns, host, rrtype, &r);
	if (r.sec == DNS_BOGUS) {
		(void)snprintf(why, whylen, "DNSSEC validation failed for "
		    "%s: %s", host, r.why);
		dns_reply_free(&r);
		return -1;
	}
	for (i = 0; r.rc == DNS_FOUND && i < r.nrr && *n < STS_MAX_ADDRS;
	    i++) {
		if (r.rr[i].len != alen)
			continue;
		out[*n].family = rrtype == RR_AAAA ? AF_INET6 : AF_INET;
		memcpy(out[*n].a, r.rr[i].data, alen);
		(*n)++;
	}
	dns_reply_free(&r);
	return 0;
}

static SSL *
sts_ssl(const char *host, const struct sts_opts *o, char *why, size_t whylen)
{
	SSL_CTX	*ctx;
	SSL	*ssl = NULL;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	/* Many servers close without close_notify; a cut body is caught
	 * by Content-Length or the policy parser instead. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	if (o->cafile != NULL && *o->cafile != '\0') {
		if (SSL_CTX_load_verify_locations(ctx, o->cafile, NULL) != 1)
			goto fail;
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1)
		goto fail;
	/* RFC 8461 §3.3: a valid PKIX chain for the policy host. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((ssl = SSL_new(ctx)) == NULL ||
	    SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1) {
		SSL_free(ssl);
		ssl = NULL;
	}
fail:
	if (ssl == NULL) {
		const char *e = ERR_reason_error_string(ERR_get_error());

		(void)snprintf(why, whylen, "TLS setup for %s: %s", host,
		    e ? e : "error");
	}
	SSL_CTX_free(ctx);
	return ssl;
}

/* One address: 0 with the raw response in resp, or -1 with why. */
static int
sts_fetch_from(const struct sts_addr *a, const char *host,
    const struct sts_opts *o, int64_t deadline, struct buf *resp,
    char *why, size_t whylen)
{
	struct https_req r = { .family = a->family, .addr = a->a,
			    .port = o->port > 0 ? o->port : 443,
			    .host = host,
			    .path = "/.well-known/mta-sts.txt",
			    .max = STS_MAX_RESPONSE, .deadline = deadline };
	SSL		*ssl;
	char		 err[200];
	long		 v;

	if ((ssl = sts_ssl(host, o, why, whylen)) == NULL)
		return -1;
	switch (netio_https_get(&r, ssl, resp, &v, err, sizeof(err))) {
	case HTTPS_OK:
		return 0;
	case HTTPS_CONNECT:
		(void)snprintf(why, whylen, "cannot connect to %s: %s", host,
		    err);
		break;
	case HTTPS_TLS:
		(void)snprintf(why, whylen, "TLS with %s failed: %s", host,
		    v != X509_V_OK ? X509_verify_cert_error_string(v) : err);
		break;
	case HTTPS_TOOBIG:
		(void)snprintf(why, whylen, "policy at %s larger than 64 KiB",
		    host);
		break;
	default:
		(void)snprintf(why, whylen, "HTTPS exchange with %s failed: "
		    "%s", host, err);
		break;
	}
	return -1;
}

int
sts_fetch(struct dns_ctx *dns, const char *domain, const struct sts_opts *o,
    char *body, size_t bodymax, size_t *bodylen, char *why, size_t whylen)
{
	struct sts_addr	 addrs[STS_MAX_ADDRS];
	struct buf	 resp;
	char		 host[300];
	const char	*err;
	size_t		 n = 0, i;
	int64_t		 deadline;
	int		 rc = -1;

	deadline = mono_msec() + (o->timeout_ms > 0 ? o->timeout_ms :
	    STS_FETCH_TIMEOUT_MS);
	if ((size_t)snprintf(host, sizeof(host), "mta-sts.%s", domain) >=
	    sizeof(host) || strlen(host) > 253) {
		(void)snprintf(why, whylen, "domain name too long");
		return -1;
	}
	if (sts_addrs(dns, host, RR_AAAA, addrs, &n, why, whylen) == -1 ||
	    sts_addrs(dns, host, RR_A, addrs, &n, why, whylen) == -1)
		return -1;
	if (n == 0) {
		(void)snprintf(why, whylen, "%s has no address", host);
		return -1;
	}
	buf_init(&resp);
	for (i = 0; i < n && rc == -1 && mono_msec() < deadline; i++) {
		buf_reset(&resp);
		rc = sts_fetch_from(&addrs[i], host, o, deadline, &resp, why,
		    whylen);
	}
	if (rc == 0 && (err = sts_http_parse(resp.data, resp.len, body,
	    bodymax, bodylen)) != NULL) {
		(void)snprintf(why, whylen, "https://%s/.well-known/"
		    "mta-sts.txt: %s", host, err);
		rc = -1;
	}
	buf_free(&resp);
	return rc;
}

/* The TXT id: 1 found, 0 none, -1 bogus, 2 lookup failed. */
static int
sts_txt(struct dns_ctx *dns, const char *domain, char *id, size_t idlen,
    char *why, size_t whylen)
{
	struct dns_reply r;
	char		 name[300], txt[1024], tid[STS_ID_MAX + 1];
	size_t		 i, off, tl, found = 0;
	int		 rc;

	if ((size_t)snprintf(name, sizeof(name), "_mta-sts.%s", domain) >=
	    sizeof(name)) {
		/* A cut name would be another domain's record. */
		(void)snprintf(why, whylen, "domain name too long");
		return 0;
	}
	(void)dns_query(dns, name, RR_TXT, &r);
	if (r.sec == DNS_BOGUS) {
		(void)snprintf(why, whylen, "DNSSEC validation failed for "
		    "%s TXT: %s", name, r.why);
		dns_reply_free(&r);
		return -1;
	}
	rc = r.rc == DNS_TEMPFAIL ? 2 : 0;
	for (i = 0; r.rc == DNS_FOUND && i < r.nrr; i++) {
		/* RFC 1035 §3.3.14: <len><bytes> strings, joined. */
		for (off = 0, tl = 0; off < r.rr[i].len; off += 1 +
		    r.rr[i].data[off]) {
			size_t sl = r.rr[i].data[off];

			if (off + 1 + sl > r.rr[i].len ||
			    tl + sl >= sizeof(txt))
				break;
			memcpy(txt + tl, r.rr[i].data + off + 1, sl);
			tl += sl;
		}
		/* §3.1: records not starting with v=STSv1 are ignored. */
		if (tl < 7 || memcmp(txt, "v=STSv1", 7) != 0)
			continue;
		found++;
		/* A cut id would never equal the cached one: refused. */
		if (sts_txt_parse(txt, tl, tid, sizeof(tid)) != NULL ||
		    strlcpy(id, tid, idlen) >= idlen)
			*id = '\0';
	}
	dns_reply_free(&r);
	/* §3.1: anything but exactly one valid record means no policy. */
	if (found == 1 && *id != '\0')
		return 1;
	if (rc == 0)
		(void)snprintf(why, whylen, "no valid MTA-STS TXT record at "
		    "%s", name);
	else
		(void)snprintf(why, whylen, "TXT lookup of %s failed", name);
	return rc;
}

static int
cache_get(struct queue *q, const char *domain, struct sts_policy *p)
{
	char		*val;
	size_t		 len;
	const char	*err;

	if (qsts_get(q, domain, &val, &len) != 0)
		return -1;
	err = sts_cache_decode(val, len, p);
	free(val);
	if (err != NULL) {
		log_warnx("mta-sts: cached policy of %s: %s", domain, err);
		return -1;
	}
	return 0;
}

static void
cache_put(struct queue *q, const char *domain, const struct sts_policy *p,
    const char *text, size_t len)
{
	char	*rec;
	size_t	 rlen;

	if (q == NULL)
		return;
	rec = sts_cache_encode(p, text, len, &rlen);
	if (qsts_put(q, domain, rec, rlen) != 0)
		log_warnx("mta-sts: cannot cache the policy of %s", domain);
	free(rec);
}

/* Fetches and parses; 0 with p filled and cached, or -1. */
static int
sts_refresh(struct dns_ctx *dns, struct queue *q, const char *domain,
    const struct sts_opts *o, long long now, const char *id,
    struct sts_policy *p, char *why, size_t whylen)
{
	char		*body = xmalloc(STS_MAX_POLICY);
	const char	*err;
	size_t		 blen;
	int		 rc = -1;

	if (sts_fetch(dns, domain, o, body, STS_MAX_POLICY, &blen, why,
	    whylen) == -1)
		goto done;
	if ((err = sts_policy_parse(body, blen, p)) != NULL) {
		(void)snprintf(why, whylen, "policy of %s: %s", domain, err);
		goto done;
	}
	p->fetched = now;
	(void)strlcpy(p->id, id, sizeof(p->id));
	if (!o->no_store)
		cache_put(q, domain, p, body, blen);
	rc = 0;
done:
	free(body);
	return rc;
}

/*
 * RFC 8461 §5.1: a cached policy is used until it expires; a new TXT id,
 * or a policy past half its max_age, is refreshed; a failed refresh keeps
 * the cached policy while it lasts.
 */
int
sts_get(struct dns_ctx *dns, struct queue *q, const char *domain,
    const struct sts_opts *o, long long now, struct sts_policy *p,
    char *why, size_t whylen)
{
	struct sts_policy	 cached;
	char			 id[STS_ID_MAX + 1] = "", fwhy[256];
	int			 txt, have, fresh;

	memset(p, 0, sizeof(*p));
	have = cache_get(q, domain, &cached) == 0 &&
	    cached.fetched + cached.max_age > now;
	if ((txt = sts_txt(dns, domain, id, sizeof(id), why, whylen)) == -1)
		return -1;
	fresh = have && now - cached.fetched < cached.max_age / 2;
	if (txt == 1 && !(have && fresh && strcmp(id, cached.id) == 0)) {
		if (sts_refresh(dns, q, domain, o, now, id, p, fwhy,
		    sizeof(fwhy)) == 0)
			return 1;
		log_warnx("mta-sts: %s: %s%s", domain, fwhy, have ?
		    "; using the cached policy" : "");
		(void)strlcpy(why, fwhy, whylen);
	}
	if (have) {
		*p = cached;
		return 1;
	}
	/* No TXT answer is not "no policy": an attacker who drops the TXT
	 * query must not turn a domain's enforce into nothing.  Without a
	 * cached policy, ask the policy host itself; only when that fails
	 * too is there none, as for a domain that publishes nothing. */
	if (txt == 2 && sts_refresh(dns, q, domain, o, now, "", p, fwhy,
	    sizeof(fwhy)) == 0) {
		log_info("mta-sts: %s: TXT lookup failed; the policy host "
		    "answered, its policy applies", domain);
		return 1;
	}
	return 0;
}
