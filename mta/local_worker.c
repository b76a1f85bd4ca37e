/*
 * local_worker: the deliver worker's side of local delivery: one
 * request with the message to the local server, its answer back.  See
 * include/local.h.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "local.h"
#include "local_child.h"
#include "local_io.h"
#include "local_request.h"
#include "outcome.h"
#include "queue.h"
#include "util.h"

#define LOCAL_IO_TIMEOUT	60000	/* ms, body transfer */

static int
send_request(const struct qmsg *m, const char *rcpt, int fd)
{
	char		 data[LOCAL_REQ_MAX];
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	int		 n;

	n = snprintf(data, sizeof(data), "%s%c%s%c%s", m->sender, 0, rcpt, 0,
	    m->qid);
	if (n < 0 || (size_t)n + 1 > sizeof(data))
		return -1;
	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = data;
	iov.iov_len = (size_t)n + 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(local_server_fd(), &mh, MSG_NOSIGNAL) == -1 ? -1 : 0;
}

static int
wait_fd(int fd, short ev, int64_t deadline)
{
	struct pollfd	 pfd = { fd, ev, 0 };
	int64_t		 left = deadline - mono_msec();

	if (left <= 0)
		return -1;
	return poll(&pfd, 1, (int)(left > 1000 ? 1000 : left)) == -1 &&
	    errno != EINTR ? -1 : 0;
}

void
local_deliver(const struct config *conf, const struct qmsg *m,
    const char *rcpt, const char *body, size_t len, struct outcome *o)
{
	int64_t	 deadline;
	size_t	 off = 0;
	ssize_t	 n;
	int	 sv[2];

	if (local_server_fd() == -1) {
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "no local delivery "
		    "server (postern was not started as root)");
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "socketpair: %s",
		    strerror(errno));
		return;
	}
	if (send_request(m, rcpt, sv[1]) == -1) {
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "local server: %s",
		    strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		return;
	}
	(void)close(sv[1]);
	(void)fcntl(sv[0], F_SETFL, O_NONBLOCK);
	deadline = mono_msec() + LOCAL_IO_TIMEOUT;
	while (off < len) {
		if ((n = send(sv[0], body + off, len - off, MSG_NOSIGNAL)) > 0)
			off += (size_t)n;
		else if ((n == -1 && errno != EAGAIN && errno != EINTR) ||
		    wait_fd(sv[0], POLLOUT, deadline) == -1)
			break;
	}
	(void)shutdown(sv[0], SHUT_WR);
	if (off < len) {
		outcome_set(o, OUTCOME_DEFER, "4.3.0", "local server: "
		    "message not sent");
		(void)close(sv[0]);
		return;
	}
	/* Longer than the server may take: it answers, or has stopped
	 * the delivery, before this worker gives up (local_child.h). */
	deadline = mono_msec() + local_reply_wait(conf->local_delivery_timeout) *
	    1000;
	while (wait_fd(sv[0], POLLIN, deadline) == 0) {
		char c;

		if (recv(sv[0], &c, 1, MSG_PEEK) >= 0 || errno != EAGAIN)
			break;
	}
	(void)fcntl(sv[0], F_SETFL, 0);
	local_outcome_read(sv[0], o);
	(void)close(sv[0]);
}
