"""The enforced TLS policy: levels none, may, encrypt, verify, dane and
mta-sts, decided per MX host in the order local table -> DANE (secure
TLSA) -> MTA-STS enforce -> may (docs/tls-policy.md).

Inputs are declared per scenario: zone data in the signed test DNS
(dnsnet.py), an MTA-STS policy served over HTTPS by a test CA
(tlsnet.PolicyServer), and receiving peers (tlsnet.TlsPeer) that offer a
good certificate, a self-signed one, one for the wrong name, no STARTTLS,
a hidden STARTTLS (stripping) or a failing handshake.  Each scenario
checks what the peer received and over which TLS, what postern logged
(tls=, auth=, status=) and, at the peer, that no MAIL command ever came
in clear where the policy forbids it.
"""

import os
import re
import signal
import socket
import subprocess
import time

import pytest

from harness import make_message, qid_from_reply
from tlsnet import PolicyServer, TestCA, TlsPeer, make_expired_cert

pytestmark = pytest.mark.skipif(
    not os.path.exists("/usr/sbin/nsd") and not os.path.exists("/usr/bin/nsd"),
    reason="nsd is needed for the signed test DNS")

DELIVER_TIMEOUT = 40


class Scenario:
    """One destination domain of a test, with its peers and policy."""

    def __init__(self, env, n=0):
        if env.dns is None:
            pytest.skip("no signed test DNS")
        self.env = env
        self.n = n
        self.pki = TestCA(str(env.dir("pki")))
        self.domain = env.block.domain(n)
        self.peers = []
        self.names = []

    def mx_name(self, i):
        return "mx%d.%s" % (i, self.domain)

    def peer(self, i, kind):
        """kind: good, selfsigned, wrongname, nostarttls, hide, nocipher,
        tls12."""
        name = self.mx_name(i)
        tls, mode = None, "ok"
        if kind in ("good", "hide", "nocipher", "tls12"):
            cert, key, chain = self.pki.issue(name)
            tls = (chain, key)
            mode = kind if kind != "good" else "ok"
        elif kind == "selfsigned":
            tls = self.env.cert(name)
        elif kind == "expired":
            tls = make_expired_cert(str(self.env.dir("certs")), name)
        elif kind == "wrongname":
            cert, key, chain = self.pki.issue("wrong." + self.domain)
            tls = (chain, key)
        elif kind != "nostarttls":
            raise ValueError(kind)
        m = TlsPeer(self.env.block.mx(10 * self.n + i), tls=tls,
                    tls_mode=mode)
        m.start()
        self.env.on_stop(m.stop)
        # aiosmtpd's controller connects once to itself when starting.
        m.base_connections = m.connections
        m.cert = tls[0] if tls else None
        self.peers.append(m)
        self.names.append(name)
        return m

    def publish(self):
        """MX records (preference order of the peers) in the signed zone."""
        self.env.route([m.host for m in self.peers], n=self.n,
                       mx_names=self.names)

    def tlsa(self, i, usage, data):
        self.env.dns.add_records(["_25._tcp.%s. 300 IN TLSA %d 1 1 %s"
                                  % (self.mx_name(i), usage, data)])

    def sts(self, mode, mx_patterns, policy_id="1"):
        addr = "%s.%d" % (self.env.block.net, 50 + self.n)
        body = "version: STSv1\r\nmode: %s\r\n%smax_age: 86400\r\n" % (
            mode, "".join("mx: %s\r\n" % p for p in mx_patterns))
        srv = PolicyServer(addr, self.pki, self.domain, body).start()
        self.env.on_stop(srv.stop)
        self.env.dns.add_records([
            '_mta-sts.%s. 300 IN TXT "v=STSv1; id=%s"' % (self.domain,
                                                         policy_id),
            "mta-sts.%s. 300 IN A %s" % (self.domain, addr)])
        return srv

    def conf(self, table=None):
        c = {"smtp_tls_ca_file": self.pki.ca_cert,
             "sts_ca_file": self.pki.ca_cert, "sts_timeout": 5,
             "retry_min": 300, "retry_max": 600}
        if table is not None:
            path = os.path.join(str(self.env.dir("pki")), "tls_policy")
            with open(path, "w") as f:
                f.write(table)
            c["tls_policy_file"] = path
        return c


