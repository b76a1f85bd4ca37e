/*
 * aliases_db: the Berkeley DB hash map newaliases builds beside the
 * aliases file (FILE.db), written atomically, and the lookups in it (or
 * in the text, when the map is missing or older).  See
 * include/aliases.h.
 */
#include <sys/stat.h>

#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aliases.h"
#include "util.h"

#define ALIAS_MAX_FILE	(64 * 1024 * 1024)

static int
read_file(const char *path, char **text, size_t *len)
{
	struct stat	 st;
	struct buf	 b;
	char		 chunk[8192];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > ALIAS_MAX_FILE) {
		(void)close(fd);
		errno = EFBIG;
		return -1;
	}
	buf_init(&b);
	buf_append(&b, "", 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (b.len + (size_t)n > ALIAS_MAX_FILE)
			break;
		buf_append(&b, chunk, (size_t)n);
	}
	(void)close(fd);
	if (n != 0) {
		buf_free(&b);
		errno = n < 0 ? errno : EFBIG;
		return -1;
	}
	*text = b.data;
	*len = b.len;
	return 0;
}

struct build {
	DB		*db;
	const char	*path;
	size_t		 longest, total;
	int		 dberr;
};

static int
build_one(void *arg, const char *name, const char *rhs, int line)
{
	struct build	*b = arg;
	DBT		 k, v;
	int		 ret;

	(void)line;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	/* sendmail's layout: both strings with their NUL. */
	k.data = (void *)(uintptr_t)name;
	k.size = (u_int32_t)strlen(name) + 1;
	v.data = (void *)(uintptr_t)rhs;
	v.size = (u_int32_t)strlen(rhs) + 1;
	if ((ret = b->db->put(b->db, NULL, &k, &v, DB_NOOVERWRITE)) ==
	    DB_KEYEXIST) {
		fprintf(stderr, "%s:%d: warning: duplicate alias name %s\n",
		    b->path, line, name);
		ret = b->db->put(b->db, NULL, &k, &v, 0);
	}
	if (ret != 0) {
		b->dberr = ret;
		return -1;
	}
	if (line == 0)		/* sendmail's "@" end marker */
		return 0;
	if (v.size - 1 > b->longest)
		b->longest = v.size - 1;
	b->total += v.size - 1;
	return 0;
}

static void
build_bad(void *arg, int line, const char *why)
{
	const struct build *b = arg;

	fprintf(stderr, "%s:%d: %s (line skipped)\n", b->path, line, why);
}

static int
sync_path(const char *path)
{
	int	 fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	r = fsync(fd);
	(void)close(fd);
	return r;
}

int
aliases_build_db(const char *path, char *err, size_t errlen)
{
	struct build	 b;
	char		 dbpath[PATH_MAX], tmp[PATH_MAX], *text = NULL;
	size_t		 len;
	int		 n = -1, ret;

	memset(&b, 0, sizeof(b));
	b.path = path;
	if ((size_t)snprintf(dbpath, sizeof(dbpath), "%s.db", path) >=
	    sizeof(dbpath) || (size_t)snprintf(tmp, sizeof(tmp),
	    "%s.db.tmp%ld", path, (long)getpid()) >= sizeof(tmp)) {
		(void)snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if (read_file(path, &text, &len) == -1) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	(void)unlink(tmp);
	if ((ret = db_create(&b.db, NULL, 0)) != 0 ||
	    (ret = b.db->open(b.db, NULL, tmp, NULL, DB_HASH,
	    DB_CREATE | DB_EXCL, 0644)) != 0) {
		(void)snprintf(err, errlen, "%s: %s", tmp, db_strerror(ret));
		goto done;
	}
	n = aliases_parse(text, len, build_one, build_bad, &b);
	if (n >= 0 && (ret = build_one(&b, "@", "@", 0)) != 0)
		n = -1;
	if ((ret = b.db->close(b.db, 0)) != 0 && n >= 0) {
		b.dberr = ret;
		n = -1;
	}
	b.db = NULL;
	/* The new map replaces the old in one rename, after it is synced.
	 * 0644 whatever the umask: the SMTP sessions run as the
	 * unprivileged user and look recipients up in it (rcpt_local.h). */
	if (n < 0 || chmod(tmp, 0644) == -1 || sync_path(tmp) == -1 ||
	    rename(tmp, dbpath) == -1) {
		(void)snprintf(err, errlen, "%s: %s", dbpath, b.dberr ?
		    db_strerror(b.dberr) : strerror(errno));
		n = -1;
		goto done;
	}
	printf("%s: %d aliases, longest %zu bytes, %zu bytes total\n", path,
	    n, b.longest, b.total);
done:
	if (b.db != NULL)
		(void)b.db->close(b.db, 0);
	if (n < 0)
		(void)unlink(tmp);
	free(text);
	return n < 0 ? -1 : 0;
}

struct find {
	const char	*name;
	char		*rhs;
};

static int
find_one(void *arg, const char *name, const char *rhs, int line)
{
	struct find	*f = arg;

	(void)line;
	if (strcmp(name, f->name) == 0) {	/* the last one wins, as in the map */
		free(f->rhs);
		f->rhs = xstrdup(rhs);
	}
	return 0;
}

static int
text_lookup(const char *path, const char *name, char **rhs)
{
	struct find	 f = { name, NULL };
	char		*text;
	size_t		 len;

	if (read_file(path, &text, &len) == -1)
		return errno == ENOENT ? 1 : -1;
	(void)aliases_parse(text, len, find_one, NULL, &f);
	free(text);
	if (f.rhs == NULL)
		return 1;
	*rhs = f.rhs;
	return 0;
}

int
aliases_db_lookup(const char *path, const char *name, char **rhs)
{
	struct stat	 st_text, st_db;
	char		 dbpath[PATH_MAX];
	DB		*db;
	DBT		 k, v;
	int		 ret;

	if (*path == '\0')
		return 1;
	if ((size_t)snprintf(dbpath, sizeof(dbpath), "%s.db", path) >=
	    sizeof(dbpath))
		return -1;
	/* A map older than its text (newaliases not run yet): the text. */
	if (stat(dbpath, &st_db) == -1 || (stat(path, &st_text) == 0 &&
	    st_text.st_mtime > st_db.st_mtime))
		return text_lookup(path, name, rhs);
	if (db_create(&db, NULL, 0) != 0)
		return -1;
	if (db->open(db, NULL, dbpath, NULL, DB_HASH, DB_RDONLY, 0) != 0) {
		(void)db->close(db, 0);
		return -1;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)(uintptr_t)name;
	k.size = (u_int32_t)strlen(name) + 1;
	ret = db->get(db, NULL, &k, &v, 0);
	if (ret == 0)
		*rhs = xstrndup(v.data, v.size > 0 &&
		    ((char *)v.data)[v.size - 1] == '\0' ? v.size - 1 : v.size);
	(void)db->close(db, 0);
	if (ret == DB_NOTFOUND)
		return 1;
	return ret == 0 ? 0 : -1;
}
