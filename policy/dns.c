/*
 * DNS through libunbound.  One resolver context per process, made after
 * fork() (a ub_ctx holds sockets, caches and a worker thread that must
 * not be shared).  Every answer carries its DNSSEC status (RFC 4033 §5);
 * a bogus answer never carries data, so no caller can use it by mistake.
 * Queries run asynchronously under a deadline so a dead resolver cannot
 * hold a delivery worker forever.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <unbound.h>

#include "compat.h"
#include "config.h"
#include "dns.h"
#include "dns_anchor.h"
#include "dns_conf.h"
#include "log.h"
#include "util.h"

/* DNS class IN and the rcodes libunbound reports (RFC 1035 §4.1.1). */
#define DNS_CLASS_IN		1
#define DNS_RCODE_NOERROR	0
#define DNS_RCODE_NXDOMAIN	3
/* RFC 1035 §2.3.4: a label is at most 63 octets, a name 255. */
#define DNS_MAXLABEL		63
#define DNS_MAXNAME		255
#define DNS_TIMEOUT_MS		30000
/* Not one of libunbound's UB_* codes (all <= 0). */
#define DNS_ERR_TIMEOUT		1

struct dns_ctx {
	struct ub_ctx	*ub;
	int		 timeout_ms;
};

struct dns_pending {
	int		 done;
	int		 err;
	struct ub_result *res;
};

static int
ub_err(int rc, const char *what, const char *arg, char *err, size_t errlen)
{
	if (rc == 0)
		return 0;
	(void)snprintf(err, errlen, "%s %s: %s", what, arg ? arg : "",
	    ub_strerror(rc));
	return -1;
}

/* libunbound reads these files only at the first query: check now so
 * a typo is a start-up error, not a deferral of every message. */
static int
dns_readable(const char *path, const char *key, char *err, size_t errlen)
{
	if (path == NULL || *path == '\0' || access(path, R_OK) == 0)
		return 0;
	(void)snprintf(err, errlen, "%s %s: %s", key, path, strerror(errno));
	return -1;
}

static int
dns_mode(struct ub_ctx *ub, const struct config *conf, char *err,
    size_t errlen)
{
	const char	*ta;

	switch (conf->resolver) {
	case RESOLVER_FORWARD:
		if (conf->resolver_forward == NULL ||
		    *conf->resolver_forward == '\0') {
			(void)snprintf(err, errlen,
			    "resolver = forward needs resolver_forward");
			return -1;
		}
		if (ub_err(ub_ctx_set_fwd(ub, conf->resolver_forward),
		    "resolver_forward", conf->resolver_forward, err, errlen))
			return -1;
		break;
	case RESOLVER_RECURSIVE:
		if (dns_readable(conf->resolver_root_hints,
		    "resolver_root_hints", err, errlen) == -1)
			return -1;
		if (conf->resolver_root_hints && *conf->resolver_root_hints &&
		    ub_err(ub_ctx_set_option(ub, "root-hints:",
		    conf->resolver_root_hints), "resolver_root_hints",
		    conf->resolver_root_hints, err, errlen))
			return -1;
		break;
	default:
		if (ub_err(ub_ctx_resolvconf(ub, NULL), "resolv.conf", NULL,
		    err, errlen) || ub_err(ub_ctx_hosts(ub, NULL), "hosts",
		    NULL, err, errlen))
			return -1;
		break;
	}
	/* Validate behind forwarders too: their AD bit proves nothing. */
	if (dns_anchor_find(conf, &ta, err, errlen) == -1 ||
	    dns_readable(ta, "resolver_trust_anchor", err, errlen) == -1)
		return -1;
	if (ta && ub_err(ub_ctx_add_ta_file(ub, ta),
	    "resolver_trust_anchor", ta, err, errlen))
		return -1;
	return 0;
}

struct dns_ctx *
dns_new(const struct config *conf, char *err, size_t errlen)
{
	struct dns_ctx	*ctx;

	ctx = xcalloc(1, sizeof(*ctx));
	ctx->timeout_ms = DNS_TIMEOUT_MS;
	if ((ctx->ub = ub_ctx_create()) == NULL) {
		(void)snprintf(err, errlen, "ub_ctx_create failed");
		goto fail;
	}
	if (dns_mode(ctx->ub, conf, err, errlen) == -1 ||
	    dns_conf_apply(ctx->ub, conf, err, errlen) == -1)
		goto fail;
	/* A thread, not a forked helper: the worker stays one process. */
	if (ub_err(ub_ctx_async(ctx->ub, 1), "ub_ctx_async", NULL, err,
	    errlen))
		goto fail;
	return ctx;
fail:
	dns_free(ctx);
	return NULL;
}

