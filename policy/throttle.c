/*
 * Throttle arithmetic for one destination (include/throttle.h).
 *
 * A sliding counter over span seconds keeps buckets of g = ceil(span/10)
 * seconds; a limit is checked over n = ceil(span/g) + 1 buckets, one more
 * than the span covers.  Whatever the alignment of the remote's own
 * window, any interval of span seconds lies within n consecutive buckets,
 * so postern never sends more than the limit inside the remote's window.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "throttle.h"
#include "util.h"

/* A learned limit is forgotten after this many windows without a
 * deferral, and not before a day, so that a destination that raised its
 * limit is probed again (at the cost of one more deferral). */
#define THROTTLE_FORGET_WINDOWS	7
#define THROTTLE_FORGET_MIN	86400

static const int64_t fixed_span[THR_NCOUNT] = { 60, 3600, 86400, 0 };

static int64_t
gran(int64_t span)
{
	int64_t	 g = (span + 9) / 10;

	return g < 1 ? 1 : g;
}

static int64_t
nslots(int64_t span)
{
	int64_t	 g = gran(span), n = (span + g - 1) / g + 1;

	return n > THROTTLE_SLOTS ? THROTTLE_SLOTS : n;
}

static int64_t
span_of(const struct throttle_limits *lim, int which)
{
	return which == THR_LEARN ? lim->window : fixed_span[which];
}

/* The oldest bucket of c still inside the window at bucket nb. */
static int64_t
count_first(const struct throttle_count *c, int64_t n, int64_t nb)
{
	int64_t	 lo = nb - n + 1, old = c->last - n + 1;

	return lo > old ? lo : old;
}

static uint32_t
count_get(const struct throttle_count *c, int64_t span, int64_t now)
{
	int64_t		 n, b;
	uint64_t	 sum = 0;

	if (span <= 0 || c->span != span || now < 0)
		return 0;
	n = nslots(span);
	for (b = count_first(c, n, now / gran(span)); b <= c->last; b++)
		sum += c->slot[b % n];
	return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}

static void
count_add(struct throttle_count *c, int64_t span, int64_t now, uint32_t k)
{
	int64_t	 n, nb, b;

	if (span <= 0 || now < 0)
		return;
	n = nslots(span);
	nb = now / gran(span);
	if (c->span != span) {
		memset(c, 0, sizeof(*c));
		c->span = span;
		c->last = nb;
	}
	/* Buckets skipped since the last message start empty. */
	for (b = c->last + 1; b <= nb && b <= c->last + n; b++)
		c->slot[b % n] = 0;
	if (nb > c->last)
		c->last = nb;
	b = c->last % n;
	c->slot[b] = c->slot[b] > UINT32_MAX - k ? UINT32_MAX : c->slot[b] + k;
}

/* Earliest time >= now at which fewer than limit are counted. */
static int64_t
count_free_at(const struct throttle_count *c, int64_t span, int64_t now,
    uint32_t limit)
{
	int64_t		 n, g, b;
	uint64_t	 sum = count_get(c, span, now);

	if (sum < limit)
		return now;
	n = nslots(span);
	g = gran(span);
	for (b = count_first(c, n, now / g); b <= c->last; b++) {
		sum -= c->slot[b % n];
		/* Bucket b leaves the window at bucket b + n. */
		if (sum < limit)
			return (b + n) * g;
	}
	return (c->last + n) * g;
}

void
throttle_init(struct throttle_state *st)
{
	memset(st, 0, sizeof(*st));
}

uint32_t
throttle_pace(uint32_t learned)
{
	uint32_t	 margin = learned / 10;

	if (learned <= 1)
		return 1;
	return learned - (margin < 1 ? 1 : margin);
}

static int
learned_valid(const struct throttle_state *st,
    const struct throttle_limits *lim, int64_t now)
{
	int64_t	 keep = THROTTLE_FORGET_WINDOWS * lim->window;

	if (keep < THROTTLE_FORGET_MIN)
		keep = THROTTLE_FORGET_MIN;
	return st->learned > 0 && lim->window > 0 &&
	    now - st->last_deferral < keep;
}

uint32_t
throttle_budget(const struct throttle_state *st,
    const struct throttle_limits *lim, int64_t now, int64_t *next)
{
	const uint32_t	 fixed[THR_NCOUNT] = { lim->per_minute, lim->per_hour,
	    lim->per_day, 0 };
	uint32_t	 limit, used, budget = THROTTLE_UNLIMITED;
	int64_t		 when = now, t, span;
	int		 i;

	if (now < st->blocked_until) {
		budget = 0;
		when = st->blocked_until;
	}
	for (i = 0; i < THR_NCOUNT; i++) {
		limit = fixed[i];
		if (i == THR_LEARN && learned_valid(st, lim, now))
			limit = throttle_pace(st->learned);
		if (limit == 0)
			continue;
		span = span_of(lim, i);
		used = count_get(&st->c[i], span, now);
		if (used < limit) {
			if (limit - used < budget)
				budget = limit - used;
			continue;
		}
		budget = 0;
		if ((t = count_free_at(&st->c[i], span, now, limit)) > when)
			when = t;
	}
	if (next != NULL)
		*next = budget == 0 ? when : now;
	return budget;
}

