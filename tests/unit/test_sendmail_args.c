/* sendmail(8) command lines, address lists and the header rewrite. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sendmail.h"
#include "util.h"

/* Renders the parsed arguments as one comparable string. */
static char *
render_args(const struct sm_args *a)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b);
	buf_printf(&b, "mode=%d dl=%d t=%d i=%d v=%d", a->mode, a->delivery,
	    a->extract, a->ignore_dots, a->verbose);
	if (a->sender)
		buf_printf(&b, " f=<%s>", a->sender);
	if (a->fullname)
		buf_printf(&b, " F=%s", a->fullname);
	if (a->config)
		buf_printf(&b, " C=%s", a->config);
	if (a->queue_dest)
		buf_printf(&b, " qR=%s", a->queue_dest);
	for (i = 0; i < a->nrcpts; i++)
		buf_printf(&b, " %s", a->rcpts[i]);
	return b.data;
}

static const struct {
	const char	*prog;
	const char	*args;		/* split on spaces; "" none */
	const char	*want;		/* render, or "!" + error start */
	int		 warnings;	/* lines on stderr */
} arg_cases[] = {
	{ "sendmail", "root", "mode=0 dl=0 t=0 i=0 v=0 root", 0 },
	{ "sendmail", "-t", "mode=0 dl=0 t=1 i=0 v=0", 0 },
	{ "sendmail", "-t -i", "mode=0 dl=0 t=1 i=1 v=0", 0 },
	{ "sendmail", "-ti", "mode=0 dl=0 t=1 i=1 v=0", 0 },
	{ "sendmail", "-oi -t", "mode=0 dl=0 t=1 i=1 v=0", 0 },
	{ "sendmail", "-t -i -f www@example.org",
	    "mode=0 dl=0 t=1 i=1 v=0 f=<www@example.org>", 0 },
	{ "sendmail", "-fwww@example.org -t", "mode=0 dl=0 t=1 i=0 v=0 f=<www@example.org>", 0 },
	{ "sendmail", "-f <> root", "mode=0 dl=0 t=0 i=0 v=0 f=<> root", 0 },
	{ "sendmail", "-r a@b -F Joe a@c", "mode=0 dl=0 t=0 i=0 v=0 f=<a@b> F=Joe a@c", 0 },
	{ "sendmail", "-f a@b -f c@d x", "!more than one", 0 },
	{ "sendmail", "-i -- -odd-name", "mode=0 dl=0 t=0 i=1 v=0 -odd-name", 0 },
	{ "send-mail", "-bm -odi x", "mode=0 dl=1 t=0 i=0 v=0 x", 0 },
	{ "sendmail", "-odq x", "mode=0 dl=2 t=0 i=0 v=0 x", 0 },
	{ "sendmail", "-oem -oee -om -odb x", "mode=0 dl=0 t=0 i=0 v=0 x", 0 },
	{ "sendmail", "-oQ/var/spool/mqueue x", "mode=0 dl=0 t=0 i=0 v=0 x", 1 },
	{ "sendmail", "-O IgnoreDots=true -O Timeout.queuereturn=5d x",
	    "mode=0 dl=0 t=0 i=1 v=0 x", 1 },
	{ "sendmail", "-N success -R hdrs -V envid -X /tmp/log x",
	    "mode=0 dl=0 t=0 i=0 v=0 x", 4 },
	{ "sendmail", "-G -U -v -B 8BITMIME -L tag -h 5 x",
	    "mode=0 dl=0 t=0 i=0 v=1 x", 0 },
	{ "sendmail", "-C /tmp/p.conf -bp", "mode=3 dl=0 t=0 i=0 v=0 C=/tmp/p.conf", 0 },
	{ "sendmail", "-bs", "mode=1 dl=0 t=0 i=0 v=0", 0 },
	{ "sendmail", "-bd -q30m", "mode=2 dl=0 t=0 i=0 v=0", 1 },
	{ "sendmail", "-L sm-mta -bd -q30m", "mode=2 dl=0 t=0 i=0 v=0", 1 },
	{ "sendmail", "-bi", "mode=4 dl=0 t=0 i=0 v=0", 0 },
	{ "sendmail", "-q", "mode=5 dl=0 t=0 i=0 v=0", 0 },
	{ "sendmail", "-qR example.org", "mode=5 dl=0 t=0 i=0 v=0 qR=example.org", 0 },
	{ "sendmail", "-qRexample.org", "mode=5 dl=0 t=0 i=0 v=0 qR=example.org", 0 },
	{ "sendmail", "-q30m", "mode=5 dl=0 t=0 i=0 v=0", 1 },
	{ "sendmail", "-qx", "!bad -q", 0 },
	{ "sendmail", "-bv root a@b", "mode=6 dl=0 t=0 i=0 v=0 root a@b", 0 },
	{ "sendmail", "-bt", "!address test mode", 0 },
	{ "sendmail", "-bz", "!unknown mode", 0 },
	{ "sendmail", "-k x", "!unknown option", 0 },
	{ "sendmail", "-f", "!option requires", 0 },
	{ "sendmail", "", "!recipient names", 0 },
	{ "sendmail", "-i", "!recipient names", 0 },
	{ "mailq", "", "mode=3 dl=0 t=0 i=0 v=0", 0 },
	{ "mailq", "-v", "mode=3 dl=0 t=0 i=0 v=1", 0 },
	{ "newaliases", "", "mode=4 dl=0 t=0 i=0 v=0", 0 },
	{ "hoststat", "", "mode=7 dl=0 t=0 i=0 v=0", 0 },
	{ "purgestat", "", "mode=8 dl=0 t=0 i=0 v=0", 0 },
};

