"""A DNS lookup that fails never lowers the TLS level (RFC 7672 §2.1.1,
§2.2; RFC 8461 §5.1): judged at the receiving peer.

The destination domains live in a signed zone of their own,
dnsfail.example, served by a separate nsd behind a proxy
(tests/net/dnsfilter.py) to which the parent's NS glue points.  The
proxy forwards every query byte for byte, so the zone validates as
secure, except the (name, type) a test tells it to drop (no answer: the
resolver times out) or to answer with SERVFAIL.  The resolver's DNSSEC
validation is the production one; only the number of times it asks a
silent server again is lowered (outbound-msg-retry) so that a dropped
query costs about a second and a half instead of thirteen.

Each scenario checks at the peer (tlsnet.TlsPeer records the TLS state
of every MAIL command) that nothing arrived in clear, and at the proxy
that the failure really happened.
"""

import os
import re
import sys

import pytest

from harness import make_message, qid_from_reply
from tlsnet import PolicyServer, TestCA, TlsPeer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "net"))
import dnsfilter  # noqa: E402

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/sbin/nsd") and not os.path.exists("/usr/bin/nsd"),
    reason="nsd is needed for the signed test DNS")

ZONE = "dnsfail.example"
DELIVER_TIMEOUT = 30
# A dropped query: unbound asks the silent server again this many times,
# doubling its time-out each time (default 5: ~13 s).  Capping the
# time-out instead (infra-cache-max-rtt) would mark the server down for
# every type, and the secure A answer would fail too.
RESOLVER_OPTIONS = ["outbound-msg-retry: 2"]


@pytest.fixture(scope="module")
def failnet(dns):
    """The proxy in front of the separate nsd that serves ZONE."""
    if dns is None:
        pytest.skip("no signed test DNS")
    base = dns.addr.rsplit(".", 1)[0]
    proxy, backend = base + ".53", base + ".54"
    f = dnsfilter.DnsFilter(proxy, backend).start()
    try:
        dns.add_zone(ZONE, server=backend, glue=proxy)
        yield f
    finally:
        f.stop()


class Dest:
    """One destination domain under ZONE with one MX host, mx0."""

    def __init__(self, env, failnet):
        self.env = env
        self.filter = failnet
        failnet.clear()
        env.on_stop(failnet.clear)
        self.pki = TestCA(str(env.dir("pki")))
        self.domain = "d0.b%d.%s" % (env.block.k, ZONE)
        self.mx = "mx0." + self.domain
        self.tlsa_name = "_25._tcp." + self.mx
        self.peer = None

    def start_peer(self, kind):
        """kind: good, hide (STARTTLS works but is not offered),
        nostarttls, wrongname (a trusted certificate for another name)."""
        tls, mode = None, "ok"
        if kind in ("good", "hide"):
            cert, key, chain = self.pki.issue(self.mx)
            tls, mode = (chain, key), "hide" if kind == "hide" else "ok"
        elif kind == "wrongname":
            cert, key, chain = self.pki.issue("wrong." + self.domain)
            tls = (chain, key)
        elif kind != "nostarttls":
            raise ValueError(kind)
        m = TlsPeer(self.env.block.mx(0), tls=tls, tls_mode=mode)
        m.start()
        self.env.on_stop(m.stop)
        # aiosmtpd's controller connects once to itself when starting.
        m.base_connections = m.connections
        self.peer = m
        return m

    def publish(self, tlsa=True):
        """MX, A and (tlsa) a DANE-EE TLSA record of mx0's good key."""
        rrs = ["%s. 300 IN MX 10 %s." % (self.domain, self.mx),
               "%s. 300 IN A %s" % (self.mx, self.env.block.mx(0))]
        if tlsa:
            cert = self.pki.issue(self.mx)[0]
            rrs.append("%s. 300 IN TLSA 3 1 1 %s" % (
                self.tlsa_name, self.pki.spki_sha256(cert)))
        self.env.dns.add_records(rrs)

    def sts(self, mx_pattern):
        addr = "%s.50" % self.env.block.net
        body = ("version: STSv1\r\nmode: enforce\r\nmx: %s\r\n"
                "max_age: 86400\r\n" % mx_pattern)
        srv = PolicyServer(addr, self.pki, self.domain, body).start()
        self.env.on_stop(srv.stop)
        self.env.dns.add_records([
            '_mta-sts.%s. 300 IN TXT "v=STSv1; id=1"' % self.domain,
            "mta-sts.%s. 300 IN A %s" % (self.domain, addr)])
        return srv

    def postern(self):
        return self.env.postern({
            "smtp_tls_ca_file": self.pki.ca_cert,
            "sts_ca_file": self.pki.ca_cert, "sts_timeout": 5,
            # Attempts after the first only by "postern flush".
            "retry_min": 300, "retry_max": 600,
            "resolver_option": RESOLVER_OPTIONS})

    def fail(self, name, rrtype, action):
        self.filter.rule(name, rrtype, action)


def send(p, rcpt):
    code, text = p.send("s@client.test", [rcpt], make_message("dns failure"))
    assert code == 250, text
    return qid_from_reply(text)


def nothing_in_clear(peer):
    assert peer.clear_mail_cmds() == [], "MAIL FROM sent in clear"


