/*
 * smtp_client against a real peer: tests/unit/smtp_peer.py serves on a
 * loopback socket this test binds, answers as each scenario says and
 * records every byte the client sent; the test compares the record and
 * the outcomes.  Also: connect refused, a silent server, IPv6.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "compat.h"
#include "smtp_auth.h"
#include "smtp_client.h"
#include "tls.h"
#include "util.h"

#define PYTHON	"/usr/bin/python3"
#define PEER	"tests/unit/smtp_peer.py"

static char	 dir[] = "/tmp/smtp-client-test.XXXXXX";
static char	 cert[128], key[128], record[128];
static SSL_CTX	*ctx, *ctx_ca;

struct peer {
	pid_t	 pid;
	int	 port;
};

/* Binds a loopback port, hands the socket to the peer script. */
static struct peer
peer_start(int family, const char *const *args)
{
	struct sockaddr_storage ss;
	socklen_t	 sl = sizeof(ss);
	struct peer	 p;
	char		 fdarg[16], *argv[40];
	size_t		 n = 0;
	int		 fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
		    htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	assert_true((fd = socket(family, SOCK_STREAM, 0)) != -1);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)), 0);
	assert_int_equal(listen(fd, 5), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	p.port = ntohs(family == AF_INET ?
	    ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	(void)snprintf(fdarg, sizeof(fdarg), "%d", fd);
	(void)unlink(record);
	argv[n++] = PYTHON;
	argv[n++] = PEER;
	argv[n++] = "--fd";
	argv[n++] = fdarg;
	argv[n++] = "--record";
	argv[n++] = record;
	argv[n++] = "--cert";
	argv[n++] = cert;
	argv[n++] = "--key";
	argv[n++] = key;
	for (; args != NULL && *args != NULL && n < 38; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	if ((p.pid = fork()) == 0) {
		execv(PYTHON, argv);
		_exit(127);
	}
	close(fd);
	return p;
}

/* Waits at most 10 s for the peer, then returns what it recorded. */
static char *
peer_finish(struct peer p)
{
	struct buf	 b;
	char		 tmp[4096];
	FILE		*f;
	size_t		 n;
	int		 st, i;

	for (i = 0; i < 1000 && waitpid(p.pid, &st, WNOHANG) == 0; i++)
		usleep(10000);
	if (i == 1000) {
		kill(p.pid, SIGKILL);
		(void)waitpid(p.pid, &st, 0);
	}
	buf_init(&b);
	buf_appendstr(&b, "");
	if ((f = fopen(record, "r")) != NULL) {
		while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
			buf_append(&b, tmp, n);
		fclose(f);
	}
	return b.data;
}

static void
target(int family, int port, struct mx_host *h, struct mx_addr *a,
    struct smtp_client_opts *o)
{
	memset(h, 0, sizeof(*h));
	memset(a, 0, sizeof(*a));
	memset(o, 0, sizeof(*o));
	(void)strlcpy(h->name, "mx.postern.test", sizeof(h->name));
	a->family = family;
	if (family == AF_INET) {
		inet_pton(AF_INET, "127.0.0.1", a->addr);
		(void)strlcpy(a->text, "127.0.0.1", sizeof(a->text));
	} else {
		inet_pton(AF_INET6, "::1", a->addr);
		(void)strlcpy(a->text, "::1", sizeof(a->text));
	}
	o->helo = "client.test";
	o->port = port;
	o->connect_timeout = 5;
	o->reply_timeout = 5;
	o->tls_ctx = ctx;
}

/* A message of three recipients with DSN parameters. */
static struct qmsg	 msg;
static struct qrcpt	 rc[3];
static const struct qrcpt *rcp[3] = { &rc[0], &rc[1], &rc[2] };
static const char	 body[] = "Subject: t\r\n\r\n.leading dot\r\n"
			    "bare LF\nbare CR\rend";

static void
message_init(void)
{
	memset(&msg, 0, sizeof(msg));
	memset(rc, 0, sizeof(rc));
	msg.sender = "a@x.test";
	msg.flags = QMSG_8BITMIME | QMSG_RET_HDRS;
	msg.envid = "abc+2Bdef";
	rc[0].addr = "good@y.test";
	rc[0].notify = QNOTIFY_SUCCESS | QNOTIFY_FAILURE;
	rc[0].orcpt = "rfc822;good@y.test";
	rc[1].addr = "bad@y.test";
	rc[2].addr = "c@y.test";
	rc[2].notify = QNOTIFY_NEVER;
}

#define WIRE_BODY	"Subject: t\r\n\r\n..leading dot\r\nbare LF\r\n" \
			"bare CR\r\nend\r\n.\r\n"

/* Runs one open + send + close against a peer; returns the record. */
static char *
run(int family, const char *const *args, const struct tls_decision *d,
    SSL_CTX *use, struct outcome *open_out, struct outcome *out,
    char *tlsdesc, char *auth)
{
	struct smtp_client_opts o;
	struct smtp_client *c;
	struct mx_host	 h;
	struct mx_addr	 a;
	struct peer	 p = peer_start(family, args);

	target(family, p.port, &h, &a, &o);
	if (use != NULL)
		o.tls_ctx = use;
	c = smtp_client_open(&h, &a, d, &o, open_out);
	if (c != NULL) {
		assert_int_equal(smtp_client_send(c, &msg, rcp, 3, body,
		    strlen(body), out), 0);
		(void)strlcpy(tlsdesc, smtp_client_tls(c), 128);
		(void)strlcpy(auth, smtp_client_auth(c), 32);
		smtp_client_close(c);
	}
	return peer_finish(p);
}

static void
decision(struct tls_decision *d, enum tls_level l)
{
	tls_decision_init(d, l, "test", "mx.postern.test");
}

static void
test_pipelined_dsn(void **state)
{
	static const char *args[] = { "--ext",
	    "PIPELINING,SIZE 1000000,8BITMIME,DSN,ENHANCEDSTATUSCODES",
	    "--rcpt", "bad@y.test=550 5.1.1 <bad@y.test>: user unknown", NULL };
	struct tls_decision d;
	struct outcome	 oo, out[3];
	char		 tlsd[128], auth[32], want[1024], *rec;

	(void)state;
	message_init();
	decision(&d, TLS_LEVEL_MAY);
	rec = run(AF_INET, args, &d, NULL, &oo, out, tlsd, auth);
	(void)snprintf(want, sizeof(want), "=== CONNECT ===\n"
	    "EHLO client.test\r\n"
	    "MAIL FROM:<a@x.test> SIZE=%zu BODY=8BITMIME RET=HDRS "
	    "ENVID=abc+2Bdef\r\n"
	    "RCPT TO:<good@y.test> NOTIFY=SUCCESS,FAILURE "
	    "ORCPT=rfc822;good@y.test\r\n"
	    "RCPT TO:<bad@y.test>\r\n"
	    "RCPT TO:<c@y.test> NOTIFY=NEVER\r\n"
	    "DATA\r\n" WIRE_BODY "QUIT\r\n", strlen(body));
	assert_string_equal(rec, want);
	free(rec);
	assert_int_equal(out[0].kind, OUTCOME_SENT);
	assert_string_equal(out[0].text, "250 2.0.0 queued as PEER1");
	assert_string_equal(out[0].status, "2.0.0");
	assert_int_equal(out[1].kind, OUTCOME_BOUNCE);
	assert_string_equal(out[1].status, "5.1.1");
	assert_string_equal(out[1].text, "550 5.1.1 <bad@y.test>: user unknown");
	assert_int_equal(out[2].kind, OUTCOME_SENT);
	assert_string_equal(tlsd, "none");
	assert_string_equal(auth, "none");
}

/* No EHLO: HELO, no parameters, one command at a time; every RCPT
 * refused: RSET instead of DATA; a second message on the connection. */
static void
test_helo_lockstep(void **state)
{
	static const char *args[] = { "--no-ehlo", "--rcpt",
	    "good@y.test=450 4.2.0 busy", "--rcpt",
	    "bad@y.test=550 5.1.1 unknown", "--rcpt",
	    "c@y.test=550 no such user", NULL };
	struct smtp_client_opts o;
	struct smtp_client *c;
	struct tls_decision d;
	struct mx_host	 h;
	struct mx_addr	 a;
	struct outcome	 oo, out[3];
	struct peer	 p = peer_start(AF_INET, args);
	struct qrcpt	 ok = { .addr = "ok@y.test", .notify = QNOTIFY_NEVER };
	const struct qrcpt *okp[1] = { &ok };
	char		*rec;

	(void)state;
	message_init();
	decision(&d, TLS_LEVEL_MAY);
	target(AF_INET, p.port, &h, &a, &o);
	assert_non_null(c = smtp_client_open(&h, &a, &d, &o, &oo));
	assert_int_equal(smtp_client_send(c, &msg, rcp, 3, body,
	    strlen(body), out), 0);
	assert_int_equal(out[0].kind, OUTCOME_DEFER);
	assert_string_equal(out[0].status, "4.2.0");
	assert_int_equal(out[1].kind, OUTCOME_BOUNCE);
	assert_int_equal(out[2].kind, OUTCOME_BOUNCE);
	assert_string_equal(out[2].status, "5.0.0");
	assert_string_equal(out[2].text, "550 no such user");
	msg.sender = "";
	assert_int_equal(smtp_client_send(c, &msg, okp, 1, "x\r\n", 3, out),
	    0);
	assert_int_equal(out[0].kind, OUTCOME_SENT);
	smtp_client_close(c);
	rec = peer_finish(p);
	assert_string_equal(rec, "=== CONNECT ===\n"
	    "EHLO client.test\r\nHELO client.test\r\n"
	    "MAIL FROM:<a@x.test>\r\n"
	    "RCPT TO:<good@y.test>\r\nRCPT TO:<bad@y.test>\r\n"
	    "RCPT TO:<c@y.test>\r\nRSET\r\n"
	    "MAIL FROM:<>\r\nRCPT TO:<ok@y.test>\r\nDATA\r\nx\r\n.\r\n"
	    "QUIT\r\n");
	free(rec);
}

/* A host name too long for the EHLO line is never sent cut: the
 * session defers (4.3.5) and the peer sees no EHLO or HELO at all. */
static void
test_helo_too_long(void **state)
{
	struct smtp_client_opts o;
	struct tls_decision d;
	struct mx_host	 h;
	struct mx_addr	 a;
	struct outcome	 oo;
	struct peer	 p = peer_start(AF_INET, NULL);
	char		 name[400], *rec;

	(void)state;
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	decision(&d, TLS_LEVEL_MAY);
	target(AF_INET, p.port, &h, &a, &o);
	o.helo = name;
	assert_null(smtp_client_open(&h, &a, &d, &o, &oo));
	assert_int_equal(oo.kind, OUTCOME_DEFER);
	assert_string_equal(oo.status, "4.3.5");
	rec = peer_finish(p);
	if (strstr(rec, "EHLO") != NULL || strstr(rec, "HELO") != NULL)
		fail_msg("the peer got a hello: %s", rec);
	free(rec);
}

static void
test_starttls_may(void **state)
{
	static const char *args[] = { "--ext", "PIPELINING,STARTTLS", NULL };
	struct tls_decision d;
	struct outcome	 oo, out[3];
	char		 tlsd[128], auth[32], *rec;

	(void)state;
	message_init();
	decision(&d, TLS_LEVEL_MAY);
	rec = run(AF_INET, args, &d, NULL, &oo, out, tlsd, auth);
	assert_string_equal(rec, "=== CONNECT ===\n"
	    "EHLO client.test\r\nSTARTTLS\r\n=== TLS ===\n"
	    "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\n"
	    "RCPT TO:<good@y.test>\r\nRCPT TO:<bad@y.test>\r\n"
	    "RCPT TO:<c@y.test>\r\nDATA\r\n" WIRE_BODY "QUIT\r\n");
	free(rec);
	assert_int_equal(out[0].kind, OUTCOME_SENT);
	assert_int_equal(strncmp(tlsd, "TLSv1.3/TLS_", 12), 0);
	assert_string_equal(auth, "untrusted");
}

/* Opens with credentials under level l; returns the record. */
static char *
auth_open(const char *const *args, enum tls_level l, struct outcome *oo)
{
	struct smtp_auth_cred	 cr;
	struct smtp_client_opts	 o;
	struct tls_decision	 d;
	struct smtp_client	*c;
	struct mx_host		 h;
	struct mx_addr		 a;
	struct peer		 p = peer_start(AF_INET, args);

	memset(&cr, 0, sizeof(cr));
	(void)strlcpy(cr.user, "alice", sizeof(cr.user));
	(void)strlcpy(cr.pass, "s3cret", sizeof(cr.pass));
	target(AF_INET, p.port, &h, &a, &o);
	o.cred = &cr;
	decision(&d, l);
	c = smtp_client_open(&h, &a, &d, &o, oo);
	assert_null(c);
	return peer_finish(p);
}

/* RFC 4954 §4: credentials and no TLS (a level that allows clear text,
 * a server without STARTTLS): no AUTH on the wire, 4.7.10. */
static void
test_auth_never_in_clear(void **state)
{
	static const char *args[] = { "--ext", "AUTH PLAIN LOGIN", NULL };
	struct outcome	 oo;
	char		*rec;

	(void)state;
	rec = auth_open(args, TLS_LEVEL_MAY, &oo);
	assert_string_equal(rec, "=== CONNECT ===\n"
	    "EHLO client.test\r\nQUIT\r\n");
	free(rec);
	assert_int_equal(oo.kind, OUTCOME_DEFER);
	assert_string_equal(oo.status, "4.7.10");
	assert_non_null(strstr(oo.text, "refusing to send credentials in "
	    "clear"));
}

/* Over TLS: AUTH PLAIN with the RFC 4616 initial response; a refusal
 * defers (4.x.x, never a bounce) and nothing more is sent. */
static void
test_auth_refused_over_tls(void **state)
{
	static const char *args[] = { "--ext",
	    "STARTTLS,AUTH LOGIN PLAIN", NULL };
	struct outcome	 oo;
	char		*rec;

	(void)state;
	rec = auth_open(args, TLS_LEVEL_ENCRYPT, &oo);
	assert_string_equal(rec, "=== CONNECT ===\n"
	    "EHLO client.test\r\nSTARTTLS\r\n=== TLS ===\n"
	    "EHLO client.test\r\nAUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n"
	    "QUIT\r\n");
	free(rec);
	assert_int_equal(oo.kind, OUTCOME_DEFER);
	assert_string_equal(oo.status, "4.5.1");
	assert_non_null(strstr(oo.text, "4.5.1 authentication failed: AUTH "
	    "PLAIN to mx.postern.test[127.0.0.1]:"));
	assert_non_null(strstr(oo.text, ": 500 5.5.1 unknown command"));
	assert_null(strstr(oo.text, "s3cret"));
	assert_null(strstr(oo.text, "alice"));
}

/* MAY: a failed handshake reconnects in clear without STARTTLS. */
static void
test_starttls_fallback(void **state)
{
	static const char *args[] = { "--ext", "STARTTLS", "--tls-break",
	    "--connections", "2", NULL };
	struct tls_decision d;
	struct outcome	 oo, out[3];
	char		 tlsd[128], auth[32], *rec;

	(void)state;
	message_init();
	decision(&d, TLS_LEVEL_MAY);
	rec = run(AF_INET, args, &d, NULL, &oo, out, tlsd, auth);
	assert_string_equal(rec, "=== CONNECT ===\n"
	    "EHLO client.test\r\nSTARTTLS\r\n"
	    "=== CONNECT ===\n"
	    "EHLO client.test\r\nMAIL FROM:<a@x.test>\r\n"
	    "RCPT TO:<good@y.test>\r\nRCPT TO:<bad@y.test>\r\n"
	    "RCPT TO:<c@y.test>\r\nDATA\r\n" WIRE_BODY "QUIT\r\n");
	free(rec);
	assert_int_equal(out[2].kind, OUTCOME_SENT);
	assert_string_equal(tlsd, "none");
}

/* Levels that require TLS never send MAIL in clear. */
static void
test_tls_required(void **state)
{
	static const char *noext[] = { "--ext", "PIPELINING", NULL };
	static const char *broken[] = { "--ext", "STARTTLS", "--tls-break",
	    NULL };
	static const char *refuse[] = { "--ext", "STARTTLS",
	    "--starttls-reply", "454 4.7.0 TLS not available", NULL };
	struct tls_decision d;
	struct outcome	 oo, out[3];
	char		 tlsd[128], auth[32], *rec;

	(void)state;
	message_init();
	decision(&d, TLS_LEVEL_ENCRYPT);
	rec = run(AF_INET, noext, &d, NULL, &oo, out, tlsd, auth);
	assert_string_equal(rec, "=== CONNECT ===\nEHLO client.test\r\n"
	    "QUIT\r\n");
	free(rec);
	assert_int_equal(oo.kind, OUTCOME_DEFER);
	assert_string_equal(oo.status, "4.7.4");
	assert_non_null(strstr(oo.text, "does not offer STARTTLS"));

	rec = run(AF_INET, broken, &d, NULL, &oo, out, tlsd, auth);
	assert_string_equal(rec, "=== CONNECT ===\nEHLO client.test\r\n"
	    "STARTTLS\r\n");
	free(rec);
	assert_int_equal(oo.kind, OUTCOME_DEFER);
	assert_string_equal(oo.status, "4.7.5");
	assert_non_null(strstr(oo.text, "TLS handshake with"));

	decision(&d, TLS_LEVEL_MTA_STS);
	rec = run(AF_INET, refuse, &d, NULL, &oo, out, tlsd, auth);
	assert_null(strstr(rec, "MAIL"));
	free(rec);
	assert_string_equal(oo.status, "4.7.4");
	assert_non_null(strstr(oo.text, "454 4.7.0 TLS not available"));
}

/* VERIFY: a self-signed certificate fails unless it is the CA given. */
static void
test_verify(void **state)
{
	static const char *args[] = { "--ext", "STARTTLS", NULL };
	struct tls_decision d;
	struct outcome	 oo, out[3];
	char		 tlsd[128], auth[32], *rec;

	(void)state;
	message_init();
	decision(&d, TLS_LEVEL_VERIFY);
	rec = run(AF_INET, args, &d, NULL, &oo, out, tlsd, auth);
	assert_null(strstr(rec, "MAIL"));
	free(rec);
	assert_string_equal(oo.status, "4.7.5");
	assert_non_null(strstr(oo.text, "not verified"));

	rec = run(AF_INET, args, &d, ctx_ca, &oo, out, tlsd, auth);
	assert_non_null(strstr(rec, "MAIL FROM"));
	free(rec);
	assert_string_equal(auth, "verify");
	assert_int_equal(out[0].kind, OUTCOME_SENT);

	/* right CA, wrong name */
	(void)strlcpy(d.sni, "other.test", sizeof(d.sni));
	rec = run(AF_INET, args, &d, ctx_ca, &oo, out, tlsd, auth);
	assert_null(strstr(rec, "MAIL"));
	free(rec);
	assert_string_equal(oo.status, "4.7.5");
}

/* RFC 7672: DANE-EE 3 1 1 of the peer's key authenticates a self-signed
 * certificate; a wrong digest or only unusable records do not. */
static void
test_dane(void **state)
{
	static const char *args[] = { "--ext", "STARTTLS", NULL };
	struct tls_decision d;
	struct tls_tlsa	 t;
	struct outcome	 oo, out[3];
	unsigned char	 dig[32], *der = NULL;
	char		 tlsd[128], auth[32], *rec;
	FILE		*f;
	X509		*x;
	int		 len;

	(void)state;
	message_init();
	assert_non_null(f = fopen(cert, "r"));
	assert_non_null(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	assert_true((len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der)) > 0);
	SHA256(der, (size_t)len, dig);
	OPENSSL_free(der);
	X509_free(x);
	decision(&d, TLS_LEVEL_DANE);
	(void)strlcpy(d.sni, "some.other.name", sizeof(d.sni));
	t.usage = 3;
	t.selector = 1;
	t.mtype = 1;
	t.data = dig;
	t.len = sizeof(dig);
	d.tlsa = &t;
	d.ntlsa = 1;
	rec = run(AF_INET, args, &d, NULL, &oo, out, tlsd, auth);
	assert_non_null(strstr(rec, "MAIL FROM"));
	free(rec);
	assert_string_equal(auth, "dane");
	assert_int_equal(out[0].kind, OUTCOME_SENT);

	dig[0] ^= 1;
	rec = run(AF_INET, args, &d, NULL, &oo, out, tlsd, auth);
	assert_null(strstr(rec, "MAIL"));
	free(rec);
	assert_string_equal(oo.status, "4.7.5");
	assert_non_null(strstr(oo.text, "not verified"));

	dig[0] ^= 1;
	t.usage = 1;	/* PKIX-EE: unusable for SMTP */
	rec = run(AF_INET, args, &d, NULL, &oo, out, tlsd, auth);
	assert_null(strstr(rec, "STARTTLS"));
	free(rec);
	assert_string_equal(oo.status, "4.7.5");
	assert_non_null(strstr(oo.text, "no usable TLSA"));
}

static void
test_refusals(void **state)
{
	static const struct {
		const char	*args[6];
		const char	*status;	/* of the open, or NULL */
		enum outcome_kind kind;		/* of recipient 0 */
		const char	*rstatus;
	} cases[] = {
		{ { "--greeting", "554 5.7.1 go away", NULL }, "5.7.1", 0,
		    NULL },
		{ { "--greeting", "421 busy", NULL }, "4.0.0", 0, NULL },
		{ { "--ext", "SIZE 10", NULL }, NULL, OUTCOME_BOUNCE, "5.3.4" },
		{ { "--ext", "PIPELINING", "--mail-reply", "452 4.3.1 full",
		    NULL }, NULL, OUTCOME_DEFER, "4.3.1" },
		{ { "--mail-reply", "553 5.1.8 bad sender", NULL }, NULL,
		    OUTCOME_BOUNCE, "5.1.8" },
		{ { "--dot-reply", "554 5.6.0 rejected", NULL }, NULL,
		    OUTCOME_BOUNCE, "5.6.0" },
		{ { "--ext", "PIPELINING", "--data-reply", "451 later", NULL },
		    NULL, OUTCOME_DEFER, "4.0.0" },
	};
	struct tls_decision d;
	struct outcome	 oo, out[3];
	char		 tlsd[128], auth[32], *rec;
	size_t		 i;

	(void)state;
	message_init();
	decision(&d, TLS_LEVEL_MAY);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 0, sizeof(out));
		memset(&oo, 0, sizeof(oo));
		rec = run(AF_INET, cases[i].args, &d, NULL, &oo, out, tlsd,
		    auth);
		if (cases[i].status != NULL) {
			assert_int_equal(oo.kind, OUTCOME_DEFER);
			assert_string_equal(oo.status, cases[i].status);
			assert_null(strstr(rec, "MAIL"));
		} else {
			assert_int_equal(out[0].kind, cases[i].kind);
			assert_string_equal(out[0].status, cases[i].rstatus);
			assert_int_equal(out[2].kind, cases[i].kind);
			/* nothing sent for a message that cannot fit */
			if (strcmp(cases[i].rstatus, "5.3.4") == 0)
				assert_null(strstr(rec, "MAIL"));
			assert_non_null(strstr(rec, "QUIT\r\n"));
		}
		free(rec);
	}
}

