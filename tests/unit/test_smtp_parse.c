/* smtp_parse: command lines, paths, ESMTP parameters, xtext. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "smtp_parse.h"

/* Case tables leave trailing fields zero. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* want: NULL for success, else the first characters of the reply. */
static void
check_reply(const char *what, const char *got, const char *want)
{
	if (want == NULL && got != NULL)
		fail_msg("%s: unexpected error \"%s\"", what, got);
	if (want != NULL && got == NULL)
		fail_msg("%s: accepted, want \"%s\"", what, want);
	if (want != NULL && strncmp(got, want, strlen(want)) != 0)
		fail_msg("%s: got \"%s\", want \"%s\"", what, got, want);
}

static void
test_cmd(void **state)
{
	static const struct {
		const char	*line;
		enum smtp_verb	 verb;
		const char	*arg;
		const char	*err;
	} cases[] = {
		{ "EHLO client.example\r\n", SMTP_CMD_EHLO, "client.example", NULL },
		{ "ehlo client.example\n",  SMTP_CMD_EHLO, "client.example", NULL },
		{ "HeLo x\r\n",		SMTP_CMD_HELO,	"x",		NULL },
		{ "EHLO\r\n",		SMTP_CMD_EHLO,	"",		"501 5.5.4" },
		{ "EHLO \r\n",		SMTP_CMD_EHLO,	"",		"501 5.5.4" },
		{ "MAIL FROM:<a@b>\r\n", SMTP_CMD_MAIL,	"FROM:<a@b>",	NULL },
		{ "MAIL FROM:<a@b>  \r\n", SMTP_CMD_MAIL, "FROM:<a@b>",	NULL },
		{ "MAIL\r\n",		SMTP_CMD_MAIL,	"",		"501 5.5.4" },
		{ "rcpt TO:<a@b>\r\n",	SMTP_CMD_RCPT,	"TO:<a@b>",	NULL },
		{ "DATA\r\n",		SMTP_CMD_DATA,	"",		NULL },
		{ "DATA x\r\n",		SMTP_CMD_DATA,	"x",		"501 5.5.4" },
		{ "DATA \r\n",		SMTP_CMD_DATA,	"",		NULL },
		{ "RSET\r\n",		SMTP_CMD_RSET,	"",		NULL },
		{ "NOOP\r\n",		SMTP_CMD_NOOP,	"",		NULL },
		{ "NOOP hello there\r\n", SMTP_CMD_NOOP, "hello there",	NULL },
		{ "QUIT\r\n",		SMTP_CMD_QUIT,	"",		NULL },
		{ "QUIT now\r\n",	SMTP_CMD_QUIT,	"now",		"501 5.5.4" },
		{ "VRFY postmaster\r\n", SMTP_CMD_VRFY,	"postmaster",	NULL },
		{ "VRFY\r\n",		SMTP_CMD_VRFY,	"",		"501 5.5.4" },
		{ "EXPN list\r\n",	SMTP_CMD_EXPN,	"list",		NULL },
		{ "HELP\r\n",		SMTP_CMD_HELP,	"",		NULL },
		{ "HELP DATA\r\n",	SMTP_CMD_HELP,	"DATA",		NULL },
		{ "STARTTLS\r\n",	SMTP_CMD_STARTTLS, "",		NULL },
		{ "starttls\n",		SMTP_CMD_STARTTLS, "",		NULL },
		{ "STARTTLS x\r\n",	SMTP_CMD_STARTTLS, "x",		"501 5.5.4" },
		{ "BDAT 10 LAST\r\n",	SMTP_CMD_UNKNOWN, "10 LAST",	NULL },
		{ "AUTH PLAIN\r\n",	SMTP_CMD_UNKNOWN, "PLAIN",	NULL },
		{ "MAILX FROM:<>\r\n",	SMTP_CMD_UNKNOWN, "FROM:<>",	NULL },
		{ "MAI\r\n",		SMTP_CMD_UNKNOWN, "",		NULL },
		{ "\r\n",		SMTP_CMD_UNKNOWN, "",		NULL },
		{ "GET / HTTP/1.0\r\n",	SMTP_CMD_UNKNOWN, "/ HTTP/1.0",	NULL },
		{ "NOOP a\rb\r\n",	SMTP_CMD_UNKNOWN, "",		"500 5.5.2" },
		{ "NOOP \r\r\n",	SMTP_CMD_UNKNOWN, "",		"500 5.5.2" },
		{ "QUIT",		SMTP_CMD_QUIT,	"",		NULL },
	};
	struct smtp_cmd	 cmd;
	size_t		 i;
	const char	*r;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = smtp_cmd_parse(cases[i].line, strlen(cases[i].line), &cmd);
		check_reply(cases[i].line, r, cases[i].err);
		if (r != NULL && cases[i].verb == SMTP_CMD_UNKNOWN)
			continue;
		assert_int_equal(cmd.verb, cases[i].verb);
		if (cmd.arglen != strlen(cases[i].arg) ||
		    memcmp(cmd.arg, cases[i].arg, cmd.arglen) != 0)
			fail_msg("%s: arg \"%.*s\"", cases[i].line,
			    (int)cmd.arglen, cmd.arg);
	}
}

