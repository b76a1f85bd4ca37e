/*
 * "postern policy DOMAIN [--probe]": the TLS decision of tls_decide.h,
 * shown step by step with the lookups it rests on.  The decisions come
 * from the same functions the delivery workers call, so what is shown is
 * what a delivery would do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "compat.h"
#include "config.h"
#include "dane.h"
#include "deliver.h"
#include "dns.h"
#include "dns_anchor.h"
#include "dtable.h"
#include "log.h"
#include "mta_sts.h"
#include "mx.h"
#include "policy_cmd.h"
#include "queue.h"
#include "relay.h"
#include "smtp_auth.h"
#include "smtp_client.h"
#include "tls.h"
#include "tls_decide.h"
#include "tls_table.h"
#include "util.h"

struct pcmd {
	const struct config	*conf;
	struct dns_ctx		*dns;
	struct queue		*q;
	struct tls_table	 table;
	SSL_CTX			*tls;
	struct tls_policy_ctx	 tp;
	struct dtable		 transport;
	const char		*nexthop;	/* relayhost or transport */
	int			 cred;		/* its credentials line, 0 */
	int			 probe;
	int			 allowed;	/* hosts that would be used */
};

static void
show_entry(const struct pcmd *p, const char *what,
    const struct tls_table_entry *e)
{
	size_t	 i;

	if (e == NULL) {
		printf("tls_policy%s: no entry%s\n", what, p->table.path ? "" :
		    " (no tls_policy_file)");
		return;
	}
	printf("tls_policy%s: %s:%d: %s %s", what, p->table.path, e->line,
	    e->domain, tls_level_name(e->level));
	for (i = 0; i < e->nmatch; i++)
		printf("%s%s", i ? ":" : " match=", e->match[i]);
	if (e->min_proto)
		printf(" protocols=>=%s", tls_table_proto_name(e->min_proto));
	printf("%s%s\n", e->no_sts ? " sts=off" : "",
	    e->no_dane ? " dane=off" : "");
}

/* Through a relay both entries apply, the stricter wins
 * (tls_entry_stricter()): each is shown, then the result. */
static void
show_table(const struct pcmd *p)
{
	if (!p->tp.relayed) {
		show_entry(p, "", p->tp.dest_entry);
		return;
	}
	printf("next hop: %s (%s)\n", p->tp.domain, p->nexthop);
	show_entry(p, " (recipient domain)", p->tp.dest_entry);
	show_entry(p, " (next hop)", p->tp.hop_entry);
	show_entry(p, " (applied, the stricter)", p->tp.entry);
	if (p->cred)
		printf("credentials: relayhost_auth_file line %d, the next hop "
		    "must be authenticated unless its own entry says less\n",
		    p->cred);
}

static void
show_sts(struct pcmd *p)
{
	const struct sts_policy	*s = &p->tp.sts;
	size_t			 i;
	int			 rc;

	if (!tls_policy_wants_sts(p->tp.entry)) {
		printf("mta-sts: not consulted (tls_policy)\n");
		return;
	}
	rc = tls_policy_sts(&p->tp);
	if (rc == -1) {
		printf("mta-sts: BOGUS: %s\n", p->tp.sts_why);
		return;
	}
	if (rc == 0) {
		printf("mta-sts: none (%s)\n", p->tp.sts_why);
		return;
	}
	printf("mta-sts: id=%s mode=%s max_age=%lld, %s %lld s ago\n", s->id,
	    sts_mode_name(s->mode), s->max_age, s->cached ? "cached" :
	    "fetched", (long long)time(NULL) - s->fetched);
	for (i = 0; i < s->nmx; i++)
		printf("  mx: %s\n", s->mx[i]);
}

static void
show_tlsa(const struct dane_result *d, int port)
{
	char		 text[200];
	const char	*why;
	size_t		 i;

	printf("    dane: %s (%s)\n", dane_state_name(d->state), d->why);
	for (i = 0; i < d->nrr; i++) {
		dane_tlsa_format(&d->rr[i], text, sizeof(text));
		why = dane_tlsa_unusable(&d->rr[i]);
		printf("    TLSA _%d._tcp.%s %s: %s\n", port, d->base, text,
		    why ? why : "usable");
	}
}

