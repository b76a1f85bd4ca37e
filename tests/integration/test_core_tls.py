"""TLS on both sides.

Outbound (policy "may", RFC 3207 / RFC 7435): a peer offering STARTTLS
with a self-signed certificate gets the mail over TLS; a peer whose
handshake fails (no shared cipher, or garbage after "220 Ready") gets it
in clear on a new connection within the same attempt.

Inbound: postern's self-made certificate serves STARTTLS for
openssl s_client (TLS 1.2 and 1.3), and the Received header records the
version and cipher the client negotiated.
"""

import email
import re
import smtplib
import ssl
import subprocess

import pytest

from harness import make_message, qid_from_reply


def tls_relay(env, tls_mode="ok"):
    cert = env.cert("mx0.%s" % env.block.domain(0))
    mx = env.mx(env.block.mx(0), tls=cert, tls_mode=tls_mode)
    domain, conf = env.route(mx.host)
    p = env.postern(conf)
    return p, mx, domain


def test_outbound_starttls_opportunistic(env):
    p, mx, domain = tls_relay(env)
    rcpt = "tls@" + domain
    code, text = p.send("s@client.test", [rcpt], make_message("tls out"))
    assert code == 250, text
    qid = qid_from_reply(text)
    msgs = mx.wait_for(1, 30)
    assert len(msgs) == 1, p.diagnostics()
    assert msgs[0].tls is not None, "delivered in clear"
    assert msgs[0].tls[0] == "TLSv1.3", msgs[0].tls
    line = p.wait_log(r"%s: to=<%s> .*status=sent" % (qid, re.escape(rcpt)))
    assert re.search(r"tls=TLSv1\.3/\S+", line[0].string), line[0].string


@pytest.mark.parametrize("mode", ["nocipher", "garbage"])
def test_outbound_starttls_failure_falls_back_to_clear(env, mode):
    p, mx, domain = tls_relay(env, tls_mode=mode)
    rcpt = "fallback@" + domain
    code, text = p.send("s@client.test", [rcpt],
                        make_message("fallback " + mode))
    assert code == 250, text
    qid = qid_from_reply(text)
    msgs = mx.wait_for(1, 30)
    assert len(msgs) == 1, p.diagnostics()
    assert msgs[0].tls is None
    assert mx.tls_failures >= 1
    # Same attempt: no deferral in between.
    line = p.wait_log(r"%s: to=<%s> .*status=sent" % (qid, re.escape(rcpt)))
    assert "attempt=1" in line[0].string, line[0].string
    assert not p.grep_log(r"%s: to=<%s> .*status=deferred"
                          % (qid, re.escape(rcpt)))
    assert not re.search(r"tls=TLSv", line[0].string), line[0].string


def s_client(addr, port, version, timeout=20):
    r = subprocess.run(
        ["openssl", "s_client", "-starttls", "smtp", "-connect",
         "%s:%d" % (addr, port), "-" + version, "-brief", "-crlf", "-ign_eof",
         "-servername", "postern.test"],
        input=b"EHLO sclient.test\nQUIT\n", capture_output=True,
        timeout=timeout)
    return r.returncode, r.stdout.decode("utf-8", "replace"), \
        r.stderr.decode("utf-8", "replace")


@pytest.mark.parametrize("version,label", [("tls1_2", "TLSv1.2"),
                                           ("tls1_3", "TLSv1.3")])
def test_inbound_starttls_s_client(env, version, label):
    p = env.postern()
    rc, out, err = s_client(p.addr, p.port, version)
    assert "Protocol version: %s" % label in err, err
    assert re.search(r"Ciphersuite: \S+", err), err
    # The self-made certificate names the host.
    assert re.search(r"Peer certificate: .*CN\s*=\s*postern\.test", err), err
    # The session goes on inside TLS: EHLO answered, QUIT answered.
    assert re.search(r"^250[ -]", out, re.M), out
    assert re.search(r"^221 ", out, re.M), out


def test_inbound_tls_close_notify(env):
    """RFC 8446 §6.1: after QUIT the server closes its side of TLS with
    close_notify before closing the connection (OpenSSL 3 clients report
    an "unexpected eof" otherwise)."""
    p = env.postern()
    rc, out, err = s_client(p.addr, p.port, "tls1_3")
    assert re.search(r"^221 ", out, re.M), out
    assert "unexpected eof" not in err, \
        "postern closed the TLS session without close_notify:\n" + err
    assert rc == 0, out + err


@pytest.mark.parametrize("maxver", [ssl.TLSVersion.TLSv1_2,
                                    ssl.TLSVersion.TLSv1_3])
def test_received_header_records_tls(env, maxver):
    mx = env.mx(env.block.mx(0))
    domain, conf = env.route(mx.host)
    p = env.postern(conf)
    rcpt = "hdr@" + domain
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = maxver
    s = smtplib.SMTP(p.addr, p.port, timeout=20)
    try:
        s.ehlo("tlsclient.test")
        assert s.has_extn("starttls")
        s.starttls(context=ctx)
        version = s.sock.version()
        cipher = s.sock.cipher()[0]
        s.ehlo("tlsclient.test")
        s.mail("s@client.test")
        s.rcpt(rcpt)
        code, text = s.data(make_message("received tls"))
        assert code == 250, text
    finally:
        s.quit()
    msgs = mx.wait_for(1, 30)
    assert len(msgs) == 1, p.diagnostics()
    parsed = email.message_from_bytes(msgs[0].data)
    first = " ".join(parsed.get_all("Received")[0].split())
    assert version in first, first
    assert cipher in first, first
    assert "tlsclient.test" in first, first


def test_smtps_listener_implicit_tls(env):
    """listen = ADDR:465 smtps: TLS from the first byte (RFC 8314)."""
    p = env.postern({"listen": ["%s:25" % env.block.postern,
                                "%s:465 smtps" % env.block.postern]})
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = smtplib.SMTP_SSL(p.addr, 465, timeout=20, context=ctx)
    try:
        code, _ = s.ehlo("smtps.test")
        assert code == 250
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert not s.has_extn("starttls")
    finally:
        s.quit()
