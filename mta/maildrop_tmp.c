/*
 * The maildrop's temporary files: which names they are and when one
 * is stale.  Pure; the pickup (mta/maildrop_pickup.c) unlinks them.
 */
#include <string.h>

#include "maildrop.h"

int
maildrop_tmp_name(const char *name)
{
	size_t	 len = strlen(name);

	return len > 4 && strcmp(name + len - 4, ".tmp") == 0;
}

/*
 * A writer holds its QID.tmp only while it writes a message it already
 * has in memory (maildrop_write), so an hour means it died.  An mtime
 * as far in the future is stale too: a writer sets its file's times
 * (utimes(2)) and must not keep it for ever that way.
 */
int
maildrop_tmp_stale(long long mtime, long long now)
{
	return mtime < now - MAILDROP_TMP_MAX_AGE ||
	    mtime > now + MAILDROP_TMP_MAX_AGE;
}
