"""Delivery side: batches over one connection, reconnecting to the next MX
when a connection drops, delay notices (once), expiry into a 4.4.7
failure, DSN rules (null sender, a failed DSN to postmaster once).
Inputs are the peers' replies and a few postern.conf keys; expectations
are log lines, what the peers received, and the RFC 3464 reports.
"""

import email
import re
import time

import pytest

from harness import make_message, qid_from_reply

WAIT = 30


def routes(env, **mxkw):
    """Destination (MX peer 0) and the sender's domain (peer 1, where
    DSNs arrive); one relayhost for both without the test DNS."""
    dest_mx = env.mx(env.block.mx(0), **mxkw)
    dest, conf = env.route(dest_mx.host, n=0)
    if "relayhost" in conf:
        return dest, dest_mx, "client.test", dest_mx, dict(conf)
    back_mx = env.mx(env.block.mx(1))
    back, _ = env.route(back_mx.host, n=1)
    return dest, dest_mx, back, back_mx, dict(conf)


def dsns_of(mx, count=1, timeout=WAIT):
    deadline = time.monotonic() + timeout
    got = []
    while time.monotonic() < deadline:
        got = [m for m in list(mx.messages) if m.mail_from in ("", "<>")]
        if len(got) >= count:
            break
        time.sleep(0.1)
    return got


def report_fields(data):
    """(top-level message, {field: [values]}) of a DSN's delivery-status."""
    rep = email.message_from_bytes(data)
    assert rep.get_content_type() == "multipart/report"
    assert rep.get_param("report-type") == "delivery-status"
    assert rep["Auto-Submitted"] == "auto-replied"
    parts = rep.get_payload()
    assert [p.get_content_type() for p in parts][:2] == [
        "text/plain", "message/delivery-status"]
    fields = {}
    for g in parts[1].get_payload():
        for k, v in g.items():
            fields.setdefault(k.lower(), []).append(" ".join(v.split()))
    return rep, fields


def check_wire_lines(data):
    for line in data.split(b"\r\n"):
        assert b"\n" not in line and b"\r" not in line
        assert len(line) <= 998


def queue_while_down(env, p, dest, n, tag):
    """Submits n messages while the MX is down; returns their qids once
    each has been deferred."""
    qids = []
    for i in range(n):
        r = "%s%d@%s" % (tag, i, dest)
        code, text = p.send("s@client.test", [r], make_message(tag, to=r))
        assert code == 250, text
        qids.append(qid_from_reply(text))
    for qid in qids:
        p.wait_log(r"%s: to=<.*status=deferred" % qid, timeout=WAIT)
    return qids


def test_batch_shares_one_connection(env):
    mx_addr = env.block.mx(0)
    dest, conf = env.route(mx_addr, n=0)
    # A long retry: only the flush makes them due, all in one pass.
    conf.update(retry_min=3600, retry_max=7200)
    p = env.postern(conf)
    qids = queue_while_down(env, p, dest, 4, "b")
    mx = env.mx(mx_addr)
    mark = p.mark()
    p.flush()
    msgs = mx.wait_for(4, WAIT)
    assert len(msgs) == 4, p.diagnostics()
    assert len({m.conn_id for m in msgs}) == 1, [m.conn_id for m in msgs]
    for qid in qids:
        p.wait_log(r"%s: to=<.*attempt=2 .*status=sent \(250" % qid,
                   timeout=WAIT, since=mark)


def test_dropped_connection_goes_on_with_next_mx(env):
    if env.dns is None:
        pytest.skip("needs the test DNS for two MX hosts")
    a0, a1 = env.block.mx(0), env.block.mx(1)
    dest, conf = env.route([a0, a1], n=0)
    conf.update(retry_min=3600, retry_max=7200)
    p = env.postern(conf)
    qids = queue_while_down(env, p, dest, 3, "c")
    # The first MX drops the connection after one message.
    first = env.mx(a0, close_after=1)
    second = env.mx(a1)
    p.flush()
    for qid in qids:
        p.wait_log(r"%s: to=<.*status=sent" % qid, timeout=WAIT)
    assert len(first.messages) == 1, (first.messages, p.diagnostics())
    assert len(second.messages) == 2, (second.messages, p.diagnostics())
    got = first.messages + second.messages
    assert sorted(r for m in got for r in m.rcpt_tos) == sorted(
        "c%d@%s" % (i, dest) for i in range(3))