def send(p, rcpt):
    code, text = p.send("s@client.test", [rcpt], make_message("tls policy"))
    assert code == 250, text
    return qid_from_reply(text)


def delivered(p, peer, qid, rcpt, auth):
    """The peer got the message over TLS; postern logged auth=."""
    msgs = peer.wait_for(1, DELIVER_TIMEOUT)
    assert len(msgs) == 1, p.diagnostics()
    assert msgs[0].tls is not None, "delivered in clear"
    line = p.wait_log(r"%s: to=<%s> .*status=sent" % (qid, re.escape(rcpt)),
                      timeout=DELIVER_TIMEOUT)[0].string
    assert re.search(r"tls=TLSv1\.[23]/\S+ auth=%s " % auth, line), line
    assert peer.clear_mail_cmds() == [], "MAIL FROM sent in clear"
    return line


def deferred(p, qid, rcpt, reason, *peers):
    """Deferred with reason; no peer saw MAIL in clear or got the mail."""
    line = p.wait_log(r"%s: to=<%s> .*status=deferred" % (
        qid, re.escape(rcpt)), timeout=DELIVER_TIMEOUT)[0].string
    assert re.search(reason, line), line
    for peer in peers:
        assert peer.count() == 0, peer.messages
        assert peer.clear_mail_cmds() == [], "MAIL FROM sent in clear"
    return line


def refused(p, qid, rcpt, reason, peer):
    """As deferred(), but judged at the peer first: waits for the
    recipient's outcome whatever it is, then checks that the peer got no
    message and no MAIL in clear, then the deferral and its reason."""
    line = p.wait_log(r"%s: to=<%s> .*status=(sent|deferred|bounced)" % (
        qid, re.escape(rcpt)), timeout=DELIVER_TIMEOUT)[0].string
    assert peer.clear_mail_cmds() == [], "MAIL FROM sent in clear"
    assert peer.count() == 0, peer.messages
    assert "status=deferred" in line and re.search(reason, line), line
    return line


# -- DANE (RFC 7672) ------------------------------------------------------

@pytest.mark.parametrize("usage", [3, 2])
def test_dane_matching_tlsa(env, usage):
    """Secure zone, TLSA 3 1 1 (leaf key) or 2 1 1 (test CA key):
    delivered over TLS, authenticated by DANE."""
    s = Scenario(env)
    m = s.peer(0, "good")
    s.publish()
    data = s.pki.spki_sha256(m.cert if usage == 3 else s.pki.ca_cert)
    s.tlsa(0, usage, data)
    p = env.postern(s.conf())
    rcpt = "dane%d@%s" % (usage, s.domain)
    delivered(p, m, send(p, rcpt), rcpt, "dane")


def test_dane_ee_ignores_name_and_ca(env):
    """DANE-EE(3): a self-signed certificate for another name matches by
    its key alone (RFC 7672 §3.1.1)."""
    s = Scenario(env)
    m = s.peer(0, "wrongname")
    s.publish()
    s.tlsa(0, 3, s.pki.spki_sha256(m.cert.replace(".chain", ".crt")))
    p = env.postern(s.conf())
    rcpt = "ee@" + s.domain
    delivered(p, m, send(p, rcpt), rcpt, "dane")


@pytest.mark.parametrize("level,outcome", [("dane", "dane"),
                                           ("verify", r"not verified")])
def test_expired_certificate(env, level, outcome):
    """An expired self-signed certificate: DANE-EE matches the key and
    ignores expiry (RFC 7672 §3.1.1); verify refuses it."""
    s = Scenario(env)
    m = s.peer(0, "expired")
    s.publish()
    s.tlsa(0, 3, s.pki.spki_sha256(m.cert))
    table = None if level == "dane" else "%s verify\n" % s.domain
    p = env.postern(s.conf(table))
    rcpt = "expired-%s@%s" % (level, s.domain)
    qid = send(p, rcpt)
    if outcome == "dane":
        delivered(p, m, qid, rcpt, outcome)
    else:
        deferred(p, qid, rcpt, outcome, m)


