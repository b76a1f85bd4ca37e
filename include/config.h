/*
 * config: postern.conf, a flat "key = value" file.  Every key is declared
 * once, in the table in mta/config.c, with its type and default; unknown
 * keys and bad values are errors reported as "file:line: reason".
 * Lists are separated by commas and/or white space.  A key given twice
 * keeps the last value, except the repeatable ones (listen, resolver_option,
 * resolver_config), whose entries keep their line numbers.
 */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include <stddef.h>

struct strlist {
	char	**v;
	int	 *line;		/* postern.conf line of each (repeatable
				 * keys), 0 for a default; may be NULL */
	size_t	  n;
};

enum listen_mode {
	LISTEN_SMTP,		/* port 25 style: MX service, STARTTLS offered */
	LISTEN_SUBMISSION,	/* port 587: STARTTLS offered */
	LISTEN_SMTPS		/* port 465: implicit TLS, RFC 8314 */
};

struct listen_spec {
	char		 host[256];	/* numeric address, "*" for any */
	char		 port[16];
	enum listen_mode mode;
};

#define CONFIG_MAX_LISTEN	16
#define CONFIG_HOSTNAME_MAX	253	/* RFC 1035 §2.3.4, as text */

enum resolver_mode {
	RESOLVER_SYSTEM,	/* forwarders from /etc/resolv.conf */
	RESOLVER_FORWARD,	/* resolver_forward = addr@port */
	RESOLVER_RECURSIVE	/* root hints + trust anchor */
};

/* How a key's value is held in struct config (mta/config.c keys[]). */
enum config_type {
	C_STR,		/* char * */
	C_INT,		/* long long, plain number */
	C_DURATION,	/* long long seconds: 30s 5m 4h 5d */
	C_SIZE,		/* long long bytes: 10M */
	C_BOOL,		/* long long 0/1: yes/no */
	C_LIST,		/* struct strlist, split on comma/space */
	C_APPEND,	/* struct strlist, whole value appended (repeatable) */
	C_LISTEN,	/* listen[] and nlisten (repeatable) */
	C_RESOLVER	/* enum resolver_mode */
};

struct config {
	char		*path;		/* file it came from, or "(builtin)" */

	/* identity and listeners */
	char		*hostname;	/* EHLO name, banner, Received */
	struct listen_spec listen[CONFIG_MAX_LISTEN];
	size_t		 nlisten;
	char		*user;		/* unprivileged user; empty: stay */
	char		*pidfile;

	/* storage */
	char		*spool_dir;	/* Berkeley DB environment lives here */

	/* who may send what */
	struct strlist	 local_domains;	/* delivered locally (mbox) */
	struct strlist	 relay_domains;	/* accepted from anyone, relayed */
	struct strlist	 trusted_networks; /* CIDRs allowed to relay anywhere */

	/* server limits, RFC 5321 §4.5.3 */
	long long	 max_children;
	long long	 max_children_per_ip;
	long long	 session_max_use; /* connections one session serves */
	long long	 max_message_size;
	long long	 max_recipients;
	long long	 max_errors;
	long long	 max_hop_count;	/* Received fields: RFC 5321 §6.3 */
	long long	 max_line_length;	/* text line in DATA */
	long long	 timeout_command;	/* seconds: §4.5.3.2.7 */
	long long	 timeout_data;		/* seconds: §4.5.3.2.6 */
	long long	 greet_delay;	/* seconds to wait for early talkers
					 * before the banner; 0: none */

	/* TLS, server side */
	char		*tls_cert;	/* PEM; empty: spool_dir/tls/ self-made */
	char		*tls_key;
	char		*tls_ciphers;	/* TLS 1.2 cipher list */

	/* DNS through libunbound */
	enum resolver_mode resolver;
	char		*resolver_forward;	/* addr@port */
	char		*resolver_root_hints;
	char		*resolver_trust_anchor;
	long long	 dnssec;	/* 0: validate nothing (logged) */
	struct strlist	 resolver_options;	/* "name: value", unbound.conf
						 * server: options (dns.h) */
	struct strlist	 resolver_configs;	/* unbound.conf fragments */

