# postern — one Makefile for GNU make and BSD make (POSIX rules plus !=).
# Honours CC, CFLAGS, LDFLAGS, PREFIX, DESTDIR.  Required flags live in
# PROJECT_CFLAGS so that a command-line CFLAGS (sanitizers) adds to them.

PREFIX?=	/usr/local
SBINDIR?=	$(PREFIX)/sbin
MANDIR?=	$(PREFIX)/share/man
SYSCONFDIR?=	$(PREFIX)/etc/postern
SPOOLDIR?=	/var/spool/postern
DBDIR?=		/var/db/postern
CC?=		cc
CFLAGS?=	-O2 -g
PYTHON?=	/usr/bin/python3

SSL_CFLAGS!=	pkg-config --cflags openssl 2>/dev/null || true
SSL_LIBS!=	pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto
# Debian 12's libunbound.pc fails --cflags (missing libevent.pc): fall back.
UB_CFLAGS!=	pkg-config --cflags libunbound 2>/dev/null || true
UB_LIBS!=	pkg-config --libs libunbound 2>/dev/null || echo -lunbound
# Berkeley DB 5 has no .pc; FreeBSD's base <db.h> is 1.85, so db5 first.
DB_CFLAGS!=	if [ -d /usr/local/include/db5 ]; then echo -I/usr/local/include/db5; fi
DB_LIBS!=	if [ -d /usr/local/lib/db5 ]; then echo -L/usr/local/lib/db5 -ldb-5.3; else echo -ldb; fi
CMOCKA_CFLAGS!=	pkg-config --cflags cmocka 2>/dev/null || true
CMOCKA_LIBS!=	pkg-config --libs cmocka 2>/dev/null || echo -lcmocka

PROJECT_CFLAGS=	-std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Iinclude \
		-DPOSTERN_CONF_DEFAULT=\"$(SYSCONFDIR)/postern.conf\" \
		-DPOSTERN_SPOOL_DEFAULT=\"$(SPOOLDIR)\" \
		$(DB_CFLAGS) $(SSL_CFLAGS) $(UB_CFLAGS)
ALL_CFLAGS=	$(PROJECT_CFLAGS) $(CFLAGS)
LIBS=		$(DB_LIBS) $(UB_LIBS) $(SSL_LIBS)

BASE_OBJS=	mta/log.o mta/util.o mta/compat.o mta/config.o
QUEUE_OBJS=	queue/queue.o queue/qread.o queue/qadmin.o queue/qrecord.o \
		queue/qid.o queue/retry.o queue/qfail.o
POLICY_OBJS=	policy/dns.o policy/mx.o policy/relay.o policy/tls_policy.o \
		policy/tls_table.o policy/dane.o policy/mta_sts.o \
		policy/sts_fetch.o policy/tls_decide.o policy/throttle.o \
		policy/dtable.o policy/dlimit.o
MTA_OBJS=	mta/master.o mta/privsep.o mta/smtp_server.o mta/smtp_parse.o \
		mta/smtp_data.o mta/smtp_client.o mta/deliver.o mta/runner.o \
		mta/bounce.o mta/tls.o mta/netio.o mta/control.o mta/fdpass.o \
		mta/smtp_reply.o mta/policy_cmd.o mta/aliases.o mta/smtp_wire.o \
		mta/local.o mta/maildrop.o mta/sendmail_args.o mta/sendmail.o \
		mta/crashpoint.o mta/smtp_auth.o mta/hopcount.o mta/qwatch.o
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
		tests/unit/test_tls_decide tests/unit/test_throttle \
		tests/unit/test_dtable tests/unit/test_smtp_auth \
		tests/unit/test_hopcount tests/unit/test_dlimit \
		tests/unit/test_qwatch

.SUFFIXES: .c .o
.c.o:
	$(CC) $(ALL_CFLAGS) -c $< -o $@

all: postern

postern: mta/main.o $(OBJS)
	$(CC) $(LDFLAGS) -o $@ mta/main.o $(OBJS) $(LIBS)

