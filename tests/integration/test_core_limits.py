"""What postern refuses at the SMTP door: relaying for strangers, the
limits of RFC 5321 §4.5.3.1, and SMTP smuggling (a second message hidden
behind a line end that is not CRLF: the only end of data is
CRLF "." CRLF; bare LF lines are data, bare CR and NUL are refused).
"""

import re
import socket
import time

from harness import make_message, qid_from_reply, raw_session


def relay_setup(env, **conf):
    mx = env.mx(env.block.mx(0))
    domain, route_conf = env.route(mx.host)
    p = env.postern(dict(route_conf, **conf))
    return p, mx, domain


# -- relay control -------------------------------------------------------

def test_relay_denied_for_untrusted_client(env):
    """A client outside trusted_networks may not relay to a foreign
    domain: 554 5.7.1 at RCPT; nothing is queued or delivered."""
    p, mx, domain = relay_setup(
        env, trusted_networks=["%s/32" % env.block.postern])
    s = p.smtp(source=env.block.client)
    try:
        s.ehlo("stranger.test")
        code, _ = s.mail("x@stranger.test")
        assert code == 250
        code, text = s.rcpt("victim@" + domain)
        assert code == 554, (code, text)
        assert text.startswith(b"5.7.1"), text
        code, _ = s.docmd("DATA")
        assert code in (503, 554), code
    finally:
        s.close()
    # The same client from a trusted address may.
    code, text = p.send("x@client.test", ["ok@" + domain],
                        make_message("trusted"), source=env.block.postern)
    assert code == 250, text
    msgs = mx.wait_for(1, 30)
    assert [m.rcpt_tos for m in msgs] == [["ok@" + domain]]


def test_relay_domains_accepted_from_anyone(env):
    """A domain in relay_domains is accepted from an untrusted client."""
    mx = env.mx(env.block.mx(0))
    domain, route_conf = env.route(mx.host)
    p = env.postern(dict(route_conf, relay_domains=[domain],
                         trusted_networks=["%s/32" % env.block.postern]))
    code, text = p.send("x@stranger.test", ["in@" + domain],
                        make_message("inbound"), source=env.block.client)
    assert code == 250, text
    assert mx.wait_for(1, 30)[0].rcpt_tos == ["in@" + domain]


# -- limits ---------------------------------------------------------------

def test_size_limit(env):
    p, mx, domain = relay_setup(env, max_message_size=10240)
    s = p.smtp()
    try:
        code, _ = s.ehlo("client.test")
        assert code == 250
        assert s.has_extn("size")
        assert s.esmtp_features["size"].strip() == "10240"
        # Declared too big: refused at MAIL (RFC 1870 §6.1).
        code, text = s.docmd("MAIL FROM:<a@client.test> SIZE=20000")
        assert code == 552, (code, text)
        # Not declared, too big in fact: refused after the data.
        code, _ = s.mail("a@client.test")
        assert code == 250
        code, _ = s.rcpt("big@" + domain)
        assert code == 250
        code, text = s.data(make_message("big", body="x" * 76 + "\r\n" * 1
                                         ) + (b"y" * 998 + b"\r\n") * 20)
        assert code == 552, (code, text)
        # The session goes on.
        code, _ = s.noop()
        assert code == 250
    finally:
        s.close()
    time.sleep(1)
    assert mx.count() == 0


def test_too_many_recipients(env):
    p, mx, domain = relay_setup(env, max_recipients=3)
    s = p.smtp()
    try:
        s.ehlo("client.test")
        s.mail("a@client.test")
        for i in range(3):
            code, _ = s.rcpt("r%d@%s" % (i, domain))
            assert code == 250
        code, text = s.rcpt("r3@" + domain)
        # RFC 5321 §4.5.3.1.10: 452 (or 552, old practice).
        assert code in (452, 552), (code, text)
        code, text = s.data(make_message("three only"))
        assert code == 250, text
    finally:
        s.quit()
    msgs = mx.wait_for(1, 30)
    got = sorted(r for m in mx.wait_for(1, 5) for r in m.rcpt_tos)
    assert got == ["r%d@%s" % (i, domain) for i in range(3)], msgs


def test_long_command_line(env):
    """RFC 5321 §4.5.3.1.4: 512 octets per command line.  A longer one
    is refused with 500 and the session stays usable."""
    p = env.postern()
    replies = raw_session(p.addr, p.port, [
        b"EHLO client.test\r\n",
        b"MAIL FROM:<" + b"a" * 3000 + b"@client.test>\r\n",
        b"NOOP\r\n",
        b"QUIT\r\n"])
    assert replies[0].startswith("220"), replies
    assert replies[1].startswith("250"), replies
    assert re.match(r"5\d\d ", replies[2]), replies
    assert replies[3].startswith("250"), replies
    assert replies[4].startswith("221"), replies


