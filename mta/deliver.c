/*
 * The deliver worker: one forked process per batch of messages sharing a
 * next hop.  It opens its own queue handle and resolver (no handle crosses
 * a fork), builds the route, tries the hosts and their addresses in order,
 * sends every message of the batch over one connection, and records each
 * message's outcome with ONE queue_update (retry time, DSN and flags in
 * the same transaction).  It never sleeps to retry: the schedule does.
 *
 * Durability: the remote 250 comes before our queue_update.  A crash
 * between the two leaves the recipient queued, so it is sent again later:
 * a duplicate, never a loss (RFC 5321 §6.1 accepts that trade).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <ifaddrs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "compat.h"
#include "config.h"
#include "crashpoint.h"
#include "deliver.h"
#include "dlimit.h"
#include "dns.h"
#include "dtable.h"
#include "local.h"
#include "log.h"
#include "mx.h"
#include "outcome.h"
#include "queue.h"
#include "relay.h"
#include "smtp_auth.h"
#include "smtp_client.h"
#include "throttle.h"
#include "tls.h"
#include "tls_decide.h"
#include "tls_policy.h"
#include "util.h"

#define RETRY_JITTER_PCT	10
#define SELF_ADDRS_MAX		64	/* local addresses that are "myself" */
#define SELF_NAMES_MAX		16

/* One recipient's result in this run. */
struct dres {
	struct outcome	 out;
	int		 pending;	/* not answered yet */
	int		 resched;	/* stopped by a rate limit: no attempt */
	int		 next_dsn;	/* the next hop takes NOTIFY itself */
	char		 relay[320];	/* "host[addr]:port" or "none" */
	char		 tls[160];
	char		 auth[16];
	char		 remote[256];	/* MX host name, for Remote-MTA */
};

struct dmsg {
	struct qmsg	 msg;
	char		*body;
	size_t		 bodylen;
	struct qrcpt	*rcpts;
	struct dres	*res;
	size_t		 nrcpt;
	int		 recorded;	/* its queue_update is done */
};

struct djob {
	const struct config	*conf;
	const struct deliver_job *job;
	struct queue		*q;
	struct dns_ctx		*dns;
	SSL_CTX			*tls;
	struct tls_policy_ctx	 tp;	/* lookups for the TLS decision */
	struct dmsg		*m;
	size_t			 nm;
	int			 relayed;	/* via relayhost or transport */
	const char		*nexthop;	/* relayhost or transport entry */
	struct smtp_auth_cred	 cred;		/* AUTH to nexthop, if have_cred */
	int			 have_cred;
	struct deliver_report	 rep;		/* for the runner */
	int			 port;
	struct outcome		 last_defer;	/* connection-level failures */
	struct outcome		 last_bounce;
	char			 postmaster[320];
	int			 failed;	/* an outcome was not recorded */
	struct dlimit_job	 lim;	/* addresses, sessions, deadline */
};

static uint32_t
rnd32(void)
{
	uint32_t	 r;

	if (getentropy(&r, sizeof(r)) == -1)
		r = (uint32_t)now_usec() ^ (uint32_t)getpid();
	return r;
}

/*
 * "[host]:port", "[host]", "host:port" or "host" (config.h relayhost).
 * Writes the host as mx_route_host() wants it (brackets kept: no MX
 * lookup) and the port, or leaves *port alone.  NULL or a reason.
 */
const char *
deliver_parse_relayhost(const char *s, char *host, size_t hostlen,
    int *port)
{
	const char		*colon = NULL, *rb;
	unsigned long long	 v;
	size_t			 hl;

	if (s[0] == '[') {
		if ((rb = strchr(s, ']')) == NULL || rb == s + 1)
			return "unbalanced [ in relayhost";
		if (rb[1] == ':')
			colon = rb + 1;
		else if (rb[1] != '\0')
			return "junk after ] in relayhost";
	} else if ((colon = strchr(s, ':')) != NULL && strchr(colon + 1, ':'))
		return "IPv6 relayhost must be written [addr]";
	hl = colon ? (size_t)(colon - s) : strlen(s);
	if (hl == 0 || hl >= hostlen)
		return "bad relayhost host";
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (colon != NULL) {
		if (parse_ull(colon + 1, 65535, &v) == -1 || v == 0)
			return "bad relayhost port";
		*port = (int)v;
	}
	return NULL;
}

/* ---- loading ---------------------------------------------------------- */

static struct dmsg *
msg_find_or_load(struct djob *dj, const char *qid)
{
	struct dmsg	*dm;
	size_t		 i;
	int		 rc;

	for (i = 0; i < dj->nm; i++)
		if (strcmp(dj->m[i].msg.qid, qid) == 0)
			return &dj->m[i];
	dm = &dj->m[dj->nm];
	memset(dm, 0, sizeof(*dm));
	/* Not found: deleted since it was due.  An error makes the
	 * worker fail, so the runner pauses these recipients. */
	if ((rc = queue_get_msg(dj->q, qid, &dm->msg)) != 0) {
		if (rc == -1) {
			log_warnx("%s: cannot read message record", qid);
			dj->failed = 1;
		}
		return NULL;
	}
	if (queue_get_body(dj->q, qid, &dm->body, &dm->bodylen) != 0) {
		log_warnx("%s: cannot read message body", qid);
		queue_msg_free(&dm->msg);
		dj->failed = 1;
		return NULL;
	}
	dj->nm++;
	return dm;
}