void
throttle_sent(struct throttle_state *st, const struct throttle_limits *lim,
    int64_t now, uint32_t n)
{
	int	 i;

	if (n == 0)
		return;
	for (i = 0; i < THR_NCOUNT; i++)
		count_add(&st->c[i], span_of(lim, i), now, n);
	/* Accepted again: the limit no longer persists. */
	st->deferrals = 0;
}

void
throttle_learn(struct throttle_state *st, const struct throttle_limits *lim,
    int64_t now)
{
	uint32_t	 seen = count_get(&st->c[THR_LEARN], lim->window, now);

	/* What it took within its window before saying no is its limit;
	 * a refusal of the very first message teaches nothing new. */
	if (seen > 0)
		st->learned = seen;
}

int64_t
throttle_deferred(struct throttle_state *st, const struct throttle_limits *lim,
    int64_t now)
{
	int64_t		 b = lim->backoff_min > 0 ? lim->backoff_min : 1;
	uint32_t	 i;

	throttle_learn(st, lim, now);
	if (st->deferrals < UINT32_MAX)
		st->deferrals++;
	for (i = 1; i < st->deferrals && b < lim->backoff_max; i++)
		b *= 2;
	if (lim->backoff_max > 0 && b > lim->backoff_max)
		b = lim->backoff_max;
	st->backoff = b;
	st->blocked_until = now + b;
	st->last_deferral = now;
	return st->blocked_until;
}

int
throttle_active(const struct throttle_state *st, int64_t now)
{
	return st->learned > 0 || st->deferrals > 0 ||
	    st->blocked_until > now;
}

/* ---- rate-limit replies ------------------------------------------------- */

static int
has_word(const char *text, const char *w)
{
	size_t	 n = strlen(w);

	for (; *text != '\0'; text++)
		if (strncasecmp(text, w, n) == 0)
			return 1;
	return 0;
}

int
throttle_reply_is_ratelimit(const char *status, const char *text)
{
	static const char *const words[] = {
		"too many messages", "too many mails", "too many emails",
		"too many connections", "too many concurrent",
		"rate limit", "ratelimit", "rate-limit", "rate exceeded",
		"throttl", "too fast", "slow down", "unexpected volume",
		"sending limit", "message limit",
	};
	size_t	 i;

	if (status == NULL || status[0] != '4' || text == NULL)
		return 0;
	/* IANA enhanced status 4.7.28: mail flood detected. */
	if (strcmp(status, "4.7.28") == 0)
		return 1;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (has_word(text, words[i]))
			return 1;
	return 0;
}

/* ---- the record ------------------------------------------------------------ */

int
throttle_encode(const struct throttle_state *st, char *out, size_t len)
{
	struct buf	 b;
	int		 i, j, rc = -1;

	buf_init(&b);
	buf_printf(&b, "t1 learned=%u deferrals=%u until=%lld backoff=%lld "
	    "lastdef=%lld", st->learned, st->deferrals,
	    (long long)st->blocked_until, (long long)st->backoff,
	    (long long)st->last_deferral);
	for (i = 0; i < THR_NCOUNT; i++) {
		if (st->c[i].span == 0)
			continue;
		buf_printf(&b, " c%d=%lld:%lld:", i, (long long)st->c[i].span,
		    (long long)st->c[i].last);
		for (j = 0; j < THROTTLE_SLOTS; j++)
			buf_printf(&b, "%s%u", j ? "," : "", st->c[i].slot[j]);
	}
	if (b.len < len) {
		memcpy(out, b.data, b.len);
		out[b.len] = '\0';
		rc = (int)b.len;
	}
	buf_free(&b);
	return rc;
}

static const char *
num(const char **p, const char *end, unsigned long long max,
    unsigned long long *v)
{
	char	 tmp[24];
	size_t	 n = 0;

	while (*p + n < end && isdigit((unsigned char)(*p)[n]) &&
	    n < sizeof(tmp) - 1)
		n++;
	if (n == 0)
		return "expected a number";
	memcpy(tmp, *p, n);
	tmp[n] = '\0';
	if (parse_ull(tmp, max, v) == -1)
		return "number out of range";
	*p += n;
	return NULL;
}

