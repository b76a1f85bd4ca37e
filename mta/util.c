/* Allocation, buffers, bounded parsing, clocks, outcomes. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "log.h"
#include "outcome.h"
#include "util.h"

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("malloc %zu", n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		fatal("calloc %zu*%zu", n, size);
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		fatalx("reallocarray: %zu*%zu overflows", n, size);
	p = realloc(p, (n * size) != 0 ? n * size : 1);
	if (p == NULL)
		fatal("realloc %zu*%zu", n, size);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*p;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("asprintf");
	return p;
}

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
}

static void
buf_reserve(struct buf *b, size_t more)
{
	size_t	 want;

	if (more > SIZE_MAX - b->len - 1)
		fatalx("buf: size overflow");
	want = b->len + more + 1;
	if (want <= b->cap)
		return;
	if (b->cap < 256)
		b->cap = 256;
	while (b->cap < want)
		b->cap = b->cap > SIZE_MAX / 2 ? want : b->cap * 2;
	b->data = xreallocarray(b->data, b->cap, 1);
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_appendstr(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	 probe[1];
	int	 n;

	if (fmt == NULL)
		fatalx("buf_printf: no format");
	va_start(ap, fmt);
	n = vsnprintf(probe, sizeof(probe), fmt, ap);
	va_end(ap);
	if (n < 0)
		fatalx("buf_printf: bad format");
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	(void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

int
parse_ull(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v > (max - (unsigned)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
	}
	*out = v;
	return 0;
}

/* Number followed by at most one unit letter from units/mults. */
static int
parse_scaled(const char *s, const char *units, const unsigned long long *mult,
    unsigned long long max, unsigned long long *out)
{
	char			 num[32];
	size_t			 len = strlen(s);
	const char		*u;
	unsigned long long	 m = 1, v;

	if (len == 0 || len >= sizeof(num))
		return -1;
	memcpy(num, s, len + 1);
	if ((u = strchr(units, num[len - 1])) != NULL && num[len - 1]) {
		m = mult[u - units];
		num[len - 1] = '\0';
	}
	if (parse_ull(num, max, &v) == -1 || (v != 0 && v > max / m))
		return -1;
	*out = v * m;
	return 0;
}

int
parse_duration(const char *s, long long *out)
{
	static const unsigned long long mult[] = { 1, 60, 3600, 86400, 604800 };
	unsigned long long v;

	if (parse_scaled(s, "smhdw", mult, LLONG_MAX, &v) == -1)
		return -1;
	*out = (long long)v;
	return 0;
}

int
parse_size(const char *s, unsigned long long *out)
{
	static const unsigned long long mult[] = {
		1024, 1024, 1048576, 1048576, 1073741824ULL, 1073741824ULL };

	return parse_scaled(s, "kKmMgG", mult, LLONG_MAX, out);
}

int
strn_caseeq(const char *p, size_t len, const char *s)
{
	size_t	 i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || tolower((unsigned char)p[i]) !=
		    tolower((unsigned char)s[i]))
			return 0;
	}
	return s[len] == '\0';
}

void
str_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

char *
domain_normalize(char *d)
{
	size_t	 len;

	str_lower(d);
	len = strlen(d);
	if (len > 0 && d[len - 1] == '.')
		d[len - 1] = '\0';
	return d;
}

int
write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int64_t
now_usec(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t
mono_msec(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
rfc5322_date(char *out, size_t len, long long t)
{
	time_t		 tt = (time_t)t;
	struct tm	 tm;
	long		 off;
	char		 sign = '+';
	static const char *days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

	(void)localtime_r(&tt, &tm);
	off = tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	(void)snprintf(out, len, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
	    days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
	    off / 60, off % 60);
}

void
outcome_set(struct outcome *o, enum outcome_kind kind, const char *status,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*p;

	o->kind = kind;
	(void)strlcpy(o->status, status ? status : "", sizeof(o->status));
	va_start(ap, fmt);
	(void)vsnprintf(o->text, sizeof(o->text), fmt, ap);
	va_end(ap);
	/* One line: a reply is carried into logs and DSNs. */
	for (p = o->text; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
}

const char *
outcome_kind_name(enum outcome_kind k)
{
	switch (k) {
	case OUTCOME_SENT:
		return "sent";
	case OUTCOME_DEFER:
		return "deferred";
	case OUTCOME_BOUNCE:
		return "bounced";
	default:
		return "none";
	}
}
