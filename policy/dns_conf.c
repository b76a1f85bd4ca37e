/*
 * resolver_config files and resolver_option lines applied to a libunbound
 * context, with every error named by its postern.conf line, and the
 * settings libunbound ends up with judged by dns_option.h: whatever file
 * set it, a context that would not validate is refused.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <unbound.h>

#include "config.h"
#include "dns_conf.h"
#include "dns_option.h"

/* "file:line: key" of the i-th entry of a repeatable key. */
static void
dns_where(const struct config *conf, const struct strlist *l, size_t i,
    const char *key, char *out, size_t outlen)
{
	const char	*path = conf->path ? conf->path : "postern.conf";

	if (l->line != NULL && l->line[i] > 0)
		(void)snprintf(out, outlen, "%s:%d: %s", path, l->line[i], key);
	else
		(void)snprintf(out, outlen, "%s: %s", path, key);
}

/*
 * Options [from, from + n) as one unbound.conf fragment, read with
 * ub_ctx_config().  ub_ctx_set_option() is no substitute: it returns
 * success for local-zone: and never applies it (libunbound 1.17), and it
 * knows no clauses.  Each option opens its own server: so that none can
 * run on into the clause of the one before.  The file is private
 * (mkstemp: 0600, unpredictable name, O_EXCL) and gone before this
 * returns: libunbound parses it at once.
 */
static int
dns_options_load(struct ub_ctx *ub, const struct strlist *opts, size_t from,
    size_t n, char *err, size_t errlen)
{
	char	 path[] = "/tmp/postern-ub.XXXXXX";
	FILE	*fp;
	size_t	 i;
	int	 fd, rc = UB_READFILE, bad = 0;

	if ((fd = mkstemp(path)) == -1) {
		(void)snprintf(err, errlen, "resolver_option: mkstemp: %s",
		    strerror(errno));
		return -1;
	}
	if ((fp = fdopen(fd, "w")) == NULL) {
		(void)snprintf(err, errlen, "resolver_option: fdopen: %s",
		    strerror(errno));
		(void)close(fd);
		goto done;
	}
	for (i = from; i < from + n; i++)
		if (fprintf(fp, "server:\n\t%s\n", opts->v[i]) < 0)
			bad = 1;
	if (fclose(fp) != 0 || bad) {
		(void)snprintf(err, errlen, "resolver_option: %s: %s", path,
		    strerror(errno));
		goto done;
	}
	if ((rc = ub_ctx_config(ub, path)) != 0)
		(void)snprintf(err, errlen, "%s", ub_strerror(rc));
done:
	(void)unlink(path);
	return rc == 0 ? 0 : -1;
}

/* Which option the parser refused: each alone in a scratch context
 * (only on the error path; the parser's own message names a temporary
 * file the administrator never saw). */
static void
dns_options_blame(const struct config *conf, char *err, size_t errlen)
{
	const struct strlist	*opts = &conf->resolver_options;
	struct ub_ctx		*ub;
	char			 where[PATH_MAX + 64], why[256];
	size_t			 i;
	int			 rc;

	for (i = 0; i < opts->n; i++) {
		if ((ub = ub_ctx_create()) == NULL)
			return;
		rc = dns_options_load(ub, opts, i, 1, why, sizeof(why));
		ub_ctx_delete(ub);
		if (rc == -1) {
			dns_where(conf, opts, i, "resolver_option", where,
			    sizeof(where));
			(void)snprintf(err, errlen, "%s \"%s\": %s", where,
			    opts->v[i], why);
			return;
		}
	}
}

static int
dns_options(struct ub_ctx *ub, const struct config *conf, char *err,
    size_t errlen)
{
	const struct strlist	*opts = &conf->resolver_options;
	const char		*why;
	char			 where[PATH_MAX + 64], msg[256];
	size_t			 i;

	for (i = 0; i < opts->n; i++) {
		if ((why = dns_option_check(opts->v[i])) == NULL)
			continue;
		dns_where(conf, opts, i, "resolver_option", where,
		    sizeof(where));
		(void)snprintf(err, errlen, "%s \"%s\": %s", where, opts->v[i],
		    why);
		return -1;
	}
	if (opts->n == 0)
		return 0;
	if (dns_options_load(ub, opts, 0, opts->n, msg, sizeof(msg)) == 0)
		return 0;
	(void)snprintf(err, errlen, "%s: resolver_option lines: %s",
	    conf->path ? conf->path : "postern.conf", msg);
	dns_options_blame(conf, err, errlen);
	return -1;
}

