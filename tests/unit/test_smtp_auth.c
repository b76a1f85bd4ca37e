/* smtp_auth: the credentials file (matching, file:line errors, the mode
 * check), the mechanism choice and the PLAIN/LOGIN encodings. */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "smtp_auth.h"

static const char table[] =
    "# smarthost credentials\n"
    "\n"
    "[relay.example.net]:587   alice  s3cret#1\n"
    "  relay.example.net       bob    hunter2\r\n"
    "mx.example.org:2525\tcarol\tpw\n"
    "[192.0.2.1]  dave  pw4\n"
    "[RELAY.example.NET]:465 erin pw5";

static void
test_find(void **state)
{
	static const struct {
		const char	*nexthop;
		int		 want;
		const char	*user, *pass;
		int		 line;
	} cases[] = {
		{ "[relay.example.net]:587",	1, "alice", "s3cret#1", 3 },
		{ "[relay.example.net]:465",	1, "erin", "pw5", 7 },
		{ "relay.example.net",		1, "bob", "hunter2", 4 },
		{ "relay.example.net:25",	1, "bob", "hunter2", 4 },
		{ "RELAY.EXAMPLE.NET:587",	1, "bob", "hunter2", 4 },
		{ "[relay.example.net]",	0, NULL, NULL, 0 },
		{ "mx.example.org:2525",	1, "carol", "pw", 5 },
		{ "mx.example.org:25",		0, NULL, NULL, 0 },
		{ "mx.example.org",		0, NULL, NULL, 0 },
		{ "[192.0.2.1]:25",		1, "dave", "pw4", 6 },
		{ "[192.0.2.1]",		1, "dave", "pw4", 6 },
		{ "192.0.2.1",			0, NULL, NULL, 0 },
		{ "other.example",		0, NULL, NULL, 0 },
		{ "",				0, NULL, NULL, 0 },
	};
	struct smtp_auth_cred	 c;
	char			 err[256];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		assert_int_equal(smtp_auth_find("auth", table, strlen(table),
		    cases[i].nexthop, &c, err, sizeof(err)), cases[i].want);
		assert_string_equal(err, "");
		if (!cases[i].want)
			continue;
		assert_string_equal(c.user, cases[i].user);
		assert_string_equal(c.pass, cases[i].pass);
		assert_int_equal(c.line, cases[i].line);
		smtp_auth_clear(&c);
		assert_string_equal(c.pass, "");
	}
}

static void
test_errors(void **state)
{
	static char	 longfield[600];
	static const struct {
		const char	*text;
		const char	*want;
	} cases[] = {
		{ "h u\n",		"f:1: expected \"nexthop user password\"" },
		{ "# c\nh u p x\n",	"f:2: expected \"nexthop user password\": "
					"too many fields (no spaces in a password)" },
		{ "h u p\n\nh\n",	"f:3: expected \"nexthop user password\"" },
		{ "h u p\x01\n",	"f:1: control character in a field" },
		{ "h u p\rq\n",		"f:1: control character in a field" },
		{ "h u p\n" "x y",	"f:2: expected \"nexthop user password\"" },
		{ longfield,		"f:1: field too long" },
	};
	struct smtp_auth_cred	 c;
	char			 err[256];
	size_t			 i;

	(void)state;
	memset(longfield, 'a', sizeof(longfield) - 5);
	memcpy(longfield + sizeof(longfield) - 5, " u p", 5);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(smtp_auth_find("f", cases[i].text,
		    strlen(cases[i].text), "h", &c, err, sizeof(err)), -1);
		assert_string_equal(err, cases[i].want);
		assert_string_equal(c.pass, "");
	}
	/* Empty and comment-only files: no credentials, no error. */
	assert_int_equal(smtp_auth_find("f", "", 0, "h", &c, err,
	    sizeof(err)), 0);
	assert_int_equal(smtp_auth_find("f", "#x y z\n  \n", 10, "#x", &c,
	    err, sizeof(err)), 0);
}