def deferred(p, qid, rcpt, reason, peer, since=0):
    """Deferred with reason, also in "postern queue"; the peer got
    nothing and saw no MAIL in clear."""
    m = p.wait_log(r"%s: to=<%s> .*status=(\w+)" % (qid, re.escape(rcpt)),
                   timeout=DELIVER_TIMEOUT, since=since)[0]
    line = m.string
    assert m.group(1) == "deferred", line
    assert re.search(reason, line), line
    mine = [m for m in p.queue() if m["qid"] == qid]
    assert len(mine) == 1 and re.search(reason, mine[0]["text"]), mine
    assert peer.count() == 0, peer.messages
    nothing_in_clear(peer)
    return line


def delivered(p, qid, rcpt, auth, peer, n=1, since=0):
    """The n-th message arrived over TLS at the peer; postern says auth."""
    msgs = peer.wait_for(n, DELIVER_TIMEOUT)
    assert len(msgs) == n, p.diagnostics()
    assert rcpt in msgs[-1].rcpt_tos, msgs
    assert msgs[-1].tls is not None, "delivered in clear"
    nothing_in_clear(peer)
    line = p.wait_log(r"%s: to=<%s> .*status=sent" % (qid, re.escape(rcpt)),
                      timeout=DELIVER_TIMEOUT, since=since)[0].string
    assert re.search(r"tls=TLSv1\.[23]/\S+ auth=%s " % auth, line), line
    return line


# -- address lookups (RFC 7672 §2.1.1) ------------------------------------

@pytest.mark.parametrize("action", ["drop", "servfail"])
def test_aaaa_failure_keeps_dane(env, failnet, action):
    """The AAAA lookup of a DANE MX host fails, its A and TLSA answers are
    secure: DANE still applies.  A peer that hides STARTTLS gets nothing;
    once it offers STARTTLS (AAAA still failing) the mail arrives over
    TLS, authenticated by DANE."""
    d = Dest(env, failnet)
    m = d.start_peer("hide")
    d.publish()
    d.fail(d.mx, "AAAA", action)
    p = d.postern()
    rcpt = "aaaa-%s@%s" % (action, d.domain)
    qid = send(p, rcpt)
    deferred(p, qid, rcpt, r"does not offer STARTTLS", m)
    failed = failnet.failures(d.mx, "AAAA")
    assert failed > 0, "the AAAA query never reached the proxy"
    assert failnet.seen(d.mx, "A") > 0
    m.tls_mode = "ok"
    mark = p.mark()
    p.flush()
    delivered(p, qid, rcpt, "dane", m, since=mark)
    assert failnet.failures(d.mx, "AAAA") > failed


# -- TLSA lookup (RFC 7672 §2.2) ------------------------------------------

@pytest.mark.parametrize("kind,action", [("nostarttls", "drop"),
                                         ("wrongname", "drop"),
                                         ("wrongname", "servfail")])
def test_tlsa_failure_defers(env, failnet, kind, action):
    """Secure MX and A, the TLSA lookup fails: the host cannot be used
    securely, so the mail is deferred, never sent at may (in clear, or
    over TLS to a certificate that the TLSA record would refuse)."""
    d = Dest(env, failnet)
    m = d.start_peer(kind)
    d.publish()
    d.fail(d.tlsa_name, "TLSA", action)
    p = d.postern()
    rcpt = "tlsa-%s-%s@%s" % (kind, action, d.domain)
    deferred(p, send(p, rcpt), rcpt, r"TLSA lookup of %s failed"
             % re.escape(d.tlsa_name), m)
    assert failnet.failures(d.tlsa_name, "TLSA") > 0
    assert m.connections == m.base_connections, "postern connected"


# -- MTA-STS TXT lookup (RFC 8461 §5.1) -----------------------------------

@pytest.mark.parametrize("later,reason", [
    ("hide", r"does not offer STARTTLS"),
    ("wrongname", r"not verified"),
])
def test_sts_txt_failure_keeps_cached_policy(env, failnet, later, reason):
    """An enforce policy is cached by a first delivery; then the
    _mta-sts TXT lookup is dropped and the MX turns into a peer that
    hides STARTTLS or shows a certificate for another name: the cached
    policy stays in force, nothing arrives."""
    d = Dest(env, failnet)
    m = d.start_peer("good")
    d.publish(tlsa=False)
    srv = d.sts(d.mx)
    p = d.postern()
    rcpt = "sts1@" + d.domain
    delivered(p, send(p, rcpt), rcpt, "mta-sts", m)
    assert len(srv.requests) == 1
    m.stop()
    bad = d.start_peer(later)
    d.fail("_mta-sts." + d.domain, "TXT", "drop")
    rcpt = "sts2-%s@%s" % (later, d.domain)
    deferred(p, send(p, rcpt), rcpt, reason, bad)
    assert failnet.failures("_mta-sts." + d.domain, "TXT") > 0
    assert len(srv.requests) == 1


def test_sts_txt_failure_without_cache_asks_policy_host(env, failnet):
    """No cached policy and the _mta-sts TXT lookup dropped: postern asks
    the policy host itself, and its enforce policy applies (a peer that
    shows a certificate for another name gets nothing)."""
    d = Dest(env, failnet)
    bad = d.start_peer("wrongname")
    d.publish(tlsa=False)
    srv = d.sts(d.mx)
    d.fail("_mta-sts." + d.domain, "TXT", "drop")
    p = d.postern()
    rcpt = "sts3@" + d.domain
    deferred(p, send(p, rcpt), rcpt, r"not verified", bad)
    assert failnet.failures("_mta-sts." + d.domain, "TXT") > 0
    assert len(srv.requests) >= 1
