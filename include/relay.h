/*
 * relay: who may send mail where.  Mail for local and relay domains is
 * accepted from anyone; any other destination only from trusted networks
 * (or authenticated/local submission).  Everything else is 554 5.7.1.
 * Pure functions over the configuration; unit-tested.
 */
#ifndef POSTERN_RELAY_H
#define POSTERN_RELAY_H

#include <sys/socket.h>

struct config;

struct netmask {
	int		 family;
	unsigned char	 addr[16];
	int		 prefix;
};

/* "127.0.0.0/8", "::1", "192.0.2.7" -> mask; NULL or a reason. */
const char *netmask_parse(const char *, struct netmask *);
int	netmask_match(const struct netmask *, const struct sockaddr *);
int	relay_client_trusted(const struct config *, const struct sockaddr *);
/* 1 if domain is one of local_domains (including the hostname). */
int	relay_domain_local(const struct config *, const char *domain);
/* 1 if mail for domain is accepted from anyone. */
int	relay_domain_accepted(const struct config *, const char *domain);

#endif
