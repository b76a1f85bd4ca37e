"""Internal special-use names through postern's resolver (policy/dns.c):
a relay behind a firewall whose own DNS holds signed zones under "test."
(RFC 6761 §6.2) and "home.arpa." (RFC 8375).  libunbound answers NXDOMAIN
for both from built-in local zones; `local-zone: "NAME" nodefault`, given
as a resolver_option or in a resolver_config file, lets recursion reach
them, and they still validate as secure from the test root's trust
anchor.  Options with a typo, and options that would switch DNSSEC
validation off, are refused by `postern -n` with the postern.conf line.

The resolver iterates from the signed test root (resolver = recursive):
the zones are real delegations below it, served by nsd on loopback.
Each case is judged at the peer (what the MX received, over which TLS)
and by `postern policy DOMAIN`, which resolves with the delivery's own
code.
"""

import os
import re

import dns.message
import dns.query
import dns.rdatatype
import pytest

import dnsnet
from conftest import Env
from harness import PosternError, make_message, qid_from_reply
from tlsnet import TestCA, TlsPeer

# Its own test DNS: nothing else in the run may see these zones.
ADDR = "127.0.53.3"
WAIT = 20
# A signed zone under each special-use name, delegated with DS.
INTERNAL = {"test": "corp.test", "home.arpa": "home.arpa"}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    n = dnsnet.DnsNet(str(tmp_path_factory.mktemp("resolvnet")), addr=ADDR)
    n.add_zone("test")
    n.add_zone("corp.test")
    n.add_zone("arpa")
    n.add_zone("home.arpa")
    n.start()
    try:
        yield n
    finally:
        n.stop()


@pytest.fixture
def env(request, tmp_path, block, net, postern_bin):
    e = Env(request, tmp_path, block, net, postern_bin)
    try:
        yield e
    finally:
        e.finish()


def internal_domain(env, suffix):
    """A destination under the signed internal zone for suffix, with its
    MX on this test's first peer address."""
    dom = "b%d.%s" % (env.block.k, INTERNAL[suffix])
    env.dns.add_mx(dom, [("mx." + dom, env.block.mx(0))])
    return dom


def nodefault(suffix):
    return 'local-zone: "%s." nodefault' % suffix


def send(p, rcpt, tag, sender="s@client.example"):
    code, text = p.send(sender, [rcpt],
                        make_message(tag, to=rcpt, sender=sender or "<>"))
    assert code == 250, text
    return qid_from_reply(text)


def policy(p, dom, ok=True):
    """postern policy DOMAIN: its output; exit status 0 when ok."""
    rc, out, err = p.command("policy", dom)
    assert (rc == 0) == ok, out + err
    return out


def conf_line(p, text):
    """1-based line of postern.conf that is exactly text."""
    with open(p.conf_path) as f:
        lines = f.read().splitlines()
    return lines.index(text) + 1


def assert_delivered_secure(env, p, dom, tag):
    mx = env.mx(env.block.mx(0))
    qid = send(p, "u@" + dom, tag)
    got = mx.wait_for(1, WAIT)
    assert len(got) == 1, p.diagnostics()
    assert got[0].rcpt_tos == ["u@" + dom]
    assert got[0].header("Subject") == tag
    p.wait_log(r"%s: to=<u@%s> relay=mx\.%s\[%s\]:25 .*status=sent"
               % (qid, re.escape(dom), re.escape(dom),
                  re.escape(env.block.mx(0))), timeout=WAIT)
    # Validated from the test root's anchor, not merely found.
    out = policy(p, dom)
    assert re.search(r"^mx: secure\b", out, re.M), out
    assert re.search(r"^    addresses \(secure\): %s$"
                     % re.escape(env.block.mx(0)), out, re.M), out


# -- the zones exist: only unbound's built-in local zones hide them ---------

@pytest.mark.parametrize("suffix", sorted(INTERNAL))
def test_zone_is_served_but_hidden_by_default(env, suffix):
    dom = internal_domain(env, suffix)
    q = dns.message.make_query(dom, dns.rdatatype.MX, want_dnssec=True)
    r = dns.query.udp(q, ADDR, timeout=2)
    assert [rr for rr in r.answer if rr.rdtype == dns.rdatatype.RRSIG]
    assert "not found: 3(NXDOMAIN)" in env.dns.unbound_host(dom, "MX")


# -- without the option: NXDOMAIN from the built-in zone, a bounce -----------

@pytest.mark.parametrize("suffix", sorted(INTERNAL))
def test_without_nodefault_delivery_fails(env, suffix):
    dom = internal_domain(env, suffix)
    mx = env.mx(env.block.mx(0))
    p = env.postern()
    assert "route: bounced 5.1.2 (domain %s not found)" % dom in \
        policy(p, dom, ok=False)
    # From <>: the bounce itself is not sent anywhere (RFC 5321 §4.5.5).
    qid = send(p, "u@" + dom, "hidden", sender="")
    p.wait_log(r"%s: to=<u@%s> .*status=bounced .*domain %s not found"
               % (qid, re.escape(dom), re.escape(dom)), timeout=WAIT)
    assert mx.count() == 0


