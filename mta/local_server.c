/*
 * local_server: the privileged local server: forked by the master as
 * root, it reads requests from the workers' socket and forks one
 * bounded child per request (local_child.h).  See include/local.h for
 * the privilege split.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "local.h"
#include "local_child.h"
#include "local_io.h"
#include "local_request.h"
#include "log.h"
#include "privsep.h"
#include "outcome.h"
#include "queue.h"
#include "util.h"

static int	 local_fd = -1;	/* the workers' end of the server socket */

int
local_server_fd(void)
{
	return local_fd;
}

/* "sender\0rcpt\0qid\0" with the reply socket as SCM_RIGHTS. */
static int
recv_request(int sock, struct local_request *rq, int *fd)
{
	char		 data[LOCAL_REQ_MAX];
	union {
		struct cmsghdr	 h;
		char		 buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct cmsghdr	*c;
	const char	*p, *end;
	ssize_t		 n;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = data;
	iov.iov_len = sizeof(data);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	if ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) <= 0)
		return n == 0 ? 0 : (errno == EINTR ? 1 : -1);
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (*fd == -1 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		goto bad;
	p = data;
	end = data + n;
	/* Three NUL-terminated strings, each within its bound. */
	if ((n = (ssize_t)strnlen(p, (size_t)(end - p))) == end - p ||
	    strlcpy(rq->sender, p, sizeof(rq->sender)) >= sizeof(rq->sender))
		goto bad;
	p += n + 1;
	if ((n = (ssize_t)strnlen(p, (size_t)(end - p))) == end - p ||
	    strlcpy(rq->rcpt, p, sizeof(rq->rcpt)) >= sizeof(rq->rcpt))
		goto bad;
	p += n + 1;
	if ((n = (ssize_t)strnlen(p, (size_t)(end - p))) == end - p ||
	    !qid_valid(p))
		goto bad;
	(void)strlcpy(rq->qid, p, sizeof(rq->qid));	/* QID_LEN: qid_valid */
	return 2;
bad:
	log_warnx("local: malformed request dropped");
	if (*fd != -1)
		(void)close(*fd);
	*fd = -1;
	return 1;
}

_Noreturn static void
server_loop(const struct config *conf, int sock)
{
	struct local_request	 rq;
	struct outcome	 o;
	long long	 running = 0;
	pid_t		 pid;
	int		 fd, r;

	log_setident("postern/local");
	/* Each request is one child, reaped here to count them. */
	(void)signal(SIGCHLD, SIG_DFL);
	(void)signal(SIGPIPE, SIG_IGN);
	(void)signal(SIGHUP, SIG_IGN);
	(void)signal(SIGUSR1, SIG_IGN);
	for (;;) {
		if ((r = recv_request(sock, &rq, &fd)) <= 0) {
			/* Every daemon process is gone. */
			privsep_pidfile_clear(conf->pidfile);
			_exit(0);
		}
		if (r == 1)
			continue;
		while (running > 0 && waitpid(-1, NULL, WNOHANG) > 0)
			running--;
		if (!local_child_admit(running, conf->max_deliveries)) {
			log_warnx("%s: to=<%s> deferred: %lld local deliveries "
			    "in progress", rq.qid, rq.rcpt, running);
			outcome_set(&o, OUTCOME_DEFER, "4.3.2", "too many local "
			    "deliveries in progress");
			local_outcome_write(fd, &o);
		} else if ((pid = fork()) == -1) {
			outcome_set(&o, OUTCOME_DEFER, "4.3.0", "fork: %s",
			    strerror(errno));
			local_outcome_write(fd, &o);
		} else if (pid == 0) {
			(void)close(sock);
			local_request_serve(conf, &rq, fd);
			_exit(0);
		} else
			running++;
		(void)close(fd);
	}
}

int
local_server_start(const struct config *conf, int foreground, char *err,
    size_t errlen)
{
	int	 sv[2], nul;
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1) {
		(void)snprintf(err, errlen, "local: socketpair: %s",
		    strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		(void)snprintf(err, errlen, "local: fork: %s", strerror(errno));
		(void)close(sv[0]);
		(void)close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		(void)close(sv[0]);
		(void)setsid();	/* no signals from the terminal */
		if (!foreground && (nul = open("/dev/null", O_RDWR)) != -1) {
			(void)dup2(nul, 0);
			(void)dup2(nul, 1);
			(void)dup2(nul, 2);
			if (nul > 2)
				(void)close(nul);
		}
		server_loop(conf, sv[1]);
	}
	(void)close(sv[1]);
	local_fd = sv[0];
	return 0;
}
