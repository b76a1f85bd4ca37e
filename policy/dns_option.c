/*
 * Checks on resolver settings before libunbound sees them.  A refusal
 * names the setting and the rule it would break, so that "postern -n"
 * says why, with the postern.conf line (dns.c adds "file:line:").
 */
#include <string.h>

#include "dns_option.h"

#define OPT_NAME_CHARS	"abcdefghijklmnopqrstuvwxyz0123456789-"
#define OPT_SPACE	" \t"

/* Clause names of unbound.conf(5).  A resolver_option is one option of
 * the server: clause; a whole clause (a forward-zone: with its name: and
 * forward-addr: lines) or an include goes into a resolver_config file. */
static const char *const clauses[] = {
	"server", "forward-zone", "stub-zone", "auth-zone", "view", "rpz",
	"remote-control", "include", "include-toplevel", "python", "dynlib",
	"dnstap", "dnscrypt", "cachedb"
};

/* server: options of the unbound daemon that libunbound reads and does
 * nothing with: accepted, they would promise what does not happen. */
static const char *const daemon_only[] = {
	"username", "chroot", "interface", "interface-automatic",
	"do-daemonize", "logfile", "pidfile", "use-syslog", "use-systemd",
	"access-control", "access-control-view", "tls-service-key",
	"tls-service-pem", "tls-port", "https-port", "statistics-interval",
	"statistics-cumulative", "extended-statistics", "shm-enable",
};

static int
is_daemon_only(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(daemon_only) / sizeof(daemon_only[0]); i++)
		if (strcmp(daemon_only[i], name) == 0)
			return 1;
	return 0;
}

static int
is_clause(const char *name, size_t n)
{
	size_t	 i;

	for (i = 0; i < sizeof(clauses) / sizeof(clauses[0]); i++)
		if (strlen(clauses[i]) == n && strncmp(name, clauses[i], n) == 0)
			return 1;
	return 0;
}

/* Has the word w, alone, in the white-space separated list s. */
static int
has_word(const char *s, const char *w)
{
	size_t	 n, wl = strlen(w);

	for (s += strspn(s, OPT_SPACE); *s != '\0'; s += strspn(s, OPT_SPACE)) {
		n = strcspn(s, OPT_SPACE);
		if (n == wl && strncmp(s, w, n) == 0)
			return 1;
		s += n;
	}
	return 0;
}

/* The root as unbound.conf(5) writes it, with or without its quotes. */
static int
is_root(const char *v)
{
	return strcmp(v, ".") == 0;
}

const char *
dns_setting_refused(const char *name, const char *v)
{
	/* RFC 4035 §5.5: a bogus answer must not be used; permissive mode
	 * hands it on as if it had validated. */
	if (strcmp(name, "val-permissive-mode") == 0 && strcmp(v, "yes") == 0)
		return "would hand on answers that fail DNSSEC validation as "
		    "data (RFC 4035 §5.5)";
	/* Without the validator module nothing is validated: every answer
	 * looks insecure and DANE is never applied (RFC 7672 §2.1.1). */
	if (strcmp(name, "module-config") == 0 && !has_word(v, "validator"))
		return "has no validator module: DNSSEC would not be validated";
	if (strcmp(name, "domain-insecure") == 0 && is_root(v))
		return "for the root would switch DNSSEC validation off for "
		    "every name";
	/* RFC 4035 §4.3: a zone whose parent holds its DS and that answers
	 * without signatures is bogus; unhardened, a stripping attacker
	 * makes it look insecure, and DANE drops to opportunistic TLS. */
	if (strcmp(name, "harden-dnssec-stripped") == 0 &&
	    strcmp(v, "no") == 0)
		return "would let an attacker who strips signatures make a "
		    "signed zone look insecure (RFC 4035 §4.3)";
	/* RFC 4034 §3.1.5: signatures are valid only inside their dates. */
	if (strcmp(name, "val-override-date") == 0 && strcmp(v, "0") != 0)
		return "would accept signatures outside their validity dates "
		    "(RFC 4034 §3.1.5)";
	return NULL;
}

int
dns_option_value(const char *opt, char *out, size_t outlen)
{
	const char	*v, *end;
	size_t		 n;

	v = strchr(opt, ':');
	v = v == NULL ? opt + strlen(opt) : v + 1;
	v += strspn(v, OPT_SPACE);
	if (*v == '"' || *v == '\'') {
		if ((end = strchr(v + 1, *v)) == NULL)
			return -1;
		v++;
	} else {
		end = v + strcspn(v, " \t#");
	}
	n = (size_t)(end - v);
	if (n >= outlen)
		return -1;
	memcpy(out, v, n);
	out[n] = '\0';
	return 0;
}

const char *
dns_option_check(const char *opt)
{
	char	 name[64], value[1024];
	size_t	 n;

	n = strspn(opt, OPT_NAME_CHARS);
	if (opt[n] != ':' || n == 0)
		return "want \"name: value\" with an unbound.conf(5) name";
	if (opt[n + 1 + strspn(opt + n + 1, OPT_SPACE)] == '\0')
		return "no value after the name";
	if (is_clause(opt, n))
		return "a clause, not a server: option: use resolver_config";
	if (n >= sizeof(name))
		return "no unbound.conf(5) option has so long a name";
	memcpy(name, opt, n);
	name[n] = '\0';
	if (is_daemon_only(name))
		return "a setting of the unbound daemon, which libunbound "
		    "ignores: it would do nothing here";
	if (dns_option_value(opt, value, sizeof(value)) == -1)
		return "unbalanced quote or over-long value";
	return dns_setting_refused(name, value);
}
