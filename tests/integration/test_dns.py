"""postern's resolver (policy/dns.c) and MX routing (policy/mx.c) against
the signed test DNS, through tests/net/dnsq: every route and every
DNSSEC status here is computed by postern's own code from the same
postern.conf lines the other integration tests use.  unbound-host is the
reference that the zones themselves are what each case claims.
"""

import os
import re
import subprocess

import pytest

import dnsnet

HERE = os.path.dirname(os.path.abspath(__file__))
DNSQ = os.environ.get("POSTERN_DNSQ",
                      os.path.join(HERE, "..", "net", "dnsq"))
# Its own address: the session-wide test DNS may be on 127.0.53.1.
ADDR = "127.0.53.2"

ZONES = {
    "mx.example": (["@ MX 10 mx1", "@ MX 20 mx2", "mx1 A 127.0.2.1",
                    "mx1 AAAA ::1", "mx2 A 127.0.2.2",
                    "eq MX 10 a.eq", "eq MX 10 b.eq", "eq MX 10 c.eq",
                    "a.eq A 127.0.2.11", "b.eq A 127.0.2.12",
                    "c.eq A 127.0.2.13",
                    "noaddr MX 10 ghost", "ghost TXT \"no address\"",
                    "alias CNAME mx1", "cn MX 10 alias"], "signed"),
    "csk.example": (["@ MX 10 mx", "mx A 127.0.2.20"], "csk"),
    "plain.example": (["@ MX 10 mx1", "mx1 A 127.0.2.3"], "unsigned"),
    "bad.example": (["@ MX 10 mx1", "mx1 A 127.0.2.4"], "bogus"),
    "old.example": (["@ MX 10 mx1", "mx1 A 127.0.2.5"], "expired"),
    "null.example": (["@ MX 0 ."], "signed"),
    "imp.example": (["@ A 127.0.2.6", "@ AAAA ::1"], "signed"),
    "bare.example": (["www A 127.0.2.7"], "signed"),
    "mixed.example": (["@ MX 10 mx1.bad.example.",
                       "@ MX 20 mx1.plain.example."], "signed"),
    "allbad.example": (["@ MX 10 mx1.bad.example."], "signed"),
}


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    if not os.access(DNSQ, os.X_OK):
        pytest.fail("%s not built (make tests/net/dnsq)" % DNSQ,
                    pytrace=False)
    n = dnsnet.DnsNet(str(tmp_path_factory.mktemp("dnsnet")), addr=ADDR)
    for name, (records, mode) in ZONES.items():
        n.add_zone(name, records, mode)
    n.start()
    conf = os.path.join(n.workdir, "postern.conf")
    with open(conf, "w") as f:
        f.write("\n".join(n.conf_lines()) + "\n")
    n.postern_conf = conf
    try:
        yield n
    finally:
        n.stop()