static void
test_cmd_nul(void **state)
{
	static const char	 line[] = "NOOP a\0b\r\n";
	struct smtp_cmd		 cmd;

	(void)state;
	check_reply("NUL", smtp_cmd_parse(line, sizeof(line) - 1, &cmd),
	    "500 5.5.2");
	/* A length cut before the terminator is honoured. */
	assert_null(smtp_cmd_parse("QUIT\r\nRSET\r\n", 6, &cmd));
	assert_int_equal(cmd.verb, SMTP_CMD_QUIT);
}

static void
test_helo(void **state)
{
	static const struct {
		const char	*arg;
		const char	*err;
	} cases[] = {
		{ "client.example.org",	NULL },
		{ "[192.0.2.1]",	NULL },
		{ "[IPv6:2001:db8::1]",	NULL },
		{ "localhost",		NULL },
		{ "under_score.example", NULL },
		{ "two words",		"501 5.5.4" },
		{ "tab\there",		"501 5.5.4" },
		{ "caf\xc3\xa9",	"501 5.5.4" },
		{ "",			"501 5.5.4" },
	};
	char	 out[SMTP_DOMAIN_MAX + 1], big[300];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *r = smtp_helo_parse(cases[i].arg,
		    strlen(cases[i].arg), out);

		check_reply(cases[i].arg, r, cases[i].err);
		if (r == NULL)
			assert_string_equal(out, cases[i].arg);
	}
	memset(big, 'a', sizeof(big));
	check_reply("long", smtp_helo_parse(big, SMTP_DOMAIN_MAX + 1, out),
	    "501 5.5.4");
	assert_null(smtp_helo_parse(big, SMTP_DOMAIN_MAX, out));
	assert_int_equal(strlen(out), SMTP_DOMAIN_MAX);
}

struct path_case {
	const char	*arg;
	const char	*err;
	const char	*mailbox, *domain;
	int		 literal, utf8, postmaster;
};

