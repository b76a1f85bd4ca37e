/*
 * dns_option: the shape of a resolver_option, the settings refused because
 * they switch DNSSEC validation off, and (through dns_check, which builds
 * a libunbound context and asks nothing of the network) the options
 * libunbound itself rejects, each reported with its postern.conf line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "dns.h"
#include "dns_option.h"

/* want: NULL to accept, else a part of the reason. */
static const struct {
	const char	*opt;
	const char	*want;
} checks[] = {
	{ "do-not-query-localhost: no",			NULL },
	{ "local-zone: \"test.\" nodefault",		NULL },
	{ "local-zone: test. nodefault",		NULL },
	{ "local-zone:\t\"home.arpa.\" nodefault",	NULL },
	{ "val-permissive-mode: no",			NULL },
	{ "module-config: \"validator iterator\"",	NULL },
	{ "module-config: \"subnetcache validator iterator\"", NULL },
	{ "domain-insecure: \"corp.example.\"",		NULL },
	{ "harden-dnssec-stripped: yes",		NULL },
	{ "val-override-date: 0",			NULL },
	/* the shape */
	{ "local-zone \"test.\" nodefault",		"name: value" },
	{ "local-zone=test. nodefault",			"name: value" },
	{ ": test. nodefault",				"name: value" },
	{ "Local-Zone: test. nodefault",		"name: value" },
	{ "",						"name: value" },
	{ "local-zone:",				"no value" },
	{ "local-zone:   \t",				"no value" },
	{ "forward-zone: x",				"a clause" },
	{ "server: verbosity: 1",			"a clause" },
	{ "include: /etc/unbound/x.conf",		"a clause" },
	{ "module-config: \"validator iterator",	"quote" },
	/* switching validation off */
	{ "val-permissive-mode: yes",			"fail DNSSEC validation" },
	{ "val-permissive-mode: \"yes\"",		"fail DNSSEC validation" },
	{ "module-config: \"iterator\"",		"no validator" },
	{ "module-config: iterator",			"no validator" },
	{ "module-config: \"validatorx iterator\"",	"no validator" },
	{ "module-config: \"respip iterator\"",		"no validator" },
	{ "domain-insecure: .",				"every name" },
	{ "domain-insecure: \".\"",			"every name" },
	{ "harden-dnssec-stripped: no",			"strips signatures" },
	{ "val-override-date: -1",			"validity dates" },
	{ "val-override-date: 20260101000000",		"validity dates" },
	/* unbound daemon settings that libunbound ignores */
	{ "username: nobody",				"unbound daemon" },
	{ "interface: 192.0.2.1",			"unbound daemon" },
	{ "chroot: /nonexistent",			"unbound daemon" },
	{ "do-daemonize: yes",				"unbound daemon" },
	{ "logfile: /nonexistent/x.log",		"unbound daemon" },
};

static void
test_option_check(void **state)
{
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		why = dns_option_check(checks[i].opt);
		if (checks[i].want == NULL && why != NULL)
			fail_msg("\"%s\": refused: %s", checks[i].opt, why);
		if (checks[i].want != NULL && (why == NULL ||
		    strstr(why, checks[i].want) == NULL))
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
			    checks[i].opt, why ? why : "(accepted)",
			    checks[i].want);
	}
}

/* As libunbound reads them back: unquoted, lists one entry each. */
static const struct {
	const char	*name, *value;
	int		 refused;
} settings[] = {
	{ "val-permissive-mode",	"no",			0 },
	{ "val-permissive-mode",	"yes",			1 },
	{ "module-config",		"validator iterator",	0 },
	{ "module-config",		"iterator",		1 },
	{ "module-config",		"",			1 },
	{ "module-config",		"dns64 validator iterator", 0 },
	{ "domain-insecure",		"",			0 },
	{ "domain-insecure",		"test.",		0 },
	{ "domain-insecure",		".",			1 },
	{ "harden-dnssec-stripped",	"yes",			0 },
	{ "harden-dnssec-stripped",	"no",			1 },
	{ "val-override-date",		"0",			0 },
	{ "val-override-date",		"4294967295",		1 },
	/* not of this kind */
	{ "local-zone",			"test. nodefault",	0 },
	{ "insecure-lan-zones",		"yes",			0 },
	{ "do-not-query-localhost",	"no",			0 },
};

