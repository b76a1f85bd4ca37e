/*
 * maildrop_parse: a maildrop file, written by an untrusted user, read
 * with strict bounds, and the queue body made of it.  Pure.  See
 * include/maildrop.h for the layout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maildrop.h"
#include "util.h"

void
maildrop_env_free(struct maildrop_env *e)
{
	size_t	 i;

	for (i = 0; i < e->nrcpts; i++)
		free(e->rcpts[i]);
	free(e->rcpts);
	free(e->sender);
	memset(e, 0, sizeof(*e));
}

/* An address line: printable, no blanks, no brackets, bounded. */
static const char *
env_addr(const char *p, size_t len, int empty_ok, char **out)
{
	size_t	 i;

	if (len == 0 && !empty_ok)
		return "empty recipient";
	if (len > MAILDROP_MAX_ADDR)
		return "address too long";
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= ' ' || c == 0x7f || c == '<' || c == '>')
			return "bad character in address";
	}
	if (len > 0 && (p[0] == '@' || p[len - 1] == '@'))
		return "bad address";
	*out = xstrndup(p, len);
	return NULL;
}

const char *
maildrop_parse(const char *data, size_t len, size_t max_rcpts,
    struct maildrop_env *e, size_t *body)
{
	const char	*p, *end = data + len, *nl, *why = NULL;
	size_t		 ml = sizeof(MAILDROP_MAGIC) - 1, ll;
	char		*a;

	memset(e, 0, sizeof(*e));
	if (len < ml || memcmp(data, MAILDROP_MAGIC, ml) != 0)
		return "not a maildrop file";
	for (p = data + ml; why == NULL; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			why = "truncated envelope";
			break;
		}
		ll = (size_t)(nl - p);
		if (ll == 0) {
			*body = (size_t)(nl + 1 - data);
			break;
		}
		if (ll < 2 || p[1] != ' ')
			why = "bad envelope line";
		else if (p[0] == 'S' && e->sender == NULL)
			why = env_addr(p + 2, ll - 2, 1, &e->sender);
		else if (p[0] == 'R' && e->nrcpts >= max_rcpts)
			why = "too many recipients";
		else if (p[0] == 'R') {
			if ((why = env_addr(p + 2, ll - 2, 0, &a)) == NULL) {
				e->rcpts = xreallocarray(e->rcpts, e->nrcpts + 1,
				    sizeof(*e->rcpts));
				e->rcpts[e->nrcpts++] = a;
			}
		} else
			why = "bad envelope line";
	}
	if (why == NULL && e->sender == NULL)
		why = "no sender";
	if (why == NULL && e->nrcpts == 0)
		why = "no recipients";
	if (why != NULL)
		maildrop_env_free(e);
	return why;
}

const char *
maildrop_body(const char *msg, size_t len, const char *hostname,
    unsigned long uid, const char *qid, long long now, size_t max,
    struct buf *out, int *eightbit)
{
	char		 date[64];
	const char	*p = msg, *end = msg + len, *nl;
	size_t		 ll;

	*eightbit = 0;
	if (memchr(msg, '\0', len) != NULL)
		return "NUL byte in message";
	rfc5322_date(date, sizeof(date), now);
	/* The uid is the file's owner, the one thing the writer cannot
	 * choose. */
	buf_printf(out, "Received: by %s (postern, from userid %lu)\r\n"
	    "\tid %s; %s\r\n", hostname, uid, qid, date);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		ll = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		buf_append(out, p, ll);
		buf_append(out, "\r\n", 2);
		p = nl ? nl + 1 : end;
		if (out->len > max)
			return "message too large";
	}
	for (p = out->data; p < out->data + out->len; p++)
		if ((unsigned char)*p > 0x7f) {
			*eightbit = 1;
			break;
		}
	return NULL;
}
