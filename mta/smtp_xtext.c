/*
 * smtp_xtext: the xtext encoding of ENVID and ORCPT, RFC 3461 §4.
 * See include/smtp_parse.h.
 */
#include <ctype.h>
#include <string.h>

#include "smtp_parse.h"

int
xtext_decode(const char *in, size_t len, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const char		*h, *l;
	size_t			 i, o = 0;
	unsigned char		 c;

	for (i = 0; i < len; i++) {
		c = (unsigned char)in[i];
		if (c == '+') {
			/* hexchar = "+" 2HEXDIG (lower case tolerated) */
			if (len - i < 3 || in[i + 1] == '\0' ||
			    in[i + 2] == '\0')
				return -1;
			h = strchr(hex, toupper((unsigned char)in[i + 1]));
			l = strchr(hex, toupper((unsigned char)in[i + 2]));
			if (h == NULL || l == NULL)
				return -1;
			c = (unsigned char)((h - hex) << 4 | (l - hex));
			i += 2;
			/* Decoded text lands in DSN headers: no controls. */
			if (c < 32 || c > 126)
				return -1;
		} else if (c < 33 || c > 126 || c == '=')
			return -1;
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}

int
xtext_encode(const char *in, char *out, size_t outlen)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 o = 0;
	unsigned char		 c;

	for (; *in != '\0'; in++) {
		c = (unsigned char)*in;
		if (c >= 33 && c <= 126 && c != '+' && c != '=') {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)c;
			continue;
		}
		if (o + 3 >= outlen)
			return -1;
		out[o++] = '+';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	if (outlen == 0)
		return -1;
	out[o] = '\0';
	return (int)o;
}
