/*
 * postern.conf: "key = value" lines, '#' comments, every key declared once
 * in the table below with its type and default.  Errors are "file:line:
 * reason".  Callers load into a fresh struct (config_defaults first) and
 * keep the one they had when loading fails (SIGHUP).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliases.h"
#include "compat.h"
#include "config.h"
#include "log.h"
#include "util.h"

struct ckey {
	const char	*name;
	enum config_type type;
	size_t		 off;
	const char	*def;
	long long	 min, max;	/* numeric range */
};

#define O(f)	offsetof(struct config, f)
#define BIG	LLONG_MAX

static const struct ckey keys[] = {
	{ "hostname",		C_STR, O(hostname), "", 0, 0 },
	{ "listen",		C_LISTEN, 0, "*:25", 0, 0 },
	{ "user",		C_STR, O(user), "postern", 0, 0 },
	{ "pidfile",		C_STR, O(pidfile), "/var/run/postern.pid", 0, 0 },
	{ "spool_dir",		C_STR, O(spool_dir), POSTERN_SPOOL_DEFAULT, 0, 0 },
	{ "local_domains",	C_LIST, O(local_domains), "", 0, 0 },
	{ "relay_domains",	C_LIST, O(relay_domains), "", 0, 0 },
	{ "trusted_networks",	C_LIST, O(trusted_networks), "127.0.0.0/8 ::1", 0, 0 },
	{ "max_children",	C_INT, O(max_children), "100", 1, 100000 },
	{ "max_children_per_ip", C_INT, O(max_children_per_ip), "10", 1, 100000 },
	{ "session_max_use",	C_INT, O(session_max_use), "100", 1, 100000 },
	{ "max_message_size",	C_SIZE, O(max_message_size), "25M", 1024, 1LL << 31 },
	{ "max_recipients",	C_INT, O(max_recipients), "1000", 1, 100000 },
	{ "max_hop_count",	C_INT, O(max_hop_count), "50", 1, 1000 },
	{ "max_errors",		C_INT, O(max_errors), "20", 1, 10000 },
	{ "max_line_length",	C_INT, O(max_line_length), "4096", 1000, 1 << 20 },
	{ "timeout_command",	C_DURATION, O(timeout_command), "5m", 1, 86400 },
	{ "timeout_data",	C_DURATION, O(timeout_data), "5m", 1, 86400 },
	{ "greet_delay",	C_DURATION, O(greet_delay), "1s", 0, 60 },
	{ "tls_cert",		C_STR, O(tls_cert), "", 0, 0 },
	{ "tls_key",		C_STR, O(tls_key), "", 0, 0 },
	{ "tls_ciphers",	C_STR, O(tls_ciphers), "", 0, 0 },
	{ "resolver",		C_RESOLVER, O(resolver), "system", 0, 0 },
	{ "resolver_forward",	C_STR, O(resolver_forward), "", 0, 0 },
	{ "resolver_root_hints", C_STR, O(resolver_root_hints), "", 0, 0 },
	{ "resolver_trust_anchor", C_STR, O(resolver_trust_anchor), "", 0, 0 },
	{ "dnssec",		C_BOOL, O(dnssec), "on", 0, 1 },
	{ "resolver_option",	C_APPEND, O(resolver_options), "", 0, 0 },
	{ "resolver_config",	C_APPEND, O(resolver_configs), "", 0, 0 },
	{ "relayhost",		C_STR, O(relayhost), "", 0, 0 },
	{ "relayhost_auth_file", C_STR, O(relayhost_auth_file), "", 0, 0 },
	{ "smtp_port",		C_INT, O(smtp_port), "25", 1, 65535 },
	{ "connect_timeout",	C_DURATION, O(connect_timeout), "30s", 1, 3600 },
	{ "client_timeout",	C_DURATION, O(client_timeout), "5m", 1, 86400 },
	{ "max_deliveries",	C_INT, O(max_deliveries), "20", 1, 10000 },
	{ "delivery_reserve",	C_INT, O(delivery_reserve), "4", 0, 10000 },
	{ "delivery_job_timeout", C_DURATION, O(delivery_job_timeout), "20m", 1, 86400 },
	{ "mx_address_limit",	C_INT, O(mx_address_limit), "5", 0, 100000 },
	{ "mx_session_limit",	C_INT, O(mx_session_limit), "2", 0, 100000 },
	{ "max_per_destination", C_INT, O(max_per_destination), "10", 1, 10000 },
	{ "max_batch",		C_INT, O(max_batch), "50", 1, 100000 },
	{ "retry_min",		C_DURATION, O(retry_min), "5m", 1, BIG },
	{ "retry_max",		C_DURATION, O(retry_max), "1h", 1, BIG },
	{ "delay_warning_time",	C_DURATION, O(delay_warning_time), "4h", 0, BIG },
	{ "max_queue_lifetime",	C_DURATION, O(max_queue_lifetime), "5d", 1, BIG },
	{ "queue_run_interval",	C_DURATION, O(queue_run_interval), "1m", 1, 86400 },
	{ "tls_policy_file",	C_STR, O(tls_policy_file), "", 0, 0 },
	{ "transport_table",	C_STR, O(transport_table), "", 0, 0 },
	{ "destination_limits",	C_STR, O(destination_limits), "", 0, 0 },
	{ "mx_self_names",	C_LIST, O(mx_self_names), "", 0, 0 },
	{ "throttle_window",	C_DURATION, O(throttle_window), "1d", 1, BIG },
	{ "throttle_backoff_min", C_DURATION, O(throttle_backoff_min), "5m", 1, BIG },
	{ "throttle_backoff_max", C_DURATION, O(throttle_backoff_max), "4h", 1, BIG },
	{ "dead_host_time",	C_DURATION, O(dead_host_time), "2m", 0, 86400 },
	{ "smtp_tls_ca_file",	C_STR, O(smtp_tls_ca_file), "", 0, 0 },
	{ "sts_ca_file",	C_STR, O(sts_ca_file), "", 0, 0 },
	{ "sts_timeout",	C_DURATION, O(sts_timeout), "20s", 1, 300 },
	{ "sts_port",		C_INT, O(sts_port), "443", 1, 65535 },
	{ "maildrop_dir",	C_STR, O(maildrop_dir), "", 0, 0 },
	{ "maildrop_group",	C_STR, O(maildrop_group), "posterndrop", 0, 0 },
	{ "aliases",		C_STR, O(aliases), POSTERN_ALIASES_DEFAULT, 0, 0 },
	{ "mail_spool_dir",	C_STR, O(mail_spool_dir), "/var/mail", 0, 0 },
	{ "default_user",	C_STR, O(default_user), "nobody", 0, 0 },
	{ "allow_forward",	C_BOOL, O(allow_forward), "yes", 0, 1 },
	{ "local_recipient_check", C_BOOL, O(local_recipient_check), "yes", 0, 1 },
	{ "local_catchall",	C_STR, O(local_catchall), "", 0, 0 },
	{ "bounce_full_max_size", C_SIZE, O(bounce_full_max_size), "64k", 0, 1LL << 31 },
	{ "local_pipe_timeout",	C_DURATION, O(local_pipe_timeout), "5m", 1, 86400 },
	{ "local_delivery_timeout", C_DURATION, O(local_delivery_timeout), "10m", 1, 86400 },
	{ "log_file",		C_STR, O(log_file), "", 0, 0 },
	{ "verbose",		C_INT, O(verbose), "0", 0, 9 },
	{ "test_crash_point",	C_STR, O(test_crash_point), "", 0, 0 },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

const char *
config_key_at(size_t i, enum config_type *type, size_t *off)
{
	if (i >= NKEYS)
		return NULL;
	*type = keys[i].type;
	*off = keys[i].off;
	return keys[i].name;
}

static void
strlist_clear(struct strlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->line);
	l->v = NULL;
	l->line = NULL;
	l->n = 0;
}

