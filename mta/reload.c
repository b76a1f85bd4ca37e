/*
 * SIGHUP in the master and the runner (reload.h).  Development mode has no
 * file to read; the tables are still re-read by the runner.
 */
#include <string.h>

#include <openssl/ssl.h>

#include "check.h"
#include "config.h"
#include "config_reload.h"
#include "dns.h"
#include "log.h"
#include "reload.h"
#include "tls.h"

/* Loads and checks the file into fresh as postern -n would, but for the
 * spool and the certificate: 0, or -1 with err.  The master and the
 * runner judge the same file the same way. */
static int
reload_read(const struct config *run, struct config *fresh, char *err,
    size_t errlen)
{
	config_defaults(fresh);
	if (config_load(fresh, run->path, err, errlen) == -1 ||
	    dns_check(fresh, err, errlen) == -1 ||
	    check_config_reload(fresh, err, errlen) == -1)
		return -1;
	return 0;
}

static int
from_file(const struct config *run)
{
	return run->path != NULL && run->path[0] == '/';
}

/* Without tls_cert the self-made certificate stays: nothing to renew. */
static void
reload_tls(const struct config *run, SSL_CTX **tls)
{
	SSL_CTX	*ctx;
	char	 err[512];

	if (*run->tls_cert == '\0')
		return;
	if ((ctx = tls_server_ctx(run, err, sizeof(err))) == NULL) {
		log_warnx("SIGHUP: %s; the running certificate stays (the "
		    "daemon's user must be able to read the files, or "
		    "restart)", err);
		return;
	}
	SSL_CTX_free(*tls);
	*tls = ctx;
}

int
reload_master(struct config *run, SSL_CTX **tls)
{
	struct config	 fresh;
	char		 err[1024], changed[512], restart[256];
	size_t		 n;

	if (!from_file(run)) {
		log_info("SIGHUP: %s configuration: no file to re-read",
		    run->path);
		return 0;
	}
	if (reload_read(run, &fresh, err, sizeof(err)) == -1) {
		log_warnx("SIGHUP: %s; the running configuration stays", err);
		config_free(&fresh);
		return -1;
	}
	n = config_reload_merge(run, &fresh, changed, sizeof(changed),
	    restart, sizeof(restart));
	config_reload_swap(run, &fresh);
	reload_tls(run, tls);
	if (n == 0)
		log_info("SIGHUP: %s re-read, no change", run->path);
	if (*changed != '\0')
		log_info("SIGHUP: %s re-read: %s applied", run->path, changed);
	if (*restart != '\0')
		log_warnx("SIGHUP: %s: %s changed, which takes a restart; the "
		    "running value stays until then", run->path, restart);
	return n > 0;
}

int
reload_runner(struct config *run)
{
	struct config	 fresh;
	char		 err[1024], changed[512], restart[256];

	if (!from_file(run))
		return 0;
	if (reload_read(run, &fresh, err, sizeof(err)) == -1) {
		log_warnx("runner: SIGHUP: %s; the running configuration "
		    "stays", err);
		config_free(&fresh);
		return -1;
	}
	(void)config_reload_merge(run, &fresh, changed, sizeof(changed),
	    restart, sizeof(restart));
	config_reload_swap(run, &fresh);
	return *changed != '\0';
}
