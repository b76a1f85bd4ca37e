/*
 * util: allocation that never returns NULL (fatal on exhaustion, overflow
 * checked), a growable byte buffer, bounded number parsing and clocks.
 * Parsers here never read past the (ptr, len) they are given.
 */
#ifndef POSTERN_UTIL_H
#define POSTERN_UTIL_H

#include <stddef.h>
#include <stdint.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
/* Formats into a fresh string; fatal on failure. */
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};
void	buf_init(struct buf *);
void	buf_free(struct buf *);
void	buf_reset(struct buf *);
void	buf_append(struct buf *, const void *, size_t);
void	buf_appendstr(struct buf *, const char *);
void	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* Decimal, no sign, no trailing junk, <= max.  0 on success, -1 otherwise. */
int	parse_ull(const char *, unsigned long long max, unsigned long long *);
/* "30", "30s", "5m", "4h", "5d", "1w" -> seconds.  Same return. */
int	parse_duration(const char *, long long *);
/* "10485760", "10k", "10M", "1G" -> bytes.  Same return. */
int	parse_size(const char *, unsigned long long *);

/* Case-insensitive ASCII compare of (ptr,len) against a NUL string. */
int	strn_caseeq(const char *, size_t, const char *);
/* Lower-case ASCII in place. */
void	str_lower(char *);
/* Strip trailing '.' from a domain, lower-case it; returns the argument. */
char	*domain_normalize(char *);

/* write(2) until done, across EINTR and short writes.  0 or -1. */
int	write_all(int, const void *, size_t);

int64_t	now_usec(void);	/* CLOCK_REALTIME, microseconds */
int64_t	mono_msec(void);	/* CLOCK_MONOTONIC, milliseconds */

/* RFC 5322 date of t (local time) into buf. */
void	rfc5322_date(char *, size_t, long long t);

#endif
