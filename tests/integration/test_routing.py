"""MX routing under hostile conditions (RFC 5321 §5.1, RFC 7505): a
refused MX falls through to the next, a blackholed MX (packets dropped by
an nftables rule) falls through within connect_timeout and is then
skipped for a while without slowing other destinations, postern listed
as MX 20 delivers only to MX 10 (never to itself or MX 30), null MX
bounces at once with 5.1.10, the transport table routes a domain to a
fixed next hop, and a 550 recipient gets an RFC 3464 report.
"""

import email
import re
import shutil
import time

import pytest

import harness
from harness import make_message, qid_from_reply
from routepeers import Blackhole

WAIT = 30


def need_dns(env):
    if env.dns is None:
        pytest.skip("needs the signed test DNS")


def send(p, rcpt, tag, sender="s@client.test"):
    code, text = p.send(sender, [rcpt], make_message(tag, to=rcpt,
                                                     sender=sender))
    assert code == 250, text
    return qid_from_reply(text)


def test_refused_mx_falls_through(env):
    need_dns(env)
    second = env.mx(env.block.mx(1))
    dest, conf = env.route([env.block.mx(0), second.host])   # MX 10 closed
    p = env.postern(conf)
    qid = send(p, "a@" + dest, "refused")
    assert len(second.wait_for(1, WAIT)) == 1, p.diagnostics()
    p.wait_log(r"%s: to=<a@%s> relay=mx1\.%s\[%s\]:25 .*attempt=1 "
               r"status=sent" % (qid, re.escape(dest), re.escape(dest),
                                 re.escape(second.host)), timeout=WAIT)


@pytest.mark.skipif(shutil.which("nft") is None, reason="needs nft")
def test_blackholed_mx_falls_through_within_timeout(env):
    need_dns(env)
    dead = env.block.mx(0)
    second = env.mx(env.block.mx(1))
    other = env.mx(env.block.mx(2))
    dest, conf = env.route([dead, second.host], n=0)
    other_dest, _ = env.route(other.host, n=1)
    hole = Blackhole(dead, "b%d" % env.block.k)
    env.on_stop(hole.remove)
    hole.add()
    conf.update(connect_timeout=2, retry_min=30, retry_max=60)
    p = env.postern(conf)
    t0 = time.monotonic()
    send(p, "x@" + dest, "blackhole 1")
    send(p, "y@" + other_dest, "other destination")
    assert len(other.wait_for(1, WAIT)) == 1
    t_other = time.monotonic() - t0
    assert len(second.wait_for(1, WAIT)) == 1, p.diagnostics()
    t_first = time.monotonic() - t0
    # The dropped SYN costs one connect_timeout, no more; the other
    # destination did not wait for it.
    assert 1.5 <= t_first < 2 + 5, t_first
    assert t_other < t_first
    line = p.wait_log(r"connect to mx0\.%s\[%s\]:25: .*" % (
        re.escape(dest), re.escape(dead)), timeout=5)[0]
    assert "refused" not in line.string.lower()
    # Remembered: the next message skips the dead host at once.
    t1 = time.monotonic()
    send(p, "z@" + dest, "blackhole 2")
    assert len(second.wait_for(2, WAIT)) == 2
    assert time.monotonic() - t1 < 1.5
    p.wait_log(r"skipping mx0\.%s\[%s\]: not tried for \d+s" % (
        re.escape(dest), re.escape(dead)), timeout=5)
    rc, out, _ = p.command("status")
    assert dead in out, out


def self_mx_route(env, self_pref_first=False):
    """MX 10 mx(0), MX 20 postern itself, MX 30 mx(2) (or postern first)."""
    dom = env.block.domain(0)
    me = ("me.%s" % dom, env.block.postern)
    hosts = [("mx10.%s" % dom, env.block.mx(0), 10), me + (20,),
             ("mx30.%s" % dom, env.block.mx(2), 30)]
    if self_pref_first:
        hosts = [me + (10,), ("mx20.%s" % dom, env.block.mx(0), 20)]
    env.dns.add_mx(dom, hosts)
    return dom


def test_postern_as_mx20_delivers_only_to_mx10(env):
    need_dns(env)
    dom = self_mx_route(env)
    best = env.mx(env.block.mx(0))
    worse = env.mx(env.block.mx(2))
    p = env.postern({"relay_domains": [dom]})
    # Mail for the domain reaches us as backup MX from outside.
    code, text = p.send("s@elsewhere.example", ["u@" + dom],
                        make_message("backup", to="u@" + dom),
                        source=env.block.client)
    assert code == 250, text
    assert len(best.wait_for(1, WAIT)) == 1, p.diagnostics()
    # MX 10 gone: postern keeps the mail, never MX 30, never itself.
    best.stop()
    qid = send(p, "v@" + dom, "backup 2")
    p.wait_log(r"%s: to=<v@%s> relay=none .*status=deferred \(connect to "
               r"mx10\." % (qid, re.escape(dom)), timeout=WAIT)
    time.sleep(1)
    assert worse.count() == 0
    assert not p.grep_log(r"relay=me\.|relay=mx30\.")