/* Paths that cannot go out as they are, and 8-bit addresses without
 * SMTPUTF8, are refused here; the others are delivered. */
static void
test_precheck(void **state)
{
	static const char *args[] = { "--ext", "PIPELINING", NULL };
	struct tls_decision d;
	struct outcome	 oo, out[3];
	char		 tlsd[128], auth[32], *rec;

	(void)state;
	message_init();
	rc[1].addr = "x@y\r\nRSET";
	rc[2].addr = "j\xc3\xb6rg@y.test";
	decision(&d, TLS_LEVEL_MAY);
	rec = run(AF_INET, args, &d, NULL, &oo, out, tlsd, auth);
	assert_null(strstr(rec, "RSET"));
	assert_null(strstr(rec, "\xc3"));
	assert_non_null(strstr(rec, "RCPT TO:<good@y.test>\r\nDATA\r\n"));
	free(rec);
	assert_int_equal(out[0].kind, OUTCOME_SENT);
	assert_int_equal(out[1].kind, OUTCOME_BOUNCE);
	assert_string_equal(out[1].status, "5.1.3");
	assert_int_equal(out[2].kind, OUTCOME_BOUNCE);
	assert_string_equal(out[2].status, "5.6.7");
}

static void
test_ipv6(void **state)
{
	static const char *args[] = { "--ext", "PIPELINING,STARTTLS", NULL };
	struct tls_decision d;
	struct outcome	 oo, out[3];
	char		 tlsd[128], auth[32], *rec;
	int		 fd = socket(AF_INET6, SOCK_STREAM, 0);

	(void)state;
	if (fd == -1)
		skip();
	close(fd);
	message_init();
	decision(&d, TLS_LEVEL_ENCRYPT);
	rec = run(AF_INET6, args, &d, NULL, &oo, out, tlsd, auth);
	assert_non_null(strstr(rec, "=== TLS ===\n"));
	free(rec);
	assert_int_equal(out[0].kind, OUTCOME_SENT);
	assert_string_equal(auth, "untrusted");
}

