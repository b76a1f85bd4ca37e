/*
 * dtable: a small per-domain table file, "domain  value..." one entry a
 * line, '#' comments.  "example.org" matches that domain only,
 * ".example.org" every subdomain of it (RFC 5321 §2.3.5 names, matched
 * case-insensitively, most specific first).  Used by transport_table
 * (next hop per domain) and destination_limits (static throttles).
 * Errors are "file:line: reason"; a checker validates each value.
 */
#ifndef POSTERN_DTABLE_H
#define POSTERN_DTABLE_H

#include <stddef.h>

struct dtable_entry {
	char	*key;		/* lower case, no trailing dot */
	char	*value;		/* the rest of the line, trimmed */
	int	 line;
};

struct dtable {
	struct dtable_entry *v;
	size_t		 n;
};

/* NULL when value is acceptable, else a reason. */
typedef const char *(*dtable_check)(const char *value, void *arg);

/* An empty path leaves the table empty.  0, or -1 with "file:line:
 * reason" in err (the table is then empty). */
int	dtable_load(struct dtable *, const char *path, dtable_check, void *,
	    char *err, size_t errlen);
int	dtable_load_mem(struct dtable *, const char *name, const char *text,
	    size_t len, dtable_check, void *, char *err, size_t errlen);
/* The value for domain: exact entry, else the nearest ".parent". */
const char *dtable_lookup(const struct dtable *, const char *domain);
void	dtable_free(struct dtable *);

#endif
