/* config: the key table, file:line errors, defaults. */
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

static char *
write_conf(const char *text)
{
	static char	 path[] = "/tmp/postern-test-conf-XXXXXX";
	int		 fd;

	memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	(void)close(fd);
	return path;
}

static void
load_err(const char *text, const char *want)
{
	struct config	 c;
	char		 err[512], *path = write_conf(text);

	config_defaults(&c);
	assert_int_equal(config_load(&c, path, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	config_free(&c);
	(void)unlink(path);
}

static void
test_defaults(void **state)
{
	struct config	 c;

	(void)state;
	config_defaults(&c);
	assert_int_equal(c.nlisten, 1);
	assert_string_equal(c.listen[0].port, "25");
	assert_int_equal(c.max_queue_lifetime, 5 * 86400);
	assert_int_equal(c.delay_warning_time, 4 * 3600);
	assert_int_equal(c.resolver, RESOLVER_SYSTEM);
	assert_int_equal(c.local_recipient_check, 1);
	assert_string_equal(c.local_catchall, "");
	assert_int_equal(c.bounce_full_max_size, 65536);
	assert_non_null(c.hostname);
	assert_null(config_validate(&c));
	config_free(&c);
}

static void
test_load(void **state)
{
	struct config	 c;
	char		 err[512], *path;

	(void)state;
	path = write_conf(
	    "# comment\n"
	    "hostname = mx.example.org\n"
	    "listen = 127.0.0.1:2525\n"
	    "listen = [::1]:2587 submission\n"
	    "listen = 465 smtps\n"
	    "relay_domains = a.example, b.example c.example\n"
	    "resolver_option = do-not-query-localhost: no\n"
	    "resolver_option = local-zone: \"test.\" nodefault\n"
	    "retry_min = 30s   # inline comment\n"
	    "max_message_size = 10M\n"
	    "local_recipient_check = no\n"
	    "local_catchall = catchall\n"
	    "bounce_full_max_size = 1M\n"
	    "spool_dir = \"/var/spool/x\"\n");
	config_defaults(&c);
	assert_int_equal(config_load(&c, path, err, sizeof(err)), 0);
	assert_string_equal(c.hostname, "mx.example.org");
	assert_int_equal(c.nlisten, 3);
	assert_string_equal(c.listen[1].host, "::1");
	assert_string_equal(c.listen[1].port, "2587");
	assert_int_equal(c.listen[1].mode, LISTEN_SUBMISSION);
	assert_string_equal(c.listen[2].host, "*");
	assert_int_equal(c.listen[2].mode, LISTEN_SMTPS);
	assert_int_equal(c.relay_domains.n, 3);
	assert_true(strlist_contains_domain(&c.relay_domains, "B.example"));
	assert_int_equal(c.resolver_options.n, 2);
	assert_string_equal(c.resolver_options.v[1], "local-zone: \"test.\" nodefault");
	assert_int_equal(c.retry_min, 30);
	assert_int_equal(c.max_message_size, 10485760);
	assert_string_equal(c.spool_dir, "/var/spool/x");
	assert_int_equal(c.local_recipient_check, 0);
	assert_string_equal(c.local_catchall, "catchall");
	assert_int_equal(c.bounce_full_max_size, 1048576);
	config_free(&c);
	(void)unlink(path);
}

static void
test_errors(void **state)
{
	(void)state;
	load_err("hostname = x\nbogus = 1\n", ":2: unknown key \"bogus\"");
	load_err("retry_min = 5 minutes\n",
	    ":1: retry_min: expected a duration");
	/* Each message names the key and the allowed range. */
	load_err("max_children = 0\n",
	    ":1: max_children: out of range: 1 to 100000");
	load_err("max_message_size = 1\n",
	    ":1: max_message_size: out of range: 1024 to 2147483648 bytes");
	load_err("dnssec = maybe\n", ":1: dnssec: expected yes or no");
	load_err("dnssec = off\nresolver_trust_anchor = /k\n", "contradict");
	load_err("listen = 127.0.0.1:99999\n", ":1: listen: bad port");
	load_err("listen = 127.0.0.1:25 fast\n", ":1: listen mode");
	load_err("no equals sign\n", ":1: expected key = value");
	load_err("resolver = recursive\n", "needs resolver_root_hints");
	load_err("retry_min = 2h\nretry_max = 1h\n", "retry_min is larger");
	load_err("tls_cert = /x.pem\n", "tls_cert and tls_key go together");
	load_err("local_catchall = jane@example.org\n", "local_catchall must be");
	load_err("local_catchall = |/bin/sh\n", "local_catchall must be");
	load_err("local_catchall = a, b\n", "local_catchall must be");
	load_err("bounce_full_max_size = -1\n", ":1:");
}

static void
test_pick_hostname(void **state)
{
	static const struct {
		const char	*mailname, *host, *canon, *want;
	} cases[] = {
		{ "mail.example.org", "vm", NULL, "mail.example.org" },
		{ "mail.example.org", "vm.example.net", NULL,
		    "mail.example.org" },
		{ NULL, "vm.example.net", "x.example.com", "vm.example.net" },
		{ "", "vm", "vm.example.net", "vm.example.net" },
		{ "not a name", "vm", "vm.lan.example", "vm.lan.example" },
		{ "localhost", "vm", NULL, "vm" },	/* no dot: not a domain */
		{ "mail.example.org.", "vm", NULL, "vm" },
		{ NULL, "vm", "vm", "vm" },		/* nothing better */
		{ NULL, "vm", NULL, "vm" },
		{ NULL, "", NULL, "" },
	};
	const char	*got;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = config_pick_hostname(cases[i].mailname, cases[i].host,
		    cases[i].canon);
		if (got == NULL || strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: %s", i, got ? got : "NULL");
	}
}

static void
test_dev(void **state)
{
	struct config	 c;

	(void)state;
	config_dev(&c, "/tmp/tree");
	assert_string_equal(c.spool_dir, "/tmp/tree/run/spool");
	assert_string_equal(c.listen[0].host, "127.0.0.1");
	assert_string_equal(c.listen[0].port, "2525");
	assert_string_equal(c.user, "");
	assert_null(config_validate(&c));
	config_free(&c);
}

/* Every check of config_validate() that a file can trip, one by one. */
static void
test_validate(void **state)
{
	static const struct {
		size_t		 hostlen;	/* 0: keep the default */
		const char	*want;		/* NULL: valid */
	} cases[] = {
		{ 0, NULL },
		{ 1, NULL },
		{ 253, NULL },
		{ 254, "hostname is longer than 253 characters" },
		{ 4000, "hostname is longer than 253 characters" },
	};
	struct config	 c;
	const char	*got;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_defaults(&c);
		if (cases[i].hostlen > 0) {
			free(c.hostname);
			c.hostname = malloc(cases[i].hostlen + 1);
			assert_non_null(c.hostname);
			memset(c.hostname, 'a', cases[i].hostlen);
			c.hostname[cases[i].hostlen] = '\0';
		}
		got = config_validate(&c);
		if (cases[i].want == NULL ? got != NULL : (got == NULL ||
		    strcmp(got, cases[i].want) != 0))
			fail_msg("case %zu: \"%s\"", i, got ? got : "valid");
		config_free(&c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_dev),
		cmocka_unit_test(test_pick_hostname),
		cmocka_unit_test(test_validate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
