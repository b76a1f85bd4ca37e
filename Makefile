# postern — one Makefile for GNU make and BSD make (POSIX rules plus !=).
# Honours CC, CFLAGS, LDFLAGS, PREFIX, DESTDIR.  Required flags live in
# PROJECT_CFLAGS so that a command-line CFLAGS (sanitizers) adds to them.

PREFIX?=	/usr/local
SBINDIR?=	$(PREFIX)/sbin
MANDIR?=	$(PREFIX)/share/man
SYSCONFDIR?=	$(PREFIX)/etc/postern
SPOOLDIR?=	/var/spool/postern
DBDIR?=		/var/db/postern
# aliases(5) where the system keeps it: /etc/mail/aliases on FreeBSD.
OS!=		uname -s
ALIASES_FreeBSD=	/etc/mail/aliases
ALIASES_Linux=	/etc/aliases
ALIASES?=	$(ALIASES_$(OS))
CC?=		cc
CFLAGS?=	-O2 -g
PYTHON?=	/usr/bin/python3

SSL_CFLAGS!=	pkg-config --cflags openssl 2>/dev/null || true
SSL_LIBS!=	pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto
# Debian 12's libunbound.pc fails --cflags (missing libevent.pc): fall back.
UB_CFLAGS!=	pkg-config --cflags libunbound 2>/dev/null || true
UB_LIBS!=	pkg-config --libs libunbound 2>/dev/null || echo -lunbound
# Berkeley DB has no .pc; FreeBSD's base <db.h> is 1.85, so the
# package's first: databases/db5, or db18 where db5 is gone.
DB_CFLAGS!=	if [ -d /usr/local/include/db5 ]; then echo -I/usr/local/include/db5; \
		elif [ -d /usr/local/include/db18 ]; then echo -I/usr/local/include/db18; fi
DB_LIBS!=	if [ -d /usr/local/lib/db5 ]; then echo -L/usr/local/lib/db5 -ldb-5.3; \
		elif [ -d /usr/local/lib/db18 ]; then echo -L/usr/local/lib/db18 -ldb-18.1; \
		else echo -ldb; fi
CMOCKA_CFLAGS!=	pkg-config --cflags cmocka 2>/dev/null || true
CMOCKA_LIBS!=	pkg-config --libs cmocka 2>/dev/null || echo -lcmocka

PROJECT_CFLAGS=	-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude \
		-DPOSTERN_CONF_DEFAULT=\"$(SYSCONFDIR)/postern.conf\" \
		-DPOSTERN_SPOOL_DEFAULT=\"$(SPOOLDIR)\" \
		-DPOSTERN_ALIASES_DEFAULT=\"$(ALIASES)\" \
		$(DB_CFLAGS) $(SSL_CFLAGS) $(UB_CFLAGS)
ALL_CFLAGS=	$(PROJECT_CFLAGS) $(CFLAGS)
LIBS=		$(DB_LIBS) $(UB_LIBS) $(SSL_LIBS)

BASE_OBJS=	mta/log.o mta/util.o mta/compat.o mta/config.o \
		mta/config_hostname.o
QUEUE_OBJS=	queue/qdb.o queue/qdb_env.o queue/queue.o queue/qread.o \
		queue/qadmin.o queue/qrecord.o \
		queue/qid.o queue/retry.o queue/qfail.o queue/qsts.o
POLICY_OBJS=	policy/dns.o policy/dns_conf.o policy/dns_option.o policy/dns_anchor.o policy/mx.o \
		policy/relay.o policy/tls_policy.o \
		policy/tls_table.o policy/dane.o policy/mta_sts.o \
		policy/sts_fetch.o policy/tls_decide.o policy/tls_lookup.o \
		policy/throttle.o \
		policy/dtable.o policy/dlimit.o
# The server's input parsers (smtp_parse.h), unit-tested and fuzzed alone.
SMTP_PARSE_OBJS=	mta/smtp_parse.o mta/smtp_path.o mta/smtp_param.o \
		mta/smtp_xtext.o
SMTP_PARSE_SRCS=	mta/smtp_parse.c mta/smtp_path.c mta/smtp_param.c \
		mta/smtp_xtext.c