static void
test_load_mode(void **state)
{
	static const struct {
		mode_t		 mode;
		int		 want;
	} cases[] = {
		{ 0600, 1 }, { 0640, 1 }, { 0400, 1 }, { 0660, 1 },
		{ 0644, -1 }, { 0604, -1 }, { 0666, -1 },
	};
	struct smtp_auth_cred	 c;
	char			 path[] = "/tmp/test_smtp_auth.XXXXXX";
	char			 err[512];
	int			 fd;
	size_t			 i;

	(void)state;
	assert_true((fd = mkstemp(path)) != -1);
	assert_int_equal(write(fd, table, strlen(table)),
	    (ssize_t)strlen(table));
	(void)close(fd);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(chmod(path, cases[i].mode), 0);
		err[0] = '\0';
		assert_int_equal(smtp_auth_load(path, "[192.0.2.1]:25", &c,
		    err, sizeof(err)), cases[i].want);
		if (cases[i].want == 1) {
			assert_string_equal(c.user, "dave");
			assert_string_equal(err, "");
		} else {
			assert_non_null(strstr(err, "readable by others"));
			assert_string_equal(c.pass, "");
		}
	}
	(void)unlink(path);
	assert_int_equal(smtp_auth_load(path, "h", &c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(smtp_auth_load("/tmp", "h", &c, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "/tmp: not a regular file");
}

static void
test_choose(void **state)
{
	static const struct {
		const char		*in;
		enum smtp_auth_mech	 want;
	} cases[] = {
		{ "PLAIN LOGIN",		SMTP_AUTH_PLAIN },
		{ "LOGIN PLAIN",		SMTP_AUTH_PLAIN },
		{ "CRAM-MD5 login",		SMTP_AUTH_LOGIN },
		{ "plain",			SMTP_AUTH_PLAIN },
		{ "  SCRAM-SHA-256\tPLAIN ",	SMTP_AUTH_PLAIN },
		{ "PLAINX LOGINS XPLAIN",	SMTP_AUTH_NONE },
		{ "CRAM-MD5 XOAUTH2",		SMTP_AUTH_NONE },
		{ "",				SMTP_AUTH_NONE },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(smtp_auth_choose(cases[i].in,
		    strlen(cases[i].in)), cases[i].want);
	/* Bounded by the length given, not by a NUL. */
	assert_int_equal(smtp_auth_choose("LOGIN PLAIN", 5), SMTP_AUTH_LOGIN);
	assert_string_equal(smtp_auth_mech_name(SMTP_AUTH_PLAIN), "PLAIN");
	assert_string_equal(smtp_auth_mech_name(SMTP_AUTH_LOGIN), "LOGIN");
}

static void
test_base64(void **state)
{
	/* RFC 4648 §10 test vectors. */
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "",		"" },
		{ "f",		"Zg==" },
		{ "fo",		"Zm8=" },
		{ "foo",	"Zm9v" },
		{ "foob",	"Zm9vYg==" },
		{ "fooba",	"Zm9vYmE=" },
		{ "foobar",	"Zm9vYmFy" },
		{ "Username:",	"VXNlcm5hbWU6" },
	};
	struct buf	 b;
	size_t		 i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		buf_appendstr(&b, "");
		smtp_auth_base64(&b, cases[i].in, strlen(cases[i].in));
		assert_string_equal(b.data, cases[i].want);
	}
	buf_free(&b);
}

static void
test_plain(void **state)
{
	/* RFC 4616 §4 example with no authzid: "\0tim\0tanstaaftanstaaf". */
	static const struct {
		const char	*user, *pass, *want;
	} cases[] = {
		{ "tim", "tanstaaftanstaaf",
		    "AUTH PLAIN AHRpbQB0YW5zdGFhZnRhbnN0YWFm" },
		{ "alice", "s3cret#1", "AUTH PLAIN AGFsaWNlAHMzY3JldCMx" },
		{ "u", "", "AUTH PLAIN AHUA" },
	};
	struct buf	 b;
	size_t		 i;

	(void)state;
	buf_init(&b);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&b);
		smtp_auth_plain(&b, cases[i].user, cases[i].pass);
		assert_string_equal(b.data, cases[i].want);
	}
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_load_mode),
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_plain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