def dnsq(net, *args, conf=None):
    p = subprocess.run([DNSQ, "-C", conf or net.postern_conf] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def fields(line):
    """'key=value ...' where the last key (text=, why=) takes the rest."""
    out = {}
    for m in re.finditer(r"(\w+)=((?:(?! \w+=).)*)", line):
        out[m.group(1)] = m.group(2)
    return out


def route(net, domain, *args, conf=None):
    rc, out, err = dnsq(net, *(list(args) + [domain]), conf=conf)
    lines = out.splitlines()
    if rc != 0:
        assert rc == 1, err
        assert lines[0].startswith("fail "), out
        return None, fields(lines[0].split(" ", 1)[1]), err
    assert lines[0].startswith("route "), out
    hosts = [fields(l.split(" ", 1)[1]) for l in lines[1:]
             if l.startswith("host ")]
    return fields(lines[0].split(" ", 1)[1]), hosts, err


def answer(net, name, rrtype):
    rc, out, err = dnsq(net, "-t", rrtype, name)
    assert rc == 0, err
    return fields(out.splitlines()[0].split(" ", 1)[1])


# -- the zones are what they claim (reference resolver) ----------------------

@pytest.mark.parametrize("name,verdict", [
    ("mx.example", "(secure)"),
    ("csk.example", "(secure)"),
    ("plain.example", "(insecure)"),
    ("bad.example", "(BOGUS"),
    ("old.example", "(BOGUS"),
])
def test_reference_verdict(net, name, verdict):
    assert verdict in net.unbound_host(name, "MX")


# -- routes --------------------------------------------------------------------

def test_secure_mx_and_addresses(net):
    r, hosts, _ = route(net, "mx.example")
    assert r["mx_sec"] == "secure" and r["implicit"] == "0"
    assert [(h["name"], h["pref"]) for h in hosts] == \
        [("mx1.mx.example", "10"), ("mx2.mx.example", "20")]
    # IPv6 first, then IPv4.
    assert hosts[0]["addrs"] == "::1,127.0.2.1"
    assert hosts[1]["addrs"] == "127.0.2.2"
    assert all(h["addr_sec"] == "secure" for h in hosts)


def test_secure_single_key(net):
    r, hosts, _ = route(net, "CSK.Example.")
    assert r["domain"] == "csk.example" and r["mx_sec"] == "secure"
    assert hosts[0]["addrs"] == "127.0.2.20"


def test_insecure_delegation(net):
    r, hosts, _ = route(net, "plain.example")
    assert r["mx_sec"] == "insecure"
    assert hosts[0]["addr_sec"] == "insecure"
    assert hosts[0]["addrs"] == "127.0.2.3"


@pytest.mark.parametrize("domain", ["bad.example", "old.example"])
def test_bogus_defers(net, domain):
    r, why, _ = route(net, domain)
    assert r is None
    assert why["kind"] == "deferred" and why["status"] == "4.4.3"
    assert why["text"].startswith("DNSSEC validation failed for MX of %s: "
                                  % domain)


def test_nxdomain_bounces(net):
    r, why, _ = route(net, "nowhere.mx.example")
    assert r is None
    assert (why["kind"], why["status"]) == ("bounced", "5.1.2")
    assert "not found" in why["text"]
    a = answer(net, "nowhere.mx.example", "MX")
    assert (a["rc"], a["sec"]) == ("nxdomain", "secure")


def test_null_mx_bounces(net):
    r, why, _ = route(net, "null.example")
    assert r is None
    assert (why["kind"], why["status"]) == ("bounced", "5.1.10")
    assert "does not accept mail" in why["text"]


def test_implicit_mx(net):
    r, hosts, _ = route(net, "imp.example")
    assert r["implicit"] == "1" and r["mx_sec"] == "secure"
    assert [(h["name"], h["pref"], h["addrs"]) for h in hosts] == \
        [("imp.example", "0", "::1,127.0.2.6")]
    a = answer(net, "imp.example", "MX")
    assert (a["rc"], a["sec"]) == ("nodata", "secure")


def test_no_mx_no_address_bounces(net):
    r, why, _ = route(net, "bare.example")
    assert r is None
    assert (why["kind"], why["status"]) == ("bounced", "5.4.4")


def test_mx_host_without_address_bounces(net):
    r, why, _ = route(net, "noaddr.mx.example")
    assert r is None
    assert (why["kind"], why["status"]) == ("bounced", "5.4.4")


def test_mx_host_through_cname(net):
    r, hosts, _ = route(net, "cn.mx.example")
    assert hosts[0]["name"] == "alias.mx.example"
    assert hosts[0]["addrs"] == "::1,127.0.2.1"


def test_bogus_host_skipped(net):
    r, hosts, err = route(net, "mixed.example")
    assert r["mx_sec"] == "secure"
    assert [h["name"] for h in hosts] == ["mx1.plain.example"]
    assert "skipping mx1.bad.example: DNSSEC validation failed" in err


def test_only_bogus_hosts_defers(net):
    r, why, _ = route(net, "allbad.example")
    assert r is None
    assert (why["kind"], why["status"]) == ("deferred", "4.4.3")
    assert "DNSSEC" in why["text"]


def test_equal_preferences_shuffled(net):
    firsts = set()
    for seed in range(40):
        r, hosts, _ = route(net, "eq.mx.example", "-S", str(seed))
        assert sorted(h["name"] for h in hosts) == \
            ["a.eq.mx.example", "b.eq.mx.example", "c.eq.mx.example"]
        firsts.add(hosts[0]["name"])
    assert len(firsts) == 3


# -- own-preference truncation (RFC 5321 §5.1) ---------------------------------

def test_self_by_name_cuts(net):
    r, hosts, _ = route(net, "mx.example", "-s", "MX2.mx.example.")
    assert [h["name"] for h in hosts] == ["mx1.mx.example"]


def test_self_by_address_cuts(net):
    r, hosts, _ = route(net, "mx.example", "-s", "me.example",
                        "-a", "127.0.2.2")
    assert [h["name"] for h in hosts] == ["mx1.mx.example"]


@pytest.mark.parametrize("args", [["-s", "mx1.mx.example"],
                                  ["-a", "::1"], ["-a", "127.0.2.6"]])
def test_self_most_preferred_loops(net, args):
    domain = "imp.example" if "127.0.2.6" in args else "mx.example"
    r, why, _ = route(net, domain, *args)
    assert r is None
    assert (why["kind"], why["status"]) == ("deferred", "5.4.6")
    assert why["text"] == "mail for %s loops back to myself" % domain


# -- fixed next hops -----------------------------------------------------------

def test_fixed_host_no_mx(net):
    r, hosts, _ = route(net, "[mx2.mx.example]", "-n")
    assert [(h["name"], h["addrs"], h["addr_sec"]) for h in hosts] == \
        [("mx2.mx.example", "127.0.2.2", "secure")]


def test_fixed_literal(net):
    r, hosts, _ = route(net, "[127.0.0.1]", "-n")
    assert [(h["addrs"], h["addr_sec"]) for h in hosts] == \
        [("127.0.0.1", "insecure")]


def test_fixed_host_with_mx(net):
    r, hosts, _ = route(net, "mx.example", "-n")
    assert [h["name"] for h in hosts] == ["mx1.mx.example", "mx2.mx.example"]


def test_fixed_host_bogus_defers(net):
    r, why, _ = route(net, "[mx1.bad.example]", "-n")
    assert r is None
    assert (why["kind"], why["status"]) == ("deferred", "4.4.3")


# -- raw answers and resolver failures -----------------------------------------

def test_raw_answer(net):
    a = answer(net, "mx1.mx.example", "A")
    assert (a["rc"], a["sec"], a["n"]) == ("found", "secure", "1")
    a = answer(net, "mx1.bad.example", "A")
    assert (a["rc"], a["sec"], a["n"]) == ("tempfail", "bogus", "0")
    assert "validation failure" in a["why"]
    a = answer(net, "alias.mx.example", "A")
    assert a["canon"] == "mx1.mx.example"


@pytest.mark.slow
def test_dead_resolver_defers(net, tmp_path):
    conf = tmp_path / "postern.conf"
    conf.write_text("resolver = forward\nresolver_forward = 127.0.53.250@53\n"
                    "resolver_option = do-not-query-localhost: no\n")
    r, why, _ = route(net, "mx.example", conf=str(conf))
    assert r is None
    assert (why["kind"], why["status"]) == ("deferred", "4.4.3")


def test_bad_resolver_option_is_an_error(net, tmp_path):
    conf = tmp_path / "postern.conf"
    conf.write_text("\n".join(net.conf_lines()) +
                    "\nresolver_option = no-such-option: yes\n")
    rc, out, err = dnsq(net, "mx.example", conf=str(conf))
    assert rc == 2 and "no-such-option" in err


# -- the session-wide DNS as the other tests use it ----------------------------

def test_shared_dns_add_mx(dns):
    if dns is None:
        pytest.skip("no test DNS")
    dns.add_mx("d0.dnsq.example", [("mx0.d0.dnsq.example", "127.0.250.10"),
                                   ("mx1.d0.dnsq.example", "127.0.250.11")])
    conf = os.path.join(dns.workdir, "postern-dnsq.conf")
    with open(conf, "w") as f:
        f.write("\n".join(dns.conf_lines()) + "\n")
    p = subprocess.run([DNSQ, "-C", conf, "d0.dnsq.example"],
                       stdout=subprocess.PIPE, text=True, timeout=60)
    assert p.returncode == 0, p.stdout
    lines = p.stdout.splitlines()
    assert "mx_sec=secure" in lines[0]
    assert "name=mx0.d0.dnsq.example pref=10 addr_sec=secure" in lines[1]
    assert "addrs=127.0.250.10" in lines[1]
    assert "name=mx1.d0.dnsq.example pref=20" in lines[2]