static void
test_setting_refused(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
		if ((dns_setting_refused(settings[i].name,
		    settings[i].value) != NULL) != settings[i].refused)
			fail_msg("%s: %s: want %s", settings[i].name,
			    settings[i].value, settings[i].refused ?
			    "refused" : "accepted");
}

static const struct {
	const char	*opt, *want;	/* want NULL: -1 */
} values[] = {
	{ "a: yes",			"yes" },
	{ "a:yes",			"yes" },
	{ "a: yes # why",		"yes" },
	{ "a: \"validator iterator\"",	"validator iterator" },
	{ "a: 'x y'",			"x y" },
	{ "a: \"\"",			"" },
	{ "a: \"open",			NULL },
	{ "a: test. nodefault",		"test." },
};

static void
test_option_value(void **state)
{
	char	 out[64], tiny[3];
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		if (values[i].want == NULL) {
			assert_int_equal(dns_option_value(values[i].opt, out,
			    sizeof(out)), -1);
			continue;
		}
		assert_int_equal(dns_option_value(values[i].opt, out,
		    sizeof(out)), 0);
		assert_string_equal(out, values[i].want);
	}
	assert_int_equal(dns_option_value("a: yes", tiny, sizeof(tiny)), -1);
	assert_int_equal(dns_option_value("a: no", tiny, sizeof(tiny)), 0);
}

/* Two lines that every case starts with: a forwarder that is never
 * asked (dns_check sends no query). */
#define HEAD	"resolver = forward\nresolver_forward = 127.0.0.1\n"

/* A postern.conf over the defaults. */
static int
check_conf(const char *text, char *err, size_t errlen)
{
	struct config	 c;
	int		 rc;

	config_defaults(&c);
	if (config_load_mem(&c, "t.conf", text, strlen(text), err,
	    errlen) == -1) {
		config_free(&c);
		return -2;
	}
	rc = dns_check(&c, err, errlen);
	config_free(&c);
	return rc;
}

/* want NULL: accepted; else a part of the error, which starts with the
 * file and line of the guilty postern.conf line. */
static const struct {
	const char	*conf, *want;
} confs[] = {
	{ HEAD, NULL },
	{ HEAD
	  "resolver_option = local-zone: \"test.\" nodefault\n"
	  "resolver_option = local-zone: \"home.arpa.\" nodefault\n"
	  "resolver_option = do-not-query-localhost: no\n", NULL },
	/* misspelt name: right shape, unbound knows no such option */
	{ HEAD
	  "resolver_option = do-not-query-localhost: no\n"
	  "resolver_option = locl-zone: test. nodefault\n",
	  "t.conf:4: resolver_option \"locl-zone: test. nodefault\"" },
	/* values unbound rejects */
	{ HEAD
	  "resolver_option = do-not-query-localhost: maybe\n",
	  "t.conf:3: resolver_option" },
	{ HEAD "\n"
	  "resolver_option = local-zone: test. nodefaultt\n",
	  "t.conf:4: resolver_option" },
	{ HEAD
	  "resolver_option = num-threads: many\n",
	  "t.conf:3: resolver_option" },
	/* missing colon */
	{ HEAD
	  "resolver_option = local-zone test. nodefault\n",
	  "t.conf:3: resolver_option \"local-zone test. nodefault\": want" },
	/* refused before libunbound sees them */
	{ HEAD
	  "resolver_option = val-permissive-mode: yes\n",
	  "t.conf:3: resolver_option \"val-permissive-mode: yes\": would "
	  "hand on" },
	{ HEAD "\n\n"
	  "resolver_option = module-config: \"iterator\"\n",
	  "t.conf:5: resolver_option" },
	{ HEAD
	  "resolver_option = domain-insecure: \".\"\n",
	  "t.conf:3: resolver_option" },
};

