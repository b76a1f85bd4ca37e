/*
 * deliver_route: the route of a worker's job -- the relayhost or
 * transport_table next hop as one host, or the destination's MX hosts
 * without this machine and those after it (RFC 5321 §5.1, mx.h).
 * deliver_parse_relayhost() is in deliver.h.
 */
#ifndef POSTERN_DELIVER_ROUTE_H
#define POSTERN_DELIVER_ROUTE_H

#include "mx.h"
#include "outcome.h"

struct djob;

/* 0 with a route that has hosts (a next hop's port goes to dj->port),
 * or -1 with why filled: DEFER or BOUNCE as the resolver said. */
int	deliver_route_build(struct djob *, struct mx_route *,
	    struct outcome *why);

#endif
