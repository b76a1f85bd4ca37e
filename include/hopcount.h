/*
 * hopcount: mail loop detection (RFC 5321 §6.3).  A message that keeps
 * coming back (a transport entry pointing at this host, a .forward to a
 * mailbox that forwards back) gains a Received field per pass (RFC 5321
 * §4.4) and a Delivered-To field per local delivery here.  Pure: the
 * message is (ptr, len), never read past len, never NUL-terminated.
 *
 * Only the header section counts: fields up to the first empty line (or
 * the end of the data).  Lines end in LF or CR LF.  A field name is
 * matched case-insensitively (RFC 5322 §1.2.2), optional white space
 * before its colon is allowed (RFC 5322 §4.5 obsolete syntax), and a
 * line starting with SP or HTAB continues the field before it (folding,
 * RFC 5322 §2.2.3): it is never a field of its own.  A line in the
 * header section without a colon is not a field and is skipped.
 */
#ifndef POSTERN_HOPCOUNT_H
#define POSTERN_HOPCOUNT_H

#include <stddef.h>

/* Default of max_hop_count: Postfix's hopcount_limit. */
#define HOP_COUNT_DEFAULT	50

/* One header field: name and body (after the colon, folding included,
 * without the final line end). */
struct hop_field {
	const char	*name;
	size_t		 namelen;
	const char	*value;
	size_t		 valuelen;
};

/* The next field of the header section from *off; 1 with f filled and
 * *off moved past it, 0 at the end of the header section. */
int	hop_next_field(const char *msg, size_t len, size_t *off,
	    struct hop_field *f);

/* Received fields in the header section. */
size_t	hop_count(const char *msg, size_t len);

/* 1 when the header section has a Delivered-To field whose address is
 * addr (case-insensitive; white space and folding around it ignored). */
int	hop_delivered_to(const char *msg, size_t len, const char *addr);

/* The loop decision, RFC 5321 §6.3: a message that already passed more
 * than max relays (hops: its Received fields as it reaches us, before
 * we add ours) is a loop.  A negative max is treated as 0. */
int	hop_limit_exceeded(size_t hops, long long max);

struct config;

/* The end of DATA: NULL, or the 554 5.4.6 reply when the message as the
 * client sent it (without our Received) is over max_hop_count. */
const char *hop_verdict(const struct config *, const char *msg, size_t len);

#endif
