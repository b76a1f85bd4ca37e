/*
 * Re-reading postern.conf on SIGHUP (config_reload.h).  The comparison is
 * by the key table of config.c, so a new key is compared without code
 * here; only the list of keys that take a restart is kept by hand.
 */
#include <stdint.h>
#include <string.h>

#include "compat.h"
#include "config.h"
#include "config_reload.h"

/* Bound, become, or read by the root local server before privileges
 * were dropped (master.c, privsep.c, local.c), or sized at the runner's
 * start (its worker slots). */
static const char *const restart_keys[] = {
	"listen", "user", "pidfile", "spool_dir", "log_file",
	"maildrop_dir", "maildrop_group", "mail_spool_dir", "aliases",
	"allow_forward", "default_user", "local_pipe_timeout",
	"local_delivery_timeout", "local_catchall", "max_deliveries",
};

int
config_reload_needs_restart(const char *name)
{
	size_t	 i;

	for (i = 0; i < sizeof(restart_keys) / sizeof(restart_keys[0]); i++)
		if (strcmp(restart_keys[i], name) == 0)
			return 1;
	return 0;
}

static int
strlist_equal(const struct strlist *a, const struct strlist *b)
{
	size_t	 i;

	if (a->n != b->n)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return 0;
	return 1;
}

static int
listen_equal(const struct config *a, const struct config *b)
{
	size_t	 i;

	if (a->nlisten != b->nlisten)
		return 0;
	for (i = 0; i < a->nlisten; i++)
		if (strcmp(a->listen[i].host, b->listen[i].host) != 0 ||
		    strcmp(a->listen[i].port, b->listen[i].port) != 0 ||
		    a->listen[i].mode != b->listen[i].mode)
			return 0;
	return 1;
}

static int
key_equal(const struct config *a, const struct config *b,
    enum config_type type, size_t off)
{
	const char	*pa = (const char *)a + off, *pb = (const char *)b + off;

	switch (type) {
	case C_STR:
		return strcmp(*(char *const *)(const void *)pa,
		    *(char *const *)(const void *)pb) == 0;
	case C_LIST:
	case C_APPEND:
		return strlist_equal((const struct strlist *)(const void *)pa,
		    (const struct strlist *)(const void *)pb);
	case C_LISTEN:
		return listen_equal(a, b);
	case C_RESOLVER:
		return a->resolver == b->resolver;
	default:	/* the long long kinds */
		return *(const long long *)(const void *)pa ==
		    *(const long long *)(const void *)pb;
	}
}

static void
swap_bytes(void *a, void *b, size_t n)
{
	unsigned char	 t, *x = a, *y = b;
	size_t		 i;

	for (i = 0; i < n; i++) {
		t = x[i];
		x[i] = y[i];
		y[i] = t;
	}
}

static void
key_swap(struct config *a, struct config *b, enum config_type type,
    size_t off)
{
	char	*pa = (char *)a + off, *pb = (char *)b + off;

	switch (type) {
	case C_STR:
		swap_bytes(pa, pb, sizeof(char *));
		break;
	case C_LIST:
	case C_APPEND:
		swap_bytes(pa, pb, sizeof(struct strlist));
		break;
	case C_LISTEN:
		swap_bytes(a->listen, b->listen, sizeof(a->listen));
		swap_bytes(&a->nlisten, &b->nlisten, sizeof(a->nlisten));
		break;
	case C_RESOLVER:
		swap_bytes(&a->resolver, &b->resolver, sizeof(a->resolver));
		break;
	default:
		swap_bytes(pa, pb, sizeof(long long));
		break;
	}
}

/* "a, b, c" into buf; "..." once it is full. */
static void
name_add(char *buf, size_t len, const char *name)
{
	size_t	 have = strlen(buf);

	if (have + strlen(name) + 7 >= len) {
		if (have + 4 < len && (have < 3 ||
		    strcmp(buf + have - 3, "...") != 0))
			(void)strlcat(buf, ", ...", len);
		return;
	}
	if (have > 0)
		(void)strlcat(buf, ", ", len);
	(void)strlcat(buf, name, len);
}

size_t
config_reload_merge(struct config *run, struct config *fresh, char *changed,
    size_t clen, char *restart, size_t rlen)
{
	enum config_type type;
	const char	*name;
	size_t		 i, off, n = 0;

	changed[0] = restart[0] = '\0';
	for (i = 0; (name = config_key_at(i, &type, &off)) != NULL; i++) {
		if (key_equal(run, fresh, type, off))
			continue;
		n++;
		if (!config_reload_needs_restart(name)) {
			name_add(changed, clen, name);
			continue;
		}
		name_add(restart, rlen, name);
		key_swap(run, fresh, type, off);
	}
	return n;
}

void
config_reload_swap(struct config *run, struct config *fresh)
{
	struct config	 old = *run;

	/* The file's path stays: it is what the next reload reads. */
	swap_bytes(&fresh->path, &old.path, sizeof(old.path));
	*run = *fresh;
	*fresh = old;
	config_free(fresh);
}
