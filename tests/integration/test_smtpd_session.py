"""The inbound session beyond the core limits: early talkers, STARTTLS
command injection (RFC 3207 §4.2), the error limit, the command timeout,
relay tricks with "%", "!" and address literals, and the Received line
naming the queue id that the 250 reply gives.
"""

import re
import socket
import ssl
import time

from harness import make_message, qid_from_reply, raw_session


def _recv_until_close(s, timeout=10):
    s.settimeout(timeout)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        out += d
    return out.decode("utf-8", "replace")


def test_early_talker_refused(env):
    """A client outside trusted_networks that talks before the banner
    gets 554 and is disconnected."""
    p = env.postern({"trusted_networks": ["%s/32" % env.block.postern],
                     "greet_delay": 1})
    s = socket.create_connection((p.addr, p.port), timeout=10,
                                 source_address=(env.block.client, 0))
    try:
        s.sendall(b"EHLO early.test\r\n")
        out = _recv_until_close(s)
    finally:
        s.close()
    assert out.startswith("554 5.5.1"), out
    assert "220 " not in out, out
    p.wait_log(r"talked before the greeting", timeout=10)


def test_starttls_discards_pipelined_plaintext(env):
    """Commands pipelined after STARTTLS are not acted on after the
    handshake: the session starts over and needs EHLO again."""
    p = env.postern()
    s = socket.create_connection((p.addr, p.port), timeout=10)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        f = s.makefile("rb")
        assert f.readline().startswith(b"220")
        s.sendall(b"EHLO client.test\r\n")
        while True:
            line = f.readline()
            assert line.startswith(b"250"), line
            if line[3:4] == b" ":
                break
        s.sendall(b"STARTTLS\r\nMAIL FROM:<injected@client.test>\r\n")
        assert f.readline().startswith(b"220 2.0.0")
        t = ctx.wrap_socket(s, server_hostname="postern.test")
        tf = t.makefile("rb")
        t.sendall(b"MAIL FROM:<a@client.test>\r\n")
        assert tf.readline().startswith(b"503 5.5.1"), "state not reset"
        t.sendall(b"EHLO client.test\r\n")
        ehlo = []
        while True:
            line = tf.readline()
            ehlo.append(line)
            if line[3:4] == b" ":
                break
        assert not any(b"STARTTLS" in l for l in ehlo), ehlo
        t.sendall(b"STARTTLS\r\n")
        assert tf.readline().startswith(b"554 5.5.1")
        t.sendall(b"QUIT\r\n")
        assert tf.readline().startswith(b"221")
        t.close()
    finally:
        s.close()
    p.wait_log(r"before the TLS handshake: discarded", timeout=10)


def test_error_limit_and_extras(env):
    p = env.postern({"max_errors": 3})
    replies = raw_session(p.addr, p.port, [
        b"EHLO client.test\r\n",
        b"VRFY root\r\n",
        b"EXPN staff\r\n",
        b"HELP\r\n",
        b"BDAT 10 LAST\r\n",
        b"MAIL FROM:<bad address@client.test>\r\n",
        b"FOO\r\n",
        b"NOOP\r\n"])
    assert replies[2].startswith("252 2.5.2"), replies
    assert replies[3].startswith("502 5.5.1"), replies
    assert replies[4].startswith("214 2.0.0"), replies
    assert replies[5].startswith("500 5.5.2"), replies
    assert replies[6].startswith("501 5.1.7"), replies
    assert replies[7].startswith("500 5.5.2"), replies
    # The third error closes the session: the 421 follows the 500.
    assert replies[8].startswith("421 4.7.0"), replies


def test_command_timeout(env):
    p = env.postern({"timeout_command": 2})
    s = socket.create_connection((p.addr, p.port), timeout=10)
    try:
        t0 = time.monotonic()
        out = _recv_until_close(s, timeout=10)
    finally:
        s.close()
    assert out.startswith("220 "), out
    assert "421 4.4.2 postern.test Error: timeout exceeded" in out, out
    assert time.monotonic() - t0 < 8


def test_relay_tricks_from_untrusted(env):
    """The domain is the part after the last "@": "%" and "!" are just
    local-part characters, and address literals are for trusted clients
    only.  Such local parts are looked up as local users (and, being
    unknown, refused with 550 5.1.1, not 554 relay access denied);
    without the local recipient check they are accepted as local mail."""
    # The check is on by default (None: the key is not written).
    for check, local_reply in ((None, "550 5.1.1"), ("no", "250 2.1.5")):
        p = env.postern({"trusted_networks": ["%s/32" % env.block.postern],
                         "local_domains": ["local.test"], "greet_delay": 0,
                         "local_recipient_check": check})
        replies = raw_session(p.addr, p.port, [
            b"EHLO stranger.test\r\n",
            b"MAIL FROM:<x@stranger.test>\r\n",
            b"RCPT TO:<victim@foreign.test>\r\n",
            b"RCPT TO:<victim@foreign.test@local.test>\r\n",
            b"RCPT TO:<victim@[127.0.0.1]>\r\n",
            b"RCPT TO:<@local.test:victim@foreign.test>\r\n",
            b"RCPT TO:<victim%foreign.test@local.test>\r\n",
            b"RCPT TO:<foreign.test!victim@local.test>\r\n",
            b"RCPT TO:<postmaster>\r\n",
            b"QUIT\r\n"], source=env.block.client)
        assert replies[3].startswith("554 5.7.1"), replies
        assert replies[4].startswith("501 5.1.3"), replies
        assert replies[5].startswith("554 5.7.1"), replies
        assert replies[6].startswith("554 5.7.1"), replies  # route dropped
        assert replies[7].startswith(local_reply), (check, replies)
        assert replies[8].startswith(local_reply), (check, replies)
        if check is None:
            assert "<victim%foreign.test@local.test>: Recipient address " \
                "rejected: user unknown" in replies[7], replies
            assert "<foreign.test!victim@local.test>:" in replies[8], replies
        assert replies[9].startswith("250 2.1.5"), replies
        p.stop()


def test_received_names_the_queue_id(env):
    mx = env.mx(env.block.mx(0))
    domain, route_conf = env.route(mx.host)
    p = env.postern(route_conf)
    code, text = p.send("a@client.test", ["one@" + domain],
                        make_message("trace"))
    assert code == 250, text
    qid = qid_from_reply(text)
    m = mx.wait_for(1, 30)[0]
    head = m.data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    rcv = re.search(r"Received: from client\.test \(unknown \[127\.[0-9.]+\]\)"
                    r"\r\n\tby postern\.test \(postern\) with ESMTP id (\w+)"
                    r"\r\n\tfor <one@[^>]+>; ", head)
    assert rcv, head
    assert rcv.group(1) == qid, (rcv.group(1), qid)