static const struct path_case mail_cases[] = {
	{ "FROM:<user@example.org>", NULL, "user@example.org", "example.org" },
	{ "from:<User.Name+tag@Sub.Example.ORG>", NULL,
	    "User.Name+tag@Sub.Example.ORG", "Sub.Example.ORG" },
	{ "FROM: <a@b.c>", NULL, "a@b.c", "b.c" },	/* tolerated space */
	{ "FROM:<>", NULL, "", "" },
	{ "FROM: <>", NULL, "", "" },
	{ "FROM:<\"john doe\"@example.org>", NULL, "\"john doe\"@example.org",
	    "example.org" },
	{ "FROM:<\"a@b\"@c.example>", NULL, "\"a@b\"@c.example", "c.example" },
	{ "FROM:<\"a>b\"@c.example>", NULL, "\"a>b\"@c.example", "c.example" },
	{ "FROM:<\"q\\\"x\"@c.example>", NULL, "\"q\\\"x\"@c.example",
	    "c.example" },
	{ "FROM:<\"\"@c.example>", NULL, "\"\"@c.example", "c.example" },
	{ "FROM:<@relay.example:user@example.org>", NULL, "user@example.org",
	    "example.org" },
	{ "FROM:<@a.example,@b.example:user@example.org>", NULL,
	    "user@example.org", "example.org" },
	{ "FROM:<user@[192.0.2.1]>", NULL, "user@[192.0.2.1]", "[192.0.2.1]",
	    1 },
	{ "FROM:<user@[IPv6:2001:db8::1]>", NULL, "user@[IPv6:2001:db8::1]",
	    "[IPv6:2001:db8::1]", 1 },
	{ "FROM:<user@[ipv6:::1]>", NULL, "user@[ipv6:::1]", "[ipv6:::1]", 1 },
	{ "FROM:<user%other@example.org>", NULL, "user%other@example.org",
	    "example.org" },
	{ "FROM:<a!b@example.org>", NULL, "a!b@example.org", "example.org" },
	{ "FROM:<x@a-b.example>", NULL, "x@a-b.example", "a-b.example" },
	{ "FROM:<x@123.example>", NULL, "x@123.example", "123.example" },
	{ "FROM:<x@localhost>", NULL, "x@localhost", "localhost" },
	{ "FROM:<us\xc3\xa9r@ex\xc3\xa4mple.org> SMTPUTF8", NULL,
	    "us\xc3\xa9r@ex\xc3\xa4mple.org", "ex\xc3\xa4mple.org", 0, 1 },
	/* errors */
	{ "FROM:<us\xc3\xa9r@example.org>", "553 5.6.7" },
	{ "FROM:<us\xc3r@example.org> SMTPUTF8", "501 5.1.7" },	/* bad UTF-8 */
	{ "FROM:<\xc0\xafx@example.org> SMTPUTF8", "501 5.1.7" },	/* overlong */
	{ "FROM:<\xed\xa0\x80@example.org> SMTPUTF8", "501 5.1.7" }, /* surrogate */
	{ "FROM:user@example.org", "501 5.1.7" },
	{ "FROM:<user@example.org", "501 5.1.7" },
	{ "FROM:user@example.org>", "501 5.1.7" },
	{ "FROM:<<user@example.org>>", "501 5.1.7" },
	{ "FROM:<user@example.org>>", "501 5.1.7" },
	{ "FROM:<user>", "501 5.1.7" },
	{ "FROM:<postmaster>", "501 5.1.7" },	/* RCPT only */
	{ "FROM:<@example.org>", "501 5.1.7" },
	{ "FROM:<user@>", "501 5.1.7" },
	{ "FROM:<a@b@example.org>", "501 5.1.7" },
	{ "FROM:<.a@example.org>", "501 5.1.7" },
	{ "FROM:<a.@example.org>", "501 5.1.7" },
	{ "FROM:<a..b@example.org>", "501 5.1.7" },
	{ "FROM:<a b@example.org>", "501 5.1.7" },
	{ "FROM:<a@example..org>", "501 5.1.7" },
	{ "FROM:<a@.example.org>", "501 5.1.7" },
	{ "FROM:<a@example.org.>", "501 5.1.7" },
	{ "FROM:<a@-example.org>", "501 5.1.7" },
	{ "FROM:<a@example-.org>", "501 5.1.7" },
	{ "FROM:<a@exa_mple.org>", "501 5.1.7" },
	{ "FROM:<\"unterminated@example.org>", "501 5.1.7" },
	{ "FROM:<\"tab\there\"@example.org>", "501 5.1.7" },
	{ "FROM:<a@[192.0.2.1>", "501 5.1.7" },
	{ "FROM:<a@192.0.2.1]>", "501 5.1.7" },
	{ "FROM:<a@[]>", "501 5.1.7" },
	{ "FROM:<a@[[192.0.2.1]]>", "501 5.1.7" },
	{ "FROM:<a@[192.0.2.256]>", "501 5.1.7 Unsupported" },
	{ "FROM:<a@[IPv6:2001:db8::g]>", "501 5.1.7 Unsupported" },
	{ "FROM:<a@[x-tag:stuff]>", "501 5.1.7 Unsupported" },
	{ "FROM:<a@[192.0.2.1].org>", "501 5.1.7" },
	{ "FROM:<@a.example user@example.org>", "501 5.1.7" },
	{ "FROM:<@a.example,user@example.org>", "501 5.1.7" },
	{ "FROM:<@:user@example.org>", "501 5.1.7" },
	{ "FROM:<a@example.org>SIZE=1", "501 5.1.7" },
	{ "FROM:", "501 5.1.7" },
	{ "TO:<a@example.org>", "501 5.5.4" },
	{ "FROM<a@example.org>", "501 5.5.4" },
	{ "", "501 5.5.4" },
};