/* Where this name is a local zone it goes; in the throw-away context
 * that does not matter.  RFC 6761 §6.4: invalid. never exists. */
#define DNS_CHECK_ZONE	"postern-check.invalid."

int
dns_check(const struct config *conf, char *err, size_t errlen)
{
	struct dns_ctx	*ctx;
	int		 rc;

	if ((ctx = dns_new(conf, err, errlen)) == NULL)
		return -1;
	/* libunbound applies local-data:, hints, anchors and zones only
	 * when it finalizes the context, at the first query; any call that
	 * finalizes does, and this one asks nothing of the network. */
	rc = ub_ctx_zone_remove(ctx->ub, DNS_CHECK_ZONE);
	if (rc != 0)
		(void)snprintf(err, errlen, "%s: resolver set-up: %s",
		    conf->path ? conf->path : "postern.conf", ub_strerror(rc));
	dns_free(ctx);
	return rc == 0 ? 0 : -1;
}

void
dns_free(struct dns_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->ub)
		ub_ctx_delete(ctx->ub);
	free(ctx);
}

void
dns_set_timeout(struct dns_ctx *ctx, int msec)
{
	ctx->timeout_ms = msec > 0 ? msec : DNS_TIMEOUT_MS;
}

static void
dns_done(void *arg, int err, struct ub_result *res)
{
	struct dns_pending *p = arg;

	p->done = 1;
	p->err = err;
	p->res = res;
}

/* Waits for the answer until the deadline.  A query still pending when
 * this returns is cancelled: its callback must never see a dead frame. */
static int
dns_wait(struct dns_ctx *ctx, const char *name, int rrtype,
    struct dns_pending *p)
{
	struct pollfd	 pfd;
	int64_t		 deadline, left;
	int		 id, rc;

	memset(p, 0, sizeof(*p));
	rc = ub_resolve_async(ctx->ub, name, rrtype, DNS_CLASS_IN, p,
	    dns_done, &id);
	if (rc != 0)
		return rc;
	deadline = mono_msec() + ctx->timeout_ms;
	pfd.fd = ub_fd(ctx->ub);
	pfd.events = POLLIN;
	while (!p->done) {
		if ((left = deadline - mono_msec()) <= 0) {
			rc = DNS_ERR_TIMEOUT;
			break;
		}
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR) {
			rc = UB_PIPE;
			break;
		}
		if ((rc = ub_process(ctx->ub)) != 0)
			break;
	}
	if (!p->done) {
		(void)ub_cancel(ctx->ub, id);
		return rc;
	}
	return p->err;
}

static void
dns_copy(const struct ub_result *res, struct dns_reply *r)
{
	size_t	 n, i;

	for (n = 0; res->data[n] != NULL; n++)
		;
	r->rr = xcalloc(n, sizeof(*r->rr));
	for (i = 0; i < n; i++) {
		r->rr[i].len = (size_t)res->len[i];
		r->rr[i].data = xmalloc(r->rr[i].len);
		memcpy(r->rr[i].data, res->data[i], r->rr[i].len);
	}
	r->nrr = n;
}

static void
dns_fill(const struct ub_result *res, struct dns_reply *r)
{
	r->ttl = res->ttl > 0 ? (uint32_t)res->ttl : 0;
	/* A cut owner name would be another name (RFC 7672 §2.2.2 would
	 * look for TLSA there): none then, the name asked stays the base. */
	if (res->canonname &&
	    strlcpy(r->canon, res->canonname, sizeof(r->canon)) >=
	    sizeof(r->canon))
		r->canon[0] = '\0';
	domain_normalize(r->canon);
	if (res->bogus) {
		/* RFC 4035 §5.5: bogus data is never handed on. */
		r->sec = DNS_BOGUS;
		r->rc = DNS_TEMPFAIL;
		(void)strlcpy(r->why, res->why_bogus ? res->why_bogus :
		    "validation failure", sizeof(r->why));
		return;
	}
	if (res->rcode != DNS_RCODE_NOERROR && res->rcode !=
	    DNS_RCODE_NXDOMAIN && !res->nxdomain) {
		/* SERVFAIL, REFUSED, ...: no answer, so no status either
		 * (RFC 7672 §2.1.1); r->sec stays indeterminate. */
		r->rc = DNS_TEMPFAIL;
		(void)snprintf(r->why, sizeof(r->why), "rcode %d%s",
		    res->rcode, res->rcode == 2 ? " (SERVFAIL)" :
		    res->rcode == 5 ? " (REFUSED)" : "");
		return;
	}
	r->sec = res->secure ? DNS_SECURE : DNS_INSECURE;
	if (res->rcode == DNS_RCODE_NXDOMAIN || res->nxdomain)
		r->rc = DNS_NXDOMAIN;
	else if (res->havedata) {
		r->rc = DNS_FOUND;
		dns_copy(res, r);
	} else
		r->rc = DNS_NODATA;
}