static void
test_args(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(arg_cases) / sizeof(arg_cases[0]); i++) {
		char		*copy = xstrdup(arg_cases[i].args), *tok, *save;
		char		*argv[32];
		int		 argc = 0, nw = 0;
		struct sm_args	 a;
		struct buf	 w;
		const char	*why;
		char		*got, *p;

		argv[argc++] = (char *)(uintptr_t)arg_cases[i].prog;
		for (tok = strtok_r(copy, " ", &save); tok != NULL;
		    tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
		argv[argc] = NULL;
		buf_init(&w);
		buf_append(&w, "", 0);
		why = sm_args_parse(argc, argv, arg_cases[i].prog, &a, &w);
		if (why != NULL)
			got = xasprintf("!%s", why);
		else
			got = render_args(&a);
		for (p = w.data; (p = strchr(p, '\n')) != NULL; p++)
			nw++;
		if (strncmp(got, arg_cases[i].want, strlen(arg_cases[i].want))
		    != 0 || (arg_cases[i].want[0] != '!' &&
		    strlen(got) != strlen(arg_cases[i].want)) ||
		    nw != arg_cases[i].warnings)
			fail_msg("case %zu (%s): got \"%s\", %d warnings: %s", i,
			    arg_cases[i].args, got, nw, w.data);
		free(got);
		free(copy);
		buf_free(&w);
	}
}