# The outbound SMTP client (smtp_client.h, smtpc_session.h).
SMTP_CLIENT_CORE=	mta/smtp_client.o mta/smtpc_io.o mta/smtpc_tls.o \
		mta/smtpc_auth.o mta/smtpc_tx.o
# aliases(5): the parser, the expansion and the Berkeley DB map.
ALIASES_OBJS=	mta/aliases.o mta/aliases_expand.o mta/aliases_db.o
ALIASES_SRCS=	mta/aliases.c mta/aliases_expand.c mta/aliases_db.c
MTA_OBJS=	mta/master.o mta/master_children.o mta/master_listen.o \
		mta/master_session.o mta/master_recover.o \
		mta/check.o mta/config_reload.o mta/reload.o \
		mta/privsep.o mta/smtp_server.o $(SMTP_PARSE_OBJS) \
		mta/smtpd_reply.o mta/smtpd_envelope.o mta/smtpd_data.o \
		mta/smtpd_tls.o \
		mta/smtp_data.o $(SMTP_CLIENT_CORE) mta/deliver.o mta/deliver_job.o \
		mta/deliver_route.o mta/deliver_smtp.o mta/deliver_down.o \
		mta/deliver_auth.o mta/deliver_record.o mta/settle.o mta/runner.o \
		mta/runner_inflight.o mta/runner_dest.o mta/runner_worker.o \
		mta/runner_pass.o mta/runner_tables.o \
		mta/bounce.o mta/tls.o mta/netio.o mta/netio_https.o mta/control.o \
		mta/fdpass.o \
		mta/smtp_reply.o mta/policy_cmd.o $(ALIASES_OBJS) mta/smtp_wire.o \
		mta/local_server.o mta/local_request.o mta/local_alias.o \
		mta/local_target.o mta/local_io.o mta/local_worker.o mta/mbox.o \
		mta/maildrop.o mta/maildrop_parse.o mta/maildrop_pickup.o \
		mta/sendmail_args.o mta/sendmail.o \
		mta/crashpoint.o mta/smtp_auth.o mta/hopcount.o \
		mta/rcpt_local.o mta/mbox_open.o mta/maildrop_tmp.o \
		mta/local_include.o mta/local_child.o \
		mta/qwatch.o
