/*
 * local_io: what the local server's processes pass each other.  An
 * outcome travels as one line, "K status text\n" (K: S sent, D
 * deferred, B bounced); anything else read back is a failed delivery
 * process, deferred 4.3.0.  A small file (a .forward) or a message is
 * read whole, up to a bound, as one NUL-terminated string.
 */
#ifndef POSTERN_LOCAL_IO_H
#define POSTERN_LOCAL_IO_H

#include <stddef.h>

struct outcome;

/* Reads fd to its end into a fresh *text; 0, or -1 with errno (EFBIG
 * past max bytes). */
int	local_read_small(int fd, size_t max, char **text);

/* Reads one outcome line from fd into o (see above). */
void	local_outcome_read(int fd, struct outcome *o);
/* Writes o to fd as one line. */
void	local_outcome_write(int fd, const struct outcome *o);

#endif