static void
show_addrs(const struct mx_host *h)
{
	size_t	 i;

	printf("    addresses (%s):", dns_sec_name(h->addr_sec));
	for (i = 0; i < h->naddrs; i++)
		printf(" %s", h->addrs[i].text);
	printf("\n");
}

static void
show_decision(const struct tls_decision *d)
{
	size_t	 i;

	printf("    level: %s (%s)", tls_level_name(d->level), d->why);
	if (d->level == TLS_LEVEL_DANE)
		printf(", %zu usable TLSA, base %s", d->ntlsa, d->sni);
	if (tls_auth_required(d->level) && d->level != TLS_LEVEL_DANE)
		printf(", certificate must name %s", d->sni);
	for (i = 0; i < d->nmatch; i++)
		printf("%s%s", i ? ", " : " or ", d->match[i]);
	if (d->min_proto)
		printf(", at least %s", tls_table_proto_name(d->min_proto));
	if (d->sts_testing)
		printf(", mta-sts testing: reported, not enforced");
	printf("\n");
}

/* STARTTLS and authentication as the decision demands, no mail. */
static int
probe(struct pcmd *p, const struct mx_host *h, const struct tls_decision *d)
{
	struct smtp_client_opts	 opts;
	struct smtp_client	*c;
	struct outcome		 o;
	size_t			 i;
	int			 ok = 0;

	memset(&opts, 0, sizeof(opts));
	opts.helo = p->conf->hostname;
	opts.port = (int)p->conf->smtp_port;
	opts.connect_timeout = (int)p->conf->connect_timeout;
	opts.reply_timeout = (int)p->conf->client_timeout;
	opts.tls_ctx = p->tls;
	for (i = 0; i < h->naddrs; i++) {
		if ((c = smtp_client_open(h, &h->addrs[i], d, &opts, &o)) ==
		    NULL) {
			printf("    probe %s: %s %s (%s)\n", h->addrs[i].text,
			    outcome_kind_name(o.kind), o.status, o.text);
			continue;
		}
		printf("    probe %s: ok, tls=%s auth=%s\n", h->addrs[i].text,
		    smtp_client_tls(c), smtp_client_auth(c));
		smtp_client_close(c);
		ok = 1;
	}
	return ok;
}

static void
show_host(struct pcmd *p, const struct mx_route *rt, const struct mx_host *h)
{
	struct tls_decision	 d;
	struct outcome		 o;
	int			 port = (int)p->conf->smtp_port;

	printf("  mx %d %s\n", h->pref, h->name);
	show_addrs(h);
	if (tls_policy_host(&p->tp, rt, h, port, &d, &o) == -1) {
		if (p->tp.dane.base[0] != '\0')
			show_tlsa(&p->tp.dane, port);
		printf("    level: not used: %s %s\n", o.status, o.text);
		return;
	}
	if (p->tp.dane.base[0] != '\0' && tls_policy_wants_dane(p->tp.entry))
		show_tlsa(&p->tp.dane, port);
	if (p->cred && tls_policy_cred(&p->tp, h, &d))
		printf("    WARNING: credentials would go to %s without "
		    "authenticating it (tls_policy says %s)\n", h->name,
		    tls_level_name(d.level));
	show_decision(&d);
	if (!p->probe)
		p->allowed++;
	else if (probe(p, h, &d))
		p->allowed++;
}

/* The route a delivery would take: a transport_table entry, else the
 * relayhost, else the domain's MX hosts (deliver.c job_setup()). */
static int
route(struct pcmd *p, const char *domain, struct mx_route *rt,
    struct outcome *why)
{
	struct mx_self	 self;
	struct smtp_auth_cred cred;
	char		 host[256], err[512];
	const char	*bad;
	int		 port = 0;