mta/main.o $(OBJS): $(HDRS)

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
tests/unit/test_smtp_parse: tests/unit/test_smtp_parse.c mta/smtp_parse.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_smtp_parse.c mta/smtp_parse.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_smtp_data: tests/unit/test_smtp_data.c mta/smtp_data.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_smtp_data.c mta/smtp_data.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_relay: tests/unit/test_relay.c policy/relay.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_relay.c policy/relay.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_mx: tests/unit/test_mx.c policy/mx.o policy/dns.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_mx.c policy/mx.o policy/dns.o $(BASE_OBJS) $(UB_LIBS) $(SSL_LIBS) $(CMOCKA_LIBS)
# Live DNS checks through postern's own resolver and MX routing.
tests/net/dnsq: tests/net/dnsq.c policy/mx.o policy/dns.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ tests/net/dnsq.c policy/mx.o policy/dns.o $(BASE_OBJS) $(UB_LIBS) $(SSL_LIBS)
tests/unit/test_tls_policy: tests/unit/test_tls_policy.c policy/tls_policy.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_tls_policy.c policy/tls_policy.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_tls_table: tests/unit/test_tls_table.c policy/tls_table.o policy/tls_policy.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_tls_table.c policy/tls_table.o policy/tls_policy.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_mta_sts: tests/unit/test_mta_sts.c policy/mta_sts.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_mta_sts.c policy/mta_sts.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_dane: tests/unit/test_dane.c policy/dane.o policy/dns.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_dane.c policy/dane.o policy/dns.o $(BASE_OBJS) $(UB_LIBS) $(SSL_LIBS) $(CMOCKA_LIBS)
TLS_DECIDE_OBJS=	policy/tls_decide.o policy/tls_table.o policy/tls_policy.o \
		policy/dane.o policy/mta_sts.o policy/sts_fetch.o policy/dns.o
tests/unit/test_tls_decide: tests/unit/test_tls_decide.c $(TLS_DECIDE_OBJS) $(QUEUE_OBJS) $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_tls_decide.c $(TLS_DECIDE_OBJS) $(QUEUE_OBJS) $(BASE_OBJS) $(LIBS) $(CMOCKA_LIBS)
tests/unit/test_throttle: tests/unit/test_throttle.c policy/throttle.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_throttle.c policy/throttle.o $(BASE_OBJS) $(CMOCKA_LIBS)
tests/unit/test_qwatch: tests/unit/test_qwatch.c mta/qwatch.o $(BASE_OBJS) $(QUEUE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_qwatch.c mta/qwatch.o $(QUEUE_OBJS) $(BASE_OBJS) $(DB_LIBS) $(CMOCKA_LIBS)
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
SMTP_CLIENT_OBJS=	mta/smtp_client.o mta/smtp_reply.o mta/smtp_wire.o \
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

tests/unit/test_aliases: tests/unit/test_aliases.c mta/aliases.o $(BASE_OBJS)
	$(CC) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) $(LDFLAGS) -o $@ tests/unit/test_aliases.c mta/aliases.o $(BASE_OBJS) $(DB_LIBS) $(CMOCKA_LIBS)
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
		tests/fuzz/bin/fuzz_hopcount tests/fuzz/bin/fuzz_qfail

fuzz-build: $(FUZZ_BINS)

tests/fuzz/bin/fuzz_smtp_cmd: tests/fuzz/fuzz_smtp_cmd.c mta/smtp_parse.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_smtp_cmd.c mta/smtp_parse.c $(FUZZ_BASE)
tests/fuzz/bin/fuzz_smtp_data: tests/fuzz/fuzz_smtp_data.c mta/smtp_data.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_smtp_data.c mta/smtp_data.c $(FUZZ_BASE)
tests/fuzz/bin/fuzz_qrecord: tests/fuzz/fuzz_qrecord.c queue/qrecord.c queue/qid.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_qrecord.c queue/qrecord.c queue/qid.c $(FUZZ_BASE)
tests/fuzz/bin/fuzz_config: tests/fuzz/fuzz_config.c mta/config.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_config.c mta/config.c $(FUZZ_BASE)
tests/fuzz/bin/fuzz_mta_sts: tests/fuzz/fuzz_mta_sts.c policy/mta_sts.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_mta_sts.c policy/mta_sts.c $(FUZZ_BASE)
tests/fuzz/bin/fuzz_aliases: tests/fuzz/fuzz_aliases.c mta/aliases.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_aliases.c mta/aliases.c $(FUZZ_BASE) $(DB_LIBS)
tests/fuzz/bin/fuzz_hopcount: tests/fuzz/fuzz_hopcount.c mta/hopcount.c $(FUZZ_BASE) $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_hopcount.c mta/hopcount.c $(FUZZ_BASE)