static void
check_path(const struct path_case *c, const char *r, const struct smtp_path *p)
{
	check_reply(c->arg, r, c->err);
	if (r != NULL)
		return;
	assert_string_equal(p->mailbox, c->mailbox);
	assert_string_equal(p->domain, c->domain);
	assert_int_equal(p->literal, c->literal);
	assert_int_equal(p->utf8, c->utf8);
	assert_int_equal(p->postmaster, c->postmaster);
}

static void
test_mail_path(void **state)
{
	struct smtp_mail	 m;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]); i++)
		check_path(&mail_cases[i], smtp_mail_parse(mail_cases[i].arg,
		    strlen(mail_cases[i].arg), &m), &m.path);
}

static const struct path_case rcpt_cases[] = {
	{ "TO:<user@example.org>", NULL, "user@example.org", "example.org" },
	{ "To: <user@example.org>", NULL, "user@example.org", "example.org" },
	{ "TO:<postmaster>", NULL, "postmaster", "", 0, 0, 1 },
	{ "TO:<PostMaster>", NULL, "PostMaster", "", 0, 0, 1 },
	{ "TO:<postmaster@example.org>", NULL, "postmaster@example.org",
	    "example.org" },
	{ "TO:<user%evil.example@example.org>", NULL,
	    "user%evil.example@example.org", "example.org" },
	{ "TO:<evil.example!user@example.org>", NULL,
	    "evil.example!user@example.org", "example.org" },
	{ "TO:<\"user@evil.example\"@example.org>", NULL,
	    "\"user@evil.example\"@example.org", "example.org" },
	{ "TO:<@hop.example:user@example.org>", NULL, "user@example.org",
	    "example.org" },
	{ "TO:<\"postmaster\">", "501 5.1.3" },
	{ "TO:<>", "501 5.1.3" },
	{ "TO:<user>", "501 5.1.3" },
	{ "TO:<user%evil.example>", "501 5.1.3" },
	{ "TO:<a@b@evil.example>", "501 5.1.3" },
	{ "TO:<user@evil.example@example.org>", "501 5.1.3" },
	{ "TO:<us\xc3\xa9r@example.org>", "553 5.6.7" },
	{ "FROM:<user@example.org>", "501 5.5.4" },
};

static void
test_rcpt_path(void **state)
{
	struct smtp_rcpt	 r;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(rcpt_cases) / sizeof(rcpt_cases[0]); i++)
		check_path(&rcpt_cases[i], smtp_rcpt_parse(rcpt_cases[i].arg,
		    strlen(rcpt_cases[i].arg), 0, &r), &r.path);
	/* Within an SMTPUTF8 transaction a UTF-8 recipient is fine. */
	assert_null(smtp_rcpt_parse("TO:<\xc3\xa9@example.org>",
	    strlen("TO:<\xc3\xa9@example.org>"), 1, &r));
	assert_int_equal(r.path.utf8, 1);
}