def test_dane_non_matching_tlsa_defers(env):
    """Secure TLSA that matches nothing: deferred, nothing in clear."""
    s = Scenario(env)
    m = s.peer(0, "good")
    s.publish()
    s.tlsa(0, 3, "00" * 32)
    p = env.postern(s.conf())
    rcpt = "nomatch@" + s.domain
    deferred(p, send(p, rcpt), rcpt, r"not verified", m)


def test_dane_no_starttls_defers(env):
    """Usable TLSA and a peer without STARTTLS: deferred (no downgrade)."""
    s = Scenario(env)
    m = s.peer(0, "nostarttls")
    s.publish()
    s.tlsa(0, 3, "ab" * 32)
    p = env.postern(s.conf())
    rcpt = "dane-clear@" + s.domain
    deferred(p, send(p, rcpt), rcpt, r"does not offer STARTTLS", m)


@pytest.mark.parametrize("kind,outcome", [
    ("selfsigned", "untrusted"),
    ("nostarttls", r"does not offer STARTTLS"),
])
def test_dane_unusable_tlsa_means_encrypt(env, kind, outcome):
    """Secure TLSA, none usable (PKIX-EE 1 1 1): TLS is still required
    but not authenticated (RFC 7672 §2.2)."""
    s = Scenario(env)
    m = s.peer(0, kind)
    s.publish()
    s.tlsa(0, 1, "ab" * 32)
    p = env.postern(s.conf())
    rcpt = "unusable-%s@%s" % (kind, s.domain)
    qid = send(p, rcpt)
    if outcome == "untrusted":
        delivered(p, m, qid, rcpt, outcome)
    else:
        deferred(p, qid, rcpt, outcome, m)


def test_dane_failed_host_next_mx(env):
    """The first MX fails DANE, the second (own TLSA) is used."""
    s = Scenario(env)
    bad = s.peer(0, "good")
    good = s.peer(1, "good")
    s.publish()
    s.tlsa(0, 3, "00" * 32)
    s.tlsa(1, 3, s.pki.spki_sha256(good.cert.replace(".chain", ".crt")))
    p = env.postern(s.conf())
    rcpt = "next@" + s.domain
    line = delivered(p, good, send(p, rcpt), rcpt, "dane")
    assert s.mx_name(1) in line, line
    assert bad.count() == 0 and bad.clear_mail_cmds() == []


@pytest.mark.parametrize("mode,outcome", [("bogus", r"TLSA lookup of .* is "
                                                    r"bogus"),
                                          ("unsigned", "untrusted")])
def test_tlsa_zone_status(env, mode, outcome):
    """Secure MX and addresses, but the TLSA RRset lives in a zone of its
    own: bogus defers the host (RFC 7672 §2.2), insecure is not DANE."""
    s = Scenario(env)
    m = s.peer(0, "selfsigned")
    s.publish()
    env.dns.add_zone("_25._tcp." + s.mx_name(0), [
        "@ 300 IN TLSA 3 1 1 %s" % s.pki.spki_sha256(m.cert)], mode=mode)
    p = env.postern(s.conf())
    rcpt = "tlsa-%s@%s" % (mode, s.domain)
    qid = send(p, rcpt)
    if outcome == "untrusted":
        delivered(p, m, qid, rcpt, outcome)
    else:
        deferred(p, qid, rcpt, outcome, m)
        assert m.connections == m.base_connections


def test_dane_ta_checks_names(env):
    """DANE-TA(2): the chain matches the TLSA record but the certificate
    names neither the TLSA base domain nor the MX host: deferred."""
    s = Scenario(env)
    m = s.peer(0, "wrongname")
    s.publish()
    s.tlsa(0, 2, s.pki.spki_sha256(s.pki.ca_cert))
    p = env.postern(s.conf())
    rcpt = "ta-name@" + s.domain
    deferred(p, send(p, rcpt), rcpt, r"not verified", m)


