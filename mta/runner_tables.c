/*
 * The runner's tables (runner_tables.h) and the status file that says
 * why one does not load.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "compat.h"
#include "config.h"
#include "deliver.h"
#include "dtable.h"
#include "log.h"
#include "runner.h"
#include "runner_state.h"
#include "runner_tables.h"
#include "throttle.h"
#include "tls_table.h"

#define RUNNER_TABLE_RETRY	60	/* seconds between loads of a broken
					 * table */

/*
 * The tables (tls_policy_file, transport_table, destination_limits): read
 * at start, on SIGHUP, and every RUNNER_TABLE_RETRY seconds while one is
 * broken.  A bad file keeps the table in force (a typo must not downgrade
 * a destination); when there is none to keep (a runner started on a
 * broken file) no delivery starts until it loads: the mail waits, the
 * runner does not restart, and spool_dir/RUNNER_STATUS says why for
 * postern status.
 */
static void
runner_status(struct runner *r, const char *why)
{
	char	 path[PATH_MAX], tmp[PATH_MAX];
	FILE	*f;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", r->conf->spool_dir,
	    RUNNER_STATUS) >= sizeof(path) || (size_t)snprintf(tmp,
	    sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return;
	if (why == NULL) {
		(void)unlink(path);
		return;
	}
	if ((f = fopen(tmp, "w")) == NULL) {
		log_warn("runner: %s", tmp);
		return;
	}
	(void)fprintf(f, "%s\n", why);
	if (fclose(f) != 0 || rename(tmp, path) == -1)
		log_warn("runner: %s", path);
}

static int
runner_tls_table(struct runner *r, char *err, size_t errlen)
{
	struct tls_table	 nt;
	char			 e[512];

	memset(&nt, 0, sizeof(nt));
	if (tls_table_load(&nt, r->conf->tls_policy_file, e, sizeof(e)) ==
	    -1) {
		(void)snprintf(err, errlen, "%s", e);
		return -1;
	}
	tls_table_free(&r->tls_table);
	r->tls_table = nt;
	return 0;
}

static int
runner_dtable(struct dtable *t, const char *path, dtable_check check,
    const char *what, char *err, size_t errlen)
{
	struct dtable	 nt;
	char		 e[400];

	if (dtable_load(&nt, path, check, NULL, e, sizeof(e)) == -1) {
		(void)snprintf(err, errlen, "%s: %s", what, e);
		return -1;
	}
	dtable_free(t);
	*t = nt;
	return 0;
}

/* Loads every table; on a failure the others still load, and the first
 * reason is kept.  What failed keeps its previous contents. */
static int
runner_load_tables(struct runner *r, char *err, size_t errlen)
{
	char	 e[512];
	int	 bad = 0;

	err[0] = '\0';
	if (runner_tls_table(r, e, sizeof(e)) == -1 && !bad++)
		(void)snprintf(err, errlen, "%s", e);
	if (runner_dtable(&r->transport, r->conf->transport_table,
	    check_transport, "transport_table", e, sizeof(e)) == -1 && !bad++)
		(void)snprintf(err, errlen, "%s", e);
	if (runner_dtable(&r->limits, r->conf->destination_limits,
	    check_limits, "destination_limits", e, sizeof(e)) == -1 && !bad++)
		(void)snprintf(err, errlen, "%s", e);
	return bad ? -1 : 0;
}

void
runner_tables(struct runner *r, int start)
{
	char	 err[512], line[700];
	int	 was_bad = r->tables_bad, had = r->tables_ok;

	r->tables_retry = (int64_t)time(NULL) + RUNNER_TABLE_RETRY;
	if (runner_load_tables(r, err, sizeof(err)) == 0) {
		(void)deliver_cred_warn(r->conf, &r->tls_table, &r->transport);
		r->tables_ok = 1;
		r->tables_bad = 0;
		runner_status(r, NULL);
		if (was_bad && !had)
			log_info("runner: tables loaded, deliveries start");
		else if (!start)
			log_info("runner: tables reloaded: tls_policy_file "
			    "%zu entries, transport_table %zu, "
			    "destination_limits %zu", r->tls_table.n,
			    r->transport.n, r->limits.n);
		return;
	}
	r->tables_bad = 1;
	(void)snprintf(line, sizeof(line), "%s; %s", err, had ?
	    "keeping the previous tables" :
	    "no delivery starts until it loads");
	/* Once per change, not at every retry. */
	if (strcmp(err, r->tables_why) != 0) {
		log_warnx("runner: %s", line);
		runner_status(r, line);
		(void)strlcpy(r->tables_why, err, sizeof(r->tables_why));
	}
}
