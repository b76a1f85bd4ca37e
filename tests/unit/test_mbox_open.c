/* The mailbox open rules: what an fstat and an lstat must say before a
 * root process appends to a name in a directory users can write. */
#include <sys/stat.h>
#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mbox_open.h"

#define REG	(S_IFREG | 0600)
#define LNK	(S_IFLNK | 0777)

static const struct {
	const char	*name;
	mode_t		 fmode;		/* the open descriptor's fstat */
	nlink_t		 nlink;
	uid_t		 fuid;
	dev_t		 fdev;
	ino_t		 fino;
	mode_t		 lmode;		/* lstat of the path, after the open */
	dev_t		 ldev;
	ino_t		 lino;
	uid_t		 uid;		/* the recipient */
	int		 created;
	const char	*want;		/* NULL: may append */
} cases[] = {
	{ "the recipient's box", REG, 1, 1001, 5, 77, REG, 5, 77, 1001, 0,
	    NULL },
	{ "just created, still root's", REG, 1, 0, 5, 77, REG, 5, 77, 1001, 1,
	    NULL },
	{ "root's own box", REG, 1, 0, 5, 77, REG, 5, 77, 0, 0, NULL },
	{ "hard link to a file of root's", REG, 2, 0, 5, 77, REG, 5, 77, 1001,
	    0, "more than one link" },
	{ "hard link, even the recipient's", REG, 2, 1001, 5, 77, REG, 5, 77,
	    1001, 0, "more than one link" },
	{ "hard link planted before our O_EXCL", REG, 2, 0, 5, 77, REG, 5, 77,
	    1001, 1, "more than one link" },
	{ "root's file, not created by us", REG, 1, 0, 5, 77, REG, 5, 77, 1001,
	    0, "not owned by the recipient" },
	{ "another user's file", REG, 1, 1002, 5, 77, REG, 5, 77, 1001, 0,
	    "not owned by the recipient" },
	{ "another user's, created flag", REG, 1, 1002, 5, 77, REG, 5, 77,
	    1001, 1, "not owned by the recipient" },
	{ "FIFO", S_IFIFO | 0600, 1, 1001, 5, 77, S_IFIFO | 0600, 5, 77, 1001,
	    0, "not a regular file" },
	{ "character device", S_IFCHR | 0600, 1, 0, 5, 77, S_IFCHR | 0600, 5,
	    77, 0, 0, "not a regular file" },
	{ "directory", S_IFDIR | 0700, 2, 1001, 5, 77, S_IFDIR | 0700, 5, 77,
	    1001, 0, "not a regular file" },
	{ "name now a symlink", REG, 1, 1001, 5, 77, LNK, 5, 78, 1001, 0,
	    "the name was changed while it was opened" },
	{ "name now another inode", REG, 1, 1001, 5, 77, REG, 5, 78, 1001, 0,
	    "the name was changed while it was opened" },
	{ "same inode, other device", REG, 1, 1001, 5, 77, REG, 6, 77, 1001, 0,
	    "the name was changed while it was opened" },
	{ "as the file's user: any owner", REG, 1, 1002, 5, 77, REG, 5, 77,
	    MBOX_ANY_OWNER, 0, NULL },
	{ "as the file's user: still one link", REG, 2, 1002, 5, 77, REG, 5,
	    77, MBOX_ANY_OWNER, 0, "more than one link" },
};

static void
test_refusal(void **state)
{
	struct stat	 f, l;
	const char	*why;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&f, 0, sizeof(f));
		memset(&l, 0, sizeof(l));
		f.st_mode = cases[i].fmode;
		f.st_nlink = cases[i].nlink;
		f.st_uid = cases[i].fuid;
		f.st_dev = cases[i].fdev;
		f.st_ino = cases[i].fino;
		l.st_mode = cases[i].lmode;
		l.st_nlink = cases[i].nlink;
		l.st_uid = cases[i].fuid;
		l.st_dev = cases[i].ldev;
		l.st_ino = cases[i].lino;
		why = mbox_open_refusal(&f, &l, cases[i].uid, cases[i].created);
		if (cases[i].want == NULL && why != NULL)
			fail_msg("%s: refused: %s", cases[i].name, why);
		if (cases[i].want != NULL && (why == NULL ||
		    strcmp(why, cases[i].want) != 0))
			fail_msg("%s: got \"%s\", want \"%s\"", cases[i].name,
			    why ? why : "(may append)", cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