static void
rcpt_load(struct djob *dj, const struct deliver_item *it, int64_t now)
{
	struct dmsg	*dm;
	struct qrcpt	 r;
	int		 rc;

	if ((dm = msg_find_or_load(dj, it->qid)) == NULL)
		return;
	if ((rc = queue_get_rcpt(dj->q, it->qid, it->idx, &r)) != 0) {
		if (rc == -1) {
			log_warnx("%s: cannot read recipient %u", it->qid,
			    it->idx);
			dj->failed = 1;
		}
		return;
	}
	/* Held, or already moved on by someone else since it was due. */
	if (r.state == QRCPT_HELD || r.next_attempt > now) {
		queue_rcpt_free(&r);
		return;
	}
	dm->rcpts = xreallocarray(dm->rcpts, dm->nrcpt + 1, sizeof(r));
	dm->res = xreallocarray(dm->res, dm->nrcpt + 1, sizeof(*dm->res));
	dm->rcpts[dm->nrcpt] = r;
	memset(&dm->res[dm->nrcpt], 0, sizeof(*dm->res));
	dm->res[dm->nrcpt].pending = 1;
	(void)strlcpy(dm->res[dm->nrcpt].relay, "none",
	    sizeof(dm->res[0].relay));
	(void)strlcpy(dm->res[dm->nrcpt].tls, "none", sizeof(dm->res[0].tls));
	(void)strlcpy(dm->res[dm->nrcpt].auth, "none", sizeof(dm->res[0].auth));
	dm->nrcpt++;
}

static void
job_load(struct djob *dj)
{
	size_t	 i;
	int64_t	 now = (int64_t)time(NULL);

	dj->m = xcalloc(dj->job->nitems ? dj->job->nitems : 1,
	    sizeof(*dj->m));
	for (i = 0; i < dj->job->nitems; i++)
		rcpt_load(dj, &dj->job->items[i], now);
}

static void
job_free(struct djob *dj)
{
	size_t	 i, j;

	for (i = 0; i < dj->nm; i++) {
		for (j = 0; j < dj->m[i].nrcpt; j++)
			queue_rcpt_free(&dj->m[i].rcpts[j]);
		free(dj->m[i].rcpts);
		free(dj->m[i].res);
		free(dj->m[i].body);
		queue_msg_free(&dj->m[i].msg);
	}
	free(dj->m);
	dj->m = NULL;
	dj->nm = 0;
}

/* Every recipient still pending gets o. */
static void
settle_pending(struct djob *dj, const struct outcome *o)
{
	size_t	 i, j;

	for (i = 0; i < dj->nm; i++)
		for (j = 0; j < dj->m[i].nrcpt; j++)
			if (dj->m[i].res[j].pending) {
				dj->m[i].res[j].out = *o;
				dj->m[i].res[j].pending = 0;
				/* No remote reply: no Remote-MTA. */
				dj->m[i].res[j].remote[0] = '\0';
			}
}

static int
any_pending(const struct djob *dj)
{
	size_t	 i, j;

	for (i = 0; i < dj->nm; i++)
		for (j = 0; j < dj->m[i].nrcpt; j++)
			if (dj->m[i].res[j].pending)
				return 1;
	return 0;
}

/* ---- TLS decision ------------------------------------------------------ */

/*
 * How to protect the connection to one MX host: the decision order of
 * tls_decide.h (local table -> DANE, RFC 7672 -> MTA-STS enforce, RFC
 * 8461 -> opportunistic).  -1 with o (4.7.x DEFER) when this host must
 * not be used; the next MX is then tried under its own decision.
 */
static int
tls_decide(struct djob *dj, const struct mx_route *rt,
    const struct mx_host *h, struct tls_decision *d, struct outcome *o)
{
	if (tls_policy_host(&dj->tp, rt, h, dj->port, d, o) == -1) {
		log_info("%s: not using %s: %s", dj->job->dest, h->name,
		    o->text);
		return -1;
	}
	/* Without a client context STARTTLS cannot even be tried; the
	 * client then defers every level that forbids clear text. */
	if (dj->tls == NULL && d->level == TLS_LEVEL_MAY)
		tls_decision_init(d, TLS_LEVEL_NONE, "no TLS context", h->name);
	/* A next hop that gets our credentials must be authenticated; a
	 * weaker level written for it is kept, with a warning each time. */
	if (dj->have_cred && tls_policy_cred(&dj->tp, h, d))
		log_warnx("%s: credentials for %s sent to %s without "
		    "authenticating it: %s:%d says %s", dj->job->dest,
		    dj->nexthop, h->name, dj->job->tls_table->path,
		    dj->tp.hop_entry->line,
		    tls_level_name(dj->tp.hop_entry->level));
	log_debug("%s: %s: tls policy %s (%s)", dj->job->dest, h->name,
	    tls_level_name(d->level), d->why);
	return 0;
}

static void	record_msg(struct djob *, struct dmsg *);

/* ---- sending ------------------------------------------------------------ */

static void
note_conn_failure(struct djob *dj, const struct outcome *o)
{
	if (o->kind == OUTCOME_BOUNCE)
		dj->last_bounce = *o;
	else {
		dj->last_defer = *o;
		if (dj->last_defer.kind != OUTCOME_DEFER)
			dj->last_defer.kind = OUTCOME_DEFER;
	}
}

static int
is_ratelimit(const struct outcome *o)
{
	return o->kind == OUTCOME_DEFER &&
	    throttle_reply_is_ratelimit(o->status, o->text);
}

/*
 * A rate-limit reply is about the destination, not about the message:
 * stop at once.  Every recipient not finished is rescheduled without
 * counting an attempt (QUPD_RESCHEDULE, keeping its place in the queue)
 * and the runner throttles the destination from the report.
 */