static void
test_dns_check(void **state)
{
	char	 err[1024];
	size_t	 i;
	int	 rc;

	(void)state;
	for (i = 0; i < sizeof(confs) / sizeof(confs[0]); i++) {
		err[0] = '\0';
		rc = check_conf(confs[i].conf, err, sizeof(err));
		if (rc == -2)
			fail_msg("case %zu: config: %s", i, err);
		if (confs[i].want == NULL && rc != 0)
			fail_msg("case %zu: refused: %s", i, err);
		if (confs[i].want != NULL && (rc != -1 ||
		    strstr(err, confs[i].want) == NULL))
			fail_msg("case %zu: got \"%s\", want \"%s\"", i,
			    rc == 0 ? "(accepted)" : err, confs[i].want);
	}
}

static void
write_file(char *path, const char *text)
{
	int	 fd;

	memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	(void)close(fd);
}

/* A resolver_config fragment may set what no resolver_option may: the
 * settings libunbound ends up with are judged, and the fragment named. */
static void
test_config_fragment(void **state)
{
	static const struct {
		const char	*frag, *want;
	} frags[] = {
		{ "server:\n\tlocal-zone: \"test.\" nodefault\n", NULL },
		/* docs/routing.md's example, with a named subtree */
		{ "server:\n\tlocal-zone: \"home.arpa.\" nodefault\n"
		  "\tlocal-zone: \"test.\" nodefault\n"
		  "\tdomain-insecure: \"corp.test.\"\n"
		  "stub-zone:\n\tname: \"corp.test.\"\n"
		  "\tstub-addr: 10.1.2.53\n", NULL },
		{ "server:\n\tval-permissive-mode: yes\n",
		  "val-permissive-mode: yes: would hand on" },
		{ "server:\n\tmodule-config: \"iterator\"\n",
		  "module-config: iterator: has no validator" },
		{ "server:\n\tdomain-insecure: \"corp.example.\"\n"
		  "\tdomain-insecure: \".\"\n", "domain-insecure: .:" },
		{ "server:\n\tharden-dnssec-stripped: no\n",
		  "harden-dnssec-stripped: no:" },
	};
	char	 path[] = "/tmp/postern-test-frag-XXXXXX", conf[256];
	char	 err[1024], want[512];
	size_t	 i;
	int	 rc;

	(void)state;
	for (i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		write_file(path, frags[i].frag);
		(void)snprintf(conf, sizeof(conf), HEAD
		    ""
		    "resolver_option = do-not-query-localhost: no\n"
		    "resolver_config = %s\n", path);
		rc = check_conf(conf, err, sizeof(err));
		(void)unlink(path);
		if (frags[i].want == NULL) {
			if (rc != 0)
				fail_msg("fragment %zu refused: %s", i, err);
			continue;
		}
		(void)snprintf(want, sizeof(want),
		    "t.conf:4: resolver_config %s: %s", path, frags[i].want);
		if (rc != -1 || strstr(err, want) == NULL)
			fail_msg("fragment %zu: got \"%s\", want \"%s\"", i,
			    rc == 0 ? "(accepted)" : err, want);
	}
}

/* Nor through a file the fragment includes: what counts is what
 * libunbound ends up with. */
static void
test_config_include(void **state)
{
	char	 inc[] = "/tmp/postern-test-inc-XXXXXX";
	char	 frag[] = "/tmp/postern-test-frag-XXXXXX";
	char	 text[256], conf[256], err[1024], want[512];
	int	 rc;

	(void)state;
	write_file(inc, "server:\n\tmodule-config: \"iterator\"\n");
	(void)snprintf(text, sizeof(text), "server:\n\tlocal-zone: \"test.\" "
	    "nodefault\ninclude: \"%s\"\n", inc);
	write_file(frag, text);
	(void)snprintf(conf, sizeof(conf), HEAD "\nresolver_config = %s\n",
	    frag);
	rc = check_conf(conf, err, sizeof(err));
	(void)unlink(inc);
	(void)unlink(frag);
	(void)snprintf(want, sizeof(want), "t.conf:4: resolver_config %s: "
	    "module-config: iterator: has no validator", frag);
	assert_int_equal(rc, -1);
	if (strstr(err, want) == NULL)
		fail_msg("got \"%s\", want \"%s\"", err, want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_option_check),
		cmocka_unit_test(test_setting_refused),
		cmocka_unit_test(test_option_value),
		cmocka_unit_test(test_dns_check),
		cmocka_unit_test(test_config_fragment),
		cmocka_unit_test(test_config_include),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
