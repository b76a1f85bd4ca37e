/* config_reload: which keys differ, which apply at once, and that a key
 * that takes a restart keeps its running value. */
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
#include "config_reload.h"

static void
load(struct config *c, const char *text)
{
	char	 path[] = "/tmp/postern-reload-XXXXXX", err[512];
	FILE	*f;
	int	 fd;

	assert_true((fd = mkstemp(path)) != -1);
	assert_non_null(f = fdopen(fd, "w"));
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	config_defaults(c);
	if (config_load(c, path, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	(void)unlink(path);
}

static void
test_merge(void **state)
{
	static const struct {
		const char	*run, *fresh;
		size_t		 n;
		const char	*changed, *restart;
	} cases[] = {
		{ "max_recipients = 2\n", "max_recipients = 2\n", 0, "", "" },
		{ "max_recipients = 2\n", "max_recipients = 5\n", 1,
		    "max_recipients", "" },
		{ "", "local_domains = a.test, b.test\n", 1, "local_domains",
		    "" },
		{ "local_domains = a.test b.test\n",
		    "local_domains = a.test, b.test\n", 0, "", "" },
		{ "listen = 127.0.0.1:25\n",
		    "listen = 127.0.0.1:25\nlisten = 127.0.0.1:587 submission\n",
		    1, "", "listen" },
		{ "spool_dir = /var/spool/a\nretry_min = 1m\n",
		    "spool_dir = /var/spool/b\nretry_min = 2m\n", 2,
		    "retry_min", "spool_dir" },
		{ "", "user = nobody\ntls_cert = /c\ntls_key = /k\n", 3,
		    "tls_cert, tls_key", "user" },
		{ "", "resolver = recursive\nresolver_root_hints = /h\n"
		    "resolver_trust_anchor = /a\n", 3,
		    "resolver, resolver_root_hints, resolver_trust_anchor", "" },
	};
	struct config	 run, fresh;
	char		 changed[512], restart[256];
	size_t		 i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		load(&run, cases[i].run);
		load(&fresh, cases[i].fresh);
		n = config_reload_merge(&run, &fresh, changed, sizeof(changed),
		    restart, sizeof(restart));
		if (n != cases[i].n || strcmp(changed, cases[i].changed) != 0 ||
		    strcmp(restart, cases[i].restart) != 0)
			fail_msg("case %zu: %zu [%s] [%s]", i, n, changed,
			    restart);
		config_free(&run);
		config_free(&fresh);
	}
}

/* What takes a restart keeps its running value, and its memory. */
static void
test_swap_keeps_running_values(void **state)
{
	struct config	 run, fresh;
	char		 changed[512], restart[256];
	const char	*spool;

	(void)state;
	load(&run, "spool_dir = /var/spool/a\nlisten = 127.0.0.1:25\n"
	    "max_recipients = 2\n");
	load(&fresh, "spool_dir = /var/spool/b\nlisten = 127.0.0.2:25\n"
	    "max_recipients = 7\n");
	spool = run.spool_dir;
	(void)config_reload_merge(&run, &fresh, changed, sizeof(changed),
	    restart, sizeof(restart));
	config_reload_swap(&run, &fresh);
	assert_ptr_equal(run.spool_dir, spool);
	assert_string_equal(run.spool_dir, "/var/spool/a");
	assert_string_equal(run.listen[0].host, "127.0.0.1");
	assert_int_equal(run.nlisten, 1);
	assert_int_equal(run.max_recipients, 7);
	assert_null(fresh.spool_dir);	/* freed and cleared */
	config_free(&run);
}

static void
test_restart_keys(void **state)
{
	(void)state;
	assert_true(config_reload_needs_restart("listen"));
	assert_true(config_reload_needs_restart("user"));
	assert_true(config_reload_needs_restart("mail_spool_dir"));
	assert_false(config_reload_needs_restart("max_recipients"));
	assert_false(config_reload_needs_restart("tls_cert"));
	assert_false(config_reload_needs_restart("relayhost"));
}

static void
test_names_truncate(void **state)
{
	struct config	 run, fresh;
	char		 changed[24], restart[256];

	(void)state;
	load(&run, "");
	load(&fresh, "max_recipients = 9\nmax_errors = 9\nretry_min = 2m\n"
	    "retry_max = 2h\n");
	assert_int_equal(config_reload_merge(&run, &fresh, changed,
	    sizeof(changed), restart, sizeof(restart)), 4);
	assert_non_null(strstr(changed, "..."));
	assert_true(strlen(changed) < sizeof(changed));
	config_free(&run);
	config_free(&fresh);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_swap_keeps_running_values),
		cmocka_unit_test(test_restart_keys),
		cmocka_unit_test(test_names_truncate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