static void
ratelimit_stop(struct djob *dj, const struct outcome *o)
{
	struct outcome	 nt;
	size_t		 i, j;

	if (!dj->rep.ratelimited) {
		dj->rep.ratelimited = 1;
		(void)strlcpy(dj->rep.status, o->status,
		    sizeof(dj->rep.status));
		(void)strlcpy(dj->rep.reply, o->text, sizeof(dj->rep.reply));
		log_info("%s: rate limited (%s): stopping, the rest waits "
		    "for the throttle", dj->job->dest, o->text);
	}
	outcome_set(&nt, OUTCOME_DEFER, o->status, "not tried: %s limits "
	    "the rate (%s)", dj->job->dest, o->text);
	for (i = 0; i < dj->nm; i++)
		for (j = 0; j < dj->m[i].nrcpt; j++)
			if (dj->m[i].res[j].pending) {
				dj->m[i].res[j].out = nt;
				dj->m[i].res[j].pending = 0;
				dj->m[i].res[j].resched = 1;
				dj->m[i].res[j].remote[0] = '\0';
			}
}

static void
res_note_relay(struct dres *r, struct smtp_client *c, const char *host)
{
	(void)strlcpy(r->relay, smtp_client_relay(c), sizeof(r->relay));
	(void)strlcpy(r->tls, smtp_client_tls(c), sizeof(r->tls));
	(void)strlcpy(r->auth, smtp_client_auth(c), sizeof(r->auth));
	(void)strlcpy(r->remote, host, sizeof(r->remote));
	r->next_dsn = smtp_client_offers_dsn(c);
}

/*
 * Sends the pending recipients of one message.  0 when the connection can
 * carry on; -1 when it is gone: the recipients it left unanswered stay
 * pending for the next address.
 */
static int
send_msg(struct djob *dj, struct dmsg *dm, struct smtp_client *c,
    const struct mx_host *h)
{
	const struct qrcpt	**rp;
	struct outcome		 *out, limited;
	size_t			 *map, n = 0, i;
	int			  rc;

	memset(&limited, 0, sizeof(limited));

	rp = xcalloc(dm->nrcpt, sizeof(*rp));
	out = xcalloc(dm->nrcpt, sizeof(*out));
	map = xcalloc(dm->nrcpt, sizeof(*map));
	for (i = 0; i < dm->nrcpt; i++)
		if (dm->res[i].pending) {
			map[n] = i;
			rp[n++] = &dm->rcpts[i];
		}
	rc = n ? smtp_client_send(c, &dm->msg, rp, n, dm->body, dm->bodylen,
	    out) : 0;
	for (i = 0; i < n; i++) {
		struct dres	*r = &dm->res[map[i]];

		if (out[i].kind == OUTCOME_NONE)
			outcome_set(&out[i], OUTCOME_DEFER, "4.4.2",
			    "%s: no reply for this recipient",
			    smtp_client_relay(c));
		r->out = out[i];
		r->pending = 0;
		res_note_relay(r, c, h->name);
		if (is_ratelimit(&out[i])) {
			r->resched = 1;
			limited = out[i];
			continue;
		}
		/* A transaction cut off by a lost connection goes on with
		 * the next address (RFC 5321 §5.1 "try the next"). */
		if (rc == -1 && out[i].kind == OUTCOME_DEFER) {
			r->pending = 1;
			note_conn_failure(dj, &out[i]);
		}
	}
	free(rp);
	free(out);
	free(map);
	if (limited.kind != OUTCOME_NONE) {
		ratelimit_stop(dj, &limited);
		return -1;
	}
	return rc;
}

static int
msg_pending(const struct dmsg *dm)
{
	size_t	 i;

	for (i = 0; i < dm->nrcpt; i++)
		if (dm->res[i].pending)
			return 1;
	return 0;
}

/*
 * Each message is recorded as soon as all its recipients are answered,
 * not at the end of the batch: the window between a remote 250 and our
 * commit, where a crash means a duplicate, stays one message wide.
 */
