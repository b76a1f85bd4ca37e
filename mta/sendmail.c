/*
 * sendmail(8) compatibility: submission into the maildrop, -bs, -bp,
 * -bi, -q, -bv, -bd.  The binary may be installed setgid to the
 * maildrop group: only plain submission keeps that group, every other
 * mode gives it up at once (sendmail_drop_setgid).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "aliases.h"
#include "compat.h"
#include "config.h"
#include "control.h"
#include "local.h"
#include "log.h"
#include "maildrop.h"
#include "master.h"
#include "privsep.h"
#include "queue.h"
#include "sendmail.h"
#include "smtp_server.h"
#include "util.h"

#define SM_RELAY_TIMEOUT	600000	/* ms of silence ending -bs */

void
sendmail_drop_setgid(void)
{
	gid_t	 g = getgid();

	if (getegid() != g && setresgid(g, g, g) == -1) {
		fprintf(stderr, "postern: cannot drop the setgid group\n");
		exit(EX_OSERR);
	}
}

int
sendmail_name(const char *prog)
{
	static const char *names[] = { "sendmail", "send-mail", "mailq",
	    "newaliases", "hoststat", "purgestat", "postern-sendmail" };
	size_t	 i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(prog, names[i]) == 0)
			return 1;
	return 0;
}

/* -- submission ---------------------------------------------------- */

/* stdin up to max bytes; without -i a line "." ends it. */
static int
read_message(int ignore_dots, size_t max, struct buf *b)
{
	char	*line = NULL;
	size_t	 cap = 0;
	ssize_t	 n;
	int	 rc = 0;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (!ignore_dots && (strcmp(line, ".\n") == 0 ||
		    strcmp(line, ".\r\n") == 0 || strcmp(line, ".") == 0))
			break;
		if (b->len + (size_t)n > max) {
			rc = -1;
			break;
		}
		buf_append(b, line, (size_t)n);
	}
	if (ferror(stdin))
		rc = -2;
	free(line);
	return rc;
}

static const char *
login_name(void)
{
	struct passwd	*pw = getpwuid(getuid());

	return pw != NULL ? pw->pw_name : "nobody";
}

static char *
gecos_name(void)
{
	struct passwd	*pw = getpwuid(getuid());

	if (pw == NULL || pw->pw_gecos == NULL || *pw->pw_gecos == '\0')
		return NULL;
	return xstrndup(pw->pw_gecos, strcspn(pw->pw_gecos, ","));
}

/* A user whose submission the maildrop refuses hears why, and what
 * root runs to fix it (INSTALL). */
static void
noperm_hint(const struct config *conf)
{
	struct group	*gr = getgrnam(conf->maildrop_group);
	const char	*g = conf->maildrop_group;

	if (gr == NULL)
		fprintf(stderr, "postern: there is no group %s: root makes it "
		    "and installs postern setgid to it (make install does "
		    "both)\n", g);
	else if (getegid() != gr->gr_gid)
		fprintf(stderr, "postern: this sendmail is not setgid %s, so "
		    "only root may submit: root runs chgrp %s and chmod 2755 "
		    "on the postern binary (make install does it)\n", g, g);
	else
		fprintf(stderr, "postern: the maildrop is not open to group "
		    "%s: root starts postern once, which makes it\n", g);
}

