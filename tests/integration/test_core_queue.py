"""The queue across failures: a 4xx from the MX defers (visible in
"postern queue", made due by "postern flush"), a 5xx bounces with an
RFC 3464 DSN to the sender, and kill -9 of the whole daemon between
receipt and delivery loses nothing and delivers once.
"""

import email
import re
import time

from harness import make_message, qid_from_reply


def two_domains(env, **mxkw):
    """Destination domain (MX peer 0) and the sender's domain (peer 1,
    where DSNs arrive)."""
    dest_mx = env.mx(env.block.mx(0), **mxkw)
    back_mx = env.mx(env.block.mx(1))
    dest, c1 = env.route(dest_mx.host, n=0)
    back, c2 = env.route(back_mx.host, n=1)
    conf = dict(c1)
    if "relayhost" in c2 and "relayhost" in c1:
        # Without the test DNS both routes are the one relayhost.
        back_mx = dest_mx
    return dest, dest_mx, back, back_mx, conf


def test_4xx_defers_queue_lists_flush_delivers(env):
    rcpt_box = {}
    dest, mx, back, _, conf = two_domains(
        env, rcpt_replies=lambda a: rcpt_box.get(a.lower()))
    rcpt = "later@" + dest
    rcpt_box[rcpt] = "451 4.3.0 come back later"
    # A long retry interval: only the flush can make it due again.
    conf.update(retry_min=3600, retry_max=7200)
    p = env.postern(conf)
    code, text = p.send("s@" + back, [rcpt], make_message("deferred"))
    assert code == 250, text
    qid = qid_from_reply(text)
    line = p.wait_log(r"%s: to=<%s> .*status=deferred" % (qid, re.escape(rcpt)),
                      timeout=30)[0]
    assert "451 4.3.0 come back later" in line.string, line.string
    assert "attempt=1" in line.string
    assert mx.count() == 0

    q = p.queue()
    mine = [m for m in q if m["qid"] == qid]
    assert len(mine) == 1, q
    assert rcpt in mine[0]["rcpts"], mine
    assert "s@" + back in mine[0]["text"], mine

    # The MX recovers; nothing happens before the flush.
    del rcpt_box[rcpt]
    time.sleep(2)
    assert mx.count() == 0
    mark = p.mark()
    p.flush()
    p.wait_log(r"%s: to=<%s> .*attempt=2 .*status=sent"
               % (qid, re.escape(rcpt)), timeout=30, since=mark)
    msgs = mx.wait_for(1, 10)
    assert len(msgs) == 1 and msgs[0].rcpt_tos == [rcpt]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not [m for m in p.queue() if m["qid"] == qid]:
            break
        time.sleep(0.2)
    assert not [m for m in p.queue() if m["qid"] == qid], p.queue()


def test_5xx_bounces_with_dsn(env):
    dest, mx, back, back_mx, conf = two_domains(
        env, rcpt_replies={})
    bad = "nobody@" + dest
    good = "somebody@" + dest
    mx.rcpt_replies = {bad: "550 5.1.1 no such user here"}
    p = env.postern(conf)
    sender = "author@" + back
    original = make_message("will bounce", to=bad, sender=sender)
    code, text = p.send(sender, [bad, good], original)
    assert code == 250, text
    qid = qid_from_reply(text)
    p.wait_log(r"%s: to=<%s> .*status=bounced .*550 5\.1\.1"
               % (qid, re.escape(bad)), timeout=30)
    p.wait_log(r"%s: to=<%s> .*status=sent" % (qid, re.escape(good)),
               timeout=30)

    deadline = time.monotonic() + 30
    dsns = []
    while time.monotonic() < deadline and not dsns:
        dsns = [m for m in back_mx.messages if m.mail_from == ""]
        time.sleep(0.1)
    assert len(dsns) == 1, (back_mx.messages, p.diagnostics())
    d = dsns[0]
    assert d.rcpt_tos == [sender]
    rep = email.message_from_bytes(d.data)
    assert rep.get_content_type() == "multipart/report", rep.get_content_type()
    assert rep.get_param("report-type") == "delivery-status"
    parts = rep.get_payload()
    assert parts[0].get_content_maintype() == "text"
    status_part = [x for x in parts
                   if x.get_content_type() == "message/delivery-status"]
    assert len(status_part) == 1, [x.get_content_type() for x in parts]
    # The delivery-status body: per-message fields, then one group per
    # recipient (RFC 3464 §2.2, §2.3).
    groups = status_part[0].get_payload()
    fields = {}
    for g in groups:
        for k, v in g.items():
            fields.setdefault(k.lower(), []).append(" ".join(v.split()))
    assert fields.get("reporting-mta"), fields
    assert any(v.lower() == "rfc822; " + bad for v in
               fields.get("final-recipient", [])), fields
    assert fields.get("action") == ["failed"], fields
    assert fields.get("status") == ["5.1.1"], fields
    assert any("550 5.1.1" in v for v in fields.get("diagnostic-code", [])), \
        fields
    # Only the failed recipient is reported.
    assert not any(good in v for v in fields.get("final-recipient", []))
    # The original (or its headers) is attached.
    orig = [x for x in parts if x.get_content_type() in
            ("message/rfc822", "text/rfc822-headers",
             "message/rfc822-headers")]
    assert orig, [x.get_content_type() for x in parts]
    assert b"Subject: will bounce" in d.data


def test_kill9_between_receipt_and_delivery(env):
    """The MX is down when the mail arrives; the whole daemon is killed
    with SIGKILL; after a restart the mail is delivered exactly once."""
    dest = env.block.domain(0)
    mx_addr = env.block.mx(0)
    dest, conf = env.route(mx_addr, n=0)
    p = env.postern(conf)
    rcpts = ["k%d@%s" % (i, dest) for i in range(3)]
    qids = []
    for i, r in enumerate(rcpts):
        code, text = p.send("s@client.test", [r],
                            make_message("survivor %d" % i, to=r))
        assert code == 250, text
        qids.append(qid_from_reply(text))
    # At least one attempt failed against the closed port.
    p.wait_log(r"%s: to=<.*status=deferred" % qids[0], timeout=30)
    pids = p.all_pids()
    p.kill9()
    assert pids
    mx = env.mx(mx_addr)
    p.start()
    # Due again after retry_min; flush to not wait for it.
    p.flush()
    msgs = mx.wait_for(3, 40)
    time.sleep(3)       # a duplicate would show up by now
    msgs = list(mx.messages)
    got = sorted(r for m in msgs for r in m.rcpt_tos)
    assert got == sorted(rcpts), (got, p.diagnostics())
    subjects = sorted(email.message_from_bytes(m.data)["Subject"]
                      for m in msgs)
    assert subjects == ["survivor %d" % i for i in range(3)]
    for qid in qids:
        assert len(p.grep_log(r"%s: to=<.*status=sent" % qid)) == 1
    assert not [m for m in p.queue() if m["qid"] in qids]
