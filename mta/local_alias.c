/*
 * local_alias: the lookups of aliases_expand as the local server does
 * them: the aliases map, :include: files (local_include.h), ~/.forward
 * and the local domains.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <strings.h>
#include <unistd.h>

#include "aliases.h"
#include "config.h"
#include "local.h"
#include "local_include.h"
#include "local_io.h"
#include "log.h"

#define LOCAL_MAX_FORWARD	65536

static int
ops_lookup(void *arg, const char *name, char **rhs)
{
	const struct config *conf = arg;

	return aliases_db_lookup(conf->aliases, name, rhs);
}

/* Read as the .forward's user, or as root only when trusted
 * (local_include.h). */
static int
ops_include(void *arg, const char *path, const char *user, char **text)
{
	const struct config *conf = arg;

	return local_include_read(path, user, conf->aliases, text);
}

static int
ops_forward(void *arg, const char *user, char **text)
{
	struct passwd	*pw;
	struct stat	 st;
	char		 path[PATH_MAX];
	int		 fd, r;

	(void)arg;
	if ((pw = getpwnam(user)) == NULL || pw->pw_dir == NULL ||
	    (size_t)snprintf(path, sizeof(path), "%s/.forward", pw->pw_dir) >=
	    sizeof(path))
		return 1;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1)
		return errno == ENOENT || errno == ENOTDIR || errno == ELOOP ?
		    1 : -1;
	/* Owned by the user (or root), writable by nobody else. */
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != pw->pw_uid && st.st_uid != 0) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		log_warnx("%s: ignored: not a file of %s, or writable by "
		    "others", path, user);
		(void)close(fd);
		return 1;
	}
	r = local_read_small(fd, LOCAL_MAX_FORWARD, text);
	(void)close(fd);
	return r;
}

static int
ops_is_local(void *arg, const char *domain)
{
	const struct config *conf = arg;

	return strcasecmp(domain, conf->hostname) == 0 ||
	    strcasecmp(domain, "localhost") == 0 ||
	    strlist_contains_domain(&conf->local_domains, domain);
}

void
local_alias_ops(const struct config *conf, struct alias_ops *ops)
{
	ops->lookup = ops_lookup;
	ops->include = ops_include;
	ops->forward = conf->allow_forward ? ops_forward : NULL;
	ops->is_local = ops_is_local;
	ops->arg = (void *)(uintptr_t)conf;
}