static int
submit(const struct config *conf, const struct sm_args *a)
{
	struct sm_header_ctx	 hc;
	struct buf		 in, out;
	char			**rcpts = NULL, qid[QID_LEN + 1], mid[QID_LEN + 1];
	char			 date[64], err[512], *from, *msgid, *gecos;
	const char		*sender, *why;
	size_t			 n = 0, i;
	int			 r, e, status = EX_OK;

	buf_init(&in);
	buf_init(&out);
	buf_append(&in, "", 0);
	if ((r = read_message(a->ignore_dots, (size_t)conf->max_message_size,
	    &in)) != 0) {
		fprintf(stderr, "postern: %s\n", r == -1 ?
		    "message too large" : "error reading the message");
		return r == -1 ? EX_DATAERR : EX_IOERR;
	}
	sender = a->sender != NULL ? a->sender : login_name();
	from = *sender == '\0' ? xasprintf("MAILER-DAEMON@%s", conf->hostname) :
	    strchr(sender, '@') ? xstrdup(sender) :
	    xasprintf("%s@%s", sender, conf->hostname);
	qid_make(mid);
	msgid = xasprintf("<%s.%ld@%s>", mid, (long)getpid(), conf->hostname);
	rfc5322_date(date, sizeof(date), (long long)time(NULL));
	gecos = a->fullname ? NULL : gecos_name();
	hc = (struct sm_header_ctx){ from, a->fullname ? a->fullname : gecos,
	    date, msgid, a->rcpts, a->nrcpts };
	/* sendmail's note when a user names another sender. */
	if (a->sender != NULL && getuid() != 0 &&
	    strcmp(a->sender, login_name()) != 0)
		buf_printf(&out, "X-Authentication-Warning: %s: %s set sender "
		    "to %s using -f\n", conf->hostname, login_name(),
		    *a->sender ? a->sender : "<>");
	why = sm_prepare(in.data, in.len, &hc, &out, a->extract ? &rcpts :
	    NULL, &n);
	if (why != NULL) {
		fprintf(stderr, "postern: %s\n", why);
		status = EX_USAGE;
		goto done;
	}
	/* Root may submit before the daemon ever ran: make the directory. */
	if (geteuid() == 0 && maildrop_path(conf, err, sizeof(err)) == 0 &&
	    access(err, F_OK) == -1 && maildrop_setup(conf, err,
	    sizeof(err)) == -1)
		fprintf(stderr, "postern: %s\n", err);
	if (maildrop_write(conf, sender, a->extract ? rcpts : a->rcpts,
	    a->extract ? n : a->nrcpts, out.data, out.len, qid, err,
	    sizeof(err)) == -1) {
		e = errno;
		fprintf(stderr, "postern: cannot queue the message: %s\n", err);
		if (e == EACCES || e == EPERM)
			noperm_hint(conf);
		status = e == EACCES || e == EPERM ? EX_NOPERM :
		    e == EINVAL ? EX_DATAERR : EX_TEMPFAIL;
		goto done;
	}
	if (a->verbose)
		printf("%s: queued in the maildrop\n", qid);
done:
	for (i = 0; rcpts != NULL && i < n; i++)
		free(rcpts[i]);
	free(rcpts);
	free(from);
	free(msgid);
	free(gecos);
	buf_free(&in);
	buf_free(&out);
	return status;
}

/* -- -bs: an SMTP session on stdin/stdout -------------------------- */

/* Copies stdin to fd and fd to stdout until fd closes. */
static int
relay(int fd)
{
	struct pollfd	 pfd[2];
	char		 buf[16384];
	ssize_t		 n;
	int		 in_open = 1;

	for (;;) {
		pfd[0].fd = in_open ? 0 : -1;
		pfd[0].events = POLLIN;
		pfd[1].fd = fd;
		pfd[1].events = POLLIN;
		if ((n = poll(pfd, 2, SM_RELAY_TIMEOUT)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return n == 0 ? EX_TEMPFAIL : EX_IOERR;
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(fd, buf, sizeof(buf))) <= 0)
				return EX_OK;
			if (write(1, buf, (size_t)n) != n)
				return EX_IOERR;
		}
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(0, buf, sizeof(buf))) <= 0) {
				in_open = 0;
				(void)shutdown(fd, SHUT_WR);
			} else if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n)
				return EX_IOERR;
		}
	}
}