def test_bogus_zone_defers(env):
    """A zone whose signatures do not validate: deferred, no connection."""
    s = Scenario(env)
    m = s.peer(0, "good")
    env.dns.add_zone(s.domain, ["@ 300 IN MX 10 mx0", "mx0 300 IN A %s"
                                % m.host], mode="bogus")
    p = env.postern(s.conf())
    rcpt = "bogus@" + s.domain
    deferred(p, send(p, rcpt), rcpt, r"DNSSEC", m)
    assert m.connections == m.base_connections


def test_insecure_zone_ignores_tlsa(env):
    """Unsigned zone: its TLSA records are not DANE; opportunistic TLS."""
    s = Scenario(env)
    m = s.peer(0, "selfsigned")
    env.dns.add_zone(s.domain, [
        "@ 300 IN MX 10 mx0", "mx0 300 IN A %s" % m.host,
        "_25._tcp.mx0 300 IN TLSA 3 1 1 %s" % ("00" * 32)], mode="unsigned")
    p = env.postern(s.conf())
    rcpt = "insecure@" + s.domain
    delivered(p, m, send(p, rcpt), rcpt, "untrusted")


# -- MTA-STS (RFC 8461) ---------------------------------------------------

def test_mta_sts_enforce_good(env):
    s = Scenario(env)
    m = s.peer(0, "good")
    s.publish()
    srv = s.sts("enforce", [s.mx_name(0)])
    p = env.postern(s.conf())
    rcpt = "sts@" + s.domain
    delivered(p, m, send(p, rcpt), rcpt, "mta-sts")
    assert srv.requests and srv.requests[0][1] == "mta-sts." + s.domain


@pytest.mark.parametrize("kind,reason", [
    ("selfsigned", r"not verified"),
    ("wrongname", r"not verified"),
    ("nostarttls", r"does not offer STARTTLS"),
    ("hide", r"does not offer STARTTLS"),
    ("nocipher", r"handshake"),
])
def test_mta_sts_enforce_refuses(env, kind, reason):
    """Under enforce every failure defers; nothing goes out in clear."""
    s = Scenario(env)
    m = s.peer(0, kind)
    s.publish()
    s.sts("enforce", ["*." + s.domain])
    p = env.postern(s.conf())
    rcpt = "sts-%s@%s" % (kind, s.domain)
    deferred(p, send(p, rcpt), rcpt, reason, m)


def test_mta_sts_enforce_mx_not_matching(env):
    """Only MX hosts the policy lists are used: mx0 is skipped."""
    s = Scenario(env)
    outside = s.peer(0, "good")
    inside = s.peer(1, "good")
    s.publish()
    s.sts("enforce", [s.mx_name(1)])
    p = env.postern(s.conf())
    rcpt = "stsmx@" + s.domain
    delivered(p, inside, send(p, rcpt), rcpt, "mta-sts")
    assert outside.connections == outside.base_connections
    assert p.grep_log(r"not using %s: MX host .* does not match" %
                      re.escape(s.mx_name(0)))


def test_mta_sts_enforce_only_unlisted_mx_defers(env):
    s = Scenario(env)
    m = s.peer(0, "good")
    s.publish()
    s.sts("enforce", ["mx.elsewhere.example"])
    p = env.postern(s.conf())
    rcpt = "stsnone@" + s.domain
    deferred(p, send(p, rcpt), rcpt, r"does not match the MTA-STS", m)
    assert m.connections == m.base_connections


def test_mta_sts_testing_delivers_and_reports(env):
    """testing: delivered as may (self-signed accepted), the failure that
    enforce would refuse is logged."""
    s = Scenario(env)
    m = s.peer(0, "selfsigned")
    s.publish()
    s.sts("testing", [s.mx_name(0)])
    p = env.postern(s.conf())
    rcpt = "ststest@" + s.domain
    delivered(p, m, send(p, rcpt), rcpt, "untrusted")
    assert p.grep_log(r"mta-sts testing: enforce would")


def set_sts_id(env, domain, new):
    zone = env.dns.zone_for(domain)
    zone.records = [r for r in zone.records
                    if not r.startswith("_mta-sts.%s." % domain)]
    env.dns.add_records(['_mta-sts.%s. 300 IN TXT "v=STSv1; id=%s"'
                         % (domain, new)])