OBJS=		$(BASE_OBJS) $(QUEUE_OBJS) $(POLICY_OBJS) $(MTA_OBJS)
HDRS=		include/*.h queue/qdb.h

UNIT_TESTS=	tests/unit/test_util tests/unit/test_config \
		tests/unit/test_qrecord tests/unit/test_queue \
		tests/unit/test_smtp_parse tests/unit/test_smtp_data \
		tests/unit/test_relay tests/unit/test_mx \
		tests/unit/test_tls_policy tests/unit/test_bounce \
		tests/unit/test_smtp_reply tests/unit/test_netio \
		tests/unit/test_smtp_wire \
		tests/unit/test_smtp_client tests/unit/test_aliases \
		tests/unit/test_sendmail_args tests/unit/test_tls_table \
		tests/unit/test_mta_sts tests/unit/test_dane \
		tests/unit/test_tls_decide tests/unit/test_tls_lookup \
		tests/unit/test_netio_https tests/unit/test_throttle \
		tests/unit/test_throttle_window \
		tests/unit/test_dtable tests/unit/test_smtp_auth \
		tests/unit/test_hopcount tests/unit/test_dlimit \
		tests/unit/test_dns_anchor tests/unit/test_privsep \
		tests/unit/test_dns_option tests/unit/test_rcpt_local \
		tests/unit/test_mbox_open tests/unit/test_maildrop_tmp \
		tests/unit/test_local_include tests/unit/test_local_child \
		tests/unit/test_qwatch tests/unit/test_config_reload \
		tests/unit/test_settle

.SUFFIXES: .c .o
.c.o:
	$(CC) $(ALL_CFLAGS) -c $< -o $@

all: postern

postern: mta/main.o $(OBJS)
	$(CC) $(LDFLAGS) -o $@ mta/main.o $(OBJS) $(LIBS)

mta/main.o $(OBJS): $(HDRS)

# The paths compiled in are those install uses: "make install
# SYSCONFDIR=/etc/postern" rebuilds what names them, so the installed
# sendmail, mailq and newaliases look where postern.conf was put.
mta/main.o mta/config.o mta/sendmail.o: .build-paths
.build-paths: FORCE
	@echo "$(SYSCONFDIR) $(SPOOLDIR) $(ALIASES)" > .build-paths.new; \
	if cmp -s .build-paths.new .build-paths; then rm -f .build-paths.new; \
	else mv .build-paths.new .build-paths; fi
FORCE:

# Unit tests: cmocka, one binary per module, linked against its objects.
unit: $(UNIT_TESTS)

tests/unit/test_util: tests/unit/test_util.c $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_util.c $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_config: tests/unit/test_config.c $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_config.c $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_qrecord: tests/unit/test_qrecord.c $(BASE_OBJS) $(QUEUE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_qrecord.c $(QUEUE_OBJS) $(BASE_OBJS) $(DB_LIBS) $(CMOCKA_LIBS)
tests/unit/test_queue: tests/unit/test_queue.c $(BASE_OBJS) $(QUEUE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_queue.c $(QUEUE_OBJS) $(BASE_OBJS) $(DB_LIBS) $(CMOCKA_LIBS)
tests/unit/test_smtp_parse: tests/unit/test_smtp_parse.c $(SMTP_PARSE_OBJS) $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_smtp_parse.c $(SMTP_PARSE_OBJS) $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_smtp_data: tests/unit/test_smtp_data.c mta/smtp_data.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_smtp_data.c mta/smtp_data.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_relay: tests/unit/test_relay.c policy/relay.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_relay.c policy/relay.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_mx: tests/unit/test_mx.c policy/mx.o policy/dns.o policy/dns_conf.o policy/dns_option.o policy/dns_anchor.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_mx.c policy/mx.o policy/dns.o policy/dns_conf.o policy/dns_option.o policy/dns_anchor.o $(BASE_OBJS) $(UB_LIBS) $(SSL_LIBS) $(CMOCKA_LIBS)
tests/unit/test_dns_option: tests/unit/test_dns_option.c policy/dns.o policy/dns_conf.o policy/dns_option.o policy/dns_anchor.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_dns_option.c policy/dns.o policy/dns_conf.o policy/dns_option.o policy/dns_anchor.o $(BASE_OBJS) $(UB_LIBS) $(SSL_LIBS) $(CMOCKA_LIBS)
# Live DNS checks through postern's own resolver and MX routing.
tests/net/dnsq: tests/net/dnsq.c policy/mx.o policy/dns.o policy/dns_conf.o policy/dns_option.o policy/dns_anchor.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/net/dnsq.c policy/mx.o policy/dns.o policy/dns_conf.o policy/dns_option.o policy/dns_anchor.o $(BASE_OBJS) $(UB_LIBS) $(SSL_LIBS)
tests/unit/test_tls_policy: tests/unit/test_tls_policy.c policy/tls_policy.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_tls_policy.c policy/tls_policy.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_tls_table: tests/unit/test_tls_table.c policy/tls_table.o policy/tls_policy.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_tls_table.c policy/tls_table.o policy/tls_policy.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_mta_sts: tests/unit/test_mta_sts.c policy/mta_sts.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_mta_sts.c policy/mta_sts.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_dane: tests/unit/test_dane.c policy/dane.o policy/dns.o policy/dns_conf.o policy/dns_option.o policy/dns_anchor.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_dane.c policy/dane.o policy/dns.o policy/dns_conf.o policy/dns_option.o policy/dns_anchor.o $(BASE_OBJS) $(UB_LIBS) $(SSL_LIBS) $(CMOCKA_LIBS)
# The pure decision table: no Berkeley DB, libunbound or OpenSSL on the
# link line (tls_decide.h; OpenSSL headers only for protocol constants).
TLS_DECIDE_OBJS=	policy/tls_decide.o policy/tls_table.o policy/tls_policy.o \
		policy/mta_sts.o
tests/unit/test_tls_decide: tests/unit/test_tls_decide.c $(TLS_DECIDE_OBJS) $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_tls_decide.c $(TLS_DECIDE_OBJS) $(BASE_OBJS) $(CMOCKA_LIBS)
TLS_LOOKUP_OBJS=	policy/tls_lookup.o $(TLS_DECIDE_OBJS) policy/dane.o \
		policy/sts_fetch.o policy/dns.o policy/dns_conf.o \
		policy/dns_option.o policy/dns_anchor.o mta/netio.o \
		mta/netio_https.o
tests/unit/test_tls_lookup: tests/unit/test_tls_lookup.c $(TLS_LOOKUP_OBJS) $(QUEUE_OBJS) $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_tls_lookup.c $(TLS_LOOKUP_OBJS) $(QUEUE_OBJS) $(BASE_OBJS) $(LIBS) $(CMOCKA_LIBS)
tests/unit/test_netio_https: tests/unit/test_netio_https.c mta/netio_https.o mta/netio.o mta/tls.o policy/tls_policy.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_netio_https.c mta/netio_https.o mta/netio.o mta/tls.o policy/tls_policy.o $(BASE_OBJS) $(SSL_LIBS) $(CMOCKA_LIBS)
tests/unit/test_settle: tests/unit/test_settle.c mta/settle.o queue/retry.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_settle.c mta/settle.o queue/retry.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_throttle: tests/unit/test_throttle.c policy/throttle.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_throttle.c policy/throttle.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_throttle_window: tests/unit/test_throttle_window.c policy/throttle_window.o
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_throttle_window.c policy/throttle_window.o $(CMOCKA_LIBS)
tests/unit/test_dns_anchor: tests/unit/test_dns_anchor.c policy/dns.o policy/dns_conf.o policy/dns_option.o policy/dns_anchor.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_dns_anchor.c policy/dns.o policy/dns_conf.o policy/dns_option.o policy/dns_anchor.o $(BASE_OBJS) $(UB_LIBS) $(SSL_LIBS) $(CMOCKA_LIBS)

tests/unit/test_privsep: tests/unit/test_privsep.c mta/privsep.o queue/qfail.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_privsep.c mta/privsep.o queue/qfail.o $(BASE_OBJS) $(CMOCKA_LIBS)

tests/unit/test_qwatch: tests/unit/test_qwatch.c mta/qwatch.o $(BASE_OBJS) $(QUEUE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_qwatch.c mta/qwatch.o $(QUEUE_OBJS) $(BASE_OBJS) $(DB_LIBS) $(CMOCKA_LIBS)
tests/unit/test_config_reload: tests/unit/test_config_reload.c mta/config_reload.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_config_reload.c mta/config_reload.o $(BASE_OBJS) $(CMOCKA_LIBS)

tests/unit/test_dlimit: tests/unit/test_dlimit.c policy/dlimit.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_dlimit.c policy/dlimit.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_dtable: tests/unit/test_dtable.c policy/dtable.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_dtable.c policy/dtable.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_smtp_reply: tests/unit/test_smtp_reply.c mta/smtp_reply.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_smtp_reply.c mta/smtp_reply.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_smtp_wire: tests/unit/test_smtp_wire.c mta/smtp_wire.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_smtp_wire.c mta/smtp_wire.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_netio: tests/unit/test_netio.c mta/netio.o mta/tls.o policy/tls_policy.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_netio.c mta/netio.o mta/tls.o policy/tls_policy.o $(BASE_OBJS) $(SSL_LIBS) $(CMOCKA_LIBS)
SMTP_CLIENT_OBJS=	$(SMTP_CLIENT_CORE) mta/smtp_reply.o mta/smtp_wire.o \
		mta/netio.o mta/tls.o mta/smtp_auth.o \
		policy/tls_policy.o policy/dlimit.o
tests/unit/test_smtp_client: tests/unit/test_smtp_client.c $(SMTP_CLIENT_OBJS) $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_smtp_client.c $(SMTP_CLIENT_OBJS) $(BASE_OBJS) $(SSL_LIBS) $(CMOCKA_LIBS)
tests/unit/test_smtp_auth: tests/unit/test_smtp_auth.c mta/smtp_auth.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_smtp_auth.c mta/smtp_auth.o $(BASE_OBJS) $(SSL_LIBS) $(CMOCKA_LIBS)
tests/unit/test_bounce: tests/unit/test_bounce.c mta/bounce.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_bounce.c mta/bounce.o $(QUEUE_OBJS) $(BASE_OBJS) $(DB_LIBS) $(CMOCKA_LIBS)
tests/unit/test_hopcount: tests/unit/test_hopcount.c mta/hopcount.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_hopcount.c mta/hopcount.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_mbox_open: tests/unit/test_mbox_open.c mta/mbox_open.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_mbox_open.c mta/mbox_open.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_maildrop_tmp: tests/unit/test_maildrop_tmp.c mta/maildrop_tmp.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_maildrop_tmp.c mta/maildrop_tmp.o $(BASE_OBJS) $(CMOCKA_LIBS)

tests/unit/test_local_include: tests/unit/test_local_include.c mta/local_include.o mta/privsep.o queue/qfail.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_local_include.c mta/local_include.o mta/privsep.o queue/qfail.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_local_child: tests/unit/test_local_child.c mta/local_child.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_local_child.c mta/local_child.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_aliases: tests/unit/test_aliases.c $(ALIASES_OBJS) $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_aliases.c $(ALIASES_OBJS) $(BASE_OBJS) $(DB_LIBS) $(CMOCKA_LIBS)
tests/unit/test_rcpt_local: tests/unit/test_rcpt_local.c mta/rcpt_local.o $(ALIASES_OBJS) $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_rcpt_local.c mta/rcpt_local.o $(ALIASES_OBJS) $(BASE_OBJS) $(DB_LIBS) $(CMOCKA_LIBS)
tests/unit/test_sendmail_args: tests/unit/test_sendmail_args.c mta/sendmail_args.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_sendmail_args.c mta/sendmail_args.o $(BASE_OBJS) $(CMOCKA_LIBS)

# Fuzzing: libFuzzer targets, built from the sources with clang into
# tests/fuzz/bin/ (never mixed with the objects above).  "make fuzz" runs
# each for FUZZ_SECONDS; "fuzz-short" is the quick run for make check.
FUZZ_CC?=	clang
FUZZ_SECONDS?=	60
FUZZ_SHORT_SECONDS?=	10
FUZZ_FLAGS=	-g -O1 -fno-omit-frame-pointer \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_BASE=	mta/log.c mta/util.c mta/compat.c
FUZZ_BINS=	tests/fuzz/bin/fuzz_smtp_cmd tests/fuzz/bin/fuzz_smtp_data \
		tests/fuzz/bin/fuzz_qrecord tests/fuzz/bin/fuzz_config \
		tests/fuzz/bin/fuzz_mta_sts tests/fuzz/bin/fuzz_aliases \
		tests/fuzz/bin/fuzz_hopcount tests/fuzz/bin/fuzz_dns_option \
		tests/fuzz/bin/fuzz_rcpt_local \
		tests/fuzz/bin/fuzz_sendmail_prepare \
		tests/fuzz/bin/fuzz_qfail

fuzz-build: $(FUZZ_BINS)

tests/fuzz/bin/fuzz_smtp_cmd: tests/fuzz/fuzz_smtp_cmd.c $(SMTP_PARSE_SRCS) $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_smtp_cmd.c $(SMTP_PARSE_SRCS) $(FUZZ_BASE)
tests/fuzz/bin/fuzz_smtp_data: tests/fuzz/fuzz_smtp_data.c mta/smtp_data.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_smtp_data.c mta/smtp_data.c $(FUZZ_BASE)
tests/fuzz/bin/fuzz_qrecord: tests/fuzz/fuzz_qrecord.c queue/qrecord.c queue/qid.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_qrecord.c queue/qrecord.c queue/qid.c $(FUZZ_BASE)
tests/fuzz/bin/fuzz_config: tests/fuzz/fuzz_config.c mta/config.c mta/config_hostname.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_config.c mta/config.c mta/config_hostname.c $(FUZZ_BASE)
tests/fuzz/bin/fuzz_mta_sts: tests/fuzz/fuzz_mta_sts.c policy/mta_sts.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_mta_sts.c policy/mta_sts.c $(FUZZ_BASE)
tests/fuzz/bin/fuzz_aliases: tests/fuzz/fuzz_aliases.c $(ALIASES_SRCS) $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_aliases.c $(ALIASES_SRCS) $(FUZZ_BASE) $(DB_LIBS)
tests/fuzz/bin/fuzz_hopcount: tests/fuzz/fuzz_hopcount.c mta/hopcount.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_hopcount.c mta/hopcount.c $(FUZZ_BASE)
tests/fuzz/bin/fuzz_dns_option: tests/fuzz/fuzz_dns_option.c policy/dns_option.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_dns_option.c policy/dns_option.c $(FUZZ_BASE)
tests/fuzz/bin/fuzz_rcpt_local: tests/fuzz/fuzz_rcpt_local.c mta/rcpt_local.c $(ALIASES_SRCS) mta/config.c mta/config_hostname.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_rcpt_local.c mta/rcpt_local.c $(ALIASES_SRCS) mta/config.c mta/config_hostname.c $(FUZZ_BASE) $(DB_LIBS)
tests/fuzz/bin/fuzz_sendmail_prepare: tests/fuzz/fuzz_sendmail_prepare.c mta/sendmail_args.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_sendmail_prepare.c mta/sendmail_args.c $(FUZZ_BASE)

tests/fuzz/bin/fuzz_qfail: tests/fuzz/fuzz_qfail.c queue/qfail.c $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_qfail.c queue/qfail.c

fuzz: $(FUZZ_BINS)
	sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

fuzz-short: $(FUZZ_BINS)
	sh tests/fuzz/run.sh $(FUZZ_SHORT_SECONDS) $(FUZZ_BINS)

deps:
	@sh tests/deps.sh test

run: deps-build all
	./postern -D

check: deps all unit tests/net/dnsq
	sh tests/run_unit.sh $(UNIT_TESTS)
	POSTERN_BIN=$$(pwd)/postern $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration
	$(MAKE) fuzz-short
	$(MAKE) check-sanitize

# The same suites built with AddressSanitizer and UBSan by SAN_CC
# (-fno-sanitize-recover: the first UB report ends the process), in a copy
# of the tree so that the normal objects stay as they are.  clang, because
# its UBSan shares ASan's runtime and so honours log_path; GCC's separate
# libubsan writes to stderr whatever the options say.  Unit tests run
# with leak detection on.  For the integration tests, conftest.py and
# tests/integration/sanitizer.py give every process a test starts (the
# daemon and all its children, postern queue/flush/policy/-n, sendmail,
# newaliases, mailq) ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS with
# detect_leaks=1 and log_path in a per-test directory (mode 1777, for the
# children that run as another user), and fail the test when a report
# file appears there or the daemon's stderr carries a report; with
# POSTERN_SANITIZED set they also refuse a binary without ASan.
# LeakSanitizer runs at exit(): the commands, the master and the runner;
# the daemon's forked children end with _exit() or by a signal and are
# checked for memory errors and UB only.
# sanitizer-harness shows that this catches faults: it runs
# tests/integration/fault_scenarios.py against the sanitized postern
# (all pass) and against tests/sanitizer/postern-faulty (the same objects
# with tests/sanitizer/fault.c linked in through --wrap; never built by
# "all" or installed), where each scenario must fail with its report.
SAN_CC?=	clang
SAN_CFLAGS=	-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=undefined
SAN_LDFLAGS=	-fsanitize=address,undefined
SAN_ENV=	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FAULT_WRAP=	-Wl,--wrap=smtp_helo_parse -Wl,--wrap=mx_route_build \
		-Wl,--wrap=aliases_expand

tests/sanitizer/fault.o: tests/sanitizer/fault.c $(HDRS)
	$(CC) $(ALL_CFLAGS) -DPOSTERN_FAULT_INJECT -c tests/sanitizer/fault.c -o $@
tests/sanitizer/postern-faulty: mta/main.o $(OBJS) tests/sanitizer/fault.o
	$(CC) $(LDFLAGS) $(FAULT_WRAP) -o $@ mta/main.o $(OBJS) tests/sanitizer/fault.o $(LIBS)

sanitize-build:
	rm -rf .sanitize
	mkdir .sanitize
	cp -R Makefile include mta queue policy tests rc.d man docs .sanitize/
	cd .sanitize && $(MAKE) clean >/dev/null && \
	    $(MAKE) CC="$(SAN_CC)" CFLAGS="$(SAN_CFLAGS)" \
	    LDFLAGS="$(SAN_LDFLAGS)" all unit tests/net/dnsq \
	    tests/sanitizer/postern-faulty

check-sanitize: sanitize-build
	cd .sanitize && \
	    $(SAN_ENV) sh tests/run_unit.sh $(UNIT_TESTS) && \
	    POSTERN_BIN=$$(pwd)/postern POSTERN_SANITIZED=1 \
	    $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration && \
	    $(MAKE) sanitizer-harness

check-sanitizer-harness: sanitize-build
	cd .sanitize && $(MAKE) sanitizer-harness

# Run inside .sanitize, after sanitize-build.
sanitizer-harness:
	POSTERN_BIN=$$(pwd)/postern POSTERN_SANITIZED=1 \
	POSTERN_FAULTY_BIN=$$(pwd)/tests/sanitizer/postern-faulty \
	    $(PYTHON) -m pytest -q -p no:cacheprovider tests/sanitizer

# A long bounded run through relay to smtp-sink, not part of check:
# throughput, RSS and descriptors of the master and the runner, log files.
SOAK_MESSAGES?=	100000
SOAK_TIME?=	1800
soak: bench-deps all
	$(PYTHON) tests/soak/soak.py --postern ./postern \
	    --messages $(SOAK_MESSAGES) --time-limit $(SOAK_TIME)

# Integration scenarios with every daemon process under valgrind memcheck.
VALGRIND_TESTS?=	tests/integration/test_core_delivery.py
valgrind-check: deps all
	sh tests/valgrind_check.sh $(PYTHON) $$(pwd)/postern $(VALGRIND_TESTS)

bench: bench-deps all
	$(PYTHON) tests/bench/bench.py --postern ./postern

# sendmail(8) submits through the maildrop as this group (setgid).
MAILDROP_GROUP?=	posterndrop

install: all
	mkdir -p $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)
	install -m 0755 postern $(DESTDIR)$(SBINDIR)/postern
	@sh tests/install_setgid.sh $(MAILDROP_GROUP) $(DESTDIR)$(SBINDIR)/postern $(SBINDIR)/postern
	ln -sf postern $(DESTDIR)$(SBINDIR)/postern-sendmail
	install -m 0644 man/postern.8 $(DESTDIR)$(MANDIR)/man8/postern.8
	install -m 0644 man/postern.conf.5 $(DESTDIR)$(MANDIR)/man5/postern.conf.5
	if [ ! -f $(DESTDIR)$(SYSCONFDIR)/postern.conf ]; then install -m 0644 docs/postern.conf.sample $(DESTDIR)$(SYSCONFDIR)/postern.conf; fi
	mkdir -p $(DESTDIR)$(SPOOLDIR) $(DESTDIR)$(DBDIR)
	if [ "$$(uname -s)" = FreeBSD ]; then mkdir -p $(DESTDIR)$(PREFIX)/etc/rc.d && install -m 0555 rc.d/postern $(DESTDIR)$(PREFIX)/etc/rc.d/postern; fi

clean:
	rm -f postern mta/*.o queue/*.o policy/*.o tests/unit/*.o $(UNIT_TESTS) tests/net/dnsq
	rm -f tests/sanitizer/*.o tests/sanitizer/postern-faulty
	rm -rf run .sanitize tests/integration/__pycache__ tests/fuzz/bin
	rm -f .build-paths .build-paths.new

deps-build:
	@sh tests/deps.sh build

bench-deps:
	@sh tests/deps.sh bench

.PHONY: FORCE deps-build bench-deps all unit deps run check check-sanitize \
	sanitize-build check-sanitizer-harness sanitizer-harness soak \
	valgrind-check bench install clean fuzz fuzz-short fuzz-build
