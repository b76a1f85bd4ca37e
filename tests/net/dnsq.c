/*
 * dnsq: postern's own resolver and MX routing from the command line, for
 * checking a DNS setup (the signed test DNS, or a production resolver)
 * with the code that delivers mail.
 *
 *	dnsq [-C postern.conf] [-R system|forward|recursive] [-f addr@port]
 *	    [-H root.hints] [-T anchor] [-o "name: value"]... [-s selfname]...
 *	    [-a selfaddr]... [-S seed] [-n] [-t type] name
 *
 * Default: the route to a mail domain (mx_route_build).  -n: a fixed next
 * hop (mx_route_host; "[host]" skips the MX lookup).  -t: one query of
 * that type.  Exit 0 on a route/answer, 1 when the route fails, 2 on a
 * usage or setup error.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "dns.h"
#include "log.h"
#include "mx.h"
#include "outcome.h"
#include "util.h"

#define MAX_SELF	16

static struct config	 conf;	/* static: reachable until exit */
static const char	*self_names[MAX_SELF];
static struct mx_addr	 self_addrs[MAX_SELF];

static const struct {
	const char	*name;
	int		 type;
} rrtypes[] = {
	{ "A", 1 }, { "NS", 2 }, { "CNAME", 5 }, { "SOA", 6 }, { "PTR", 12 },
	{ "MX", 15 }, { "TXT", 16 }, { "AAAA", 28 }, { "DS", 43 },
	{ "DNSKEY", 48 }, { "TLSA", 52 },
};

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: dnsq [-C conf] [-R system|forward|recursive] "
	    "[-f addr@port] [-H hints] [-T anchor] [-o option] [-s name] "
	    "[-a addr] [-S seed] [-n] [-t type] name\n");
	exit(2);
}

static int
rrtype(const char *s)
{
	unsigned long long	 v;
	size_t			 i;

	for (i = 0; i < sizeof(rrtypes) / sizeof(rrtypes[0]); i++)
		if (strcasecmp(s, rrtypes[i].name) == 0)
			return rrtypes[i].type;
	if (parse_ull(s, 65535, &v) == -1)
		usage();
	return (int)v;
}

static void
self_addr(struct mx_self *self, const char *s)
{
	struct mx_addr	*a = &self_addrs[self->naddrs];

	if (self->naddrs >= MAX_SELF)
		usage();
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET6, s, a->addr) == 1)
		a->family = AF_INET6;
	else if (inet_pton(AF_INET, s, a->addr) == 1)
		a->family = AF_INET;
	else
		usage();
	self->naddrs++;
}

static int
query(struct dns_ctx *ctx, const char *name, int type)
{
	struct dns_reply	 r;
	size_t			 i, j;

	if (dns_query(ctx, name, type, &r) == -1) {
		printf("error %s\n", r.why);
		return 2;
	}
	printf("answer name=%s rc=%s sec=%s ttl=%u canon=%s n=%zu why=%s\n",
	    name, dns_rc_name(r.rc), dns_sec_name(r.sec), r.ttl, r.canon,
	    r.nrr, r.why);
	for (i = 0; i < r.nrr; i++) {
		printf("rr ");
		for (j = 0; j < r.rr[i].len; j++)
			printf("%02x", r.rr[i].data[j]);
		printf("\n");
	}
	dns_reply_free(&r);
	return 0;
}

static void
print_route(const struct mx_route *rt)
{
	size_t	 i, j;

	printf("route domain=%s mx_sec=%s implicit=%d nullmx=%d hosts=%zu\n",
	    rt->domain, dns_sec_name(rt->mx_sec), rt->implicit, rt->nullmx,
	    rt->nhosts);
	for (i = 0; i < rt->nhosts; i++) {
		const struct mx_host *h = &rt->hosts[i];

		printf("host name=%s pref=%d addr_sec=%s addr_rc=%s addrs=",
		    h->name, h->pref, dns_sec_name(h->addr_sec),
		    dns_rc_name(h->addr_rc));
		for (j = 0; j < h->naddrs; j++)
			printf("%s%s", j ? "," : "", h->addrs[j].text);
		printf("\n");
	}
}

static void
set_str(char **p, const char *v)
{
	free(*p);
	*p = xstrdup(v);
}

static void
options(int argc, char **argv, struct mx_self *self, uint32_t *seed,
    int *type, int *fixed)
{
	unsigned long long	 v;
	char			 err[512];
	int			 ch;

	while ((ch = getopt(argc, argv, "C:R:f:H:T:o:s:a:S:nt:")) != -1) {
		switch (ch) {
		case 'C':
			if (config_load(&conf, optarg, err, sizeof(err)) == -1)
				fatalx("%s", err);
			break;
		case 'R':
			if (strcmp(optarg, "system") == 0)
				conf.resolver = RESOLVER_SYSTEM;
			else if (strcmp(optarg, "forward") == 0)
				conf.resolver = RESOLVER_FORWARD;
			else if (strcmp(optarg, "recursive") == 0)
				conf.resolver = RESOLVER_RECURSIVE;
			else
				usage();
			break;
		case 'f':
			set_str(&conf.resolver_forward, optarg);
			break;
		case 'H':
			set_str(&conf.resolver_root_hints, optarg);
			break;
		case 'T':
			set_str(&conf.resolver_trust_anchor, optarg);
			break;
		case 'o':
			conf.resolver_options.v = xreallocarray(
			    conf.resolver_options.v, conf.resolver_options.n + 1,
			    sizeof(char *));
			conf.resolver_options.v[conf.resolver_options.n++] =
			    xstrdup(optarg);
			break;
		case 's':
			if (self->nnames >= MAX_SELF)
				usage();
			self_names[self->nnames++] = optarg;
			break;
		case 'a':
			self_addr(self, optarg);
			break;
		case 'S':
			if (parse_ull(optarg, UINT32_MAX, &v) == -1)
				usage();
			*seed = (uint32_t)v;
			break;
		case 'n':
			*fixed = 1;
			break;
		case 't':
			*type = rrtype(optarg);
			break;
		default:
			usage();
		}
	}
}

int
main(int argc, char **argv)
{
	struct dns_ctx	*ctx;
	struct mx_self	 self = { self_names, 0, self_addrs, 0 };
	struct mx_route	 rt;
	struct outcome	 why;
	char		 err[512];
	uint32_t	 seed = 0;
	int		 type = 0, fixed = 0, rc;

	log_init("dnsq", 1, NULL);
	config_defaults(&conf);
	options(argc, argv, &self, &seed, &type, &fixed);
	if (optind + 1 != argc)
		usage();
	if ((ctx = dns_new(&conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "dnsq: %s\n", err);
		return 2;
	}
	memset(&why, 0, sizeof(why));
	if (type != 0)
		rc = query(ctx, argv[optind], type);
	else if ((fixed ? mx_route_host(ctx, argv[optind], 0, &rt, &why) :
	    mx_route_build(ctx, argv[optind], &self, seed, &rt, &why)) == -1) {
		printf("fail domain=%s kind=%s status=%s text=%s\n",
		    argv[optind], outcome_kind_name(why.kind), why.status,
		    why.text);
		rc = 1;
	} else {
		print_route(&rt);
		mx_route_free(&rt);
		rc = 0;
	}
	dns_free(ctx);
	config_free(&conf);
	return rc;
}