static void
strlist_add(struct strlist *l, const char *s, size_t len, int lineno)
{
	l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
	l->line = xreallocarray(l->line, l->n + 1, sizeof(*l->line));
	l->line[l->n] = lineno;
	l->v[l->n++] = xstrndup(s, len);
}

static void
strlist_split(struct strlist *l, const char *s)
{
	size_t	 n;

	strlist_clear(l);
	while (*s) {
		s += strspn(s, ", \t");
		n = strcspn(s, ", \t");
		if (n > 0)
			strlist_add(l, s, n, 0);
		s += n;
	}
}

int
strlist_contains_domain(const struct strlist *l, const char *domain)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		if (strcasecmp(l->v[i], domain) == 0)
			return 1;
	return 0;
}

/* "host:port [mode]", "[v6]:port", "*:25", "2525". */
static const char *
parse_listen(const char *v, struct listen_spec *ls)
{
	char		 tmp[300], *mode, *port;
	const char	*host = "*";

	if (strlcpy(tmp, v, sizeof(tmp)) >= sizeof(tmp))
		return "listen value too long";
	ls->mode = LISTEN_SMTP;
	if ((mode = strpbrk(tmp, " \t")) != NULL) {
		*mode++ = '\0';
		mode += strspn(mode, " \t");
		if (strcmp(mode, "submission") == 0)
			ls->mode = LISTEN_SUBMISSION;
		else if (strcmp(mode, "smtps") == 0)
			ls->mode = LISTEN_SMTPS;
		else if (strcmp(mode, "smtp") != 0)
			return "listen mode must be smtp, submission or smtps";
	}
	if (tmp[0] == '[') {
		if ((port = strstr(tmp, "]:")) == NULL)
			return "listen: expected [address]:port";
		*port = '\0';
		host = tmp + 1;
		port += 2;
	} else if ((port = strrchr(tmp, ':')) != NULL) {
		*port++ = '\0';
		host = tmp;
	} else
		port = tmp;
	if (strspn(port, "0123456789") != strlen(port) || *port == '\0' ||
	    strtol(port, NULL, 10) > 65535)
		return "listen: bad port";
	if (strlcpy(ls->host, host, sizeof(ls->host)) >= sizeof(ls->host) ||
	    strlcpy(ls->port, port, sizeof(ls->port)) >= sizeof(ls->port))
		return "listen: value too long";
	return NULL;
}