def test_mta_sts_cache(env):
    """The policy is cached (sts_cache); a new TXT id makes postern
    fetch again; a failed fetch keeps the cached policy in force."""
    s = Scenario(env)
    m = s.peer(0, "good")
    s.publish()
    srv = s.sts("enforce", [s.mx_name(0)])
    p = env.postern(s.conf())
    rcpt = "cache1@" + s.domain
    delivered(p, m, send(p, rcpt), rcpt, "mta-sts")
    assert len(srv.requests) == 1
    # New id, policy host down: the cached policy stays in force.
    srv.stop()
    set_sts_id(env, s.domain, "2")
    rcpt = "cache2@" + s.domain
    qid = send(p, rcpt)
    p.wait_log(r"%s: to=<%s> .*auth=mta-sts .*status=sent" % (
        qid, re.escape(rcpt)), timeout=DELIVER_TIMEOUT)
    assert p.grep_log(r"mta-sts: %s: .*using the cached policy"
                      % re.escape(s.domain))
    # New id, host back with a policy listing another MX: enforced.
    srv.policy = ("version: STSv1\nmode: enforce\nmx: other.example\n"
                  "max_age: 86400\n")
    srv.start()
    set_sts_id(env, s.domain, "3")
    rcpt = "cache3@" + s.domain
    deferred(p, send(p, rcpt), rcpt, r"does not match the MTA-STS")
    assert len(srv.requests) == 2
    assert len(m.messages) == 2 and m.clear_mail_cmds() == []


@pytest.mark.parametrize("trouble", ["redirect", "untrusted"])
def test_mta_sts_bad_policy_host_is_no_policy(env, trouble):
    """A redirect or an untrusted policy host: no policy (RFC 8461 §3.3),
    so the self-signed peer gets the mail under may."""
    s = Scenario(env)
    m = s.peer(0, "selfsigned")
    s.publish()
    addr = "%s.%d" % (env.block.net, 50)
    if trouble == "redirect":
        srv = PolicyServer(addr, s.pki, s.domain, "x", status=301)
    else:
        srv = PolicyServer(addr, s.pki, s.domain, "x",
                           cert=env.cert("mta-sts." + s.domain))
    srv.start()
    env.on_stop(srv.stop)
    env.dns.add_records([
        '_mta-sts.%s. 300 IN TXT "v=STSv1; id=1"' % s.domain,
        "mta-sts.%s. 300 IN A %s" % (s.domain, addr)])
    p = env.postern(s.conf())
    rcpt = "badsts-%s@%s" % (trouble, s.domain)
    delivered(p, m, send(p, rcpt), rcpt, "untrusted")
    assert p.grep_log(r"mta-sts: %s: " % re.escape(s.domain))


def test_dane_takes_precedence_over_mta_sts(env):
    s = Scenario(env)
    m = s.peer(0, "selfsigned")
    s.publish()
    s.tlsa(0, 3, s.pki.spki_sha256(m.cert))
    s.sts("enforce", [s.mx_name(0)])
    p = env.postern(s.conf())
    rcpt = "both@" + s.domain
    delivered(p, m, send(p, rcpt), rcpt, "dane")


# -- local table -----------------------------------------------------------

@pytest.mark.parametrize("level,kind,outcome", [
    ("verify", "good", "verify"),
    ("verify", "selfsigned", r"not verified"),
    ("verify", "wrongname", r"not verified"),
    ("encrypt", "selfsigned", "untrusted"),
    ("encrypt", "nostarttls", r"does not offer STARTTLS"),
    ("encrypt", "hide", r"does not offer STARTTLS"),
    ("encrypt", "nocipher", r"handshake"),
])
def test_table_levels(env, level, kind, outcome):
    s = Scenario(env)
    m = s.peer(0, kind)
    s.publish()
    p = env.postern(s.conf("%s %s\n" % (s.domain, level)))
    rcpt = "table-%s-%s@%s" % (level, kind, s.domain)
    qid = send(p, rcpt)
    if outcome in ("verify", "untrusted"):
        delivered(p, m, qid, rcpt, outcome)
    else:
        deferred(p, qid, rcpt, outcome, m)


