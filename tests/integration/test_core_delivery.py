"""Core relay path: a client submits to postern (swaks, smtplib), postern
finds the destination's MX in the signed test DNS and delivers to a
recording peer.  Checked: delivered bytes, envelope, the Received header
postern adds, the log lines, and an empty queue afterwards.
"""

import email
import re
import subprocess

from harness import make_message, qid_from_reply

RCPT_TIMEOUT = 30


def relay_setup(env, **conf):
    mx = env.mx(env.block.mx(0))
    domain, route_conf = env.route(mx.host)
    conf = dict(route_conf, **conf)
    p = env.postern(conf)
    return p, mx, domain


def test_smtplib_relay_delivers_bytes_envelope_received(env):
    p, mx, domain = relay_setup(env)
    rcpt = "alice@" + domain
    body = ("line one\r\n.leading dot\r\n..two dots\r\n\r\n"
            "last line without much\r\n")
    data = make_message("relay test", body=body, to=rcpt)
    code, text = p.send("sender@client.test", [rcpt], data,
                        source=env.block.postern2)
    assert code == 250, text
    qid = qid_from_reply(text)
    assert qid, "250 reply carries no queue id: %r" % text

    msgs = mx.wait_for(1, RCPT_TIMEOUT)
    assert len(msgs) == 1, p.diagnostics()
    m = msgs[0]
    assert m.mail_from == "sender@client.test"
    assert m.rcpt_tos == [rcpt]
    # What follows postern's own Received header is exactly what the
    # client sent (dot-unstuffed, CRLF).
    assert m.data.startswith(b"Received: "), m.data[:200]
    assert m.data.endswith(data), m.data[-300:]
    received = m.data[:len(m.data) - len(data)].decode()
    unfolded = " ".join(received.split())
    assert "[%s]" % env.block.postern2 in unfolded, unfolded
    assert "postern.test" in unfolded, unfolded
    assert qid in unfolded, unfolded
    assert re.search(r";\s*\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}",
                     unfolded), unfolded
    parsed = email.message_from_bytes(m.data)
    assert parsed["Subject"] == "relay test"
    assert parsed["Message-ID"] == "<relaytest@client.test>"

    p.wait_log(r"%s: from=<sender@client\.test> size=\d+ nrcpt=1" % qid)
    line = p.wait_log(r"%s: to=<%s> (dest=\S+ )?relay=\S*\[%s\]:25 .*status=sent \(250"
                      % (qid, re.escape(rcpt), re.escape(mx.host)))[0]
    assert re.search(r"delay=[\d.]+", line.string)
    assert "attempt=1" in line.string
    p.wait_log(r"%s: removed|%s: .*status=sent" % (qid, qid))
    assert [q for q in p.queue() if q["qid"] == qid] == []


def test_swaks_submission(env):
    p, mx, domain = relay_setup(env)
    rcpt = "bob@" + domain
    r = subprocess.run(
        ["swaks", "--server", "%s:%d" % (p.addr, p.port),
         "--helo", "swaks.client.test", "--from", "swaks@client.test",
         "--to", rcpt, "--header", "Subject: swaks test",
         "--body", "sent by swaks", "--timeout", "20"],
        capture_output=True, timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, out + r.stderr.decode()
    m = re.search(r"<-\s+250 .*", out.split("-> .")[-1])
    assert m, out
    qid = qid_from_reply(m.group(0))
    assert qid, m.group(0)
    msgs = mx.wait_for(1, RCPT_TIMEOUT)
    assert len(msgs) == 1, p.diagnostics()
    assert msgs[0].mail_from == "swaks@client.test"
    assert msgs[0].rcpt_tos == [rcpt]
    parsed = email.message_from_bytes(msgs[0].data)
    assert parsed["Subject"] == "swaks test"
    assert "sent by swaks" in parsed.get_payload()
    p.wait_log(r"%s: to=<%s> .*status=sent" % (qid, re.escape(rcpt)))


def test_several_recipients_one_transaction(env):
    """Three recipients at one destination: one connection, one message
    with all three, one log line each."""
    p, mx, domain = relay_setup(env)
    rcpts = ["r%d@%s" % (i, domain) for i in range(3)]
    code, text = p.send("multi@client.test", rcpts,
                        make_message("three", to=rcpts[0]))
    assert code == 250, text
    qid = qid_from_reply(text)
    msgs = mx.wait_for(1, RCPT_TIMEOUT)
    p.wait_log(r"%s: to=<.*status=sent" % qid, count=3)
    got = sorted(r for m in mx.messages for r in m.rcpt_tos)
    assert got == sorted(rcpts)
    assert len(msgs) == 1, msgs


def test_nonexistent_domain_bounces(env):
    """A domain that does not exist (NXDOMAIN in a secure zone) cannot be
    delivered: rejected at RCPT with 5xx, or bounced; never dropped."""
    mx = env.mx(env.block.mx(0))
    sender_domain, conf = env.route(mx.host, n=1)
    if env.dns is None:
        import pytest
        pytest.skip("needs the signed test DNS")
    p = env.postern(conf)
    rcpt = "nobody@nonexistent-%d.example" % env.block.k
    code, text = p.send("s@" + sender_domain, [rcpt],
                        make_message("nowhere", to=rcpt))
    if code != 250:
        assert 500 <= code < 600, text
        return
    qid = qid_from_reply(text)
    p.wait_log(r"%s: to=<%s> .*status=bounced" % (qid, re.escape(rcpt)),
               timeout=30)
    dsn = mx.wait_for(1, 30)
    assert dsn and dsn[0].mail_from == "", dsn


def test_config_check(env):
    """postern -n checks a file: ok for ours, file:line for a bad key."""
    p = env.postern(start=False)
    rc, out = p.check_conf()
    assert rc == 0, out
    assert "configuration ok" in out
    with open(p.conf_path, "a") as f:
        f.write("no_such_key = 1\n")
    rc, out = p.check_conf()
    assert rc != 0
    n = len(open(p.conf_path).read().splitlines())
    assert re.search(r"%s:%d: " % (re.escape(p.conf_path), n), out), out