/* Configuration is read by one thread, before any other starts. */
static char	 config_why[512];

static const char *
range_text(const struct ckey *k)
{
	const char	*unit = k->type == C_DURATION ? " seconds" :
			    k->type == C_SIZE ? " bytes" : "";

	if (k->type == C_BOOL)
		return "expected yes or no (on or off)";
	if (k->max == BIG)
		(void)snprintf(config_why, sizeof(config_why),
		    "out of range: at least %lld%s", k->min, unit);
	else
		(void)snprintf(config_why, sizeof(config_why),
		    "out of range: %lld to %lld%s", k->min, k->max, unit);
	return config_why;
}

static const char *
parse_number(const struct ckey *k, const char *v, long long *out)
{
	unsigned long long	 u;
	long long		 n;

	switch (k->type) {
	case C_INT:
		if (parse_ull(v, LLONG_MAX, &u) == -1)
			return "expected a number";
		n = (long long)u;
		break;
	case C_DURATION:
		if (parse_duration(v, &n) == -1)
			return "expected a duration (30s, 5m, 4h, 5d)";
		break;
	case C_SIZE:
		if (parse_size(v, &u) == -1)
			return "expected a size (10240000, 10M)";
		n = (long long)u;
		break;
	default:	/* C_BOOL */
		if (!strcmp(v, "yes") || !strcmp(v, "true") ||
		    !strcmp(v, "on") || !strcmp(v, "1"))
			n = 1;
		else if (!strcmp(v, "no") || !strcmp(v, "false") ||
		    !strcmp(v, "off") || !strcmp(v, "0"))
			n = 0;
		else
			return "expected yes or no (on or off)";
	}
	if (n < k->min || n > k->max)
		return range_text(k);
	*out = n;
	return NULL;
}

static const char *
config_set(struct config *c, const struct ckey *k, const char *v, int lineno)
{
	char	*base = (char *)c;
	char	**sp;

	switch (k->type) {
	case C_STR:
		sp = (char **)(void *)(base + k->off);
		free(*sp);
		*sp = xstrdup(v);
		return NULL;
	case C_LIST:
		strlist_split((struct strlist *)(void *)(base + k->off), v);
		return NULL;
	case C_APPEND:
		if (*v != '\0')
			strlist_add((struct strlist *)(void *)(base + k->off),
			    v, strlen(v), lineno);
		return NULL;
	case C_LISTEN:
		if (c->nlisten == CONFIG_MAX_LISTEN)
			return "too many listen lines";
		return parse_listen(v, &c->listen[c->nlisten++]);
	case C_RESOLVER:
		if (!strcmp(v, "system"))
			c->resolver = RESOLVER_SYSTEM;
		else if (!strcmp(v, "forward"))
			c->resolver = RESOLVER_FORWARD;
		else if (!strcmp(v, "recursive"))
			c->resolver = RESOLVER_RECURSIVE;
		else
			return "resolver must be system, forward or recursive";
		return NULL;
	default:
		return parse_number(k, v,
		    (long long *)(void *)(base + k->off));
	}
}

