/* strlcpy/strlcat for libcs without them (OpenBSD semantics). */
#include <string.h>

#include "compat.h"

#ifdef strlcpy
size_t
postern_strlcpy(char *dst, const char *src, size_t size)
{
	size_t	 len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;
		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

size_t
postern_strlcat(char *dst, const char *src, size_t size)
{
	size_t	 dlen = strnlen(dst, size);

	if (dlen == size)
		return size + strlen(src);
	return dlen + postern_strlcpy(dst + dlen, src, size - dlen);
}
#else
/* The libc provides them; keep the object non-empty for ISO C. */
extern int postern_compat_unused;
#endif
