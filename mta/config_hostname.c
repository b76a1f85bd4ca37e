/*
 * The default hostname (config.h: config_pick_hostname()): what the
 * system says its mail name is, from /etc/mailname, gethostname() and
 * the canonical name in the resolver's files; a name that looks fully
 * qualified is preferred.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "util.h"

static int
fqdn_like(const char *s)
{
	size_t	 n;

	if (s == NULL || (n = strlen(s)) == 0 || n > 253 || s[0] == '.' ||
	    s[n - 1] == '.' || strchr(s, '.') == NULL)
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") == n;
}

const char *
config_pick_hostname(const char *mailname, const char *host,
    const char *canon)
{
	if (fqdn_like(mailname))
		return mailname;
	if (fqdn_like(host) || host == NULL || *host == '\0')
		return host;
	if (fqdn_like(canon))
		return canon;
	return host;
}

/* The first line of /etc/mailname, where Debian keeps the mail name. */
static void
read_mailname(char *buf, size_t len)
{
	FILE	*f;

	buf[0] = '\0';
	if ((f = fopen("/etc/mailname", "r")) == NULL)
		return;
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	buf[strcspn(buf, " \t\r\n")] = '\0';
	(void)fclose(f);
}

/* The canonical name of host from the resolver's files (the hosts
 * file first, as nsswitch says); no DNS is asked for a dotted name. */
static void
canon_name(const char *host, char *buf, size_t len)
{
	struct addrinfo	 hints, *res;

	buf[0] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return;
	/* A cut name would be someone else's: no canonical name then. */
	if (res->ai_canonname != NULL &&
	    strlcpy(buf, res->ai_canonname, len) >= len)
		buf[0] = '\0';
	freeaddrinfo(res);
}

void
config_default_hostname(struct config *c)
{
	char		 host[256], mailname[256], canon[256];
	const char	*pick;

	read_mailname(mailname, sizeof(mailname));
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	canon[0] = '\0';
	if (!fqdn_like(mailname) && !fqdn_like(host) && *host != '\0')
		canon_name(host, canon, sizeof(canon));
	pick = config_pick_hostname(mailname, host, canon);
	free(c->hostname);
	c->hostname = xstrdup(pick && *pick ? pick : "localhost");
}
