/*
 * deliver_auth: the next hop's credentials (relayhost_auth_file,
 * smtp_auth.h) for a worker, and the start-up warning about credentials
 * that would go to a next hop which is not authenticated.
 */
#include <string.h>

#include "config.h"
#include "deliver.h"
#include "deliver_auth.h"
#include "deliver_job.h"
#include "dtable.h"
#include "log.h"
#include "outcome.h"
#include "smtp_auth.h"
#include "tls_policy.h"
#include "tls_table.h"

/*
 * The next hop's credentials from relayhost_auth_file, read here, by the
 * worker, as the unprivileged user.  A file that cannot be used defers
 * the batch (4.3.5): sending without AUTH would let the smarthost refuse,
 * and bounce, mail that only waits for the file to be fixed.
 */
int
deliver_auth_setup(struct djob *dj, struct outcome *why)
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
	/* A ".parent" entry does not weaken it (tls_policy_cred()). */
	if ((e = tls_table_lookup(t, host)) == NULL || e->domain[0] == '.' ||
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
