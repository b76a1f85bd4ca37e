/* privsep: what start-up does with spool_dir.  A directory postern did
 * not make (such as /var/spool) is never taken over. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "privsep.h"

#define NCASES(a)	(sizeof(a) / sizeof((a)[0]))
#define DAEMON_UID	125

static void
test_spool_decide(void **state)
{
	static const struct {
		int			 exists;
		mode_t			 mode;
		uid_t			 uid;
		size_t			 nentries;
		enum spool_verdict	 want;
	} cases[] = {
		{ 0, 0, 0, 0, SPOOL_CREATE },
		{ 1, S_IFDIR | 0700, DAEMON_UID, 3, SPOOL_OURS },
		{ 1, S_IFDIR | 0755, DAEMON_UID, 0, SPOOL_OURS },
		/* install -d -m 0700 by root, still empty: safe to hand over */
		{ 1, S_IFDIR | 0700, 0, 0, SPOOL_ADOPT },
		/* empty but shared (/var/mail 2775) or someone else's */
		{ 1, S_IFDIR | 0755, 0, 0, SPOOL_FOREIGN },
		{ 1, S_IFDIR | 02775, 0, 0, SPOOL_FOREIGN },
		{ 1, S_IFDIR | 0700, 1000, 0, SPOOL_FOREIGN },
		/* /var/spool: root's, holds other spools */
		{ 1, S_IFDIR | 0755, 0, 1, SPOOL_FOREIGN },
		{ 1, S_IFDIR | 01777, 0, 5, SPOOL_FOREIGN },
		{ 1, S_IFDIR | 0700, 1000, 1, SPOOL_FOREIGN },
		{ 1, S_IFREG | 0600, DAEMON_UID, 0, SPOOL_NOTDIR },
		{ 1, S_IFREG | 0644, 0, 0, SPOOL_NOTDIR },
	};
	struct stat	 st;
	size_t		 i;

	(void)state;
	for (i = 0; i < NCASES(cases); i++) {
		memset(&st, 0, sizeof(st));
		st.st_mode = cases[i].mode;
		st.st_uid = cases[i].uid;
		if (privsep_spool_decide(cases[i].exists, &st, DAEMON_UID,
		    cases[i].nentries) != cases[i].want)
			fail_msg("case %zu", i);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spool_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
