/* Dropping privileges once and for all, and verifying that it worked. */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "privsep.h"

static int
mkdir_p(const char *dir, char *err, size_t errlen)
{
	char	 path[PATH_MAX], *p;

	if (strlcpy(path, dir, sizeof(path)) >= sizeof(path)) {
		(void)snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			(void)snprintf(err, errlen, "mkdir %s: %s", path,
			    strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			return 0;
	}
}

int
privsep_spool(const char *dir, const char *user, char *err, size_t errlen)
{
	struct passwd	*pw;

	if (mkdir_p(dir, err, errlen) == -1)
		return -1;
	if (user == NULL || *user == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		(void)snprintf(err, errlen, "unknown user %s", user);
		return -1;
	}
	if (chown(dir, pw->pw_uid, pw->pw_gid) == -1 || chmod(dir, 0700) == -1) {
		(void)snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
privsep_drop(const char *user, char *err, size_t errlen)
{
	struct passwd	*pw;
	uid_t		 ruid, euid, suid;
	gid_t		 rgid, egid, sgid;

	if (user == NULL || *user == '\0')
		return 0;
	if ((pw = getpwnam(user)) == NULL) {
		(void)snprintf(err, errlen, "unknown user %s", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		(void)snprintf(err, errlen, "dropping to %s: %s", user,
		    strerror(errno));
		return -1;
	}
	/* Verify: a partial drop must never go unnoticed. */
	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1 ||
	    ruid != pw->pw_uid || euid != pw->pw_uid || suid != pw->pw_uid ||
	    rgid != pw->pw_gid || egid != pw->pw_gid || sgid != pw->pw_gid ||
	    (pw->pw_uid != 0 && setuid(0) != -1)) {
		(void)snprintf(err, errlen, "privileges of %s not dropped", user);
		return -1;
	}
	return 0;
}

int
privsep_become(const struct passwd *pw)
{
	uid_t	 ruid, euid, suid;

	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		return -1;
	/* Verify: a partial change must never go unnoticed. */
	if (getresuid(&ruid, &euid, &suid) == -1 || ruid != pw->pw_uid ||
	    euid != pw->pw_uid || suid != pw->pw_uid ||
	    (pw->pw_uid != 0 && setuid(0) != -1))
		return -1;
	return 0;
}