/* "FROM:<" + local + "@" + domain + ">" with parts of given lengths. */
static void
make_path(char *out, size_t outlen, const char *prefix, size_t local,
    size_t domain)
{
	size_t	 n, i;

	n = (size_t)snprintf(out, outlen, "%s<", prefix);
	for (i = 0; i < local; i++)
		out[n++] = 'l';
	out[n++] = '@';
	/* labels of 63, separated by dots */
	for (i = 0; i < domain; i++)
		out[n++] = (i % 64 == 63 && i + 1 < domain) ? '.' : 'd';
	out[n++] = '>';
	out[n] = '\0';
	assert_true(n < outlen);
}

static void
test_limits(void **state)
{
	static const struct {
		size_t		 local, domain;
		const char	*err;
	} cases[] = {
		{ 64,	10,	NULL },
		{ 65,	10,	"501 5.1.3 Recipient local part too long" },
		{ 10,	243,	NULL },		/* path: 1+10+1+243+1 = 256 */
		{ 10,	244,	"501 5.1.3 Path too long" },
		{ 10,	255,	"501 5.1.3 Path too long" },
		{ 10,	256,	"501 5.1.3 Recipient domain too long" },
		{ 64,	189,	NULL },		/* path: 1+64+1+189+1 = 256 */
		{ 64,	190,	"501 5.1.3 Path too long" },
		{ 1,	1000,	"501 5.1.3 Recipient domain too long" },
	};
	char			 buf[2048], label[80];
	struct smtp_rcpt	 r;
	struct smtp_mail	 m;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_path(buf, sizeof(buf), "TO:", cases[i].local,
		    cases[i].domain);
		check_reply(buf, smtp_rcpt_parse(buf, strlen(buf), 0, &r),
		    cases[i].err);
	}
	make_path(buf, sizeof(buf), "FROM:", 65, 5);
	check_reply("mail local", smtp_mail_parse(buf, strlen(buf), &m),
	    "501 5.1.7 Sender local part too long");
	/* A label over 63 octets. */
	memset(label, 'x', 64);
	label[64] = '\0';
	(void)snprintf(buf, sizeof(buf), "TO:<a@%s.example>", label);
	check_reply("label", smtp_rcpt_parse(buf, strlen(buf), 0, &r),
	    "501 5.1.3");
	label[63] = '\0';
	(void)snprintf(buf, sizeof(buf), "TO:<a@%s.example>", label);
	assert_null(smtp_rcpt_parse(buf, strlen(buf), 0, &r));
}

