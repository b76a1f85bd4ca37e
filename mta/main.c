/*
 * postern: one binary.  Without a command it runs the daemon; with one it
 * manages the queue.  Called as sendmail, mailq or newaliases it is
 * sendmail(8) (sendmail.c; mailq takes sendmail's -C config).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "control.h"
#include "dns.h"
#include "dns_anchor.h"
#include "log.h"
#include "master.h"
#include "sendmail.h"
#include "policy_cmd.h"
#include "privsep.h"

/* Options end at the command ("policy d --probe"): glibc's getopt would
 * otherwise permute the command's own options in front of it. */
#ifdef __GLIBC__
#define OPTSTRING	"+c:dDnv"
#else
#define OPTSTRING	"c:dDnv"
#endif

/* Forwarders that strip DNSSEC data make every DANE domain defer as if
 * the destination were broken: one clear line at start instead.  Asked
 * from a child so that a resolver not yet reachable at boot delays
 * nothing; the answer is only logged. */
#define DNS_PROBE_MS	10000

static void
dns_start_checks(const struct config *conf)
{
	char	 line[1024];
	pid_t	 pid;
	int	 rc;

	if (!conf->dnssec)
		log_warnx("dnssec: %s", dns_anchor_describe(conf, line,
		    sizeof(line)));
	if (!conf->dnssec || conf->resolver == RESOLVER_RECURSIVE)
		return;
	if ((pid = fork()) == -1) {
		log_warn("resolver check: fork");
		return;
	}
	if (pid != 0)
		return;
	rc = dns_probe_root(conf, DNS_PROBE_MS, line, sizeof(line));
	if (rc == -1)
		log_warnx("dnssec: %s", line);
	else if (rc == 1)
		log_info("%s", line);
	else
		log_info("resolver check: the root DNSKEY validates");
	_exit(0);
}

static void
warn_stderr(const char *msg)
{
	fprintf(stderr, "postern: warning: %s\n", msg);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: postern [-dDnv] [-c config]\n"
	    "       postern [-c config] queue [domain]\n"
	    "       postern [-c config] status\n"
	    "       postern [-c config] flush [domain]\n"
	    "       postern [-c config] hold | release | delete QID ...\n"
	    "       postern [-c config] policy domain [--probe]\n"
	    "       mailq [-C config]\n");
	exit(EX_USAGE);
}

static const char *
progname(const char *argv0)
{
	const char	*p = strrchr(argv0, '/');

	return p ? p + 1 : argv0;
}

static void
dev_banner(const struct config *conf)
{
	fprintf(stderr,
	    "postern development configuration: listening on 127.0.0.1:2525,\n"
	    "spool %s, self-made certificate, logs below.\n"
	    "Send a test message with swaks (make deps installs it and the\n"
	    "Net::SSLeay that --tls needs; make run does not):\n"
	    "  swaks --server 127.0.0.1:2525 --to you@example.org\n"
	    "or, with STARTTLS:\n"
	    "  swaks --server 127.0.0.1:2525 --tls --to you@example.org\n"
	    "and list the queue, from this directory, with:\n"
	    "  ./postern -D queue\n\n",
	    conf->spool_dir);
}


int
main(int argc, char *argv[])
{
	struct config	 conf;
	const char	*path = POSTERN_CONF_DEFAULT;
	char		 err[1024], cwd[PATH_MAX];
	int		 ch, dev = 0, check = 0, fg = 0, verbose = 0;

	/* sendmail(8) and friends by name; everything else drops a
	 * setgid group at once (sendmail.h). */
	if (sendmail_name(progname(argv[0])))
		return sendmail_main(argc, argv);
	sendmail_drop_setgid();
	while ((ch = getopt(argc, argv, OPTSTRING)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			fg = 1;
			break;
		case 'D':
			dev = fg = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'v':
			verbose++;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	config_defaults(&conf);
	if (dev) {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			usage();
		config_free(&conf);
		config_dev(&conf, cwd);
	} else if (config_load(&conf, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		config_free(&conf);
		return EX_CONFIG;
	}
	if (verbose > conf.verbose)
		conf.verbose = verbose;
	/* Deliveries build their resolver long after start: a resolver
	 * option that cannot be applied is refused here, with its line. */
	if ((check || argc == 0) && dns_check(&conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		config_free(&conf);
		return EX_CONFIG;
	}
	/* The same checks before the daemon starts as at postern -n. */
	if (check)
		log_init("postern", 1, NULL);
	if ((check || argc == 0) && check_config(&conf, err, sizeof(err),
	    check ? warn_stderr : NULL) == -1) {
		fprintf(stderr, "postern: %s: %s\n", conf.path, err);
		config_free(&conf);
		return EX_CONFIG;
	}
	if (check) {
		if (verbose)
			config_dump(&conf);
		printf("dnssec: %s\n", dns_anchor_describe(&conf, err,
		    sizeof(err)));
		printf("%s: configuration ok\n", conf.path);
		config_free(&conf);
		return EX_OK;
	}
	if (argc > 0 && strcmp(argv[0], "policy") == 0) {
		log_init("postern", 1, NULL);
		log_setverbose((int)conf.verbose);
		ch = policy_cmd_main(&conf, argc, argv);
		config_free(&conf);
		return ch;
	}
	if (argc > 0) {
		log_init("postern", 1, NULL);
		ch = control_main(&conf, argc, argv);
		config_free(&conf);
		return ch;
	}
	log_init("postern", fg, conf.log_file);
	log_setverbose((int)conf.verbose);
	dns_start_checks(&conf);
	if (dev)
		dev_banner(&conf);
	ch = master_main(&conf, fg);
	config_free(&conf);
	return ch;
}