static const struct ckey *
config_key(const char *name)
{
	size_t	 i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

void
config_defaults(struct config *c)
{
	size_t	 i;

	memset(c, 0, sizeof(*c));
	c->path = xstrdup("(builtin)");
	for (i = 0; i < NKEYS; i++)
		if (config_set(c, &keys[i], keys[i].def, 0) != NULL)
			fatalx("config: bad default for %s", keys[i].name);
	config_default_hostname(c);
}

/* Trims white space at both ends and one pair of double quotes. */
static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	if (e - s >= 2 && *s == '"' && e[-1] == '"') {
		e[-1] = '\0';
		s++;
	}
	return s;
}

/* Every message names its key: "max_children: out of range: 1 to ...". */
static const char *
config_keyed(const struct ckey *k, const char *why)
{
	char	 tmp[sizeof(config_why)];

	if (why == NULL || strncmp(why, k->name, strlen(k->name)) == 0)
		return why;
	(void)strlcpy(tmp, why, sizeof(tmp));
	(void)snprintf(config_why, sizeof(config_why), "%s: %.400s", k->name,
	    tmp);
	return config_why;
}

static const char *
config_line(struct config *c, char *line, int lineno, int *listen_seen)
{
	const struct ckey	*k;
	char			*eq, *key, *val;

	if ((eq = strchr(line, '=')) == NULL)
		return "expected key = value";
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if ((k = config_key(key)) == NULL) {
		(void)snprintf(config_why, sizeof(config_why),
		    "unknown key \"%.200s\"", key);
		return config_why;
	}
	/* The first listen line replaces the default. */
	if (k->type == C_LISTEN && !*listen_seen) {
		c->nlisten = 0;
		*listen_seen = 1;
	}
	return config_keyed(k, config_set(c, k, val, lineno));
}

/* Reads an open stream named path over c; closes it. */
static int
config_read(struct config *c, FILE *f, const char *path, char *err,
    size_t errlen)
{
	char		 line[4096], *p;
	const char	*why = NULL;
	int		 lineno = 0, listen_seen = 0;

	while (why == NULL && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			why = "line too long";
			break;
		}
		if ((p = strchr(line, '#')) != NULL &&
		    (p == line || isspace((unsigned char)p[-1])))
			*p = '\0';
		p = trim(line);
		if (*p == '\0')
			continue;
		why = config_line(c, p, lineno, &listen_seen);
	}
	if (why == NULL && ferror(f))
		why = strerror(errno);
	(void)fclose(f);
	if (why != NULL) {
		(void)snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
		return -1;
	}
	free(c->path);
	c->path = xstrdup(path);
	if ((why = config_validate(c)) != NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	return 0;
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return config_read(c, f, path, err, errlen);
}

