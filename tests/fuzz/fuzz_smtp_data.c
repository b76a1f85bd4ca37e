/*
 * libFuzzer target: the DATA filter (mta/smtp_data.c) fed the same octets
 * in arbitrary chunk splits.  Input: two octets choosing max_line and
 * max_size, four octets seeding the split sizes, then the stream.
 * Invariants (the SMTP smuggling defence, RFC 5321 §2.3.8, §4.1.1.4):
 *  - the end of data is found exactly at the first CR LF "." CR LF
 *    (counting the CR LF of the DATA command), nowhere else;
 *  - the result does not depend on how the stream was split;
 *  - an accepted body has no bare CR and no bare LF, and equals a plain
 *    reference model of unstuffing; a refused one stores nothing and
 *    gets the reply of the first fault in the documented order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"
#include "util.h"

struct run {
	struct buf	 out;
	size_t		 used;
	int		 done;
	const char	*verdict;
};

static uint32_t
next(uint32_t *s)
{
	/* xorshift32: any seed but 0 */
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void
feed(struct run *r, const char *p, size_t len, size_t max_size,
    size_t max_line, uint32_t seed)
{
	struct smtp_data d;
	size_t		 n, u;

	buf_init(&r->out);
	smtp_data_init(&d, &r->out, max_size, max_line);
	r->used = 0;
	while (r->used < len && !smtp_data_done(&d)) {
		n = seed == 0 ? len - r->used : 1 + next(&seed) % 64;
		if (n > len - r->used)
			n = len - r->used;
		u = smtp_data_feed(&d, p + r->used, n);
		if (u > n || (u < n && !smtp_data_done(&d)))
			abort();
		r->used += u;
	}
	/* Feeding nothing never changes anything. */
	if (smtp_data_feed(&d, p, 0) != 0)
		abort();
	r->done = smtp_data_done(&d);
	r->verdict = r->done ? smtp_data_verdict(&d) : NULL;
}

/* Where the first CR LF . CR LF ends, counting a CR LF before the input;
 * len + 1 when there is none. */
static size_t
model_end(const char *p, size_t len)
{
	size_t	 i;

	if (len >= 3 && memcmp(p, ".\r\n", 3) == 0)
		return 3;
	for (i = 0; i + 5 <= len; i++)
		if (memcmp(p + i, "\r\n.\r\n", 5) == 0)
			return i + 5;
	return len + 1;
}

/* The body the filter should store, and its verdict. */
static const char *
model_body(const char *p, size_t len, size_t max_size, size_t max_line,
    struct buf *want)
{
	const char	*line = p, *lf;
	size_t		 n, content, size = 0;
	int		 bare_cr = 0, nul = 0, longl = 0;

	while ((lf = memchr(line, '\n', (size_t)(p + len - line))) != NULL) {
		n = (size_t)(lf - line);
		content = n > 0 && line[n - 1] == '\r' ? n - 1 : n;
		if (memchr(line, '\r', content) != NULL)
			bare_cr = 1;
		if (memchr(line, '\0', n) != NULL)
			nul = 1;
		if (content + 2 > max_line || n >= max_line)
			longl = 1;
		if (content >= 2 && line[0] == '.') {
			line++;
			content--;
		}
		buf_append(want, line, content);
		buf_append(want, "\r\n", 2);
		size += content + 2;
		line = lf + 1;
	}
	if (bare_cr)
		return "550 5.6.11";
	if (nul)
		return "550 5.6.0";
	if (longl)
		return "552 5.6.0";
	if (size > max_size)
		return "552 5.3.4";
	return NULL;
}

static void
check_clean(const struct buf *b)
{
	size_t	 i;

	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\r' &&
		    (i + 1 == b->len || b->data[i + 1] != '\n'))
			abort();
		if (b->data[i] == '\n' && (i == 0 || b->data[i - 1] != '\r'))
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run	 whole, split;
	struct buf	 want;
	const char	*p = (const char *)data + 6, *v;
	size_t		 len, max_line, max_size, end;
	uint32_t	 seed;

	if (size < 6)
		return 0;
	len = size - 6;
	max_line = 3 + data[0] % 128;
	max_size = (size_t)data[1] * 4;
	seed = (uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 |
	    (uint32_t)data[4] << 8 | data[5];
	if (seed == 0)
		seed = 1;

	feed(&whole, p, len, max_size, max_line, 0);
	feed(&split, p, len, max_size, max_line, seed);
	if (whole.used != split.used || whole.done != split.done ||
	    whole.out.len != split.out.len || (whole.out.len > 0 &&
	    memcmp(whole.out.data, split.out.data, whole.out.len) != 0) ||
	    (whole.verdict == NULL) != (split.verdict == NULL) ||
	    (whole.verdict && strcmp(whole.verdict, split.verdict) != 0))
		abort();

	end = model_end(p, len);
	if (end <= len) {
		if (!whole.done || whole.used != end)
			abort();
		buf_init(&want);
		/* the body is everything before the final ".\r\n" */
		v = model_body(p, end - 3, max_size, max_line, &want);
		if (v == NULL) {
			if (whole.verdict != NULL || want.len != whole.out.len ||
			    (want.len > 0 &&
			    memcmp(want.data, whole.out.data, want.len) != 0))
				abort();
			check_clean(&whole.out);
		} else if (whole.verdict == NULL ||
		    strncmp(whole.verdict, v, strlen(v)) != 0 ||
		    whole.out.len != 0)
			abort();
		buf_free(&want);
	} else if (whole.done || whole.used != len)
		abort();
	buf_free(&whole.out);
	buf_free(&split.out);
	return 0;
}
