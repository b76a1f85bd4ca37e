/*
 * aliases: the aliases(5) file of sendmail, as FreeBSD ships it in
 * /etc/mail/aliases ("name: user, other@remote, /file, "|command",
 * :include:/path"; lines starting with white space continue the entry;
 * '#' starts a comment line), and the expansion of a local name through
 * it, :include: files and ~/.forward.  Parsing and expansion are pure:
 * the lookups are callbacks, so unit tests feed them tables.
 * Names compare case-insensitively (RFC 5321 §4.5.1 for postmaster).
 * newaliases builds a Berkeley DB hash map beside the file (FILE.db).
 */
#ifndef POSTERN_ALIASES_H
#define POSTERN_ALIASES_H

#include <stddef.h>

#define ALIAS_MAX_DEPTH		10	/* sendmail's MaxAliasRecursion */
#define ALIAS_MAX_TARGETS	10000
#define ALIAS_MAX_NAME		256
#define ALIAS_MAX_RHS		65536	/* one entry, continuations joined */

enum alias_kind {
	ALIAS_LOCAL,	/* a local mailbox: value is the user name */
	ALIAS_REMOTE,	/* value is an address to send on */
	ALIAS_FILE,	/* value is an absolute path to append to */
	ALIAS_PIPE,	/* value is a command for /bin/sh -c */
	ALIAS_INCLUDE	/* value is a path: from aliases_item() only,
			 * never in an expansion's result */
};

struct alias_target {
	enum alias_kind	 kind;
	char		*value;
	char		*user;	/* FILE and PIPE run as this user (from a
				 * .forward); NULL: the configured default */
	int		 included;	/* named by an :include: file: its
				 * text is never quoted in a DSN */
};

struct alias_list {
	struct alias_target *v;
	size_t		 n;
	char		*owner;	/* "owner-NAME" when that alias exists: the
				 * envelope sender for errors, or NULL */
};

/*
 * Calls fn(arg, name, rhs, line) for each entry of an aliases text
 * (ptr, len): name lower-cased, rhs with its continuation lines joined
 * by a space.  Bad lines are reported through bad(arg, line, reason) and
 * skipped.  Returns the number of entries, or -1 when fn returned -1.
 */
int	aliases_parse(const char *text, size_t len,
	    int (*fn)(void *, const char *name, const char *rhs, int line),
	    void (*bad)(void *, int line, const char *why), void *arg);

/* Pure: (*p, *len) without its leading and trailing white space. */
void	aliases_trim(const char **p, size_t *len);

/* One right-hand side item, classified.  NULL or a reason. */
const char *aliases_item(const char *item, size_t len,
	    enum alias_kind *kind, char **value, int *noexpand);

struct alias_ops {
	/* 0 with *rhs malloc'd, 1 not an alias, -1 temporary error */
	int	(*lookup)(void *, const char *name, char **rhs);
	/* an :include: file's text: 0 with *text malloc'd, 1 refused or
	 * unreadable (permanent), -1 temporary error.  user: the .forward
	 * that named it (read with that user's rights), NULL: the aliases
	 * file */
	int	(*include)(void *, const char *path, const char *user,
		    char **text);
	/* a user's .forward: 0 with *text malloc'd, 1 none, -1 error;
	 * NULL: .forward files are not read */
	int	(*forward)(void *, const char *user, char **text);
	/* 1 if the domain is delivered here */
	int	(*is_local)(void *, const char *domain);
	void	*arg;
};

/*
 * Expands a local name (user part, no domain) into deliveries.  Returns
 * NULL, or a reason with *temp set when it is temporary (a lookup
 * failed) or clear when permanent (a loop, too deep, too many).
 * postmaster and MAILER-DAEMON reach root when no alias names them.
 */
const char *aliases_expand(const struct alias_ops *, const char *name,
	    struct alias_list *out, int *temp);
void	alias_list_free(struct alias_list *);

/* newaliases: parses path and writes path.db atomically.  Prints
 * sendmail's summary to stdout.  0, or -1 with a reason in err. */
int	aliases_build_db(const char *path, char *err, size_t errlen);
/* Looks a name up in path.db (or the text when the map is missing or
 * older).  Same returns as alias_ops.lookup. */
int	aliases_db_lookup(const char *path, const char *name, char **rhs);

#endif
