/*
 * The checks of postern -n, run again at start (check.h).  Each loads
 * what the process that uses it will load, with the same parser, and
 * throws it away.
 */
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "check.h"
#include "compat.h"
#include "config.h"
#include "deliver.h"
#include "dtable.h"
#include "maildrop.h"
#include "privsep.h"
#include "relay.h"
#include "smtp_auth.h"
#include "throttle.h"
#include "tls.h"
#include "tls_table.h"

const char *
check_trusted_networks(const struct config *conf, const char **bad)
{
	struct netmask	 m;
	const char	*why;
	size_t		 i;

	*bad = NULL;
	for (i = 0; i < conf->trusted_networks.n; i++)
		if ((why = netmask_parse(conf->trusted_networks.v[i], &m)) !=
		    NULL) {
			*bad = conf->trusted_networks.v[i];
			return why;
		}
	return NULL;
}

const char *
check_transport(const char *v, void *arg)
{
	char	 host[256];
	int	 port = 0;

	(void)arg;
	return deliver_parse_relayhost(v, host, sizeof(host), &port);
}

const char *
check_limits(const char *v, void *arg)
{
	struct throttle_limits	 lim;

	(void)arg;
	memset(&lim, 0, sizeof(lim));
	return throttle_parse_limits(v, &lim);
}

/* warn: also the warning for credentials sent to a next hop its table
 * entry does not authenticate (deliver_cred_warn()). */
static int
check_tables(const struct config *conf, char *err, size_t errlen, int warn)
{
	struct tls_table	 tt;
	struct dtable		 t;
	char			 e[512];

	memset(&tt, 0, sizeof(tt));
	if (tls_table_load(&tt, conf->tls_policy_file, e, sizeof(e)) == -1) {
		(void)snprintf(err, errlen, "tls_policy_file: %s", e);
		return -1;
	}
	if (dtable_load(&t, conf->transport_table, check_transport, NULL, e,
	    sizeof(e)) == -1) {
		(void)snprintf(err, errlen, "transport_table: %s", e);
		tls_table_free(&tt);
		return -1;
	}
	if (warn)
		(void)deliver_cred_warn(conf, &tt, &t);
	tls_table_free(&tt);
	dtable_free(&t);
	if (dtable_load(&t, conf->destination_limits, check_limits, NULL, e,
	    sizeof(e)) == -1) {
		(void)snprintf(err, errlen, "destination_limits: %s", e);
		return -1;
	}
	dtable_free(&t);
	return 0;
}

static int
check_relayhost(const struct config *conf, char *err, size_t errlen)
{
	struct smtp_auth_cred	 cred;
	const char		*why;
	char			 host[256], nexthop[300], e[512];
	int			 port = 0;

	if (*conf->relayhost == '\0')
		return 0;
	if ((why = deliver_parse_relayhost(conf->relayhost, host,
	    sizeof(host), &port)) != NULL) {
		(void)snprintf(err, errlen, "relayhost %s: %s",
		    conf->relayhost, why);
		return -1;
	}
	if (*conf->relayhost_auth_file == '\0')
		return 0;
	/* A cut name would look up another next hop's password. */
	if (strlcpy(nexthop, conf->relayhost, sizeof(nexthop)) >=
	    sizeof(nexthop)) {
		(void)snprintf(err, errlen, "relayhost %.64s...: longer than "
		    "%zu characters", conf->relayhost, sizeof(nexthop) - 1);
		return -1;
	}
	if (smtp_auth_load(conf->relayhost_auth_file, nexthop, &cred, e,
	    sizeof(e)) == -1) {
		(void)snprintf(err, errlen, "relayhost_auth_file: %s", e);
		return -1;
	}
	smtp_auth_clear(&cred);
	return 0;
}

/* Only a configured pair: an empty one is made at first start. */
static int
check_cert(const struct config *conf, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	char	 e[512];

	if (*conf->tls_cert == '\0')
		return 0;
	if ((ctx = tls_server_ctx(conf, e, sizeof(e))) == NULL) {
		(void)snprintf(err, errlen, "tls_cert %s, tls_key %s: %s",
		    conf->tls_cert, conf->tls_key, e);
		return -1;
	}
	SSL_CTX_free(ctx);
	return 0;
}

static int
check_maildrop(const struct config *conf, char *err, size_t errlen)
{
	char	 dir[PATH_MAX];

	if (maildrop_path(conf, dir, sizeof(dir)) == -1) {
		(void)snprintf(err, errlen, "maildrop_dir: path too long");
		return -1;
	}
	return privsep_maildrop_check(dir, conf->user, err, errlen);
}

/* What a reload checks too; warn: also the weak credential routes. */
static int
check_inputs(const struct config *conf, char *err, size_t errlen, int warn)
{
	const char	*why, *bad;

	if ((why = check_trusted_networks(conf, &bad)) != NULL) {
		(void)snprintf(err, errlen, "trusted_networks: \"%s\": %s",
		    bad, why);
		return -1;
	}
	if (check_relayhost(conf, err, errlen) == -1 ||
	    check_tables(conf, err, errlen, warn) == -1)
		return -1;
	return 0;
}

int
check_config_reload(const struct config *conf, char *err, size_t errlen)
{
	return check_inputs(conf, err, errlen, 0);
}

int
check_config(const struct config *conf, char *err, size_t errlen,
    void (*warn)(const char *))
{
	char		 w[256];

	if (privsep_spool_check(conf->spool_dir, conf->user, err, errlen) ==
	    -1 || check_maildrop(conf, err, errlen) == -1 ||
	    check_inputs(conf, err, errlen, warn != NULL) == -1 ||
	    check_cert(conf, err, errlen) == -1)
		return -1;
	if (warn != NULL && getgrnam(conf->maildrop_group) == NULL) {
		(void)snprintf(w, sizeof(w), "maildrop_group %s does not "
		    "exist: only root%s%s can submit with sendmail",
		    conf->maildrop_group, *conf->user ? " and " : "",
		    conf->user);
		warn(w);
	}
	return 0;
}