/* Refused connection and a server that accepts but never speaks. */
static void
test_no_server(void **state)
{
	struct smtp_client_opts o;
	struct tls_decision d;
	struct mx_host	 h;
	struct mx_addr	 a;
	struct outcome	 oo;
	struct sockaddr_in sin;
	socklen_t	 sl = sizeof(sin);
	int		 fd;
	int64_t		 t0;

	(void)state;
	decision(&d, TLS_LEVEL_MAY);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	target(AF_INET, ntohs(sin.sin_port), &h, &a, &o);
	/* bound, not listening: refused */
	assert_null(smtp_client_open(&h, &a, &d, &o, &oo));
	assert_int_equal(oo.kind, OUTCOME_DEFER);
	assert_string_equal(oo.status, "4.4.1");
	assert_non_null(strstr(oo.text, "refused"));
	/* listening, never accepting: the greeting times out */
	assert_int_equal(listen(fd, 1), 0);
	o.reply_timeout = 1;
	t0 = mono_msec();
	assert_null(smtp_client_open(&h, &a, &d, &o, &oo));
	assert_true(mono_msec() - t0 < 3000);
	assert_string_equal(oo.status, "4.4.2");
	assert_non_null(strstr(oo.text, "timed out"));
	close(fd);
}

/* The job's deadline cuts a stage's own timeout (dlimit.h), with its
 * own reason; a greeting, whatever its code, counts as a session. */