/* The administrator's own unbound.conf fragments, before the one-line
 * options so that a resolver_option overrides a fragment's setting. */
static int
dns_configs(struct ub_ctx *ub, const struct config *conf, char *err,
    size_t errlen)
{
	const struct strlist	*l = &conf->resolver_configs;
	char			 where[PATH_MAX + 64];
	size_t			 i;
	int			 rc;

	for (i = 0; i < l->n; i++) {
		dns_where(conf, l, i, "resolver_config", where, sizeof(where));
		if (access(l->v[i], R_OK) == -1) {
			(void)snprintf(err, errlen, "%s %s: %s", where,
			    l->v[i], strerror(errno));
			return -1;
		}
		if ((rc = ub_ctx_config(ub, l->v[i])) != 0) {
			(void)snprintf(err, errlen, "%s %s: %s", where,
			    l->v[i], ub_strerror(rc));
			return -1;
		}
	}
	return 0;
}

/* The settings dns_setting_refused() judges, as libunbound holds them
 * after every fragment and include: was read. */
static const char *const dns_guarded[] = {
	"val-permissive-mode", "module-config", "domain-insecure",
	"harden-dnssec-stripped", "val-override-date"
};

/* NULL when the context still validates; else "name: value: why".  A
 * list setting (domain-insecure) comes back one entry a line. */
static const char *
dns_validating(struct ub_ctx *ub, char *buf, size_t buflen)
{
	const char	*why;
	char		*v, *one, *next;
	size_t		 i;

	for (i = 0; i < sizeof(dns_guarded) / sizeof(dns_guarded[0]); i++) {
		if (ub_ctx_get_option(ub, dns_guarded[i], &v) != 0 || v == NULL)
			return "resolver settings cannot be read back";
		why = NULL;
		for (one = v; why == NULL && one != NULL; one = next) {
			if ((next = strchr(one, '\n')) != NULL)
				*next++ = '\0';
			why = dns_setting_refused(dns_guarded[i], one);
			if (why != NULL)
				(void)snprintf(buf, buflen, "%s: %s: %s",
				    dns_guarded[i], one, why);
		}
		free(v);
		if (why != NULL)
			return buf;
	}
	return NULL;
}

/*
 * The backstop behind dns_option_check(): a resolver_config fragment (or
 * a file it includes) can set what no resolver_option may.  Which one it
 * was: each fragment alone in a scratch context, on the error path only.
 */
static int
dns_guard(struct ub_ctx *ub, const struct config *conf, char *err,
    size_t errlen)
{
	const struct strlist	*l = &conf->resolver_configs;
	struct ub_ctx		*one;
	char			 where[PATH_MAX + 64], buf[512];
	const char		*why;
	size_t			 i;

	if ((why = dns_validating(ub, buf, sizeof(buf))) == NULL)
		return 0;
	(void)snprintf(err, errlen, "%s: resolver settings: %s",
	    conf->path ? conf->path : "postern.conf", why);
	for (i = 0; i < l->n; i++) {
		if ((one = ub_ctx_create()) == NULL)
			break;
		why = ub_ctx_config(one, l->v[i]) == 0 ?
		    dns_validating(one, buf, sizeof(buf)) : NULL;
		ub_ctx_delete(one);
		if (why != NULL) {
			dns_where(conf, l, i, "resolver_config", where,
			    sizeof(where));
			(void)snprintf(err, errlen, "%s %s: %s", where,
			    l->v[i], why);
			break;
		}
	}
	return -1;
}

int
dns_conf_apply(struct ub_ctx *ub, const struct config *conf, char *err,
    size_t errlen)
{
	if (dns_configs(ub, conf, err, errlen) == -1 ||
	    dns_options(ub, conf, err, errlen) == -1)
		return -1;
	return dns_guard(ub, conf, err, errlen);
}