int
config_load_mem(struct config *c, const char *name, const char *text,
    size_t len, char *err, size_t errlen)
{
	FILE	*f;

	/* fmemopen() may refuse a zero size: an empty text is one NUL. */
	if (len == 0) {
		text = "";
		len = 1;
	}
	if ((f = fmemopen((void *)(uintptr_t)text, len, "r")) == NULL) {
		(void)snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	return config_read(c, f, name, err, errlen);
}

const char *
config_validate(const struct config *c)
{
	if (c->nlisten == 0)
		return "no listen address";
	if (*c->hostname == '\0')
		return "hostname is empty";
	/* RFC 1035 §2.3.4: 255 octets on the wire, 253 as text.  A longer
	 * one would not fit the EHLO line and would be sent cut. */
	if (strlen(c->hostname) > CONFIG_HOSTNAME_MAX)
		return "hostname is longer than 253 characters";
	if (*c->spool_dir != '/')
		return "spool_dir must be an absolute path";
	if (c->retry_min > c->retry_max)
		return "retry_min is larger than retry_max";
	if (c->throttle_backoff_min > c->throttle_backoff_max)
		return "throttle_backoff_min is larger than throttle_backoff_max";
	if (c->resolver == RESOLVER_FORWARD && *c->resolver_forward == '\0')
		return "resolver = forward needs resolver_forward = addr@port";
	if (c->resolver == RESOLVER_RECURSIVE && *c->resolver_root_hints == '\0')
		return "resolver = recursive needs resolver_root_hints";
	if (!c->dnssec && *c->resolver_trust_anchor != '\0')
		return "dnssec = off and resolver_trust_anchor contradict: "
		    "remove one";
	if ((*c->tls_cert == '\0') != (*c->tls_key == '\0'))
		return "tls_cert and tls_key go together";
	/* A local name as aliases(5) and local delivery take it. */
	if (strpbrk(c->local_catchall, "@ \t,:\"|/\\") != NULL ||
	    strlen(c->local_catchall) > ALIAS_MAX_NAME)
		return "local_catchall must be one local name (a user or an "
		    "alias), without a domain";
	return NULL;
}

void
config_dev(struct config *c, const char *dir)
{
	char		 spool[PATH_MAX];
	const char	*why;

	config_defaults(c);
	free(c->path);
	c->path = xstrdup("(development)");
	c->nlisten = 0;
	if ((why = config_set(c, config_key("listen"), "127.0.0.1:2525", 0)) ||
	    (why = config_set(c, config_key("user"), "", 0)) ||
	    (why = config_set(c, config_key("local_domains"), "localhost", 0)) ||
	    (why = config_set(c, config_key("retry_min"), "1m", 0)) ||
	    (why = config_set(c, config_key("queue_run_interval"), "30s", 0)))
		fatalx("config_dev: %s", why);
	if ((size_t)snprintf(spool, sizeof(spool), "%s/run/spool", dir) >=
	    sizeof(spool))
		fatalx("config_dev: path too long");
	free(c->spool_dir);
	c->spool_dir = xstrdup(spool);
	if ((size_t)snprintf(spool, sizeof(spool), "%s/run/postern.pid", dir) >=
	    sizeof(spool))
		fatalx("config_dev: path too long");
	free(c->pidfile);
	c->pidfile = xstrdup(spool);
}

static void
dump_list(const char *name, const struct strlist *l, int repeat)
{
	size_t	 i;

	if (repeat) {
		for (i = 0; i < l->n; i++)
			printf("%s = %s\n", name, l->v[i]);
		return;
	}
	printf("%s =", name);
	for (i = 0; i < l->n; i++)
		printf(" %s", l->v[i]);
	printf("\n");
}

void
config_dump(const struct config *c)
{
	static const char *modes[] = { "smtp", "submission", "smtps" };
	static const char *res[] = { "system", "forward", "recursive" };
	const char	*base = (const char *)c;
	size_t		 i, j;

	for (i = 0; i < NKEYS; i++) {
		const struct ckey *k = &keys[i];
		const void *p = base + k->off;

		switch (k->type) {
		case C_STR:
			printf("%s = %s\n", k->name, *(char *const *)p);
			break;
		case C_LIST:
		case C_APPEND:
			dump_list(k->name, p, k->type == C_APPEND);
			break;
		case C_LISTEN:
			for (j = 0; j < c->nlisten; j++)
				printf("listen = %s%s%s:%s %s\n",
				    strchr(c->listen[j].host, ':') ? "[" : "",
				    c->listen[j].host,
				    strchr(c->listen[j].host, ':') ? "]" : "",
				    c->listen[j].port, modes[c->listen[j].mode]);
			break;
		case C_RESOLVER:
			printf("%s = %s\n", k->name, res[c->resolver]);
			break;
		default:
			printf("%s = %lld\n", k->name, *(const long long *)p);
		}
	}
}

void
config_free(struct config *c)
{
	const char	*base = (const char *)c;
	size_t		 i;

	for (i = 0; i < NKEYS; i++) {
		if (keys[i].type == C_STR)
			free(*(char **)(void *)(uintptr_t)(base + keys[i].off));
		else if (keys[i].type == C_LIST || keys[i].type == C_APPEND)
			strlist_clear((struct strlist *)(void *)(uintptr_t)
			    (base + keys[i].off));
	}
	free(c->path);
	memset(c, 0, sizeof(*c));
}