def test_postern_as_best_mx_defers_loop(env):
    need_dns(env)
    dom = self_mx_route(env, self_pref_first=True)
    other = env.mx(env.block.mx(0))
    p = env.postern({"mx_self_names": ["me.%s" % dom]})
    qid = send(p, "w@" + dom, "loop")
    p.wait_log(r"%s: to=<w@%s> .*status=deferred \(mail for %s loops back "
               r"to myself\)" % (qid, re.escape(dom), re.escape(dom)),
               timeout=WAIT)
    assert other.count() == 0


def test_null_mx_bounces_at_once(env):
    need_dns(env)
    back = env.mx(env.block.mx(1))
    back_dom, conf = env.route(back.host, n=1)
    dom = env.block.domain(0)
    env.dns.add_records(["%s. 300 IN MX 0 ." % dom])
    p = env.postern(conf)
    qid = send(p, "n@" + dom, "null mx", sender="w@" + back_dom)
    p.wait_log(r"%s: to=<n@%s> .*attempt=1 status=bounced" % (
        qid, re.escape(dom)), timeout=WAIT)
    d = [m for m in back.wait_for(1, WAIT) if m.mail_from == ""]
    assert len(d) == 1, p.diagnostics()
    rep = email.message_from_bytes(d[0].data)
    status = [p_ for p_ in rep.walk()
              if p_.get_content_type() == "message/delivery-status"]
    assert status
    assert "5.1.10" in d[0].data.decode()


def test_550_recipient_gets_multipart_report(env):
    need_dns(env)
    mx = env.mx(env.block.mx(0), rcpt_replies={})
    back = env.mx(env.block.mx(1))
    dom, conf = env.route(mx.host, n=0)
    back_dom, _ = env.route(back.host, n=1)
    mx.rcpt_replies = {"gone@" + dom: "550 5.1.1 <gone> no such user"}
    p = env.postern(conf)
    send(p, "gone@" + dom, "five fifty", sender="w@" + back_dom)
    d = [m for m in back.wait_for(1, WAIT) if m.mail_from == ""]
    assert len(d) == 1, p.diagnostics()
    rep = email.message_from_bytes(d[0].data)
    assert rep.get_content_type() == "multipart/report"
    assert rep.get_param("report-type") == "delivery-status"
    parts = rep.get_payload()
    st = parts[1]
    assert st.get_content_type() == "message/delivery-status"
    groups = st.get_payload()
    per_rcpt = groups[1]
    assert per_rcpt["Action"] == "failed"
    assert per_rcpt["Status"] == "5.1.1"
    assert "no such user" in per_rcpt["Diagnostic-Code"]
    assert "gone@" + dom in per_rcpt["Final-Recipient"]
    # The original headers come back (RFC 3464 §2: third part).
    assert "Subject: five fifty" in parts[2].as_string()


def test_transport_table_routes_to_fixed_next_hop(env):
    inner = env.mx(env.block.mx(3), port=2525)
    table = env.tmp / "transport"
    table.write_text("# edge MX forwards to the inner server\n"
                     "org.b%d.example   [%s]:2525\n"
                     ".org.b%d.example  [%s]:2525\n"
                     % (env.block.k, inner.host, env.block.k, inner.host))
    p = env.postern({"transport_table": str(table),
                     "relay_domains": ["org.b%d.example" % env.block.k]})
    for r in ("a@org.b%d.example" % env.block.k,
              "b@sub.org.b%d.example" % env.block.k):
        qid = send(p, r, "transport")
        p.wait_log(r"%s: to=<%s> dest=\S+ relay=\S*\[%s\]:2525 .*status=sent"
                   % (qid, re.escape(r), re.escape(inner.host)),
                   timeout=WAIT)
    assert len(inner.wait_for(2, WAIT)) == 2


def test_bad_transport_table_says_file_and_line(env):
    # postern -n and the daemon's start refuse it, with file:line
    # (a table broken while postern runs: test_operate.py).
    table = env.tmp / "transport"
    table.write_text("a.example [127.0.0.1]:25\nb.example [127.0.0.1:25\n")
    p = env.postern({"transport_table": str(table)}, start=False)
    rc, out = p.check_conf()
    assert rc == 78 and re.search(r"transport:2: unbalanced \[ in relayhost",
                                  out), out
    with pytest.raises(harness.PosternError) as e:
        p.start()
    assert "exited with 78" in str(e.value)
    assert re.search(r"transport:2: unbalanced \[", str(e.value)), e.value
