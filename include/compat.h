/*
 * compat: strlcpy/strlcat where libc lacks them (glibc before 2.38).
 * Both return the length they tried to create; a result >= size means
 * truncation.  A caller checks it wherever a cut string could change what
 * happens (a path, a host name, a lookup key); it casts the result away
 * only where the source cannot be longer than the destination or where
 * the string is only a message (an error text, a log field).
 */
#ifndef POSTERN_COMPAT_H
#define POSTERN_COMPAT_H

#include <stddef.h>
#include <string.h>

#if !defined(__FreeBSD__) && !defined(__OpenBSD__) && !defined(__NetBSD__) && \
    !defined(__APPLE__)
size_t	postern_strlcpy(char *, const char *, size_t);
size_t	postern_strlcat(char *, const char *, size_t);
#define strlcpy	postern_strlcpy
#define strlcat	postern_strlcat
#endif

#endif