@pytest.mark.parametrize("line,kind,outcome", [
    ("verify match=wrong.{d}", "wrongname", "verify"),
    ("verify match=other.{d}", "wrongname", r"not verified"),
    ("encrypt protocols=>=TLSv1.3", "tls12", r"handshake"),
    ("encrypt protocols=>=TLSv1.3", "good", "untrusted"),
])
def test_table_options(env, line, kind, outcome):
    s = Scenario(env)
    m = s.peer(0, kind)
    s.publish()
    p = env.postern(s.conf("%s %s\n" % (s.domain,
                                        line.format(d=s.domain))))
    rcpt = "opt-%s@%s" % (kind, s.domain)
    qid = send(p, rcpt)
    if outcome in ("verify", "untrusted"):
        line = delivered(p, m, qid, rcpt, outcome)
        if "TLSv1.3" in line:
            assert "tls=TLSv1.3/" in line, line
    else:
        deferred(p, qid, rcpt, outcome, m)


def test_table_none_sends_in_clear(env):
    """none: never STARTTLS, even when offered (and a table entry beats
    an MTA-STS policy)."""
    s = Scenario(env)
    m = s.peer(0, "good")
    s.publish()
    s.sts("enforce", [s.mx_name(0)])
    p = env.postern(s.conf("%s none\n" % s.domain))
    rcpt = "none@" + s.domain
    send(p, rcpt)
    msgs = m.wait_for(1, DELIVER_TIMEOUT)
    assert len(msgs) == 1 and msgs[0].tls is None, p.diagnostics()


def test_table_reload_on_sighup(env):
    """SIGHUP rereads the table; a bad line keeps the table in force."""
    s = Scenario(env)
    m = s.peer(0, "selfsigned")
    s.publish()
    p = env.postern(s.conf("%s verify\n" % s.domain))
    # A runner still starting would read the bad table as its first
    # (fatal at start), or die of a SIGHUP before its handler exists.
    p.wait_log(r"runner: started")
    path = p.conf["tls_policy_file"]
    with open(path, "w") as f:
        f.write("# comment\n%s maybe\n" % s.domain)
    mark = p.mark()
    os.kill(p.pid, signal.SIGHUP)
    p.wait_log(r"%s:2: unknown TLS level.*keeping the previous"
               % re.escape(path), since=mark)
    rcpt = "keep@" + s.domain
    deferred(p, send(p, rcpt), rcpt, r"not verified", m)
    with open(path, "w") as f:
        f.write("%s encrypt\n" % s.domain)
    mark = p.mark()
    os.kill(p.pid, signal.SIGHUP)
    p.wait_log(r"tables reloaded: tls_policy_file 1 entries", since=mark)
    rcpt = "reloaded@" + s.domain
    delivered(p, m, send(p, rcpt), rcpt, "untrusted")


# -- the recipient domain's entry through a relay ------------------------------

def transport_conf(s, table, nexthop):
    path = os.path.join(str(s.env.dir("pki")), "transport")
    with open(path, "w") as f:
        f.write("%s %s\n" % (s.domain, nexthop))
    c = s.conf(table)
    c["transport_table"] = path
    return c


@pytest.mark.parametrize("kind,reason", [
    ("hide", r"TLS is required \(verify, tls_policy:1\) but the server "
             r"does not offer STARTTLS"),
    ("wrongname", r"TLS verify: server certificate of \S+ not verified"),
])
def test_domain_entry_applies_through_transport(env, kind, reason):
    """"DOMAIN verify" and a transport_table entry to [addr]:25: the
    domain's entry still applies to that next hop (the stricter of the
    domain's and the next hop's entries), it does not fall to may.  A
    stripped STARTTLS gets nothing in clear; a certificate for another
    name gets no message."""
    s = Scenario(env)
    m = s.peer(0, kind)
    p = env.postern(transport_conf(s, "%s verify\n" % s.domain,
                                   "[%s]:25" % m.host))
    rcpt = "relayed-%s@%s" % (kind, s.domain)
    refused(p, send(p, rcpt), rcpt, reason, m)
    assert m.connections > m.base_connections, "the next hop was not tried"