static int
send_all(struct djob *dj, struct smtp_client *c, const struct mx_host *h)
{
	struct dmsg	*dm;
	size_t		 i;
	int		 rc;

	for (i = 0; i < dj->nm; i++) {
		dm = &dj->m[i];
		if (!msg_pending(dm))
			continue;
		rc = send_msg(dj, dm, c, h);
		if (!msg_pending(dm)) {
			crash_point(dj->conf, "deliver-after-remote-250");
			record_msg(dj, dm);
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}

/*
 * Hosts that did not answer (refused or timed out) are remembered in the
 * queue's "destinations" table for dead_host_time, shared by every
 * worker, so that other messages do not wait on the same dead host:
 * "down/ADDR:PORT" -> "UNTIL reason".
 */
static void
down_key(char *key, size_t len, const struct mx_addr *a, int port)
{
	(void)snprintf(key, len, a->family == AF_INET6 ? "down/[%s]:%d" :
	    "down/%s:%d", a->text, port);
}

static int
host_down(struct djob *dj, const struct mx_addr *a, struct outcome *o)
{
	unsigned long long	 until;
	char			 key[96], num[24], *val;
	size_t			 len, n;
	int			 down = 0;

	if (dj->conf->dead_host_time <= 0)
		return 0;
	down_key(key, sizeof(key), a, dj->port);
	if (queue_kv_get(dj->q, "destinations", key, &val, &len) != 0)
		return 0;
	n = strcspn(val, " ");
	if (n < sizeof(num)) {
		memcpy(num, val, n);
		num[n] = '\0';
		if (parse_ull(num, INT64_MAX, &until) == 0 &&
		    (int64_t)until > (int64_t)time(NULL)) {
			down = 1;
			outcome_set(o, OUTCOME_DEFER, "4.4.1", "not tried for "
			    "%llds: %s", (long long)until -
			    (long long)time(NULL), val + n + (val[n] == ' '));
		}
	}
	free(val);
	/* An expired entry goes now, so the table stays small. */
	if (!down)
		(void)queue_kv_del(dj->q, "destinations", key);
	return down;
}

static void
host_mark(struct djob *dj, const struct mx_addr *a, const struct outcome *o)
{
	char		 key[96], val[600];
	long long	 t = dj->conf->dead_host_time;
	int		 n;

	/* Never longer than the shortest retry: a retry really tries. */
	if (dj->conf->retry_min > 0 && dj->conf->retry_min < t)
		t = dj->conf->retry_min;
	if (t <= 0)
		return;
	down_key(key, sizeof(key), a, dj->port);
	n = snprintf(val, sizeof(val), "%lld %s", (long long)time(NULL) + t,
	    o->text);
	if (n > 0 && queue_kv_put(dj->q, "destinations", key, val,
	    (size_t)n < sizeof(val) ? (size_t)n : sizeof(val) - 1) == -1)
		log_warnx("%s: cannot remember %s as down", dj->job->dest,
		    a->text);
}

/* One address: 0 when it was used, -1 when it failed (o filled). */
static int
try_addr(struct djob *dj, const struct mx_host *h, const struct mx_addr *a,
    const struct tls_decision *td, const struct smtp_client_opts *opts)
{
	struct smtp_client	*c;
	struct outcome		 o;

	memset(&o, 0, sizeof(o));
	if (host_down(dj, a, &o)) {
		log_info("%s: skipping %s[%s]: %s", dj->job->dest, h->name,
		    a->text, o.text);
		note_conn_failure(dj, &o);
		return -1;
	}
	dj->rep.connections++;
	if ((c = smtp_client_open(h, a, td, opts, &o)) == NULL) {
		log_info("%s: %s", dj->job->dest, o.text);
		if (is_ratelimit(&o))
			ratelimit_stop(dj, &o);
		else if (strcmp(o.status, "4.4.1") == 0)
			host_mark(dj, a, &o);
		note_conn_failure(dj, &o);
		return -1;
	}
	(void)send_all(dj, c, h);
	smtp_client_close(c);
	return 0;
}

/*
 * The job's limits (dlimit.h), from its start: a tarpit that answers
 * each line just inside its timeout holds the worker this long at most.
 */
static void
job_limits(struct djob *dj)
{
	dj->lim.addr_limit = (unsigned)dj->conf->mx_address_limit;
	dj->lim.session_limit = (unsigned)dj->conf->mx_session_limit;
	dj->lim.deadline = mono_msec() + dj->conf->delivery_job_timeout *
	    1000LL;
}

/*
 * Whether a limit stops the job before its next address.  The deadline
 * defers what is left (4.4.2), whatever the hosts said: not reaching a
 * host in time says nothing about the recipient.  The address and
 * session limits end the list as Postfix's do: what the last host said
 * stands, a 5xx from every host tried still bounces.
 */
static int
job_limited(struct djob *dj)
{
	const char	*why;
	struct outcome	 o;

	if ((why = dlimit_next_addr(&dj->lim, mono_msec())) == NULL)
		return 0;
	dj->rep.cut = 1;
	log_info("%s: stopping after %u address(es) and %u session(s): %s "
	    "reached", dj->job->dest, dj->lim.addrs, dj->lim.sessions, why);
	if (strcmp(why, "delivery_job_timeout") == 0) {
		outcome_set(&o, OUTCOME_DEFER, "4.4.2", "delivery_job_timeout "
		    "(%llds) reached after %u address(es)%s%s", (long long)
		    dj->conf->delivery_job_timeout, dj->lim.addrs,
		    dj->last_defer.kind != OUTCOME_NONE ? ", last error: " : "",
		    dj->last_defer.kind != OUTCOME_NONE ? dj->last_defer.text :
		    "");
		dj->last_defer = o;
	} else if (dj->last_defer.kind != OUTCOME_NONE) {
		o = dj->last_defer;
		outcome_set(&dj->last_defer, OUTCOME_DEFER, o.status, "%s "
		    "reached, last error: %s", why, o.text);
	} else if (dj->last_bounce.kind == OUTCOME_NONE)
		outcome_set(&dj->last_defer, OUTCOME_DEFER, "4.4.2", "%s "
		    "reached", why);
	return 1;
}

static void
deliver_route(struct djob *dj, const struct mx_route *rt)
{
	struct smtp_client_opts	 opts;
	struct tls_decision	 td;
	struct outcome		 o;
	size_t			 h, a;

	memset(&opts, 0, sizeof(opts));
	opts.deadline = dj->lim.deadline;
	opts.sessions = &dj->lim.sessions;
	opts.helo = dj->conf->hostname;
	opts.port = dj->port;
	opts.connect_timeout = (int)dj->conf->connect_timeout;
	opts.reply_timeout = (int)dj->conf->client_timeout;
	opts.tls_ctx = dj->tls;
	opts.cred = dj->have_cred ? &dj->cred : NULL;
	for (h = 0; h < rt->nhosts && any_pending(dj); h++) {
		if (job_limited(dj))
			return;
		if (tls_decide(dj, rt, &rt->hosts[h], &td, &o) == -1) {
			note_conn_failure(dj, &o);
			continue;
		}
		for (a = 0; a < rt->hosts[h].naddrs && any_pending(dj); a++) {
			/* An address skipped as down counts too: the limit
			 * is on the list, in MX order (Postfix's). */
			if (job_limited(dj))
				return;
			dj->lim.addrs++;
			(void)try_addr(dj, &rt->hosts[h],
			    &rt->hosts[h].addrs[a], &td, &opts);
		}
	}
}

/* Route failure, no address answered, ...: what the rest gets.  A 5xx
 * greeting bounces only when no host failed temporarily. */
static void
settle_unreached(struct djob *dj, const struct mx_route *rt)
{
	struct outcome	 o;

	if (dj->last_defer.kind != OUTCOME_NONE)
		o = dj->last_defer;
	else if (dj->last_bounce.kind != OUTCOME_NONE)
		o = dj->last_bounce;
	else
		outcome_set(&o, OUTCOME_DEFER, "4.4.3",
		    "no usable address for any mail exchanger of %s",
		    rt ? rt->domain : dj->job->dest);
	settle_pending(dj, &o);
}

static int
port_eq(const char *s, int port)
{
	unsigned long long	 v;

	return parse_ull(s, 65535, &v) == 0 && (int)v == port;
}

/* A numeric address into the list; 0, or -1 when s is not one. */
static int
self_add_text(struct mx_addr *addrs, size_t *n, const char *s)
{
	struct mx_addr	*a = &addrs[*n];

	if (*n == SELF_ADDRS_MAX)
		return 0;
	if (inet_pton(AF_INET, s, a->addr) == 1)
		a->family = AF_INET;
	else if (inet_pton(AF_INET6, s, a->addr) == 1)
		a->family = AF_INET6;
	else
		return -1;
	(void)strlcpy(a->text, s, sizeof(a->text));
	(*n)++;
	return 0;
}

/* The addresses of this machine's interfaces: with a wildcard listener
 * on the delivery port, any of them reaches us. */
static void
self_add_ifaddrs(struct mx_addr *addrs, size_t *n)
{
	struct ifaddrs	*ifa, *i;
	char		 text[INET6_ADDRSTRLEN];
	const void	*p;

	if (getifaddrs(&ifa) == -1) {
		log_warn("getifaddrs");
		return;
	}
	for (i = ifa; i != NULL && *n < SELF_ADDRS_MAX; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family == AF_INET)
			p = &((struct sockaddr_in *)(void *)
			    i->ifa_addr)->sin_addr;
		else if (i->ifa_addr->sa_family == AF_INET6)
			p = &((struct sockaddr_in6 *)(void *)
			    i->ifa_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(i->ifa_addr->sa_family, p, text,
		    sizeof(text)) != NULL)
			(void)self_add_text(addrs, n, text);
	}
	freeifaddrs(ifa);
}

/*
 * Who "myself" is as an MX (RFC 5321 §5.1): a listener on the very
 * address:port we would connect to, every local interface address when
 * a listener on that port is a wildcard, and the addresses given in
 * mx_self_names (its names go to the name list).
 */
static void
mx_self_fill(const struct config *conf, int port, struct mx_addr *addrs,
    size_t *naddrs)
{
	const struct listen_spec	*l;
	size_t				 i;
	int				 wild = 0;

	*naddrs = 0;
	for (i = 0; i < conf->nlisten && i < CONFIG_MAX_LISTEN; i++) {
		l = &conf->listen[i];
		if (!port_eq(l->port, port))
			continue;
		if (strcmp(l->host, "*") == 0 || strcmp(l->host, "::") == 0 ||
		    strcmp(l->host, "0.0.0.0") == 0)
			wild = 1;
		else
			(void)self_add_text(addrs, naddrs, l->host);
	}
	if (wild)
		self_add_ifaddrs(addrs, naddrs);
	for (i = 0; i < conf->mx_self_names.n; i++)
		(void)self_add_text(addrs, naddrs, conf->mx_self_names.v[i]);
}

/* Host names that are "myself": hostname and the names (not the
 * addresses) of mx_self_names. */
static size_t
mx_self_names(const struct config *conf, const char **names, size_t max)
{
	struct mx_addr	 tmp[1];
	size_t		 i, n = 0, k;

	if (conf->hostname != NULL && *conf->hostname != '\0')
		names[n++] = conf->hostname;
	for (i = 0; i < conf->mx_self_names.n && n < max; i++) {
		k = 0;
		if (self_add_text(tmp, &k, conf->mx_self_names.v[i]) == -1)
			names[n++] = conf->mx_self_names.v[i];
	}
	return n;
}

/* 0 with a route that has hosts, or -1 with why filled. */
static int
route_build(struct djob *dj, struct mx_route *rt, struct outcome *why)
{
	struct mx_addr		 addrs[SELF_ADDRS_MAX];
	const char		*names[SELF_NAMES_MAX];
	struct mx_self		 self;
	char			 host[256];
	const char		*err;
	int			 rc;

	memset(why, 0, sizeof(*why));
	if (dj->dns == NULL) {
		outcome_set(why, OUTCOME_DEFER, "4.3.0",
		    "resolver not available");
		return -1;
	}
	if (dj->relayed) {
		if ((err = deliver_parse_relayhost(dj->nexthop, host,
		    sizeof(host), &dj->port)) != NULL) {
			outcome_set(why, OUTCOME_DEFER, "4.3.5", "%s: %s",
			    err, dj->nexthop);
			return -1;
		}
		rc = mx_route_host(dj->dns, host, 0, rt, why);
	} else {
		self.names = names;
		self.nnames = mx_self_names(dj->conf, names, SELF_NAMES_MAX);
		mx_self_fill(dj->conf, dj->port, addrs, &self.naddrs);
		self.addrs = addrs;
		rc = mx_route_build(dj->dns, dj->job->dest, &self, rnd32(),
		    rt, why);
	}
	if (rc == 0 && rt->nhosts == 0) {
		mx_route_free(rt);
		rc = -1;
	}
	if (rc == -1 && why->kind == OUTCOME_NONE)
		outcome_set(why, OUTCOME_DEFER, "4.4.3", "no route to %s",
		    dj->job->dest);
	return rc;
}

/* ---- recording ----------------------------------------------------------- */

/* Per message: what goes into its one queue_update. */
struct record {
	struct qupdate		*u;
	struct bounce_rcpt	*failed, *delayed, *succeeded;
	struct outcome		*final;	/* the outcome as logged */
	size_t			 nfailed, ndelayed, nsucceeded;
	uint32_t		 flags;
};

static int
expired(const struct djob *dj, const struct dmsg *dm, int64_t now)
{
	return dj->conf->max_queue_lifetime > 0 &&
	    now - dm->msg.arrival >= dj->conf->max_queue_lifetime;
}

/* A delay notice is due once, past delay_warning_time, never for a DSN. */
static int
warn_due(const struct djob *dj, const struct dmsg *dm, int64_t now)
{
	return dj->conf->delay_warning_time > 0 &&
	    now - dm->msg.arrival >= dj->conf->delay_warning_time &&
	    !(dm->msg.flags & (QMSG_WARNED | QMSG_DSN));
}

static void
bounce_rcpt_fill(struct bounce_rcpt *b, const struct djob *dj,
    const struct dmsg *dm, size_t i, const struct outcome *o, int64_t now)
{
	memset(b, 0, sizeof(*b));
	b->rcpt = &dm->rcpts[i];
	b->outcome = o;
	b->remote_mta = dm->res[i].remote[0] && o == &dm->res[i].out ?
	    dm->res[i].remote : NULL;
	b->last_attempt = now;
	b->retry_until = dm->msg.arrival + dj->conf->max_queue_lifetime;
}

static void
record_rcpt(const struct djob *dj, const struct dmsg *dm, size_t i,
    struct record *rec, int64_t now)
{
	const struct outcome	*o = &dm->res[i].out;
	struct qupdate		*u = &rec->u[i];
	struct bounce_rcpt	*b;

	rec->final[i] = *o;
	u->idx = dm->rcpts[i].idx;
	u->reply = o->text;
	switch (o->kind) {
	case OUTCOME_SENT:
		u->kind = QUPD_SENT;
		/* RFC 3461 §5.2.2: NOTIFY=SUCCESS that the next hop cannot
		 * carry is answered here, "relayed"; a local delivery is
		 * final, "delivered". */
		if ((dm->rcpts[i].notify & QNOTIFY_SUCCESS) &&
		    !dm->res[i].next_dsn) {
			b = &rec->succeeded[rec->nsucceeded++];
			bounce_rcpt_fill(b, dj, dm, i, o, now);
			b->action = strcmp(dm->res[i].relay, "local") == 0 ?
			    "delivered" : "relayed";
		}
		return;
	case OUTCOME_BOUNCE:
		u->kind = QUPD_FAIL;
		bounce_rcpt_fill(&rec->failed[rec->nfailed++], dj, dm, i, o,
		    now);
		return;
	default:
		break;
	}
	if (expired(dj, dm, now)) {
		/* RFC 3463 4.4.7: given up on, with the last reason. */
		outcome_set(&rec->final[i], OUTCOME_BOUNCE, "4.4.7",
		    "delivery time expired (last error: %s)", o->text);
		u->kind = QUPD_FAIL;
		u->reply = rec->final[i].text;
		bounce_rcpt_fill(&rec->failed[rec->nfailed++], dj, dm, i,
		    &rec->final[i], now);
		return;
	}
	rec->final[i].kind = OUTCOME_DEFER;
	if (dm->res[i].resched) {
		/* Stopped by a rate limit: its place in the queue and its
		 * attempt count stay; the runner's throttle decides when. */
		u->kind = QUPD_RESCHEDULE;
		u->next_attempt = dm->rcpts[i].next_attempt;
		return;
	}
	u->kind = QUPD_DEFER;
	u->next_attempt = now + retry_delay(dm->rcpts[i].attempts,
	    dj->conf->retry_min, dj->conf->retry_max, RETRY_JITTER_PCT,
	    rnd32());
	bounce_rcpt_fill(&rec->delayed[rec->ndelayed++], dj, dm, i, o, now);
}

static void
log_rcpt(const struct djob *dj, const struct dmsg *dm, size_t i,
    const struct outcome *o, const char *note)
{
	const struct dres	*r = &dm->res[i];
	double			 delay;

	delay = (double)(now_usec() - dm->msg.arrival * 1000000LL) / 1e6;
	log_info("%s: to=<%s>%s%s relay=%s tls=%s auth=%s delay=%.1f "
	    "attempt=%u status=%s (%s)%s", dm->msg.qid, dm->rcpts[i].addr,
	    dj->relayed ? " dest=" : "", dj->relayed ? dm->rcpts[i].dest : "",
	    r->relay, r->tls, r->auth, delay < 0 ? 0.0 : delay,
	    dm->rcpts[i].attempts + 1, outcome_kind_name(o->kind), o->text,
	    note);
}

/*
 * Builds the DSN for this update: a failure report, else a delay notice
 * when one is due.  One DSN per transaction; a delay notice that has to
 * wait for a failure report goes out at a later attempt.
 */
static int
record_dsn(const struct djob *dj, const struct dmsg *dm, struct record *rec,
    int64_t now, struct qnew *dsn, struct bounce_storage **st,
    enum bounce_kind *kind)
{
	const struct bounce_rcpt	*br = rec->failed;
	const char			*why;
	size_t				 n = rec->nfailed;

	*kind = BOUNCE_FAILED;
	if (n == 0 && rec->ndelayed > 0 && warn_due(dj, dm, now)) {
		*kind = BOUNCE_DELAYED;
		br = rec->delayed;
		n = rec->ndelayed;
		rec->flags |= QMSG_WARNED;
	} else if (n == 0 && rec->nsucceeded > 0) {
		*kind = BOUNCE_SUCCESS;
		br = rec->succeeded;
		n = rec->nsucceeded;
	} else if (n == 0)
		return 0;
	if ((why = bounce_suppressed(*kind, &dm->msg, br, n,
	    dj->postmaster)) != NULL) {
		log_info("%s: no %s notice: %s", dm->msg.qid,
		    *kind == BOUNCE_FAILED ? "failure" : *kind ==
		    BOUNCE_SUCCESS ? "success" : "delay", why);
		return 0;
	}
	return bounce_build(dj->conf->hostname, dj->postmaster, *kind,
	    &dm->msg, dm->body, dm->bodylen, dj->conf->bounce_full_max_size,
	    br, n, dsn, st) == 0;
}

static void
record_msg(struct djob *dj, struct dmsg *dm)
{
	struct record		 rec;
	struct qnew		 dsn;
	struct bounce_storage	*st = NULL;
	enum bounce_kind	 kind;
	int64_t			 now = (int64_t)time(NULL);
	size_t			 i;
	int			 have_dsn, rc, sent = 0;

	if (dm->nrcpt == 0 || dm->recorded)
		return;
	dm->recorded = 1;
	memset(&rec, 0, sizeof(rec));
	rec.u = xcalloc(dm->nrcpt, sizeof(*rec.u));
	rec.failed = xcalloc(dm->nrcpt, sizeof(*rec.failed));
	rec.delayed = xcalloc(dm->nrcpt, sizeof(*rec.delayed));
	rec.succeeded = xcalloc(dm->nrcpt, sizeof(*rec.succeeded));
	rec.final = xcalloc(dm->nrcpt, sizeof(*rec.final));
	for (i = 0; i < dm->nrcpt; i++)
		record_rcpt(dj, dm, i, &rec, now);
	have_dsn = record_dsn(dj, dm, &rec, now, &dsn, &st, &kind);
	/* The commit point: outcomes, retry times, the DSN and the
	 * WARNED flag land together or not at all. */
	rc = queue_update(dj->q, dm->msg.qid, rec.u, dm->nrcpt,
	    have_dsn ? &dsn : NULL, rec.flags);
	if (rc == -1) {
		log_warn("%s: recording outcomes failed, retried later",
		    dm->msg.qid);
		dj->failed = 1;
	}
	for (i = 0; i < dm->nrcpt; i++) {
		if (rec.final[i].kind == OUTCOME_SENT)
			sent = 1;
		else if (rec.final[i].kind == OUTCOME_DEFER &&
		    !dm->res[i].resched)
			dj->rep.deferred++;
		log_rcpt(dj, dm, i, &rec.final[i], rc == -1 ?
		    " not recorded" : dm->res[i].resched ?
		    " rescheduled" : "");
	}
	if (sent)
		dj->rep.accepted++;
	if (have_dsn && rc == 0)
		log_info("%s: dsn=%s kind=%s", dm->msg.qid, dsn.msg->qid,
		    kind == BOUNCE_FAILED ? "failure" : kind == BOUNCE_SUCCESS ?
		    "success" : "delay");
	bounce_free(st);
	free(rec.u);
	free(rec.failed);
	free(rec.delayed);
	free(rec.succeeded);
	free(rec.final);
}

/* ---- the worker ------------------------------------------------------------ */

/* Local domains: each recipient through the local server (local.h). */
static void
deliver_local(struct djob *dj)
{
	struct dmsg	*dm;
	size_t		 i, j;

	for (i = 0; i < dj->nm; i++) {
		dm = &dj->m[i];
		for (j = 0; j < dm->nrcpt; j++) {
			if (!dm->res[j].pending)
				continue;
			local_deliver(dj->conf, &dm->msg, dm->rcpts[j].addr,
			    dm->body, dm->bodylen, &dm->res[j].out);
			dm->res[j].pending = 0;
			dm->res[j].remote[0] = '\0';
			(void)strlcpy(dm->res[j].relay, "local",
			    sizeof(dm->res[j].relay));
		}
	}
}

/*
 * The next hop's credentials from relayhost_auth_file, read here, by the
 * worker, as the unprivileged user.  A file that cannot be used defers
 * the batch (4.3.5): sending without AUTH would let the smarthost refuse,
 * and bounce, mail that only waits for the file to be fixed.
 */
static int
auth_setup(struct djob *dj, struct outcome *why)
{
	char	 err[512];
	int	 rc;

	if (!dj->relayed || *dj->conf->relayhost_auth_file == '\0')
		return 0;
	rc = smtp_auth_load(dj->conf->relayhost_auth_file, dj->nexthop,
	    &dj->cred, err, sizeof(err));
	if (rc >= 0) {
		dj->have_cred = rc;
		return 0;
	}
	log_warnx("%s: relayhost_auth_file not used: %s", dj->job->dest, err);
	outcome_set(why, OUTCOME_DEFER, "4.3.5", "relayhost_auth_file not "
	    "used: %s", err);
	return -1;
}

static void
deliver_remote(struct djob *dj)
{
	struct mx_route	 rt;
	struct outcome	 why;

	memset(&rt, 0, sizeof(rt));
	if (auth_setup(dj, &why) == -1 || route_build(dj, &rt, &why) == -1) {
		/* DEFER or BOUNCE as the resolver said, for the batch. */
		settle_pending(dj, &why);
		return;
	}
	/* The recipient domain's entry applies through a relay too, with
	 * the relay's own (tls_entry_stricter()); MTA-STS is about
	 * recipient domains (RFC 8461 §2), not a relayhost. */
	tls_policy_ctx_init(&dj->tp, dj->conf, dj->dns, dj->q,
	    dj->job->tls_table, dj->job->dest, dj->relayed ? rt.domain :
	    NULL);
	deliver_route(dj, &rt);
	settle_unreached(dj, &rt);
	tls_policy_ctx_free(&dj->tp);
	mx_route_free(&rt);
	smtp_auth_clear(&dj->cred);
}

static int
job_setup(struct djob *dj, const struct config *conf,
    const struct deliver_job *job)
{
	char	 err[256];

	memset(dj, 0, sizeof(*dj));
	dj->conf = conf;
	dj->job = job;
	dj->port = (int)conf->smtp_port;
	dj->relayed = conf->relayhost != NULL && conf->relayhost[0] != '\0' &&
	    !relay_domain_local(conf, job->dest);
	/* A transport_table entry routes the domain to its own next hop,
	 * ahead of the relayhost. */
	if (!relay_domain_local(conf, job->dest) &&
	    (dj->nexthop = dtable_lookup(job->transport, job->dest)) != NULL)
		dj->relayed = 1;
	else
		dj->nexthop = conf->relayhost;
	(void)snprintf(dj->postmaster, sizeof(dj->postmaster),
	    "postmaster@%s", conf->hostname);
	if (queue_open(&dj->q, conf->spool_dir, 0, err, sizeof(err)) == -1) {
		log_warnx("deliver %s: queue: %s", job->dest, err);
		return -1;
	}
	crash_point_queue(conf, dj->q);
	/* Resolver and TLS context are made here, after fork(). */
	if ((dj->dns = dns_new(conf, err, sizeof(err))) == NULL)
		log_warnx("deliver %s: resolver: %s", job->dest, err);
	tls_init();
	if ((dj->tls = tls_client_ctx(*conf->smtp_tls_ca_file ?
	    conf->smtp_tls_ca_file : NULL, err, sizeof(err))) == NULL)
		log_warnx("deliver %s: TLS client context: %s", job->dest,
		    err);
	return 0;
}

/* One write, smaller than PIPE_BUF: the runner reads it whole. */
static void
report(const struct djob *dj)
{
	if (dj->job->report_fd < 0)
		return;
	if (write(dj->job->report_fd, &dj->rep, sizeof(dj->rep)) !=
	    (ssize_t)sizeof(dj->rep))
		log_warn("%s: report to the runner", dj->job->dest);
}

int
deliver_job_run(const struct config *conf, const struct deliver_job *job)
{
	struct djob	 dj;
	size_t		 i;
	int		 status;

	if (job_setup(&dj, conf, job) == -1)
		return EX_TEMPFAIL;
	job_limits(&dj);
	job_load(&dj);
	if (any_pending(&dj)) {
		if (relay_domain_local(conf, job->dest))
			deliver_local(&dj);
		else
			deliver_remote(&dj);
	}
	for (i = 0; i < dj.nm; i++)
		record_msg(&dj, &dj.m[i]);
	status = dj.failed ? EX_TEMPFAIL : 0;
	report(&dj);
	job_free(&dj);
	if (dj.tls != NULL)
		SSL_CTX_free(dj.tls);
	dns_free(dj.dns);
	queue_close(dj.q);
	return status;
}

static int
forget_cb(void *arg, const char *key, const char *val, size_t len)
{
	struct queue	*q = arg;

	(void)val;
	(void)len;
	if (strncmp(key, "down/", 5) == 0)
		(void)queue_kv_del(q, "destinations", key);
	return 0;
}

int
deliver_forget_down(struct queue *q)
{
	return queue_kv_walk(q, "destinations", forget_cb, q);
}

/* One next hop for deliver_cred_warn(): 1 when it warned. */
static int
cred_warn_one(const struct config *conf, const struct tls_table *t,
    const char *nexthop)
{
	struct smtp_auth_cred		 cred;
	const struct tls_table_entry	*e;
	char				 host[256], err[512];
	int				 port = 0, rc;
	size_t				 len;

	if (deliver_parse_relayhost(nexthop, host, sizeof(host), &port) !=
	    NULL)
		return 0;
	len = strlen(host);
	if (len > 2 && host[0] == '[' && host[len - 1] == ']') {
		memmove(host, host + 1, len - 2);
		host[len - 2] = '\0';
	}
	if ((e = tls_table_lookup(t, host)) == NULL ||
	    tls_auth_required(tls_cred_level(e->level, 1, e->level)))
		return 0;
	/* An unreadable file is reported, and defers, at delivery. */
	rc = smtp_auth_load(conf->relayhost_auth_file, nexthop, &cred, err,
	    sizeof(err));
	smtp_auth_clear(&cred);
	if (rc != 1)
		return 0;
	log_warnx("relayhost_auth_file: credentials for %s go to a next hop "
	    "that is not authenticated: %s:%d says %s (the default for a next "
	    "hop with credentials is verify)", nexthop, t->path, e->line,
	    tls_level_name(e->level));
	return 1;
}

int
deliver_cred_warn(const struct config *conf, const struct tls_table *t,
    const struct dtable *transport)
{
	size_t	 i;
	int	 n = 0;

	if (*conf->relayhost_auth_file == '\0' || t == NULL || t->n == 0)
		return 0;
	if (conf->relayhost != NULL && *conf->relayhost != '\0')
		n += cred_warn_one(conf, t, conf->relayhost);
	for (i = 0; transport != NULL && i < transport->n; i++)
		n += cred_warn_one(conf, t, transport->v[i].value);
	return n;
}