static const char *
decode_count(struct throttle_count *c, const char *p, const char *end)
{
	unsigned long long	 v;
	const char		*why;
	int			 j;

	if ((why = num(&p, end, INT64_MAX, &v)) != NULL)
		return why;
	c->span = (int64_t)v;
	if (p == end || *p++ != ':' ||
	    (why = num(&p, end, INT64_MAX, &v)) != NULL)
		return "bad counter";
	c->last = (int64_t)v;
	if (p == end || *p++ != ':')
		return "bad counter";
	for (j = 0; j < THROTTLE_SLOTS; j++) {
		if (j > 0 && (p == end || *p++ != ','))
			return "bad counter slots";
		if ((why = num(&p, end, UINT32_MAX, &v)) != NULL)
			return why;
		c->slot[j] = (uint32_t)v;
	}
	return p == end ? NULL : "junk after counter";
}

static const char *
decode_field(struct throttle_state *st, const char *k, size_t klen,
    const char *v, const char *end)
{
	unsigned long long	 n;
	const char		*why, *p = v;

	if (klen == 2 && k[0] == 'c' && k[1] >= '0' &&
	    k[1] < '0' + THR_NCOUNT)
		return decode_count(&st->c[k[1] - '0'], v, end);
	if ((why = num(&p, end, INT64_MAX, &n)) != NULL)
		return why;
	if (p != end)
		return "junk after number";
	if (strn_caseeq(k, klen, "learned") && n <= UINT32_MAX)
		st->learned = (uint32_t)n;
	else if (strn_caseeq(k, klen, "deferrals") && n <= UINT32_MAX)
		st->deferrals = (uint32_t)n;
	else if (strn_caseeq(k, klen, "until"))
		st->blocked_until = (int64_t)n;
	else if (strn_caseeq(k, klen, "backoff"))
		st->backoff = (int64_t)n;
	else if (strn_caseeq(k, klen, "lastdef"))
		st->last_deferral = (int64_t)n;
	else
		return "unknown field";
	return NULL;
}

const char *
throttle_decode(struct throttle_state *st, const char *s, size_t len)
{
	const char	*end = s + len, *tok, *eq, *why;

	throttle_init(st);
	if (len < 2 || memcmp(s, "t1", 2) != 0 || (len > 2 && s[2] != ' '))
		return "not a throttle record (version t1)";
	s += 2;
	while (s < end) {
		while (s < end && *s == ' ')
			s++;
		if (s == end)
			break;
		tok = s;
		while (s < end && *s != ' ')
			s++;
		if ((eq = memchr(tok, '=', (size_t)(s - tok))) == NULL)
			why = "expected name=value";
		else
			why = decode_field(st, tok, (size_t)(eq - tok),
			    eq + 1, s);
		if (why != NULL) {
			throttle_init(st);
			return why;
		}
	}
	return NULL;
}

/* ---- static limits --------------------------------------------------------- */

static const char *
limit_token(const char *t, size_t len, struct throttle_limits *lim)
{
	char			 tmp[64], *slash;
	unsigned long long	 v;

	if (len >= sizeof(tmp))
		return "limit too long";
	memcpy(tmp, t, len);
	tmp[len] = '\0';
	if (strncmp(tmp, "concurrency=", 12) == 0) {
		if (parse_ull(tmp + 12, 10000, &v) == -1 || v == 0)
			return "concurrency must be 1..10000";
		lim->concurrency = (uint32_t)v;
		return NULL;
	}
	if ((slash = strchr(tmp, '/')) == NULL)
		return "expected N/minute, N/hour, N/day or concurrency=N";
	*slash++ = '\0';
	if (parse_ull(tmp, UINT32_MAX - 1, &v) == -1 || v == 0)
		return "a limit must be a positive number";
	if (strcmp(slash, "minute") == 0 || strcmp(slash, "min") == 0)
		lim->per_minute = (uint32_t)v;
	else if (strcmp(slash, "hour") == 0 || strcmp(slash, "h") == 0)
		lim->per_hour = (uint32_t)v;
	else if (strcmp(slash, "day") == 0 || strcmp(slash, "d") == 0)
		lim->per_day = (uint32_t)v;
	else
		return "the period must be minute, hour or day";
	return NULL;
}

const char *
throttle_parse_limits(const char *s, struct throttle_limits *lim)
{
	const char	*why;
	size_t		 n;
	int		 any = 0;

	for (;;) {
		s += strspn(s, " \t,");
		if ((n = strcspn(s, " \t,")) == 0)
			break;
		if ((why = limit_token(s, n, lim)) != NULL)
			return why;
		any = 1;
		s += n;
	}
	return any ? NULL : "no limit given";
}
