/*
 * smtp_wire: what the SMTP client writes, as pure functions over a buf:
 * MAIL and RCPT commands with their ESMTP parameters (SIZE RFC 1870, BODY
 * RFC 6152, SMTPUTF8 RFC 6531, RET/ENVID/NOTIFY/ORCPT RFC 3461) chosen by
 * what EHLO offered, and the message body dot-stuffed with CRLF line ends
 * only (RFC 5321 §4.5.2, §2.3.8).  Commands are appended without CRLF.
 */
#ifndef POSTERN_SMTP_WIRE_H
#define POSTERN_SMTP_WIRE_H

#include <stddef.h>

#include "queue.h"
#include "util.h"

/* A path that can go into "<...>" as it is: no control character, no
 * space, no angle bracket (else data could become commands). */
int	smtp_wire_path_ok(const char *);
/* Any byte >= 0x80: the address needs SMTPUTF8 (RFC 6531 §3.2). */
int	smtp_wire_8bit(const char *);
/* An xtext value (RFC 3461 §4) that can be passed on as received. */
int	smtp_wire_xtext_ok(const char *);

void	smtp_wire_mail(struct buf *, const struct qmsg *, unsigned ext,
	    size_t size);
void	smtp_wire_rcpt(struct buf *, const struct qrcpt *, unsigned ext);

/*
 * Appends whole lines of the stored body (p, len) to b, dot-stuffed, each
 * ended by CRLF (a bare CR or LF becomes CRLF, a last line without an end
 * gets one), until b->len reaches limit or p is used up.  Returns the
 * bytes of p consumed; the caller appends "." CRLF at the end.
 */
size_t	smtp_wire_body(struct buf *, const char *p, size_t len, size_t limit);

#endif
