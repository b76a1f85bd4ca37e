/*
 * LD_PRELOAD shim for tests: the user who wins the mailbox creation
 * race, every time.  When the process opens $PLANT_PATH with O_CREAT,
 * the shim first puts a $PLANT_KIND at that name: "link" (a hard link
 * to $PLANT_TARGET), "symlink" (to $PLANT_TARGET) or "fifo" -- what a
 * user who can write the spool does in the window after any check and
 * before the open.  Every other open passes through unchanged.
 */
#define _GNU_SOURCE
#include <sys/stat.h>
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
plant(const char *path, int flags)
{
	const char	*want = getenv("PLANT_PATH");
	const char	*kind = getenv("PLANT_KIND");
	const char	*target = getenv("PLANT_TARGET");
	int		 saved = errno;

	if (!(flags & O_CREAT) || want == NULL || kind == NULL ||
	    target == NULL || strcmp(path, want) != 0)
		return;
	if (strcmp(kind, "link") == 0)
		(void)link(target, path);
	else if (strcmp(kind, "symlink") == 0)
		(void)symlink(target, path);
	else if (strcmp(kind, "fifo") == 0)
		(void)mkfifo(path, 0666);
	errno = saved;
}

static int
real_open(const char *name, const char *path, int flags, mode_t mode)
{
	int	(*next)(const char *, int, ...);

	next = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, name);
	if (next == NULL) {
		errno = ENOSYS;
		return -1;
	}
	plant(path, flags);
	return next(path, flags, mode);
}

int
open(const char *path, int flags, ...)
{
	va_list	 ap;
	mode_t	 mode = 0;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return real_open("open", path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
	va_list	 ap;
	mode_t	 mode = 0;

	if (flags & O_CREAT) {
		va_start(ap, flags);
		mode = (mode_t)va_arg(ap, int);
		va_end(ap);
	}
	return real_open("open64", path, flags, mode);
}