/* Not root: the running daemon's first listener is the way in. */
static int
smtp_via_daemon(const struct config *conf)
{
	struct addrinfo	 hints, *res;
	const char	*host = conf->listen[0].host;
	int		 fd, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	if (getaddrinfo(strcmp(host, "*") ? host : "127.0.0.1",
	    conf->listen[0].port, &hints, &res) != 0)
		return EX_CONFIG;
	fd = socket(res->ai_family, SOCK_STREAM, 0);
	if (fd == -1 || connect(fd, res->ai_addr, res->ai_addrlen) == -1) {
		printf("421 4.3.2 %s mail system not running\r\n",
		    conf->hostname);
		freeaddrinfo(res);
		return EX_TEMPFAIL;
	}
	freeaddrinfo(res);
	rc = relay(fd);
	(void)close(fd);
	return rc;
}

/* Root: an in-process session as the daemon's user, over a socketpair. */
static int
smtp_local(const struct config *conf)
{
	struct server_ctx	 sctx = { conf, NULL, -1 };
	struct listen_spec	 ls;
	struct sockaddr_in	 sin;
	char			 err[256];
	pid_t			 pid;
	int			 sv[2], rc;

	if (privsep_drop(conf->user, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return EX_NOPERM;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    (pid = fork()) == -1)
		return EX_OSERR;
	if (pid == 0) {
		(void)close(sv[0]);
		memset(&ls, 0, sizeof(ls));
		(void)strlcpy(ls.host, "127.0.0.1", sizeof(ls.host));
		(void)strlcpy(ls.port, "0", sizeof(ls.port));
		ls.mode = LISTEN_SUBMISSION;
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		smtp_session(&sctx, sv[1], (struct sockaddr *)&sin, sizeof(sin),
		    &ls);
		_exit(0);
	}
	(void)close(sv[1]);
	rc = relay(sv[0]);
	(void)close(sv[0]);
	return rc;
}

/* -- -bv ----------------------------------------------------------- */

static int
verify_one(const struct config *conf, const char *addr)
{
	struct alias_ops	 ops;
	struct alias_list	 l;
	const char		*at = strrchr(addr, '@'), *why;
	char			*local;
	size_t			 i;
	int			 temp;

	local_alias_ops(conf, &ops);
	if (at != NULL && !ops.is_local(ops.arg, at + 1)) {
		printf("%s... deliverable: mailer smtp, host %s\n", addr,
		    *conf->relayhost ? conf->relayhost : at + 1);
		return EX_OK;
	}
	local = at ? xstrndup(addr, (size_t)(at - addr)) : xstrdup(addr);
	why = aliases_expand(&ops, local, &l, &temp);
	free(local);
	if (why != NULL) {
		printf("%s... %s\n", addr, why);
		return temp ? EX_TEMPFAIL : EX_UNAVAILABLE;
	}
	for (i = 0; i < l.n; i++) {
		const struct alias_target *t = &l.v[i];

		if (t->kind == ALIAS_LOCAL && getpwnam(t->value) == NULL)
			printf("%s... %s: user unknown\n", addr, t->value);
		else if (t->kind == ALIAS_LOCAL)
			printf("%s... deliverable: mailer local, user %s\n",
			    addr, t->value);
		else if (t->kind == ALIAS_REMOTE)
			printf("%s... deliverable: mailer smtp, address %s\n",
			    addr, t->value);
		else
			printf("%s... deliverable: mailer %s, %s \"%s\" as %s\n",
			    addr, t->kind == ALIAS_FILE ? "*file*" : "prog",
			    t->kind == ALIAS_FILE ? "file" : "command",
			    t->value, t->user ? t->user : conf->default_user);
	}
	alias_list_free(&l);
	return EX_OK;
}

/* -- the queue ----------------------------------------------------- */

static void
maildrop_note(const struct config *conf)
{
	char		 dir[4096];
	struct dirent	*de;
	DIR		*d;
	size_t		 n = 0;

	if (maildrop_path(conf, dir, sizeof(dir)) == -1 ||
	    (d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (qid_valid(de->d_name))
			n++;
	(void)closedir(d);
	if (n > 0)
		printf("%zu message%s in the maildrop, waiting for the "
		    "daemon\n", n, n == 1 ? "" : "s");
}

static int
run_control(const struct config *conf, const char *cmd, const char *arg)
{
	char	*argv[3];

	argv[0] = (char *)(uintptr_t)cmd;
	argv[1] = (char *)(uintptr_t)arg;
	argv[2] = NULL;
	return control_main(conf, arg ? 2 : 1, argv);
}

static int
run_mode(struct config *conf, const struct sm_args *a)
{
	char	 err[512];
	int	 rc = EX_OK;
	size_t	 i;

	switch (a->mode) {
	case SM_SUBMIT:
		return submit(conf, a);
	case SM_SMTP:
		return geteuid() == 0 ? smtp_local(conf) : smtp_via_daemon(conf);
	case SM_DAEMON:
		log_init("postern", a->foreground, conf->log_file);
		log_setverbose((int)conf->verbose);
		return master_main(conf, a->foreground);
	case SM_PRINT:
		maildrop_note(conf);
		return run_control(conf, "queue", NULL);
	case SM_NEWALIASES:
		if (aliases_build_db(conf->aliases, err, sizeof(err)) == -1) {
			fprintf(stderr, "newaliases: %s\n", err);
			return EX_CANTCREAT;
		}
		return EX_OK;
	case SM_QUEUE:
		return run_control(conf, "flush", a->queue_dest);
	case SM_VERIFY:
		for (i = 0; i < a->nrcpts; i++)
			if (verify_one(conf, a->rcpts[i]) != EX_OK)
				rc = EX_UNAVAILABLE;
		return rc;
	default:	/* hoststat, purgestat */
		printf("postern keeps no host status database: nothing to %s\n",
		    a->mode == SM_HOSTSTAT ? "show" : "purge");
		return EX_OK;
	}
}

/* The options that do something here (sendmail_args.c), by name. */
static const char *
sm_usage(const char *prog)
{
	if (strcmp(prog, "mailq") == 0)
		return "usage: mailq [-C config] [-v]\n";
	if (strcmp(prog, "newaliases") == 0)
		return "usage: newaliases [-C config]\n";
	return "usage: sendmail [-C config] [-F name] [-f sender] [-i] "
	    "[-N dsn] [-R ret] [-t] [-V envid] [-bm | -bs | -bp | -bi] "
	    "[recipient ...]\n";
}

int
sendmail_main(int argc, char **argv)
{
	struct sm_args	 a;
	struct config	 conf;
	struct buf	 w;
	const char	*prog = strrchr(argv[0], '/'), *why, *path;
	char		 err[1024];
	int		 rc;

	prog = prog ? prog + 1 : argv[0];
	buf_init(&w);
	buf_append(&w, "", 0);
	why = sm_args_parse(argc, argv, prog, &a, &w);
	fputs(w.data, stderr);
	buf_free(&w);
	if (why != NULL) {
		fprintf(stderr, "%s: %s\n%s", prog, why, sm_usage(prog));
		return EX_USAGE;
	}
	/* Only plain submission keeps the maildrop group, and only with
	 * the system's configuration. */
	if (a.mode != SM_SUBMIT || (a.config != NULL && getuid() != 0))
		sendmail_drop_setgid();
	path = a.config;
	if (path == NULL && getegid() == getgid())
		path = getenv("POSTERN_CONF");
	if (path == NULL)
		path = POSTERN_CONF_DEFAULT;
	log_init("postern", 1, NULL);
	config_defaults(&conf);
	if (config_load(&conf, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return EX_CONFIG;
	}
	if (a.verbose > conf.verbose)
		conf.verbose = a.verbose;
	rc = run_mode(&conf, &a);
	config_free(&conf);
	return rc;
}
