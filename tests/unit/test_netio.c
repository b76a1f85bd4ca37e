/*
 * netio over socketpairs: line splitting, over-long lines, EOF, deadlines,
 * pending input, buffered output; TLS between a forked server (self-signed
 * certificate from tls.c) and a client, both through netio.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

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

#include <openssl/x509v3.h>

#include "config.h"
#include "netio.h"
#include "tls.h"
#include "util.h"

#define NETIO_TEST_BUF	16384	/* netio's first input buffer */

struct want {
	enum netio_line	 rc;
	const char	*line;
};

/* Writes input, closes the writer, then checks every getline result. */
static void
run_lines(const char *input, size_t inlen, size_t max, const struct want *w)
{
	struct netio	*n;
	const char	*line;
	size_t		 len;
	int		 sv[2];
	enum netio_line	 rc;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], input, inlen), (ssize_t)inlen);
	close(sv[1]);
	n = netio_new(sv[0]);
	for (; w->rc != NETIO_LINE_EOF; w++) {
		rc = netio_getline(n, &line, &len, max, 1000);
		assert_int_equal(rc, w->rc);
		/* LONG reports the terminator of the skipped line */
		if (rc == NETIO_LINE_OK || w->line != NULL) {
			assert_int_equal(len, strlen(w->line));
			assert_memory_equal(line, w->line, len);
		}
	}
	assert_int_equal(netio_getline(n, &line, &len, max, 1000),
	    NETIO_LINE_EOF);
	assert_int_equal(netio_getline(n, &line, &len, max, 1000),
	    NETIO_LINE_EOF);
	netio_free(n);
}

