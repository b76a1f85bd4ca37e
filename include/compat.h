/*
 * compat: strlcpy/strlcat where libc lacks them (glibc before 2.38).
 * Both return the length they tried to create; a result >= size means
 * truncation and every caller checks it.
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