static void
test_mail_params(void **state)
{
	static const struct {
		const char		*arg;
		const char		*err;
		unsigned long long	 size;
		int			 body, utf8, ret;
		const char		*envid;
	} cases[] = {
		{ "FROM:<a@b.example> SIZE=12345", NULL, 12345, 0, 0, 0, "" },
		{ "FROM:<a@b.example> size=0", NULL, 0, 0, 0, 0, "" },
		{ "FROM:<a@b.example> SIZE=18446744073709551615", NULL,
		    18446744073709551615ULL, 0, 0, 0, "" },
		{ "FROM:<a@b.example> SIZE=18446744073709551616", "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE=123456789012345678901", "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE=-1", "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE=1k", "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE=", "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE", "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE=1 SIZE=2", "501 5.5.4 Duplicate" },
		{ "FROM:<a@b.example> BODY=8BITMIME", NULL, 0, SMTP_BODY_8BITMIME,
		    0, 0, "" },
		{ "FROM:<a@b.example> body=7bit", NULL, 0, SMTP_BODY_7BIT, 0, 0,
		    "" },
		{ "FROM:<a@b.example> BODY=BINARYMIME", "555 5.5.4" },
		{ "FROM:<a@b.example> SMTPUTF8", NULL, 0, 0, 1, 0, "" },
		{ "FROM:<a@b.example> SMTPUTF8=yes", "501 5.5.4" },
		{ "FROM:<a@b.example> RET=HDRS", NULL, 0, 0, 0, SMTP_RET_HDRS, "" },
		{ "FROM:<a@b.example> RET=full", NULL, 0, 0, 0, SMTP_RET_FULL, "" },
		{ "FROM:<a@b.example> RET=BODY", "501 5.5.4" },
		{ "FROM:<a@b.example> ENVID=QQ314159", NULL, 0, 0, 0, 0,
		    "QQ314159" },
		{ "FROM:<a@b.example> ENVID=a+2Bb+3Dc", NULL, 0, 0, 0, 0,
		    "a+2Bb+3Dc" },
		{ "FROM:<a@b.example> ENVID=a+0Db", "501 5.5.4" },
		{ "FROM:<a@b.example> ENVID=a+2", "501 5.5.4" },
		{ "FROM:<a@b.example> ENVID=a+ZZ", "501 5.5.4" },
		{ "FROM:<> SIZE=100 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x",
		    NULL, 100, SMTP_BODY_8BITMIME, 1, SMTP_RET_HDRS, "x" },
		{ "FROM:<a@b.example>  SIZE=5   BODY=7BIT", NULL, 5,
		    SMTP_BODY_7BIT, 0, 0, "" },
		{ "FROM:<a@b.example> AUTH=<>", "555 5.5.4" },
		{ "FROM:<a@b.example> NOTIFY=NEVER", "555 5.5.4" },
		{ "FROM:<a@b.example> X-FOO", "555 5.5.4" },
		{ "FROM:<a@b.example> =x", "501 5.5.4" },
		{ "FROM:<a@b.example> -X=1", "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE=1=2", "501 5.5.4" },
		{ "FROM:<a@b.example> SIZE=1\tBODY=7BIT", "501 5.5.4" },
	};
	struct smtp_mail	 m;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *r = smtp_mail_parse(cases[i].arg,
		    strlen(cases[i].arg), &m);

		check_reply(cases[i].arg, r, cases[i].err);
		if (r != NULL)
			continue;
		assert_true(m.size == cases[i].size);
		assert_int_equal(m.body, cases[i].body);
		assert_int_equal(m.smtputf8, cases[i].utf8);
		assert_int_equal(m.ret, cases[i].ret);
		assert_string_equal(m.envid, cases[i].envid);
	}
}

static void
test_envid_long(void **state)
{
	char			 buf[512];
	struct smtp_mail	 m;
	size_t			 n, i;

	(void)state;
	n = (size_t)snprintf(buf, sizeof(buf), "FROM:<> ENVID=");
	for (i = 0; i < SMTP_ENVID_MAX; i++)
		buf[n++] = 'e';
	buf[n] = '\0';
	assert_null(smtp_mail_parse(buf, n, &m));
	buf[n++] = 'e';
	buf[n] = '\0';
	check_reply("envid 101", smtp_mail_parse(buf, n, &m), "501 5.5.4");
	/* 100 decoded octets written as xtext escapes: 300 octets. */
	n = (size_t)snprintf(buf, sizeof(buf), "FROM:<> ENVID=");
	for (i = 0; i < SMTP_ENVID_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "+2B");
	assert_null(smtp_mail_parse(buf, n, &m));
	assert_int_equal(strlen(m.envid), 300);
}