static void
test_deadline_and_sessions(void **state)
{
	static const char *greet421[] = { "--greeting", "421 busy", NULL };
	struct smtp_client_opts o;
	struct tls_decision d;
	struct mx_host	 h;
	struct mx_addr	 a;
	struct outcome	 oo;
	struct sockaddr_in sin;
	struct peer	 p;
	socklen_t	 sl = sizeof(sin);
	unsigned	 sessions = 0;
	int		 fd;
	int64_t		 t0;

	(void)state;
	decision(&d, TLS_LEVEL_MAY);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(listen(fd, 1), 0);
	target(AF_INET, ntohs(sin.sin_port), &h, &a, &o);
	/* a silent server, a 5 s reply timeout, 0.5 s left in the job */
	o.sessions = &sessions;
	t0 = mono_msec();
	o.deadline = t0 + 500;
	assert_null(smtp_client_open(&h, &a, &d, &o, &oo));
	assert_true(mono_msec() - t0 >= 400);
	assert_true(mono_msec() - t0 < 2000);
	assert_string_equal(oo.status, "4.4.2");
	assert_non_null(strstr(oo.text, "delivery_job_timeout reached"));
	assert_int_equal(sessions, 0);
	close(fd);
	/* a 421 greeting inside the deadline: refused, and counted */
	p = peer_start(AF_INET, greet421);
	target(AF_INET, p.port, &h, &a, &o);
	o.sessions = &sessions;
	o.deadline = mono_msec() + 5000;
	assert_null(smtp_client_open(&h, &a, &d, &o, &oo));
	assert_string_equal(oo.status, "4.0.0");
	assert_int_equal(sessions, 1);	/* a 421 greeting is a session */
	free(peer_finish(p));
}