# -- resolver_option ---------------------------------------------------------

@pytest.mark.parametrize("suffix", sorted(INTERNAL))
def test_resolver_option_nodefault_delivers_secure(env, suffix):
    dom = internal_domain(env, suffix)
    p = env.postern({"resolver_option": [nodefault(suffix)]})
    assert_delivered_secure(env, p, dom, "option " + suffix)


def test_both_names_in_one_configuration(env):
    doms = [internal_domain(env, s) for s in sorted(INTERNAL)]
    mx = env.mx(env.block.mx(0))
    p = env.postern({"resolver_option": [nodefault(s)
                                         for s in sorted(INTERNAL)]})
    for d in doms:
        send(p, "u@" + d, "both " + d)
    got = mx.wait_for(2, WAIT)
    assert sorted(m.rcpt_tos[0] for m in got) == \
        sorted("u@" + d for d in doms), p.diagnostics()


@pytest.mark.parametrize("suffix", sorted(INTERNAL))
def test_dane_to_internal_name(env, suffix):
    """TLSA 3 1 1 in the signed internal zone: DANE applies only to a
    secure answer (RFC 7672 §2.1.1), so auth=dane proves validation."""
    dom = "b%d.%s" % (env.block.k, INTERNAL[suffix])
    mx_name = "mx." + dom
    cert, key = env.cert(mx_name)
    peer = TlsPeer(env.block.mx(0), tls=(cert, key))
    peer.start()
    env.on_stop(peer.stop)
    env.dns.add_mx(dom, [(mx_name, env.block.mx(0))])
    env.dns.add_records(["_25._tcp.%s. 300 IN TLSA 3 1 1 %s"
                         % (mx_name, TestCA.spki_sha256(cert))])
    p = env.postern({"resolver_option": [nodefault(suffix)]})
    qid = send(p, "d@" + dom, "dane " + suffix)
    got = peer.wait_for(1, WAIT)
    assert len(got) == 1 and got[0].tls is not None, p.diagnostics()
    line = p.wait_log(r"%s: to=<d@%s> .*status=sent" % (qid, re.escape(dom)),
                      timeout=WAIT)[0].string
    assert re.search(r"tls=TLSv1\.[23]/\S+ auth=dane ", line), line
    assert peer.clear_mail_cmds() == []


# -- resolver_config ---------------------------------------------------------

@pytest.mark.parametrize("suffix", sorted(INTERNAL))
def test_resolver_config_nodefault_delivers_secure(env, suffix):
    dom = internal_domain(env, suffix)
    frag = env.tmp / "internal.conf"
    frag.write_text("# names of the internal network\nserver:\n"
                    "\t%s\n" % nodefault(suffix))
    p = env.postern({"resolver_config": str(frag)})
    assert_delivered_secure(env, p, dom, "config " + suffix)


# -- refused by postern -n, with the line ------------------------------------

def refused(env, conf, line_text, want):
    p = env.postern(conf, start=False)
    rc, out = p.check_conf()
    n = conf_line(p, line_text)
    assert rc != 0, out
    assert re.search(r"%s:%d: %s" % (re.escape(p.conf_path), n, want),
                     out), out
    return p


def test_misspelt_option_refused(env):
    opt = "locl-zone: test. nodefault"
    refused(env, {"resolver_option": [opt]}, "resolver_option = " + opt,
            r'resolver_option "%s": ' % re.escape(opt))


@pytest.mark.parametrize("opt,why", [
    ("val-permissive-mode: yes", "fail DNSSEC validation"),
    ('module-config: "iterator"', "no validator"),
    ('domain-insecure: "."', "every name"),
    ("harden-dnssec-stripped: no", "strips signatures"),
])
def test_option_switching_validation_off_refused(env, opt, why):
    p = refused(env, {"resolver_option": [nodefault("test"), opt]},
                "resolver_option = " + opt,
                r'resolver_option "%s": .*%s' % (re.escape(opt), why))
    # Nor does the daemon start with it.
    with pytest.raises(PosternError, match="exited"):
        p.start(timeout=5)


def test_fragment_switching_validation_off_refused(env):
    frag = env.tmp / "lax.conf"
    frag.write_text("server:\n\t%s\n\tval-permissive-mode: yes\n"
                    % nodefault("test"))
    refused(env, {"resolver_config": str(frag)},
            "resolver_config = %s" % frag,
            r"resolver_config %s: val-permissive-mode: yes: "
            % re.escape(str(frag)))