def test_domain_entry_through_transport_verifies_next_hop_name(env):
    """The name checked through a relay is the next hop's host name: a
    CA-signed certificate for it is verified; postern policy shows both
    entries and the one applied."""
    s = Scenario(env)
    m = s.peer(0, "good")
    env.dns.add_records(["%s. 300 IN A %s" % (s.mx_name(0), m.host)])
    p = env.postern(transport_conf(s, "%s verify\n%s may\n"
                                   % (s.domain, s.mx_name(0)),
                                   "[%s]:25" % s.mx_name(0)))
    rcpt = "relayed-good@" + s.domain
    delivered(p, m, send(p, rcpt), rcpt, "verify")
    rc, out = run_policy(p, s.domain)
    assert rc == 0, out
    assert "next hop: %s" % s.mx_name(0) in out, out
    assert re.search(r"tls_policy \(recipient domain\): \S+:1: %s verify"
                     % re.escape(s.domain), out), out
    assert re.search(r"tls_policy \(next hop\): \S+:2: %s may"
                     % re.escape(s.mx_name(0)), out), out
    assert re.search(r"tls_policy \(applied, the stricter\): \S+:1: %s "
                     r"verify" % re.escape(s.domain), out), out
    assert "level: verify (tls_policy:1)" in out, out


def test_domain_entry_match_names_an_ip_literal_next_hop(env):
    """Through [addr]:25 a certificate names no address; the match= names
    of the domain's verify entry are what it must carry instead."""
    s = Scenario(env)
    m = s.peer(0, "good")
    p = env.postern(transport_conf(s, "%s verify match=%s\n"
                                   % (s.domain, s.mx_name(0)),
                                   "[%s]:25" % m.host))
    rcpt = "relayed-match@" + s.domain
    delivered(p, m, send(p, rcpt), rcpt, "verify")


# -- unusable TLSA and MTA-STS enforce ----------------------------------------

UNUSABLE = "ab" * 32     # with usage 1 (PKIX-EE): unusable for SMTP


@pytest.mark.parametrize("kind", ["wrongname", "good"])
@pytest.mark.parametrize("order", ["sts_first", "tlsa_first"])
def test_unusable_tlsa_keeps_mta_sts_enforce(env, order, kind):
    """Secure TLSA that are all unusable mean at least encrypt; they never
    pre-empt an MTA-STS enforce policy.  sts_first: the policy is cached
    by a first delivery, its server goes away, then the TLSA appear;
    tlsa_first: the TLSA are there before the policy is ever fetched.  A
    certificate that fails PKIX gets nothing, a valid one the mail."""
    s = Scenario(env)
    m = s.peer(0, kind)
    s.publish()
    if order == "tlsa_first":
        s.tlsa(0, 1, UNUSABLE)
    srv = s.sts("enforce", [s.mx_name(0)])
    p = env.postern(s.conf())
    want = 0
    if order == "sts_first":
        rcpt = "cached-%s@%s" % (kind, s.domain)
        qid = send(p, rcpt)
        if kind == "good":
            delivered(p, m, qid, rcpt, "mta-sts")
            want = 1
        else:
            deferred(p, qid, rcpt, r"not verified", m)
        assert len(srv.requests) == 1
        srv.stop()              # from now on only the cached policy
        s.tlsa(0, 1, UNUSABLE)
    rcpt = "unusable-%s-%s@%s" % (order, kind, s.domain)
    qid = send(p, rcpt)
    if kind == "good":
        line = p.wait_log(r"%s: to=<%s> .*status=sent" % (
            qid, re.escape(rcpt)), timeout=DELIVER_TIMEOUT)[0].string
        assert " auth=mta-sts " in line, line
        assert len(m.wait_for(want + 1, DELIVER_TIMEOUT)) == want + 1
        assert all(msg.tls is not None for msg in m.messages)
        assert m.clear_mail_cmds() == []
    else:
        refused(p, qid, rcpt, r"not verified", m)
    assert len(srv.requests) == 1


# -- may ---------------------------------------------------------------------