tests/fuzz/bin/fuzz_qfail: tests/fuzz/fuzz_qfail.c queue/qfail.c $(HDRS)
	mkdir -p tests/fuzz/bin
	$(FUZZ_CC) $(PROJECT_CFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_qfail.c queue/qfail.c

fuzz: $(FUZZ_BINS)
	sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

fuzz-short: $(FUZZ_BINS)
	sh tests/fuzz/run.sh $(FUZZ_SHORT_SECONDS) $(FUZZ_BINS)

deps:
	@sh tests/deps.sh

run: deps all
	./postern -D

check: deps all unit tests/net/dnsq
	sh tests/run_unit.sh $(UNIT_TESTS)
	POSTERN_BIN=$$(pwd)/postern $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration
	$(MAKE) fuzz-short
	$(MAKE) check-sanitize

# The same suites built with AddressSanitizer and UBSan, in a copy of the
# tree so that the normal objects stay as they are.  The harness fails a
# test when the daemon's stderr carries a sanitizer report.
SAN_CFLAGS=	-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=undefined
SAN_LDFLAGS=	-fsanitize=address,undefined
SAN_ENV=	ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

check-sanitize:
	rm -rf .sanitize
	mkdir .sanitize
	cp -R Makefile include mta queue policy tests rc.d man docs .sanitize/
	cd .sanitize && $(MAKE) clean >/dev/null && \
	    $(MAKE) CFLAGS="$(SAN_CFLAGS)" LDFLAGS="$(SAN_LDFLAGS)" all unit tests/net/dnsq && \
	    $(SAN_ENV) sh tests/run_unit.sh $(UNIT_TESTS) && \
	    POSTERN_BIN=$$(pwd)/postern POSTERN_SANITIZED=1 $(SAN_ENV) \
	    $(PYTHON) -m pytest -q -p no:cacheprovider tests/integration

# A long bounded run through relay to smtp-sink, not part of check:
# throughput, RSS and descriptors of the master and the runner, log files.
SOAK_MESSAGES?=	100000
SOAK_TIME?=	1800
soak: deps all
	$(PYTHON) tests/soak/soak.py --postern ./postern \
	    --messages $(SOAK_MESSAGES) --time-limit $(SOAK_TIME)

# Integration scenarios with every daemon process under valgrind memcheck.
VALGRIND_TESTS?=	tests/integration/test_core_delivery.py
valgrind-check: deps all
	sh tests/valgrind_check.sh $(PYTHON) $$(pwd)/postern $(VALGRIND_TESTS)

bench: deps all
	$(PYTHON) tests/bench/bench.py --postern ./postern

install: all
	mkdir -p $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)
	install -m 0755 postern $(DESTDIR)$(SBINDIR)/postern
	ln -sf postern $(DESTDIR)$(SBINDIR)/postern-sendmail
	install -m 0644 man/postern.8 $(DESTDIR)$(MANDIR)/man8/postern.8
	install -m 0644 man/postern.conf.5 $(DESTDIR)$(MANDIR)/man5/postern.conf.5
	if [ ! -f $(DESTDIR)$(SYSCONFDIR)/postern.conf ]; then install -m 0644 docs/postern.conf.sample $(DESTDIR)$(SYSCONFDIR)/postern.conf; fi
	mkdir -p $(DESTDIR)$(SPOOLDIR) $(DESTDIR)$(DBDIR) $(DESTDIR)$(PREFIX)/etc/rc.d
	install -m 0555 rc.d/postern $(DESTDIR)$(PREFIX)/etc/rc.d/postern

clean:
	rm -f postern mta/*.o queue/*.o policy/*.o tests/unit/*.o $(UNIT_TESTS) tests/net/dnsq
	rm -rf run .sanitize tests/integration/__pycache__ tests/fuzz/bin

.PHONY: all unit deps run check check-sanitize soak valgrind-check bench install clean fuzz fuzz-short fuzz-build