def test_delay_notice_once(env):
    box = {}
    dest, mx, back, back_mx, conf = routes(
        env, rcpt_replies=lambda a: box.get(a.lower()))
    rcpt = "slow@" + dest
    box[rcpt] = "451 4.2.0 mailbox busy"
    conf.update(delay_warning_time=1, retry_min=1, retry_max=1)
    p = env.postern(conf)
    sender = "writer@" + back
    code, text = p.send(sender, [rcpt], make_message("slow", to=rcpt,
                                                     sender=sender))
    assert code == 250, text
    qid = qid_from_reply(text)
    p.wait_log(r"%s: dsn=\S+ kind=delay" % qid, timeout=WAIT)
    d = dsns_of(back_mx)
    assert len(d) == 1, (back_mx.messages, p.diagnostics())
    assert d[0].rcpt_tos == [sender]
    check_wire_lines(d[0].data)
    rep, f = report_fields(d[0].data)
    assert rep["Subject"] == "Delayed Mail (still being retried)"
    assert f["action"] == ["delayed"], f
    assert f["final-recipient"] == ["rfc822; " + rcpt], f
    assert f["status"] == ["4.2.0"], f
    assert f.get("will-retry-until"), f
    assert any("451 4.2.0 mailbox busy" in v for v in f["diagnostic-code"])
    # More attempts, still only one notice.
    p.wait_log(r"%s: to=<.*attempt=4 .*status=deferred" % qid, timeout=WAIT)
    assert len(p.grep_log(r"%s: dsn=\S+ kind=delay" % qid)) == 1
    assert len(dsns_of(back_mx, count=2, timeout=1)) == 1


def test_expiry_bounces_with_447(env):
    box = {}
    dest, mx, back, back_mx, conf = routes(
        env, rcpt_replies=lambda a: box.get(a.lower()))
    rcpt = "never@" + dest
    box[rcpt] = "451 4.3.0 not today"
    conf.update(max_queue_lifetime=3, delay_warning_time=0, retry_min=1,
                retry_max=1)
    p = env.postern(conf)
    sender = "writer@" + back
    code, text = p.send(sender, [rcpt], make_message("expire", to=rcpt,
                                                     sender=sender))
    assert code == 250, text
    qid = qid_from_reply(text)
    line = p.wait_log(r"%s: to=<%s> .*status=bounced" % (qid, re.escape(rcpt)),
                      timeout=WAIT)[0]
    assert "delivery time expired" in line.string
    assert "451 4.3.0 not today" in line.string
    p.wait_log(r"%s: dsn=\S+ kind=failure" % qid, timeout=WAIT)
    d = dsns_of(back_mx)
    assert len(d) == 1, p.diagnostics()
    _, f = report_fields(d[0].data)
    assert f["action"] == ["failed"] and f["status"] == ["4.4.7"], f
    assert not [m for m in p.queue() if m["qid"] == qid]


def test_null_sender_gets_no_dsn(env):
    dest, mx, back, back_mx, conf = routes(env)
    rcpt = "gone@" + dest
    mx.rcpt_replies = {rcpt: "550 5.1.1 gone"}
    p = env.postern(conf)
    code, text = p.send("", [rcpt], make_message("bounce of a bounce",
                                                 to=rcpt, sender=""))
    assert code == 250, text
    qid = qid_from_reply(text)
    p.wait_log(r"%s: to=<%s> .*status=bounced" % (qid, re.escape(rcpt)),
               timeout=WAIT)
    p.wait_log(r"%s: no failure notice: null sender" % qid, timeout=WAIT)
    assert not p.grep_log(r"%s: dsn=" % qid)