static void
test_rcpt_params(void **state)
{
	static const struct {
		const char	*arg;
		const char	*err;
		unsigned	 notify;
		const char	*orcpt;
	} cases[] = {
		{ "TO:<a@b.example> NOTIFY=NEVER", NULL, SMTP_NOTIFY_NEVER, "" },
		{ "TO:<a@b.example> NOTIFY=SUCCESS,FAILURE", NULL,
		    SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE, "" },
		{ "TO:<a@b.example> notify=delay,failure,success", NULL,
		    SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
		    SMTP_NOTIFY_DELAY, "" },
		{ "TO:<a@b.example> NOTIFY=NEVER,DELAY", "501 5.5.4" },
		{ "TO:<a@b.example> NOTIFY=FAILURE,FAILURE", "501 5.5.4" },
		{ "TO:<a@b.example> NOTIFY=FAILURE,", "501 5.5.4" },
		{ "TO:<a@b.example> NOTIFY=,FAILURE", "501 5.5.4" },
		{ "TO:<a@b.example> NOTIFY=SOMETIMES", "501 5.5.4" },
		{ "TO:<a@b.example> NOTIFY", "501 5.5.4" },
		{ "TO:<a@b.example> ORCPT=rfc822;a@b.example", NULL, 0,
		    "rfc822;a@b.example" },
		{ "TO:<a@b.example> ORCPT=rfc822;a+2Bx@b.example", NULL, 0,
		    "rfc822;a+2Bx@b.example" },
		{ "TO:<a@b.example> ORCPT=RFC822;a@b.example NOTIFY=DELAY", NULL,
		    SMTP_NOTIFY_DELAY, "RFC822;a@b.example" },
		{ "TO:<a@b.example> ORCPT=a@b.example", "501 5.5.4" },
		{ "TO:<a@b.example> ORCPT=rfc822;", "501 5.5.4" },
		{ "TO:<a@b.example> ORCPT=;a@b", "501 5.5.4" },
		{ "TO:<a@b.example> ORCPT=rfc822;a+0A@b", "501 5.5.4" },
		{ "TO:<a@b.example> ORCPT=rfc822;a@b ORCPT=rfc822;c@d",
		    "501 5.5.4 Duplicate" },
		{ "TO:<a@b.example> SIZE=10", "555 5.5.4" },
		{ "TO:<postmaster> NOTIFY=NEVER", NULL, SMTP_NOTIFY_NEVER, "" },
	};
	struct smtp_rcpt	 r;
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *e = smtp_rcpt_parse(cases[i].arg,
		    strlen(cases[i].arg), 0, &r);

		check_reply(cases[i].arg, e, cases[i].err);
		if (e != NULL)
			continue;
		assert_int_equal(r.notify, cases[i].notify);
		assert_string_equal(r.orcpt, cases[i].orcpt);
	}
}

static void
test_xtext(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;	/* NULL: invalid */
	} cases[] = {
		{ "abc",		"abc" },
		{ "",			"" },
		{ "a+2Bb",		"a+b" },
		{ "a+3Db",		"a=b" },
		{ "+20",		" " },
		{ "+2b",		"+" },	/* lower-case hex tolerated */
		{ "+41+42+43",		"ABC" },
		{ "a+",			NULL },
		{ "a+4",		NULL },
		{ "a+4G",		NULL },
		{ "a=b",		NULL },
		{ "a b",		NULL },
		{ "a+0D+0Ab",		NULL },	/* no controls decoded */
		{ "+7F",		NULL },
		{ "+C3+A9",		NULL },
		{ "\xc3\xa9",		NULL },
	};
	char	 out[64], enc[64];
	size_t	 i;
	int	 n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = xtext_decode(cases[i].in, strlen(cases[i].in), out,
		    sizeof(out));
		if (cases[i].out == NULL) {
			if (n != -1)
				fail_msg("%s: decoded", cases[i].in);
			continue;
		}
		assert_int_equal(n, (int)strlen(cases[i].out));
		assert_string_equal(out, cases[i].out);
		/* Round trip. */
		assert_true(xtext_encode(out, enc, sizeof(enc)) >= 0);
		n = xtext_decode(enc, strlen(enc), out, sizeof(out));
		assert_string_equal(out, cases[i].out);
	}
	assert_int_equal(xtext_encode("a+b=c d", enc, sizeof(enc)), 13);
	assert_string_equal(enc, "a+2Bb+3Dc+20d");
	assert_int_equal(xtext_encode("abc", enc, 3), -1);
	assert_int_equal(xtext_encode("abc", enc, 4), 3);
	assert_int_equal(xtext_decode("abc", 3, out, 3), -1);
	assert_int_equal(xtext_decode("abc", 3, out, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd),
		cmocka_unit_test(test_cmd_nul),
		cmocka_unit_test(test_helo),
		cmocka_unit_test(test_mail_path),
		cmocka_unit_test(test_rcpt_path),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_envid_long),
		cmocka_unit_test(test_rcpt_params),
		cmocka_unit_test(test_xtext),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