static int
setup(void **state)
{
	char	 err[256];

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	(void)snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	(void)snprintf(key, sizeof(key), "%s/key.pem", dir);
	(void)snprintf(record, sizeof(record), "%s/record", dir);
	tls_init();
	if (tls_selfsigned_ensure(cert, key, "mx.postern.test", err,
	    sizeof(err)) == -1 ||
	    (ctx = tls_client_ctx(NULL, err, sizeof(err))) == NULL ||
	    (ctx_ca = tls_client_ctx(cert, err, sizeof(err))) == NULL) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	SSL_CTX_free(ctx);
	SSL_CTX_free(ctx_ca);
	(void)unlink(cert);
	(void)unlink(key);
	(void)unlink(record);
	(void)rmdir(dir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelined_dsn),
		cmocka_unit_test(test_helo_lockstep),
		cmocka_unit_test(test_helo_too_long),
		cmocka_unit_test(test_starttls_may),
		cmocka_unit_test(test_starttls_fallback),
		cmocka_unit_test(test_auth_never_in_clear),
		cmocka_unit_test(test_auth_refused_over_tls),
		cmocka_unit_test(test_tls_required),
		cmocka_unit_test(test_verify),
		cmocka_unit_test(test_dane),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_precheck),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_deadline_and_sessions),
	};

	signal(SIGPIPE, SIG_IGN);
	if (access(PEER, R_OK) == -1) {
		fprintf(stderr, "run from the top of the tree (%s)\n", PEER);
		return 1;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
