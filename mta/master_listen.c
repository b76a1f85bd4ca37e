/*
 * The master's listeners (master_listen.h): bound, accepted on, and
 * each connection handed to a session process or refused.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "config.h"
#include "fdpass.h"
#include "log.h"
#include "master_children.h"
#include "master_listen.h"
#include "master_session.h"
#include "master_state.h"

static void
bind_one(struct master *m, const struct listen_spec *ls, struct addrinfo *ai)
{
	int	 fd, on = 1;

	if (m->nsocks == MAX_SOCKS)
		fatalx("too many listening sockets");
	if ((fd = socket(ai->ai_family, ai->ai_socktype, 0)) == -1)
		fatal("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ai->ai_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1)
		fatal("bind %s:%s", ls->host, ls->port);
	if (listen(fd, 128) == -1)
		fatal("listen %s:%s", ls->host, ls->port);
	master_nonblock_cloexec(fd);
	m->socks[m->nsocks].fd = fd;
	m->socks[m->nsocks++].spec = ls;
}

void
master_bind_listeners(struct master *m)
{
	struct addrinfo	 hints, *res, *ai;
	size_t		 i;
	int		 e;

	for (i = 0; i < m->conf->nlisten; i++) {
		const struct listen_spec *ls = &m->conf->listen[i];

		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
		e = getaddrinfo(strcmp(ls->host, "*") ? ls->host : NULL,
		    ls->port, &hints, &res);
		if (e != 0)
			fatalx("listen %s:%s: %s", ls->host, ls->port,
			    gai_strerror(e));
		for (ai = res; ai != NULL; ai = ai->ai_next)
			bind_one(m, ls, ai);
		freeaddrinfo(res);
		log_info("listening on %s:%s", ls->host, ls->port);
	}
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)(const void *)a)->sin_addr.s_addr ==
		    ((const struct sockaddr_in *)(const void *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
		    &((const struct sockaddr_in6 *)(const void *)b)->sin6_addr,
		    sizeof(struct in6_addr)) == 0;
	return 0;
}

static size_t
sessions_from(const struct master *m, const struct sockaddr_storage *peer,
    size_t *total)
{
	size_t	 i, n = 0;

	*total = 0;
	for (i = 0; i < m->nkids; i++) {
		if (m->kids[i].peer.ss_family == 0)
			continue;
		(*total)++;
		if (same_addr(&m->kids[i].peer, peer))
			n++;
	}
	return n;
}

static void
refuse(int fd, const struct config *conf, const char *status, const char *why)
{
	char	 line[512];
	int	 n;

	/* Best effort: the socket is non-blocking and we never wait. */
	n = snprintf(line, sizeof(line), "421 %s %s %s\r\n", status,
	    conf->hostname, why);
	if (n > 0 && (size_t)n < sizeof(line))
		(void)write(fd, line, (size_t)n);
	(void)close(fd);
}

static void
peer_text(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	if (getnameinfo((const struct sockaddr *)ss, sizeof(*ss), buf, len,
	    NULL, 0, NI_NUMERICHOST) != 0)
		(void)strlcpy(buf, "unknown", len);
}

void
master_accept_one(struct master *m, const struct lsock *ls)
{
	struct handoff		 h;
	size_t			 total, mine;
	char			 ip[64];
	pid_t			 pid;
	int			 fd, ctl[2];

	memset(&h, 0, sizeof(h));
	h.plen = sizeof(h.peer);
	if ((fd = accept(ls->fd, (struct sockaddr *)&h.peer, &h.plen)) == -1) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("accept");
		return;
	}
	h.listen_idx = (int)(ls->spec - m->conf->listen);
	if (!m->queue_up) {
		refuse(fd, m->conf, "4.3.0", "Queue recovery in progress, try again later");
		return;
	}
	mine = sessions_from(m, &h.peer, &total);
	if (total >= (size_t)m->conf->max_children ||
	    mine >= (size_t)m->conf->max_children_per_ip) {
		peer_text(&h.peer, ip, sizeof(ip));
		log_warnx("connection from [%s] refused: %s", ip,
		    total >= (size_t)m->conf->max_children ?
		    "too many connections" : "too many connections from it");
		refuse(fd, m->conf, "4.7.0", "Too many connections, try again later");
		return;
	}
	if (master_handoff_idle(m, fd, &h) == 0) {
		(void)close(fd);
		return;
	}
	if (master_session_procs(m) >= (size_t)m->conf->max_children ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, ctl) == -1) {
		refuse(fd, m->conf, "4.3.0", "Temporary resource shortage");
		return;
	}
	if ((pid = fork()) == -1) {
		log_warn("fork");
		(void)close(ctl[0]);
		(void)close(ctl[1]);
		refuse(fd, m->conf, "4.3.0", "Temporary resource shortage");
		return;
	}
	if (pid == 0) {
		(void)close(ctl[0]);
		master_session_child(m, ctl[1], fd, &h);
	}
	(void)close(fd);
	(void)close(ctl[1]);
	master_nonblock_cloexec(ctl[0]);
	master_kid_add(m, pid, &h.peer, ctl[0]);
}