int
dns_query(struct dns_ctx *ctx, const char *name, int rrtype,
    struct dns_reply *r)
{
	struct dns_pending	 p;
	int			 rc;

	memset(r, 0, sizeof(*r));
	r->rc = DNS_TEMPFAIL;
	r->sec = DNS_INDETERMINATE;
	if (name == NULL || strlen(name) > DNS_MAXNAME + 1 ||
	    strlcpy(r->canon, name, sizeof(r->canon)) >= sizeof(r->canon)) {
		(void)strlcpy(r->why, "bad name", sizeof(r->why));
		return -1;
	}
	if ((rc = dns_wait(ctx, name, rrtype, &p)) != 0) {
		(void)snprintf(r->why, sizeof(r->why), "%s",
		    rc == DNS_ERR_TIMEOUT ? "timed out" : ub_strerror(rc));
		if (p.res)
			ub_resolve_free(p.res);
		return 0;
	}
	dns_fill(p.res, r);
	ub_resolve_free(p.res);
	return 0;
}

void
dns_reply_free(struct dns_reply *r)
{
	size_t	 i;

	for (i = 0; i < r->nrr; i++)
		free(r->rr[i].data);
	free(r->rr);
	r->rr = NULL;
	r->nrr = 0;
}

const char *
dns_rc_name(enum dns_rc rc)
{
	switch (rc) {
	case DNS_FOUND:
		return "found";
	case DNS_NODATA:
		return "nodata";
	case DNS_NXDOMAIN:
		return "nxdomain";
	default:
		return "tempfail";
	}
}

const char *
dns_sec_name(enum dns_sec sec)
{
	switch (sec) {
	case DNS_SECURE:
		return "secure";
	case DNS_BOGUS:
		return "bogus";
	case DNS_INSECURE:
		return "insecure";
	default:
		return "indeterminate";
	}
}

/* One label octet as presentation text (RFC 4343 §2.1 escapes). */
static int
dns_put_octet(uint8_t c, char *out, size_t outlen, size_t *o)
{
	char	 tmp[5];
	size_t	 n;

	if (c >= 'A' && c <= 'Z')
		c = (uint8_t)(c - 'A' + 'a');
	if (c == '.' || c == '\\')
		n = (size_t)snprintf(tmp, sizeof(tmp), "\\%c", c);
	else if (c <= 0x20 || c >= 0x7f)
		n = (size_t)snprintf(tmp, sizeof(tmp), "\\%03u", c);
	else {
		tmp[0] = (char)c;
		n = 1;
	}
	if (*o + n >= outlen)
		return -1;
	memcpy(out + *o, tmp, n);
	*o += n;
	return 0;
}

int
dns_name_to_text(const uint8_t *data, size_t len, size_t off, char *out,
    size_t outlen)
{
	size_t	 p = off, o = 0, wire = 0, i, l;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	for (;;) {
		if (p >= len)
			return -1;
		l = data[p++];
		/* 0xc0 is a compression pointer, 0x40 and 0x80 are
		 * extended label types (RFC 6891 §5): none belong here. */
		if (l > DNS_MAXLABEL || (wire += l + 1) > DNS_MAXNAME)
			return -1;
		if (l == 0)
			break;
		if (l > len - p)
			return -1;
		if (o > 0) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = '.';
		}
		for (i = 0; i < l; i++)
			if (dns_put_octet(data[p + i], out, outlen, &o) == -1)
				return -1;
		p += l;
	}
	out[o] = '\0';
	return (int)(p - off);
}
