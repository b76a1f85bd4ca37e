/*
 * Client SMTP AUTH pieces that need no connection: the credentials file,
 * the choice of mechanism and the SASL encodings (RFC 4954, RFC 4616).
 * The conversation itself is in smtpc_auth.c.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "compat.h"
#include "smtp_auth.h"
#include "util.h"

#define LINE_MAX_LEN	1024
#define NFIELDS		3

/* One line split into its three fields, or a reason. */
static const char *
split_line(const char *p, size_t len, struct smtp_auth_cred *c)
{
	char	*field[NFIELDS] = { c->nexthop, c->user, c->pass };
	size_t	 i = 0, n, start;
	int	 nf = 0;

	if (len > LINE_MAX_LEN)
		return "line too long";
	while (i < len) {
		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == len)
			break;
		if (nf == NFIELDS)
			return "expected \"nexthop user password\": too many "
			    "fields (no spaces in a password)";
		for (start = i; i < len && p[i] != ' ' && p[i] != '\t'; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return "control character in a field";
		n = i - start;
		if (n >= SMTP_AUTH_FIELD_MAX)
			return "field too long";
		memcpy(field[nf], p + start, n);
		field[nf++][n] = '\0';
	}
	if (nf != NFIELDS)
		return "expected \"nexthop user password\"";
	return NULL;
}

/* Whether the next hop as written carries a port. */
static const char *
port_colon(const char *s)
{
	const char	*rb;

	if (s[0] == '[')
		return (rb = strchr(s, ']')) != NULL && rb[1] == ':' ?
		    rb + 1 : NULL;
	return strchr(s, ':');
}

/* 2: exact match, 1: entry without port matches the host, 0: no. */
static int
match(const char *entry, const char *nexthop)
{
	const char	*colon;

	if (strcasecmp(entry, nexthop) == 0)
		return 2;
	if (port_colon(entry) != NULL ||
	    (colon = port_colon(nexthop)) == NULL)
		return 0;
	return strlen(entry) == (size_t)(colon - nexthop) &&
	    strncasecmp(entry, nexthop, (size_t)(colon - nexthop)) == 0;
}

int
smtp_auth_find(const char *name, const char *p, size_t len,
    const char *nexthop, struct smtp_auth_cred *out, char *err,
    size_t errlen)
{
	struct smtp_auth_cred	 c;
	const char		*nl, *why;
	size_t			 off = 0, n;
	int			 line = 0, best = 0, m;

	memset(out, 0, sizeof(*out));
	while (off < len) {
		line++;
		nl = memchr(p + off, '\n', len - off);
		n = nl ? (size_t)(nl - (p + off)) : len - off;
		if (n > 0 && p[off + n - 1] == '\r')
			n--;
		while (n > 0 && (p[off] == ' ' || p[off] == '\t')) {
			off++;
			n--;
		}
		if (n > 0 && p[off] != '#') {
			memset(&c, 0, sizeof(c));
			if ((why = split_line(p + off, n, &c)) != NULL) {
				(void)snprintf(err, errlen, "%s:%d: %s", name,
				    line, why);
				smtp_auth_clear(&c);
				smtp_auth_clear(out);
				return -1;
			}
			c.line = line;
			if ((m = match(c.nexthop, nexthop)) > best) {
				best = m;
				*out = c;
			}
			smtp_auth_clear(&c);
		}
		off = nl ? (size_t)(nl - p) + 1 : len;
	}
	return best > 0;
}

int
smtp_auth_load(const char *path, const char *nexthop,
    struct smtp_auth_cred *out, char *err, size_t errlen)
{
	struct stat	 st;
	char		*text = NULL;
	ssize_t		 r;
	size_t		 len = 0;
	int		 fd, rc = -1;

	memset(out, 0, sizeof(*out));
	if ((fd = open(path, O_RDONLY)) == -1) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* fstat on the open file: what is checked is what is read. */
	if (fstat(fd, &st) == -1) {
		(void)snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		(void)snprintf(err, errlen, "%s: not a regular file", path);
		goto done;
	}
	if (st.st_mode & S_IROTH) {
		(void)snprintf(err, errlen, "%s: readable by others (mode "
		    "%04o): refused, it holds passwords (chmod o-rwx)", path,
		    (unsigned)(st.st_mode & 07777));
		goto done;
	}
	text = xmalloc(SMTP_AUTH_FILE_MAX + 1);
	while (len <= SMTP_AUTH_FILE_MAX && (r = read(fd, text + len,
	    SMTP_AUTH_FILE_MAX + 1 - len)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			(void)snprintf(err, errlen, "%s: %s", path,
			    strerror(errno));
			goto done;
		}
		len += (size_t)r;
	}
	if (len > SMTP_AUTH_FILE_MAX) {
		(void)snprintf(err, errlen, "%s: larger than %d bytes", path,
		    SMTP_AUTH_FILE_MAX);
		goto done;
	}
	rc = smtp_auth_find(path, text, len, nexthop, out, err, errlen);
done:
	if (text != NULL) {
		explicit_bzero(text, SMTP_AUTH_FILE_MAX + 1);
		free(text);
	}
	(void)close(fd);
	return rc;
}

void
smtp_auth_clear(struct smtp_auth_cred *c)
{
	explicit_bzero(c->pass, sizeof(c->pass));
}

/* RFC 4954 §3: "AUTH" SP mechanism *(SP mechanism); mechanism names are
 * case-insensitive (RFC 4422 §3.1). */
enum smtp_auth_mech
smtp_auth_choose(const char *p, size_t len)
{
	size_t		 i = 0, start;
	int		 plain = 0, login = 0;

	while (i < len) {
		while (i < len && (p[i] == ' ' || p[i] == '\t'))
			i++;
		for (start = i; i < len && p[i] != ' ' && p[i] != '\t'; i++)
			;
		if (strn_caseeq(p + start, i - start, "PLAIN"))
			plain = 1;
		else if (strn_caseeq(p + start, i - start, "LOGIN"))
			login = 1;
	}
	return plain ? SMTP_AUTH_PLAIN : login ? SMTP_AUTH_LOGIN :
	    SMTP_AUTH_NONE;
}

const char *
smtp_auth_mech_name(enum smtp_auth_mech m)
{
	switch (m) {
	case SMTP_AUTH_PLAIN:
		return "PLAIN";
	case SMTP_AUTH_LOGIN:
		return "LOGIN";
	default:
		return "none";
	}
}

void
smtp_auth_base64(struct buf *b, const void *p, size_t len)
{
	unsigned char	*out;
	size_t		 olen;
	int		 n;

	if (len > (size_t)1 << 20)
		len = (size_t)1 << 20;	/* far beyond any AUTH line */
	olen = 4 * ((len + 2) / 3) + 1;
	out = xmalloc(olen);
	n = EVP_EncodeBlock(out, p, (int)len);
	if (n > 0)
		buf_append(b, out, (size_t)n);
	explicit_bzero(out, olen);
	free(out);
}

void
smtp_auth_plain(struct buf *b, const char *user, const char *pass)
{
	size_t		 ul = strlen(user), pl = strlen(pass);
	size_t		 n = 1 + ul + 1 + pl;
	char		*msg = xmalloc(n);

	/* RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd */
	msg[0] = '\0';
	memcpy(msg + 1, user, ul);
	msg[1 + ul] = '\0';
	memcpy(msg + 2 + ul, pass, pl);
	buf_appendstr(b, "AUTH PLAIN ");
	smtp_auth_base64(b, msg, n);
	explicit_bzero(msg, n);
	free(msg);
}