def test_rcpt_before_mail_and_data_before_rcpt(env):
    p = env.postern()
    replies = raw_session(p.addr, p.port, [
        b"EHLO client.test\r\n",
        b"RCPT TO:<x@example.com>\r\n",
        b"DATA\r\n",
        b"QUIT\r\n"])
    assert replies[2].startswith("503"), replies
    assert replies[3].startswith("503"), replies


# -- SMTP smuggling -------------------------------------------------------

def smtp_dialogue(addr, port, rcpt, body, timeout=15):
    """Sends the envelope, DATA, then body + ".\\r\\n" + QUIT in one
    write, and reads every reply until the server closes.  Returns the
    list of final reply lines after the 354."""
    s = socket.create_connection((addr, port), timeout=timeout)
    f = s.makefile("rb")

    def reply():
        out = []
        for _ in range(50):
            line = f.readline(4096)
            if not line:
                break
            out.append(line)
            if line[3:4] != b"-":
                break
        return b"".join(out).decode("utf-8", "replace")

    try:
        assert reply().startswith("220")
        for cmd in (b"EHLO client.test\r\n", b"MAIL FROM:<a@client.test>\r\n",
                    b"RCPT TO:<%s>\r\n" % rcpt.encode()):
            s.sendall(cmd)
            r = reply()
            assert r.startswith("250"), r
        s.sendall(b"DATA\r\n")
        r = reply()
        assert r.startswith("354"), r
        s.sendall(body + b"\r\n.\r\nQUIT\r\n")
        replies = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(replies) < 20:
            r = reply()
            if not r:
                break
            replies.append(r.strip())
        return replies
    finally:
        s.close()


SMUGGLED = (b"MAIL FROM:<evil@client.test>\r\nRCPT TO:<victim@%s>\r\n"
            b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n")

SMUGGLE_ENDS = {
    "lf-dot-lf": b"\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "crlf-dot-lf": b"\r\n.\n",
}


def test_smuggling_lf_variants_are_data(env):
    """A "." line ended (or begun) by a bare LF is not the end of data:
    everything up to the real CRLF.CRLF is one message, with one 250,
    and the hidden commands are delivered as text of that message."""
    p, mx, domain = relay_setup(env)
    for i, (name, end) in enumerate(sorted(SMUGGLE_ENDS.items())):
        rcpt = "r%d@%s" % (i, domain)
        body = (b"Subject: smuggle %s\r\n\r\nfirst part" % name.encode()
                + end + SMUGGLED % domain.encode() + b"tail")
        replies = smtp_dialogue(p.addr, p.port, rcpt, body)
        assert len(replies) == 2, (name, replies)
        assert replies[0].startswith("250"), (name, replies)
        assert replies[1].startswith("221"), (name, replies)
    msgs = mx.wait_for(len(SMUGGLE_ENDS), 30)
    time.sleep(1)
    msgs = list(mx.messages)
    assert len(msgs) == len(SMUGGLE_ENDS), msgs
    for m in msgs:
        assert m.mail_from == "a@client.test", m
        assert len(m.rcpt_tos) == 1 and not m.rcpt_tos[0].startswith("victim")
        assert b"MAIL FROM:<evil@client.test>" in m.data
        assert b"Subject: smuggled" in m.data
        # Bare LF lines were normalised: no LF without its CR remains.
        assert re.search(rb"(?<!\r)\n", m.data) is None, m.data
        assert b"\r" not in m.data.replace(b"\r\n", b"")
    assert not mx.by_rcpt("victim@" + domain)


def test_smuggling_bare_cr_refused(env):
    p, mx, domain = relay_setup(env)
    body = b"Subject: cr\r\n\r\nfirst\r.\rMAIL FROM:<evil@client.test>\r\nx"
    replies = smtp_dialogue(p.addr, p.port, "cr@" + domain, body)
    assert replies, replies
    assert replies[0].startswith("550 5.6.11"), replies
    assert all(not r.startswith("250") for r in replies), replies
    time.sleep(1)
    assert mx.count() == 0


def test_nul_in_data_refused(env):
    p, mx, domain = relay_setup(env)
    body = b"Subject: nul\r\n\r\nbefore\x00after\r\n"
    replies = smtp_dialogue(p.addr, p.port, "nul@" + domain, body)
    assert replies and replies[0].startswith("550 5.6.0"), replies
    time.sleep(1)
    assert mx.count() == 0


def test_dot_stuffing_round_trip(env):
    """Lines starting with "." survive both hops: unstuffed on receipt,
    stuffed again on delivery."""
    p, mx, domain = relay_setup(env)
    body = b".\r\n..\r\n.x\r\n...y\r\n"
    data = b"Subject: dots\r\n\r\n" + body
    code, text = p.send("a@client.test", ["dots@" + domain], data)
    assert code == 250, text
    m = mx.wait_for(1, 30)[0]
    assert m.data.endswith(data), m.data
    assert qid_from_reply(text)
