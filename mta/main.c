/*
 * postern: one binary.  Without a command it runs the daemon; with one it
 * manages the queue.  Called as "mailq" it lists the queue.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "dns.h"
#include "log.h"
#include "master.h"
#include "sendmail.h"
#include "policy_cmd.h"

/* Options end at the command ("policy d --probe"): glibc's getopt would
 * otherwise permute the command's own options in front of it. */
#ifdef __GLIBC__
#define OPTSTRING	"+c:dDnv"
#else
#define OPTSTRING	"c:dDnv"
#endif

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
	    "       mailq [-c config]\n");
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
	    "Send a test message with:\n"
	    "  swaks --server 127.0.0.1:2525 --to you@example.org\n"
	    "or, with STARTTLS:\n"
	    "  swaks --server 127.0.0.1:2525 --tls --to you@example.org\n"
	    "and list the queue with:  ./postern -D queue\n\n",
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
	if (strcmp(progname(argv[0]), "mailq") == 0)
		argv[0] = "queue";
	else {
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
	}
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
	if (check) {
		if (verbose)
			config_dump(&conf);
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
	if (dev)
		dev_banner(&conf);
	ch = master_main(&conf, fg);
	config_free(&conf);
	return ch;
}
