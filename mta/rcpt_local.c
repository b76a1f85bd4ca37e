/*
 * Local recipients known at RCPT time (rcpt_local.h): the pure verdict
 * and the lookups around it.
 */
#include <sys/types.h>

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "aliases.h"
#include "compat.h"
#include "config.h"
#include "rcpt_local.h"
#include "util.h"

/* getpwnam_r's buffer when sysconf does not say: glibc's own default. */
#define PW_BUF_DEFAULT	1024
#define PW_BUF_MAX	(1024 * 1024)

const char *
rcpt_local_name(const char *addr, char *name, size_t len)
{
	const char	*at = strrchr(addr, '@');
	size_t		 n = at ? (size_t)(at - addr) : strlen(addr);

	if (n == 0)
		return "empty local part";
	if (n > ALIAS_MAX_NAME || n >= len)
		return "local part too long";
	memcpy(name, addr, n);
	name[n] = '\0';
	str_lower(name);
	return NULL;
}

int
rcpt_local_reserved(const char *name)
{
	/* RFC 5321 §4.5.1: postmaster must be accepted; MAILER-DAEMON is
	 * where our own DSNs come from, and replies to them are answered. */
	return strcasecmp(name, "postmaster") == 0 ||
	    strcasecmp(name, "mailer-daemon") == 0;
}

enum rcpt_verdict
rcpt_local_decide(const struct rcpt_facts *f)
{
	if (!f->check || f->catchall || rcpt_local_reserved(f->name))
		return RCPT_ACCEPT;
	if (f->alias == RCPT_LOOKUP_FOUND || f->user == RCPT_LOOKUP_FOUND)
		return RCPT_ACCEPT;
	/* Unknown only when both answered: a map that could not be read
	 * must not turn into 550 for real users. */
	if (f->alias == RCPT_LOOKUP_TEMPFAIL || f->user == RCPT_LOOKUP_TEMPFAIL)
		return RCPT_TEMPFAIL;
	return RCPT_REJECT;
}

static enum rcpt_lookup
alias_lookup(const struct config *conf, const char *name, char *why,
    size_t whylen)
{
	char	*rhs = NULL;
	int	 r;

	r = aliases_db_lookup(conf->aliases, name, &rhs);
	free(rhs);
	if (r == 0)
		return RCPT_LOOKUP_FOUND;
	if (r == 1)
		return RCPT_LOOKUP_NOTFOUND;
	(void)snprintf(why, whylen, "aliases map %s(.db) unreadable: %s",
	    conf->aliases, strerror(errno));
	return RCPT_LOOKUP_TEMPFAIL;
}

static enum rcpt_lookup
user_lookup(const char *name, char *why, size_t whylen)
{
	struct passwd	 pw, *res = NULL;
	long		 sz = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t		 len = sz > 0 ? (size_t)sz : PW_BUF_DEFAULT;
	char		*buf;
	int		 e;

	for (;;) {
		buf = xmalloc(len);
		e = getpwnam_r(name, &pw, buf, len, &res);
		free(buf);
		if (e != ERANGE || len >= PW_BUF_MAX)
			break;
		len *= 2;
	}
	if (e == 0)
		return res != NULL ? RCPT_LOOKUP_FOUND : RCPT_LOOKUP_NOTFOUND;
	/* getpwnam_r(3): some systems report "no such name" as an error. */
	if (e == ENOENT || e == ESRCH || e == EBADF || e == EPERM)
		return RCPT_LOOKUP_NOTFOUND;
	(void)snprintf(why, whylen, "password database: %s", strerror(e));
	return RCPT_LOOKUP_TEMPFAIL;
}

void
rcpt_local_lookup(const struct config *conf, const char *name,
    struct rcpt_facts *f, char *why, size_t whylen)
{
	memset(f, 0, sizeof(*f));
	f->check = conf->local_recipient_check != 0;
	f->catchall = conf->local_catchall[0] != '\0';
	f->name = name;
	f->alias = f->user = RCPT_LOOKUP_NOTFOUND;
	if (whylen > 0)
		why[0] = '\0';
	if (rcpt_local_reserved(name))
		return;
	f->alias = alias_lookup(conf, name, why, whylen);
	if (f->alias != RCPT_LOOKUP_FOUND)
		f->user = user_lookup(name, why, whylen);
}