def test_failed_dsn_goes_to_postmaster_once(env):
    dest, mx, back, back_mx, conf = routes(env)
    rcpt = "nobody@" + dest
    sender = "forged@" + back
    mx.rcpt_replies = {rcpt: "550 5.1.1 no such user"}
    back_mx.rcpt_replies = dict(back_mx.rcpt_replies or {},
                                **{sender: "550 5.1.1 no such sender"})
    p = env.postern(conf)
    code, text = p.send(sender, [rcpt], make_message("x", to=rcpt,
                                                     sender=sender))
    assert code == 250, text
    qid = qid_from_reply(text)
    m = p.wait_log(r"%s: dsn=(\S+) kind=failure" % qid, timeout=WAIT)[0]
    dsn = m.group(1)
    p.wait_log(r"%s: to=<%s> .*status=bounced" % (dsn, re.escape(sender)),
               timeout=WAIT)
    m2 = p.wait_log(r"%s: dsn=(\S+) kind=failure" % dsn, timeout=WAIT)[0]
    pm = m2.group(1)
    # postmaster@postern.test is local: however that delivery ends, no
    # further notice is generated (a failed one is dropped and logged).
    line = p.wait_log(r"%s: to=<postmaster@postern\.test> .*status=(\w+)"
                      % pm, timeout=WAIT)[0]
    if line.group(1) == "bounced":
        p.wait_log(r"%s: no failure notice: undeliverable notice to "
                   r"postmaster dropped" % pm, timeout=WAIT)
    time.sleep(1)
    assert not p.grep_log(r"%s: dsn=" % pm)


def _send_ret_full(p, source, sender, rcpt, data):
    s = p.smtp(source)
    try:
        s.ehlo("stranger.test")
        code, msg = s.mail(sender, ["RET=FULL"])
        assert code == 250, msg
        code, msg = s.rcpt(rcpt)
        assert code == 250, msg
        code, msg = s.data(data)
        assert code == 250, msg
        return qid_from_reply(msg.decode())
    finally:
        s.quit()


def test_ret_full_of_untrusted_mail_is_headers_only_when_large(env):
    """A client outside trusted_networks asks for RET=FULL (as a forger
    of the sender would): a message above bounce_full_max_size comes back
    as its headers only (text/rfc822-headers) and the notice says so; a
    small one comes back whole.  Judged in the DSNs the sender's MX got."""
    dest, mx, back, back_mx, conf = routes(env)
    # bounce_full_max_size is left at its default, 64k.
    conf.update(trusted_networks=["%s/32" % env.block.postern],
                relay_domains=[dest], greet_delay=0)
    p = env.postern(conf)
    sender = "writer@" + back
    cases = {"large": 100 * 1024, "small": 2 * 1024}
    for tag, size in cases.items():
        rcpt = "gone-%s@%s" % (tag, dest)
        mx.rcpt_replies[rcpt] = "550 5.1.1 gone"
        line = "%s-body-line-%s\r\n" % (tag, "x" * 60)
        body = line * (size // len(line) + 1)
        qid = _send_ret_full(p, env.block.client, sender, rcpt,
                             make_message("ret " + tag, body=body, to=rcpt,
                                          sender=sender))
        p.wait_log(r"%s: dsn=\S+ kind=failure" % qid, timeout=WAIT)
    d = dsns_of(back_mx, count=2)
    assert len(d) == 2, p.diagnostics()
    by_subject = {}
    for m in d:
        rep, f = report_fields(m.data)
        check_wire_lines(m.data)
        orig = rep.get_payload()[2]
        subj = (orig.get_payload()[0]["Subject"]
                if orig.get_content_type() == "message/rfc822"
                else email.message_from_string(orig.get_payload())["Subject"])
        by_subject[subj] = (rep, m.data)
    rep, raw = by_subject["ret large"]
    assert rep.get_payload()[2].get_content_type() == "text/rfc822-headers"
    assert b"large-body-line" not in raw
    assert b"too large to return" in raw
    assert b"only its\r\nheaders are returned" in raw
    rep, raw = by_subject["ret small"]
    assert rep.get_payload()[2].get_content_type() == "message/rfc822"
    assert raw.count(b"small-body-line") >= cases["small"] // 80
    assert b"headers are returned" not in raw