def test_may_handshake_failure_retries_in_clear(env):
    s = Scenario(env)
    m = s.peer(0, "nocipher")
    s.publish()
    p = env.postern(s.conf())
    rcpt = "may@" + s.domain
    send(p, rcpt)
    msgs = m.wait_for(1, DELIVER_TIMEOUT)
    assert len(msgs) == 1 and msgs[0].tls is None, p.diagnostics()


# -- postern policy ------------------------------------------------------------

def run_policy(p, domain, *args):
    r = subprocess.run([p.binary, "-c", p.conf_path, "policy", domain]
                       + list(args), capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode() + r.stderr.decode()


def test_policy_command_dane_probe(env):
    s = Scenario(env)
    m = s.peer(0, "good")
    s.publish()
    s.tlsa(0, 3, s.pki.spki_sha256(m.cert.replace(".chain", ".crt")))
    p = env.postern(s.conf())
    rc, out = run_policy(p, s.domain, "--probe")
    assert rc == 0, out
    assert "mx: secure" in out, out
    assert re.search(r"mx 10 %s" % re.escape(s.mx_name(0)), out), out
    assert re.search(r"TLSA _25\._tcp\.%s 3 1 1 [0-9a-f]+: usable" %
                     re.escape(s.mx_name(0)), out), out
    assert "level: dane" in out, out
    assert re.search(r"probe %s: ok, tls=TLSv1\.\d/\S+ auth=dane" %
                     re.escape(m.host), out), out
    assert m.count() == 0 and m.clear_mail_cmds() == []


def test_policy_command_sts_refused(env):
    s = Scenario(env)
    m = s.peer(0, "selfsigned")
    s.publish()
    s.sts("enforce", [s.mx_name(0)])
    p = env.postern(s.conf())
    rc, out = run_policy(p, s.domain, "--probe")
    assert rc == 1, out
    assert "mta-sts: id=1 mode=enforce" in out, out
    assert "level: mta-sts" in out, out
    assert re.search(r"probe .*: deferred 4\.7\.5 .*not verified", out), out
    assert "delivery: not allowed" in out


def test_policy_command_sts_connect_timeout(env):
    """A policy host that never answers the SYN (a listener whose accept
    queue is full): the fetch ends at sts_timeout and says it timed out,
    not "Operation now in progress"; without a policy the mail may go."""
    s = Scenario(env)
    s.peer(0, "selfsigned")
    s.publish()
    addr = "%s.%d" % (env.block.net, 50)
    lsock = socket.socket()
    lsock.bind((addr, 443))
    lsock.listen(0)
    fill = []
    for _ in range(4):
        c = socket.socket()
        c.setblocking(False)
        c.connect_ex((addr, 443))
        fill.append(c)
    env.on_stop(lambda: [x.close() for x in fill + [lsock]])
    env.dns.add_records([
        '_mta-sts.%s. 300 IN TXT "v=STSv1; id=1"' % s.domain,
        "mta-sts.%s. 300 IN A %s" % (s.domain, addr)])
    conf = s.conf()
    conf["sts_timeout"] = 1
    p = env.postern(conf)
    t0 = time.monotonic()
    rc, out = run_policy(p, s.domain)
    assert time.monotonic() - t0 < 30, out
    assert re.search(r"mta-sts: none \(cannot connect to mta-sts\.%s: "
                     r"Connection timed out\)" % re.escape(s.domain), out), out
    assert "in progress" not in out, out


def test_policy_command_bogus_and_table(env):
    """A bogus zone: the route defers and delivery is not allowed; a
    table entry is named with its file and line."""
    s = Scenario(env)
    m = s.peer(0, "good")
    env.dns.add_zone(s.domain, ["@ 300 IN MX 10 mx0", "mx0 300 IN A %s"
                                % m.host], mode="bogus")
    p = env.postern(s.conf("# local\n.%s encrypt\n%s verify\n"
                           % (s.domain, s.domain)))
    rc, out = run_policy(p, s.domain)
    assert rc == 1, out
    assert re.search(r"tls_policy: \S+:3: %s verify" % re.escape(s.domain),
                     out), out
    assert re.search(r"route: deferred 4\.4\.3 .*DNSSEC", out), out
    assert "delivery: not allowed" in out
    assert m.connections == m.base_connections
