/*
 * deliver_route: the next hop of a job and its hosts.  A relayhost or a
 * transport_table entry is one host ("[host]" skips the MX lookup);
 * anything else is the destination's MX list (mx.h), without the hosts
 * that are this machine (RFC 5321 §5.1) and what is preferred after them.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ifaddrs.h>
#include <stdint.h>
#include <string.h>

#include "compat.h"
#include "config.h"
#include "deliver.h"
#include "deliver_job.h"
#include "deliver_route.h"
#include "log.h"
#include "mx.h"
#include "outcome.h"
#include "util.h"

#define SELF_ADDRS_MAX		64	/* local addresses that are "myself" */
#define SELF_NAMES_MAX		16

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
	/* inet_pton() took it: at most 45 characters, text holds 47. */
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
int
deliver_route_build(struct djob *dj, struct mx_route *rt, struct outcome *why)
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
		rc = mx_route_build(dj->dns, dj->job->dest, &self, djob_rnd32(),
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