static const struct {
	const char	*field;
	const char	*want;	/* addresses joined by ' ' */
} addr_cases[] = {
	{ "root", "root" },
	{ " a@b.example , c@d.example", "a@b.example c@d.example" },
	{ "Joe Q. Public <john.q.public@example.com>",
	    "john.q.public@example.com" },
	{ "\"Doe, John\" <jd@example.org>, x@y", "jd@example.org x@y" },
	{ "jd@example.org (John Doe), (c) x@y", "jd@example.org x@y" },
	{ "(nested (comment)) a@b", "a@b" },
	{ "A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	    "c@a.test joe@where.test jdoe@one.test" },
	{ "undisclosed-recipients:;", "" },
	{ "<@relay.example:user@host.example>", "user@host.example" },
	{ "\"quoted local\"@example.org", "\"quoted local\"@example.org" },
	{ "a@b,\r\n\tc@d", "a@b c@d" },
	{ "<>", "" },
	{ "", "" },
};

static void
test_addr_list(void **state)
{
	size_t	 i, j, n;
	char	**v;

	(void)state;
	for (i = 0; i < sizeof(addr_cases) / sizeof(addr_cases[0]); i++) {
		struct buf b;

		buf_init(&b);
		buf_append(&b, "", 0);
		(void)sm_addr_list(addr_cases[i].field,
		    strlen(addr_cases[i].field), &v, &n);
		for (j = 0; j < n; j++) {
			buf_printf(&b, "%s%s", j ? " " : "", v[j]);
			free(v[j]);
		}
		free(v);
		if (strcmp(b.data, addr_cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\"", i, b.data);
		buf_free(&b);
	}
}

static const struct {
	const char	*msg;
	int		 extract;
	const char	*exclude;	/* one address or NULL */
	const char	*want_msg;
	const char	*want_rcpts;	/* or "!" error */
} prep_cases[] = {
	/* periodic(8): To: root, no From/Date/Message-ID */
	{ "To: root\nSubject: daily run output\n\nbody\n", 1, NULL,
	    "To: root\nSubject: daily run output\nFrom: u@h\nDate: D\n"
	    "Message-ID: <id@h>\n\nbody\n", "root" },
	/* complete header kept as is, Bcc removed, CRLF kept */
	{ "From: a@b\r\nDate: x\r\nMessage-ID: <m@b>\r\nTo: t@x\r\n"
	    "Bcc: hidden@x,\r\n other@x\r\n\r\nhi\r\n", 1, NULL,
	    "From: a@b\r\nDate: x\r\nMessage-ID: <m@b>\r\nTo: t@x\r\n\r\nhi\r\n",
	    "t@x hidden@x other@x" },
	/* -t minus the arguments (sendmail 8) */
	{ "To: a@x, b@x\nCc: c@x\n\nz\n", 1, "b@x",
	    "To: a@x, b@x\nCc: c@x\nFrom: u@h\nDate: D\nMessage-ID: <id@h>\n\nz\n",
	    "a@x c@x" },
	/* Resent- fields win when present */
	{ "To: old@x\nResent-To: new@x\nResent-Bcc: rb@x\n\nz\n", 1, NULL,
	    "To: old@x\nResent-To: new@x\nFrom: u@h\nDate: D\n"
	    "Message-ID: <id@h>\n\nz\n", "new@x rb@x" },
	/* no header at all: a separator is added */
	{ "just text\n", 0, NULL,
	    "From: u@h\nDate: D\nMessage-ID: <id@h>\n\njust text\n", "" },
	/* an mbox "From " line is dropped */
	{ "From joe Mon Nov 24 12:00:00 2025\nSubject: s\n\nb\n", 0, NULL,
	    "Subject: s\nFrom: u@h\nDate: D\nMessage-ID: <id@h>\n\nb\n", "" },
	/* empty message */
	{ "", 0, NULL, "From: u@h\nDate: D\nMessage-ID: <id@h>\n\n", "" },
	{ "Subject: x\n\nb\n", 1, NULL, "", "!no recipient" },
	/* case-insensitive field names; dups removed */
	{ "TO: a@x\ncc: A@X\nbcc: b@x\n\nb\n", 1, NULL,
	    "TO: a@x\ncc: A@X\nFrom: u@h\nDate: D\nMessage-ID: <id@h>\n\nb\n",
	    "a@x b@x" },
};

static void
test_prepare(void **state)
{
	size_t	 i, j, n;

	(void)state;
	for (i = 0; i < sizeof(prep_cases) / sizeof(prep_cases[0]); i++) {
		char			*ex = (char *)(uintptr_t)prep_cases[i].exclude;
		struct sm_header_ctx	 c = { "u@h", NULL, "D", "<id@h>",
		    &ex, ex ? 1 : 0 };
		struct buf		 out, r;
		char			**rc = NULL;
		const char		*why;

		buf_init(&out);
		buf_init(&r);
		buf_append(&out, "", 0);
		buf_append(&r, "", 0);
		why = sm_prepare(prep_cases[i].msg, strlen(prep_cases[i].msg),
		    &c, &out, prep_cases[i].extract ? &rc : NULL, &n);
		if (why != NULL)
			buf_printf(&r, "!%s", why);
		else if (prep_cases[i].extract)
			for (j = 0; j < n; j++)
				buf_printf(&r, "%s%s", j ? " " : "", rc[j]);
		if (rc != NULL) {
			for (j = 0; j < n; j++)
				free(rc[j]);
			free(rc);
		}
		if (strncmp(r.data, prep_cases[i].want_rcpts,
		    strlen(prep_cases[i].want_rcpts)) != 0)
			fail_msg("case %zu: rcpts \"%s\"", i, r.data);
		if (why == NULL && strcmp(out.data, prep_cases[i].want_msg) != 0)
			fail_msg("case %zu: message\n%s", i, out.data);
		buf_free(&out);
		buf_free(&r);
	}
}

/*
 * Messages in exactly sized heap copies, so that AddressSanitizer sees a
 * read before the first byte (a message starting with its newline).
 */
static const struct {
	const char	*msg;
	const char	*want_msg;
} edge_cases[] = {
	{ "\nbody\n", "From: u@h\nDate: D\nMessage-ID: <id@h>\n\nbody\n" },
	{ "\n", "From: u@h\nDate: D\nMessage-ID: <id@h>\n\n" },
	{ "\n\n", "From: u@h\nDate: D\nMessage-ID: <id@h>\n\n\n" },
	{ "\r\nb\r\n",
	    "From: u@h\r\nDate: D\r\nMessage-ID: <id@h>\r\n\r\nb\r\n" },
	{ "x", "From: u@h\nDate: D\nMessage-ID: <id@h>\n\nx" },
};

static void
test_prepare_edges(void **state)
{
	struct sm_header_ctx c = { "u@h", NULL, "D", "<id@h>", NULL, 0 };
	struct buf	 out;
	size_t		 i, len;
	char		*m;

	(void)state;
	for (i = 0; i < sizeof(edge_cases) / sizeof(edge_cases[0]); i++) {
		len = strlen(edge_cases[i].msg);
		m = malloc(len);
		assert_non_null(m);
		memcpy(m, edge_cases[i].msg, len);
		buf_init(&out);
		buf_append(&out, "", 0);
		assert_null(sm_prepare(m, len, &c, &out, NULL, NULL));
		if (out.len != strlen(edge_cases[i].want_msg) ||
		    memcmp(out.data, edge_cases[i].want_msg, out.len) != 0)
			fail_msg("case %zu: message\n%s", i, out.data);
		buf_free(&out);
		free(m);
	}
}

static void
test_fullname(void **state)
{
	struct sm_header_ctx c = { "joe@h", "Joe \"Q\" Public", "D", "<i@h>",
	    NULL, 0 };
	struct buf	 out;

	(void)state;
	buf_init(&out);
	assert_null(sm_prepare("Subject: s\n\nb\n", 14, &c, &out, NULL, NULL));
	assert_non_null(strstr(out.data,
	    "From: \"Joe \\\"Q\\\" Public\" <joe@h>\n"));
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_addr_list),
		cmocka_unit_test(test_prepare),
		cmocka_unit_test(test_prepare_edges),
		cmocka_unit_test(test_fullname),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