static void
test_lines(void **state)
{
	static const struct {
		const char	*in;
		size_t		 max;
		struct want	 w[6];
	} cases[] = {
		{ "a\r\nb\r\n", 100, { { NETIO_LINE_OK, "a\r\n" },
		    { NETIO_LINE_OK, "b\r\n" }, { NETIO_LINE_EOF, NULL } } },
		/* LF ends a line; a bare CR is data. */
		{ "a\rb\nc\n", 100, { { NETIO_LINE_OK, "a\rb\n" },
		    { NETIO_LINE_OK, "c\n" }, { NETIO_LINE_EOF, NULL } } },
		/* a partial last line is dropped at EOF */
		{ "a\r\npartial", 100, { { NETIO_LINE_OK, "a\r\n" },
		    { NETIO_LINE_EOF, NULL } } },
		/* exactly max bytes including LF is fine, one more is not */
		{ "12345678\r\n123456789\r\nok\r\n", 10, {
		    { NETIO_LINE_OK, "12345678\r\n" },
		    { NETIO_LINE_LONG, "\r\n" }, { NETIO_LINE_OK, "ok\r\n" },
		    { NETIO_LINE_EOF, NULL } } },
		/* a bare LF ends the long line: the caller can tell */
		{ "1234567890123\nok\n", 10, { { NETIO_LINE_LONG, "3\n" },
		    { NETIO_LINE_OK, "ok\n" }, { NETIO_LINE_EOF, NULL } } },
		{ "\n\r\n", 10, { { NETIO_LINE_OK, "\n" },
		    { NETIO_LINE_OK, "\r\n" }, { NETIO_LINE_EOF, NULL } } },
		{ "", 10, { { NETIO_LINE_EOF, NULL } } },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_lines(cases[i].in, strlen(cases[i].in), cases[i].max,
		    cases[i].w);
}

/* A line far longer than the buffer is skipped, then reading goes on. */
static void
test_long_line(void **state)
{
	size_t		 big = 100000, i;
	char		*in = xmalloc(big + 32);
	struct want	 w[] = { { NETIO_LINE_OK, "x\r\n" },
	    { NETIO_LINE_LONG, "\r\n" }, { NETIO_LINE_OK, "after\r\n" },
	    { NETIO_LINE_EOF, NULL } };
	struct want	 w2[] = { { NETIO_LINE_OK, "x\r\n" },
	    { NETIO_LINE_EOF, NULL } };

	(void)state;
	memcpy(in, "x\r\n", 3);
	for (i = 3; i < big; i++)
		in[i] = (char)('a' + i % 26);
	memcpy(in + big, "\r\nafter\r\n", 9);
	run_lines(in, big + 9, 1000, w);
	/* a long line with NUL bytes and a limit above the buffer size */
	memset(in + 3, 0, 40000);
	run_lines(in, big + 9, 50000, w);
	/* an over-long line cut by EOF is just EOF */
	run_lines(in, big, 1000, w2);
	/* the CR dropped with the line, its LF read alone: still CR LF */
	memset(in, 'a', NETIO_TEST_BUF);
	memcpy(in + NETIO_TEST_BUF - 1, "\r\nok\r\n", 6);
	w[0].rc = NETIO_LINE_LONG;
	w[0].line = "\r\n";
	w[1].rc = NETIO_LINE_OK;
	w[1].line = "ok\r\n";
	w[2].rc = NETIO_LINE_EOF;
	run_lines(in, NETIO_TEST_BUF + 5, NETIO_TEST_BUF, w);
	/* and a bare LF after the dropped part stays a bare LF */
	memcpy(in + NETIO_TEST_BUF - 1, "a\nok\r\n", 6);
	w[0].line = "\n";
	run_lines(in, NETIO_TEST_BUF + 5, NETIO_TEST_BUF, w);
	free(in);
}

static void
test_timeout_pending(void **state)
{
	struct netio	*n;
	const char	*line;
	size_t		 len;
	int		 sv[2];
	int64_t		 t0;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	n = netio_new(sv[0]);
	assert_int_equal(netio_wait_readable(n, 50), 0);
	t0 = mono_msec();
	assert_int_equal(netio_getline(n, &line, &len, 100, 150),
	    NETIO_LINE_TIMEOUT);
	assert_true(mono_msec() - t0 >= 140);
	assert_true(mono_msec() - t0 < 2000);
	/* partial line: timeout, then completed later */
	assert_int_equal(write(sv[1], "EHLO x\r\nMAIL", 12), 12);
	assert_int_equal(netio_wait_readable(n, 1000), 1);
	assert_int_equal(netio_getline(n, &line, &len, 100, 1000),
	    NETIO_LINE_OK);
	assert_int_equal(netio_pending(n), 4);	/* "MAIL" early talker */
	assert_int_equal(netio_getline(n, &line, &len, 100, 50),
	    NETIO_LINE_TIMEOUT);
	assert_int_equal(write(sv[1], " FROM:<>\r\n", 10), 10);
	assert_int_equal(netio_getline(n, &line, &len, 100, 1000),
	    NETIO_LINE_OK);
	assert_int_equal(len, 14);
	assert_memory_equal(line, "MAIL FROM:<>\r\n", 14);
	assert_int_equal(netio_pending(n), 0);
	assert_int_equal(write(sv[1], "junk\r\n", 6), 6);
	assert_int_equal(netio_getline(n, &line, &len, 100, 50),
	    NETIO_LINE_OK);
	assert_int_equal(write(sv[1], "more", 4), 4);
	(void)netio_wait_readable(n, 1000);
	(void)netio_getline(n, &line, &len, 100, 50);
	netio_discard_pending(n);
	assert_int_equal(netio_pending(n), 0);
	close(sv[1]);
	netio_free(n);
}

/* A write bigger than the socket buffers completes while the peer
 * reads; printf output of any length is kept whole. */
static void
test_output(void **state)
{
	struct netio	*n;
	size_t		 big = 1 << 21, got = 0;
	char		*data = xmalloc(big), rd[65536];
	int		 sv[2];
	pid_t		 pid;
	ssize_t		 r;
	int		 st;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	memset(data, 'z', big);
	if ((pid = fork()) == 0) {
		close(sv[1]);
		n = netio_new(sv[0]);
		(void)netio_write(n, data, big);
		(void)netio_printf(n, "%0600d\r\n", 7);
		_exit(netio_outlen(n) == big + 602 &&
		    netio_flush(n, 5000) == 0 && netio_outlen(n) == 0 ? 0 : 1);
	}
	close(sv[0]);
	while ((r = read(sv[1], rd, sizeof(rd))) > 0)
		got += (size_t)r;
	assert_int_equal(got, big + 602);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(sv[1]);
	free(data);

	/* flushing to a peer that does not read times out */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	n = netio_new(sv[0]);
	data = xcalloc(1, big);
	(void)netio_write(n, data, big);
	assert_int_equal(netio_flush(n, 100), -1);
	free(data);
	netio_free(n);
	close(sv[1]);
}

static char	 tmpdir[] = "/tmp/netio-test.XXXXXX";
static char	 certpath[128], keypath[128];

static void
test_selfsigned(void **state)
{
	struct stat	 sb;
	char		 err[256];
	FILE		*f;
	X509		*x;
	int		 crit;
	GENERAL_NAMES	*san;
	ASN1_IA5STRING	*dns;

	(void)state;
	assert_non_null(mkdtemp(tmpdir));
	(void)snprintf(certpath, sizeof(certpath), "%s/cert.pem", tmpdir);
	(void)snprintf(keypath, sizeof(keypath), "%s/key.pem", tmpdir);
	assert_int_equal(tls_selfsigned_ensure(certpath, keypath,
	    "mx.postern.test", err, sizeof(err)), 0);
	assert_int_equal(stat(keypath, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_non_null(f = fopen(certpath, "r"));
	assert_non_null(x = PEM_read_X509(f, NULL, NULL, NULL));
	fclose(f);
	assert_int_equal(X509_get_version(x), 2);
	assert_int_equal(X509_check_host(x, "mx.postern.test", 0, 0, NULL),
	    1);
	assert_non_null(san = X509_get_ext_d2i(x, NID_subject_alt_name,
	    &crit, NULL));
	dns = sk_GENERAL_NAME_value(san, 0)->d.dNSName;
	assert_string_equal(ASN1_STRING_get0_data(dns), "mx.postern.test");
	GENERAL_NAMES_free(san);
	assert_int_equal(EVP_PKEY_get_id(X509_get0_pubkey(x)), EVP_PKEY_EC);
	assert_true(X509_cmp_time(X509_get0_notAfter(x), NULL) > 0);
	X509_free(x);
	/* kept when both exist */
	assert_int_equal(stat(certpath, &sb), 0);
	assert_int_equal(tls_selfsigned_ensure(certpath, keypath, "other",
	    err, sizeof(err)), 0);
}

static struct config *
server_conf(void)
{
	static struct config c;

	memset(&c, 0, sizeof(c));
	c.hostname = "mx.postern.test";
	c.spool_dir = tmpdir;
	c.tls_cert = "";
	c.tls_key = "";
	c.tls_ciphers = "";
	return &c;
}

/* Server: STARTTLS-like: read "GO", handshake, echo lines until EOF. */
static int
tls_echo_server(int fd, SSL_CTX *ctx)
{
	struct netio	*n = netio_new(fd);
	const char	*line;
	size_t		 len;
	char		 err[256];
	enum netio_line	 rc;

	if (netio_getline(n, &line, &len, 100, 5000) != NETIO_LINE_OK)
		return 1;
	(void)netio_printf(n, "220 go ahead\r\n");
	if (netio_flush(n, 5000) == -1)
		return 1;
	if (netio_tls_accept(n, ctx, 5000, err, sizeof(err)) == -1)
		return 2;
	while ((rc = netio_getline(n, &line, &len, 1000, 5000)) !=
	    NETIO_LINE_EOF) {
		if (rc == NETIO_LINE_LONG)
			(void)netio_printf(n, "LONG\r\n");
		else if (rc == NETIO_LINE_OK)
			(void)netio_write(n, line, len);
		else
			return 3;
		if (netio_pending(n) == 0 && netio_flush(n, 5000) == -1)
			return 4;
	}
	netio_free(n);
	return 0;
}

static void
test_tls(void **state)
{
	SSL_CTX		*sctx, *cctx;
	struct netio	*n;
	const char	*line;
	char		 err[256], big[3000];
	size_t		 len;
	int		 sv[2], st;
	pid_t		 pid;

	(void)state;
	tls_init();
	assert_non_null(sctx = tls_server_ctx(server_conf(), err,
	    sizeof(err)));
	assert_non_null(cctx = tls_client_ctx(NULL, err, sizeof(err)));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
		close(sv[1]);
		_exit(tls_echo_server(sv[0], sctx));
	}
	close(sv[0]);
	n = netio_new(sv[1]);
	(void)netio_printf(n, "GO\r\n");
	assert_int_equal(netio_flush(n, 1000), 0);
	assert_int_equal(netio_getline(n, &line, &len, 100, 5000),
	    NETIO_LINE_OK);
	if (netio_tls_connect(n, SSL_new(cctx), 5000, err, sizeof(err)) != 0)
		fail_msg("handshake: %s", err);
	assert_non_null(netio_ssl(n));
	assert_string_equal(netio_tls_version(n), "TLSv1.3");
	assert_non_null(netio_tls_cipher(n));
	assert_true(netio_tls_bits(n) >= 128);
	/* self-signed: the handshake passed, verification result kept */
	assert_int_not_equal(SSL_get_verify_result(netio_ssl(n)), X509_V_OK);
	memset(big, 'b', sizeof(big));
	(void)netio_printf(n, "one\r\ntwo\r\n");
	(void)netio_write(n, big, sizeof(big));
	(void)netio_printf(n, "\r\nthree\r\n");
	assert_int_equal(netio_flush(n, 5000), 0);
	assert_int_equal(netio_getline(n, &line, &len, 100, 5000),
	    NETIO_LINE_OK);
	assert_memory_equal(line, "one\r\n", len);
	/* the rest is buffered here or inside OpenSSL */
	(void)netio_wait_readable(n, 5000);
	assert_int_equal(netio_getline(n, &line, &len, 100, 5000),
	    NETIO_LINE_OK);
	assert_memory_equal(line, "two\r\n", len);
	assert_int_equal(netio_getline(n, &line, &len, 100, 5000),
	    NETIO_LINE_OK);
	assert_memory_equal(line, "LONG\r\n", len);
	assert_int_equal(netio_getline(n, &line, &len, 100, 5000),
	    NETIO_LINE_OK);
	assert_memory_equal(line, "three\r\n", len);
	netio_free(n);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* A client speaking clear text into a TLS accept fails with a reason. */
static void
test_tls_fail(void **state)
{
	SSL_CTX		*sctx;
	struct netio	*n;
	char		 err[256] = "";
	int		 sv[2];

	(void)state;
	assert_non_null(sctx = tls_server_ctx(server_conf(), err,
	    sizeof(err)));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "EHLO plain text\r\n\r\n", 19), 19);
	close(sv[1]);
	n = netio_new(sv[0]);
	assert_int_equal(netio_tls_accept(n, sctx, 2000, err, sizeof(err)),
	    -1);
	assert_true(strlen(err) > 0);
	netio_free(n);

	/* silence: the handshake times out */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	n = netio_new(sv[0]);
	assert_int_equal(netio_tls_accept(n, sctx, 100, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "TLS handshake timed out");
	netio_free(n);
	close(sv[1]);
	SSL_CTX_free(sctx);
	(void)unlink(certpath);
	(void)unlink(keypath);
	(void)rmdir(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_timeout_pending),
		cmocka_unit_test(test_output),
		cmocka_unit_test(test_selfsigned),
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_tls_fail),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