	memset(&self, 0, sizeof(self));
	memset(&cred, 0, sizeof(cred));
	p->nexthop = NULL;
	if (!relay_domain_local(p->conf, domain) &&
	    (p->nexthop = dtable_lookup(&p->transport, domain)) == NULL &&
	    p->conf->relayhost != NULL && *p->conf->relayhost != '\0')
		p->nexthop = p->conf->relayhost;
	if (p->nexthop == NULL)
		return mx_route_build(p->dns, domain, &self,
		    (uint32_t)time(NULL), rt, why);
	if ((bad = deliver_parse_relayhost(p->nexthop, host, sizeof(host),
	    &port)) != NULL) {
		outcome_set(why, OUTCOME_DEFER, "4.3.5", "%s: %s", bad,
		    p->nexthop);
		return -1;
	}
	if (*p->conf->relayhost_auth_file != '\0' &&
	    smtp_auth_load(p->conf->relayhost_auth_file, p->nexthop, &cred,
	    err, sizeof(err)) == 1)
		p->cred = cred.line ? cred.line : 1;
	smtp_auth_clear(&cred);
	return mx_route_host(p->dns, host, 0, rt, why);
}

static int
explain(struct pcmd *p, const char *domain)
{
	struct mx_route	 rt;
	struct outcome	 why;
	char		 line[1024];
	size_t		 i;

	printf("domain: %s\n", domain);
	printf("dnssec: %s\n", dns_anchor_describe(p->conf, line,
	    sizeof(line)));
	if (route(p, domain, &rt, &why) == -1) {
		tls_policy_ctx_init(&p->tp, p->conf, p->dns, p->q, &p->table,
		    domain, NULL);
		show_table(p);
		printf("route: %s %s (%s)\n", outcome_kind_name(why.kind),
		    why.status, why.text);
		tls_policy_ctx_free(&p->tp);
		return 0;
	}
	tls_policy_ctx_init(&p->tp, p->conf, p->dns, p->q, &p->table,
	    domain, p->nexthop ? rt.domain : NULL);
	p->tp.sts_opts.no_store = 1;
	show_table(p);
	printf("mx: %s%s\n", dns_sec_name(rt.mx_sec), rt.implicit ?
	    ", implicit (no MX RRset)" : "");
	show_sts(p);
	for (i = 0; i < rt.nhosts; i++)
		show_host(p, &rt, &rt.hosts[i]);
	tls_policy_ctx_free(&p->tp);
	mx_route_free(&rt);
	return p->allowed > 0;
}

static int
pcmd_setup(struct pcmd *p, const struct config *conf)
{
	char	 err[512];

	memset(p, 0, sizeof(*p));
	p->conf = conf;
	if (tls_table_load(&p->table, conf->tls_policy_file, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return -1;
	}
	if (dtable_load(&p->transport, conf->transport_table, NULL, NULL, err,
	    sizeof(err)) == -1) {
		fprintf(stderr, "postern: transport_table: %s\n", err);
		return -1;
	}
	if ((p->dns = dns_new(conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "postern: resolver: %s\n", err);
		return -1;
	}
	/* The cache is read, never written: the daemon owns it. */
	if (queue_open(&p->q, conf->spool_dir, QUEUE_RDONLY, err,
	    sizeof(err)) == -1)
		p->q = NULL;
	tls_init();
	p->tls = tls_client_ctx(*conf->smtp_tls_ca_file ?
	    conf->smtp_tls_ca_file : NULL, err, sizeof(err));
	if (p->tls == NULL)
		fprintf(stderr, "postern: TLS client context: %s\n", err);
	return 0;
}

int
policy_cmd_main(const struct config *conf, int argc, char *argv[])
{
	struct pcmd	 p;
	char		 domain[256];
	int		 ok, want_probe = 0;

	if (argc == 3 && strcmp(argv[2], "--probe") == 0)
		want_probe = 1;
	else if (argc != 2) {
		fprintf(stderr, "usage: postern policy domain [--probe]\n");
		return EX_USAGE;
	}
	if (strlcpy(domain, argv[1], sizeof(domain)) >= sizeof(domain) ||
	    *domain == '\0') {
		fprintf(stderr, "postern: bad domain\n");
		return EX_USAGE;
	}
	domain_normalize(domain);
	if (pcmd_setup(&p, conf) == -1)
		return EX_CONFIG;
	p.probe = want_probe;
	ok = explain(&p, domain);
	printf("delivery: %s\n", ok ? "allowed" : "not allowed");
	if (p.tls != NULL)
		SSL_CTX_free(p.tls);
	if (p.q != NULL)
		queue_close(p.q);
	dns_free(p.dns);
	tls_table_free(&p.table);
	dtable_free(&p.transport);
	return ok ? 0 : 1;
}
