/*
 * Whether a process that joined the queue environment still runs
 * (include/qfail.h): what failchk needs to release a dead one's locks.
 */
#include <sys/types.h>
#if defined(__FreeBSD__)
#include <sys/param.h>
#include <sys/proc.h>
#include <sys/sysctl.h>
#include <sys/user.h>
#endif

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "qfail.h"

char
qfail_stat_state(const char *s, size_t len)
{
	size_t	 i, close = len;

	/* "PID (COMM) S ...": COMM may hold ')' itself; the last one ends it. */
	for (i = 0; i < len; i++)
		if (s[i] == ')')
			close = i;
	if (close == len || close + 2 >= len || s[close + 1] != ' ')
		return 0;
	return s[close + 2] == ' ' ? 0 : s[close + 2];
}

int
qfail_state_dead(char st)
{
	return st == 'Z' || st == 'X' || st == 'x';
}

/* kill(pid, 0): ESRCH is gone; EPERM runs as another user (alive). */
static int
signal_alive(pid_t pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

#if defined(__linux__)
/* 1 alive, 0 dead, -1 unknown (no /proc: the portable answer decides). */
static int
sys_alive(pid_t pid)
{
	char	 path[64], buf[512];
	ssize_t	 n;
	int	 fd, saved;
	char	 st;

	(void)snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		saved = errno;
		if (saved != ENOENT)
			return -1;
		/* No entry: gone, unless /proc itself is not mounted. */
		return access("/proc/self/stat", F_OK) == 0 ? 0 : -1;
	}
	n = read(fd, buf, sizeof(buf));
	(void)close(fd);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	if ((st = qfail_stat_state(buf, (size_t)n)) == 0)
		return -1;
	return !qfail_state_dead(st);
}
#elif defined(__FreeBSD__)
static int
sys_alive(pid_t pid)
{
	struct kinfo_proc	 kp;
	size_t			 len = sizeof(kp);
	int			 mib[4] = { CTL_KERN, KERN_PROC, KERN_PROC_PID,
				    (int)pid };

	if (sysctl(mib, 4, &kp, &len, NULL, 0) == -1)
		return errno == ESRCH ? 0 : -1;
	if (len == 0)
		return 0;
	return kp.ki_stat != SZOMB;
}
#else
static int
sys_alive(pid_t pid)
{
	(void)pid;
	return -1;
}
#endif

int
qfail_pid_alive(pid_t pid)
{
	int	 r, saved = errno;

	if (pid <= 0)
		return 0;
	if ((r = sys_alive(pid)) == -1)
		r = signal_alive(pid);
	errno = saved;
	return r;
}
