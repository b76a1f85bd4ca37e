/*
 * netio_https: one GET against a forked TLS server on loopback (the
 * self-signed certificate of tls.c; the client does not verify it here),
 * a response read to EOF, the size limit, a connect that never completes
 * (a listener whose accept queue is full drops the SYN), signals
 * arriving while the client waits, and the flags of its socket.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "netio.h"
#include "netio_https.h"
#include "tls.h"
#include "util.h"

#define RESP_HEAD	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
#define BODY		"version: STSv1\r\nmode: enforce\r\n"

static char	 tmpdir[] = "/tmp/netio-https-test.XXXXXX";
static SSL_CTX	*sctx, *cctx;
static volatile sig_atomic_t nalarm;

static int
setup(void **state)
{
	static struct config c;
	char		 err[256];

	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	memset(&c, 0, sizeof(c));
	c.hostname = "mta-sts.postern.test";
	c.spool_dir = tmpdir;
	c.tls_cert = "";
	c.tls_key = "";
	c.tls_ciphers = "";
	tls_init();
	if ((sctx = tls_server_ctx(&c, err, sizeof(err))) == NULL ||
	    (cctx = tls_client_ctx(NULL, err, sizeof(err))) == NULL)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char	 cmd[128];

	(void)state;
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	(void)snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A loopback listener; its port in *port. */
static int
listener(int backlog, int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 sl = sizeof(sin);
	int			 fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_not_equal(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static int
same(const char *line, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(line, want, len) == 0;
}

/* Child: one TLS connection; checks the request, waits delay_ms, sends
 * the head and bodylen bytes of body, closes.  Exit 0 when all went. */
static int
serve(int lfd, int delay_ms, size_t bodylen)
{
	struct netio	*n;
	const char	*line;
	char		 err[256], *body;
	size_t		 len;
	int		 fd, first = 1, ok = 0;

	if ((fd = accept(lfd, NULL, NULL)) == -1)
		return 1;
	n = netio_new(fd);
	if (netio_tls_accept(n, sctx, 5000, err, sizeof(err)) == -1)
		return 2;
	while (netio_getline(n, &line, &len, 1000, 5000) == NETIO_LINE_OK) {
		if (first)
			ok = same(line, len, "GET /x/y.txt HTTP/1.1\r\n");
		else if (len == 2)
			break;
		else if (same(line, len, "Host: mta-sts.postern.test\r\n"))
			ok |= 2;
		first = 0;
	}
	(void)usleep((useconds_t)delay_ms * 1000);
	body = xmalloc(bodylen + 1);
	memset(body, 'p', bodylen);
	memcpy(body, BODY, bodylen < sizeof(BODY) - 1 ? bodylen :
	    sizeof(BODY) - 1);
	(void)netio_printf(n, "%s", RESP_HEAD);
	(void)netio_write(n, body, bodylen);
	free(body);
	if (netio_flush(n, 5000) == -1)
		return 3;
	netio_free(n);
	return ok == 3 ? 0 : 4;
}

static pid_t
start_server(int *port, int delay_ms, size_t bodylen)
{
	pid_t	 pid;
	int	 lfd = listener(1, port);

	if ((pid = fork()) == 0)
		_exit(serve(lfd, delay_ms, bodylen));
	assert_int_not_equal(pid, -1);
	(void)close(lfd);
	return pid;
}

static void
req_init(struct https_req *r, const uint32_t *addr, int port, int ms)
{
	memset(r, 0, sizeof(*r));
	r->family = AF_INET;
	r->addr = addr;
	r->port = port;
	r->host = "mta-sts.postern.test";
	r->path = "/x/y.txt";
	r->max = 70000;
	r->deadline = mono_msec() + ms;
}

static void
server_done(pid_t pid, int want)
{
	int	 st;

	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	if (want >= 0)
		assert_int_equal(WEXITSTATUS(st), want);
}

static void
test_get(void **state)
{
	uint32_t	 lo = htonl(INADDR_LOOPBACK);
	struct https_req r;
	struct buf	 resp;
	char		 err[256] = "";
	long		 v;
	int		 port;
	pid_t		 pid;

	(void)state;
	pid = start_server(&port, 0, sizeof(BODY) - 1);
	req_init(&r, &lo, port, 5000);
	buf_init(&resp);
	if (netio_https_get(&r, SSL_new(cctx), &resp, &v, err, sizeof(err))
	    != HTTPS_OK)
		fail_msg("get: %s", err);
	assert_int_equal(resp.len, sizeof(RESP_HEAD BODY) - 1);
	assert_memory_equal(resp.data, RESP_HEAD BODY, resp.len);
	server_done(pid, 0);

	/* over the limit: stopped, not truncated silently */
	buf_reset(&resp);
	pid = start_server(&port, 0, 80000);
	req_init(&r, &lo, port, 5000);
	assert_int_equal(netio_https_get(&r, SSL_new(cctx), &resp, &v, err,
	    sizeof(err)), HTTPS_TOOBIG);
	assert_true(resp.len > r.max);
	server_done(pid, -1);	/* the client may close before the end */
	buf_free(&resp);
}

static void
on_alarm(int sig)
{
	(void)sig;
	nalarm++;
}

/* Signals without SA_RESTART interrupt every poll(2) while the server
 * thinks for 300 ms: the GET still completes. */
static void
test_eintr(void **state)
{
	uint32_t	 lo = htonl(INADDR_LOOPBACK);
	struct https_req r;
	struct sigaction sa, old;
	struct itimerval it, stop;
	struct buf	 resp;
	char		 err[256] = "";
	long		 v;
	int		 port;
	pid_t		 pid;
	enum https_rc	 rc;

	(void)state;
	pid = start_server(&port, 300, sizeof(BODY) - 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = 0;
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	memset(&it, 0, sizeof(it));
	memset(&stop, 0, sizeof(stop));
	it.it_interval.tv_usec = it.it_value.tv_usec = 10000;
	nalarm = 0;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	req_init(&r, &lo, port, 5000);
	buf_init(&resp);
	rc = netio_https_get(&r, SSL_new(cctx), &resp, &v, err, sizeof(err));
	assert_int_equal(setitimer(ITIMER_REAL, &stop, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	if (rc != HTTPS_OK)
		fail_msg("get under signals: %d %s", rc, err);
	assert_true(nalarm >= 10);
	assert_memory_equal(resp.data, RESP_HEAD BODY, resp.len);
	buf_free(&resp);
	server_done(pid, 0);
}

/* A listener with a full accept queue never completes a connect: the
 * deadline ends it, reported as a time-out (not EINPROGRESS). */
static void
test_connect_timeout(void **state)
{
	uint32_t	 lo = htonl(INADDR_LOOPBACK);
	struct https_req r;
	struct sockaddr_in sin;
	struct buf	 resp;
	char		 err[256] = "";
	int		 port, lfd, fill[4];
	long		 v;
	int64_t		 t0;
	size_t		 i;

	(void)state;
	lfd = listener(0, &port);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = lo;
	sin.sin_port = htons((uint16_t)port);
	for (i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
	}
	(void)usleep(100000);
	req_init(&r, &lo, port, 300);
	buf_init(&resp);
	t0 = mono_msec();
	assert_int_equal(netio_https_get(&r, SSL_new(cctx), &resp, &v, err,
	    sizeof(err)), HTTPS_CONNECT);
	assert_true(mono_msec() - t0 >= 250);
	assert_true(mono_msec() - t0 < 3000);
	assert_string_equal(err, strerror(ETIMEDOUT));
	buf_free(&resp);
	for (i = 0; i < 4; i++)
		(void)close(fill[i]);
	(void)close(lfd);

	/* a closed port: refused at once */
	lfd = listener(1, &port);
	(void)close(lfd);
	req_init(&r, &lo, port, 300);
	buf_init(&resp);
	assert_int_equal(netio_https_get(&r, SSL_new(cctx), &resp, &v, err,
	    sizeof(err)), HTTPS_CONNECT);
	assert_string_equal(err, strerror(ECONNREFUSED));
	buf_free(&resp);
}

/* The socket of every fetch comes from netio_connect(): close-on-exec
 * (a delivery agent exec'd later never inherits it) and non-blocking. */
static void
test_connect_flags(void **state)
{
	uint32_t	 lo = htonl(INADDR_LOOPBACK);
	char		 err[256] = "";
	int		 port, lfd, fd;

	(void)state;
	lfd = listener(1, &port);
	if ((fd = netio_connect(AF_INET, &lo, port, 2000, err,
	    sizeof(err))) == -1)
		fail_msg("connect: %s", err);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	(void)close(fd);
	(void)close(lfd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_eintr),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_connect_flags),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
