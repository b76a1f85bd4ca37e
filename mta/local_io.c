/*
 * local_io: what the local server's processes pass each other: a
 * bounded read of a small file or a message, and the outcome as one
 * line.  See include/local_io.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "local_io.h"
#include "outcome.h"
#include "util.h"

int
local_read_small(int fd, size_t max, char **text)
{
	struct buf	 b;
	char		 chunk[4096];
	ssize_t		 n;

	buf_init(&b);
	buf_append(&b, "", 0);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		if (b.len + (size_t)n > max) {
			buf_free(&b);
			errno = EFBIG;
			return -1;
		}
		buf_append(&b, chunk, (size_t)n);
	}
	if (n == -1) {
		buf_free(&b);
		return -1;
	}
	*text = b.data;
	return 0;
}

/* The outcome travels from the child as "K status text". */
void
local_outcome_read(int fd, struct outcome *o)
{
	char	 line[sizeof(o->text) + 32];
	ssize_t	 n;
	size_t	 got = 0;

	while (got < sizeof(line) - 1 &&
	    (n = read(fd, line + got, sizeof(line) - 1 - got)) > 0)
		got += (size_t)n;
	line[got] = '\0';
	if (got < 8 || strchr("SDB", line[0]) == NULL || line[1] != ' ') {
		outcome_set(o, OUTCOME_DEFER, "4.3.0",
		    "local delivery process failed");
		return;
	}
	line[strcspn(line, "\n")] = '\0';
	{
		char *sp = strchr(line + 2, ' ');

		if (sp == NULL) {
			outcome_set(o, OUTCOME_DEFER, "4.3.0",
			    "local delivery process failed");
			return;
		}
		*sp = '\0';
		outcome_set(o, line[0] == 'S' ? OUTCOME_SENT : line[0] == 'D' ?
		    OUTCOME_DEFER : OUTCOME_BOUNCE, line + 2, "%s", sp + 1);
	}
}

void
local_outcome_write(int fd, const struct outcome *o)
{
	char	 line[sizeof(o->text) + 32];
	int	 n;

	/* Fits: status and text are bounded by struct outcome; the cut
	 * below is only a backstop. */
	n = snprintf(line, sizeof(line), "%c %s %s\n", o->kind == OUTCOME_SENT ?
	    'S' : o->kind == OUTCOME_BOUNCE ? 'B' : 'D', o->status, o->text);
	if (n > 0)
		(void)write_all(fd, line, (size_t)n < sizeof(line) ?
		    (size_t)n : sizeof(line) - 1);
}
