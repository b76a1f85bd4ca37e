/* local_include: which :include: files the local server reads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "local_include.h"

#define ALIASES_OWNER	1001	/* uid owning the aliases file */

static const struct {
	mode_t		 mode;
	uid_t		 uid;
	off_t		 size;
	int		 from_forward;
	enum include_verdict want;
	const char	*why;
} judge_cases[] = {
	/* Named in the aliases file, read as root. */
	{ S_IFREG | 0644, 0, 100, 0, INCLUDE_OK, NULL },
	{ S_IFREG | 0600, ALIASES_OWNER, 100, 0, INCLUDE_OK, NULL },
	{ S_IFREG | 0644, 1002, 100, 0, INCLUDE_REFUSED,
	    "not owned by root or the aliases file's owner" },
	{ S_IFREG | 0664, 0, 100, 0, INCLUDE_REFUSED,
	    "group or world writable" },
	{ S_IFREG | 0646, 0, 100, 0, INCLUDE_REFUSED,
	    "group or world writable" },
	{ S_IFREG | 0666, ALIASES_OWNER, 100, 0, INCLUDE_REFUSED,
	    "group or world writable" },
	{ S_IFIFO | 0644, 0, 0, 0, INCLUDE_TEMP, "not a regular file" },
	{ S_IFCHR | 0644, 0, 0, 0, INCLUDE_TEMP, "not a regular file" },
	{ S_IFDIR | 0755, 0, 0, 0, INCLUDE_TEMP, "not a regular file" },
	{ S_IFREG | 0644, 0, LOCAL_INCLUDE_MAX + 1, 0, INCLUDE_REFUSED,
	    "larger than 1 MB" },
	/* Named in a .forward, read as its user: the kernel checked who
	 * may read it; others must not be able to write it. */
	{ S_IFREG | 0644, 1002, 100, 1, INCLUDE_OK, NULL },
	{ S_IFREG | 0664, 1002, 100, 1, INCLUDE_OK, NULL },
	{ S_IFREG | 0646, 1002, 100, 1, INCLUDE_REFUSED, "writable by others" },
	{ S_IFIFO | 0600, 1002, 0, 1, INCLUDE_TEMP, "not a regular file" },
	{ S_IFREG | 0600, 0, LOCAL_INCLUDE_MAX, 1, INCLUDE_OK, NULL },
};

static void
test_judge(void **state)
{
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(judge_cases) / sizeof(judge_cases[0]); i++) {
		struct stat	 st;

		memset(&st, 0, sizeof(st));
		st.st_mode = judge_cases[i].mode;
		st.st_uid = judge_cases[i].uid;
		st.st_size = judge_cases[i].size;
		why = NULL;
		if (include_judge(&st, judge_cases[i].from_forward,
		    ALIASES_OWNER, &why) != judge_cases[i].want)
			fail_msg("case %zu: verdict", i);
		if (judge_cases[i].why != NULL && (why == NULL ||
		    strcmp(why, judge_cases[i].why) != 0))
			fail_msg("case %zu: reason \"%s\"", i, why ? why : "");
	}
}

static const struct {
	int		 err;
	enum include_verdict want;
} errno_cases[] = {
	{ EACCES, INCLUDE_REFUSED },	/* the user may not read it */
	{ EPERM, INCLUDE_REFUSED },
	{ ENOENT, INCLUDE_REFUSED },
	{ ENOTDIR, INCLUDE_REFUSED },
	{ ELOOP, INCLUDE_REFUSED },	/* a symlink, O_NOFOLLOW */
	{ EMLINK, INCLUDE_REFUSED },
	{ EFBIG, INCLUDE_REFUSED },
	{ EIO, INCLUDE_TEMP },
	{ EMFILE, INCLUDE_TEMP },
	{ ENFILE, INCLUDE_TEMP },
	{ ENOMEM, INCLUDE_TEMP },
	{ EINTR, INCLUDE_TEMP },
	{ 0, INCLUDE_TEMP },		/* unknown: never "ok" */
};

static void
test_errno(void **state)
{
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(errno_cases) / sizeof(errno_cases[0]); i++)
		if (include_errno_verdict(errno_cases[i].err) !=
		    errno_cases[i].want)
			fail_msg("case %zu: errno %d", i, errno_cases[i].err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_judge),
		cmocka_unit_test(test_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