	/* delivery */
	char		*relayhost;	/* "[host]:port" or "host:port"; empty: MX */
	char		*relayhost_auth_file;	/* next hop -> AUTH user, password
						 * (smtp_auth.h); empty: none */
	long long	 smtp_port;	/* remote port for MX delivery (tests) */
	long long	 connect_timeout;	/* seconds */
	long long	 client_timeout;	/* seconds, per reply */
	long long	 max_deliveries;	/* workers overall */
	long long	 delivery_reserve;	/* workers slow destinations
						 * may not take (dlimit.h) */
	long long	 delivery_job_timeout;	/* seconds, one whole job */
	long long	 mx_address_limit;	/* addresses per job; 0: all */
	long long	 mx_session_limit;	/* greeted sessions per job */
	long long	 max_per_destination;	/* workers per next hop */
	long long	 max_batch;		/* messages per connection */
	long long	 retry_min;	/* first retry after this many seconds */
	long long	 retry_max;	/* backoff cap */
	long long	 delay_warning_time;	/* 0: never */
	long long	 max_queue_lifetime;
	long long	 queue_run_interval;	/* runner wakes at least this often */
	char		*tls_policy_file;	/* per-domain table; empty: none */
	char		*transport_table;	/* domain -> next hop (dtable.h) */
	char		*destination_limits;	/* domain -> static throttle */
	struct strlist	 mx_self_names;	/* more names and addresses that
					 * are "myself" as an MX */
	long long	 throttle_window;	/* learning window, seconds */
	long long	 throttle_backoff_min;	/* after a rate-limit reply */
	long long	 throttle_backoff_max;
	long long	 dead_host_time;	/* a host that did not answer is
						 * skipped this long; 0: never */
	char		*smtp_tls_ca_file;	/* PKIX roots for verify/mta-sts
						 * SMTP; empty: system store */
	char		*sts_ca_file;	/* PKIX roots for MTA-STS HTTPS */
	long long	 sts_timeout;	/* seconds, whole policy fetch */
	long long	 sts_port;	/* HTTPS port of policy hosts (tests) */

	/* local submission and delivery (sendmail.h, local.h) */
	char		*maildrop_dir;	/* empty: spool_dir + "-maildrop" */
	char		*maildrop_group; /* group of the setgid sendmail path */
	char		*aliases;	/* /etc/mail/aliases; .db beside it */
	char		*mail_spool_dir;	/* mbox directory, /var/mail */
	char		*default_user;	/* runs alias pipes and files */
	long long	 allow_forward;	/* honour ~/.forward */
	long long	 local_recipient_check;	/* unknown local users get
						 * 550 at RCPT (rcpt_local.h) */
	char		*local_catchall;	/* receives unknown local parts;
						 * empty: none */
	long long	 bounce_full_max_size;	/* RET=FULL of untrusted mail
						 * above it: headers (bounce.h) */
	long long	 local_pipe_timeout;	/* seconds */
	long long	 local_delivery_timeout; /* seconds, one request */

	/* logging */
	char		*log_file;	/* empty: syslog, or stderr in foreground */
	long long	 verbose;

	/* testing: crash at a named step (crashpoint.h); empty: never */
	char		*test_crash_point;
};

/* Fills every key with its default. */
void	config_defaults(struct config *);
/* Reads a file over the defaults.  0, or -1 with "file:line: why" in err. */
int	config_load(struct config *, const char *path, char *err, size_t errlen);
/* The same from (text, len), errors named after name (tests, fuzzing). */
int	config_load_mem(struct config *, const char *name, const char *text,
	    size_t len, char *err, size_t errlen);
/* The development configuration of "make run" under dir (the build tree). */
void	config_dev(struct config *, const char *dir);
/* Re-checks cross-key rules after loading; NULL or a reason. */
const char *config_validate(const struct config *);
/* Prints every key and value as a valid postern.conf. */
void	config_dump(const struct config *);
void	config_free(struct config *);

int	strlist_contains_domain(const struct strlist *, const char *domain);

#ifndef POSTERN_CONF_DEFAULT
#define POSTERN_CONF_DEFAULT	"/usr/local/etc/postern/postern.conf"
#endif
/* The i-th key of the table: its name, type and offset in struct
 * config; NULL past the last. */
const char	*config_key_at(size_t i, enum config_type *type, size_t *off);

/* Where the system keeps aliases(5): /etc/aliases on Debian,
 * /etc/mail/aliases on FreeBSD (set by the Makefile). */
#ifndef POSTERN_ALIASES_DEFAULT
#define POSTERN_ALIASES_DEFAULT	"/etc/mail/aliases"
#endif

/* The default hostname: the first line of mailname (Debian's
 * /etc/mailname) when it names a domain, else the host name when it is
 * fully qualified, else its canonical name when that is, else the host
 * name; NULL arguments are absent.  Never NULL when host is not. */
const char	*config_pick_hostname(const char *mailname, const char *host,
		    const char *canon);
/* Sets c->hostname to that pick from this system, "localhost" when
 * there is none (mta/config_hostname.c). */
void		 config_default_hostname(struct config *c);

#endif
