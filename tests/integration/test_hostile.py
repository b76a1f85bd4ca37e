"""Hostile clients, each with its documented answer (docs/security.md),
while a well-behaved client keeps getting service:

- open-relay probes from an address outside trusted_networks: refused,
  or accepted only for the local/relay domain and never relayed further;
- SMTP smuggling end-of-data variants: never end the data early, on
  receipt and when relaying (a raw recording MX never sees a bare CR or
  LF from postern);
- slowloris, many connections from one address, huge command lines,
  pipelined garbage after DATA, early talkers, garbage TLS handshakes.

Every socket has a timeout and every loop a bound.
"""

import os
import re
import socket
import socketserver
import ssl
import threading
import time

from crashkit import pids_with_connection
from harness import make_message, raw_session, read_reply

# A well-behaved session must finish within this, whatever else happens.
GOOD_LATENCY = 3.0

BARE_LF = re.compile(rb"(?<!\r)\n")
BARE_CR = re.compile(rb"\r(?!\n)")


# -- helpers -----------------------------------------------------------

def good_client(p, source, rcpt=None):
    """EHLO, (a message to rcpt,) QUIT from source; returns (seconds,
    replies).  Fails the test on any unexpected reply."""
    t0 = time.monotonic()
    cmds = [b"EHLO good.test\r\n"]
    if rcpt:
        cmds += [b"MAIL FROM:<good@client.test>\r\n",
                 b"RCPT TO:<%s>\r\n" % rcpt.encode(), b"DATA\r\n",
                 make_message("good") + b".\r\n"]
    cmds.append(b"QUIT\r\n")
    replies = raw_session(p.addr, p.port, cmds, timeout=GOOD_LATENCY + 5,
                          source=source)
    dt = time.monotonic() - t0
    assert replies[0].startswith("220"), replies
    assert replies[-1].startswith("221"), replies
    return dt, replies


def read_all(s, timeout=10.0, limit=1 << 20):
    """Everything the server sends until it closes (bounded)."""
    s.settimeout(0.5)
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(out) < limit:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not d:
            break
        out += d
    return out


class RawMX:
    """A receiving MX that records the exact bytes postern sends: it
    answers 220/250/354/221 and finds the end of data only at CRLF.CRLF,
    so nothing postern writes is normalised on the way."""

    def __init__(self, host, port=25):
        self.host = host
        self.port = port
        self.sessions = []       # raw bytes, one entry per connection
        self.messages = []       # (mail, [rcpt], data) per message
        self.lock = threading.Lock()
        self.server = None
        self.thread = None

    def start(self):
        mx = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                mx._session(self.request)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((self.host, self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def _session(self, s):
        s.settimeout(30)
        raw = bytearray()
        with self.lock:
            self.sessions.append(raw)
        buf = b""
        mail, rcpts = None, []

        def send(line):
            s.sendall(line + b"\r\n")

        send(b"220 rawmx ESMTP")
        deadline = time.monotonic() + 60
        in_data = False
        while time.monotonic() < deadline:
            if in_data:
                end = buf.find(b"\r\n.\r\n")
                if buf.startswith(b".\r\n"):
                    end = -2
                if end != -1:
                    data = b"" if end == -2 else buf[:end + 2]
                    buf = buf[end + 5:]
                    with self.lock:
                        self.messages.append((mail, rcpts, data))
                    mail, rcpts = None, []
                    in_data = False
                    send(b"250 2.0.0 ok")
                    continue
            elif b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                cmd = line.rstrip(b"\r").upper()
                if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
                    send(b"250 rawmx")
                elif cmd.startswith(b"MAIL"):
                    mail = line[10:].strip()
                    send(b"250 2.1.0 ok")
                elif cmd.startswith(b"RCPT"):
                    rcpts.append(line[8:].strip())
                    send(b"250 2.1.5 ok")
                elif cmd == b"DATA":
                    in_data = True
                    send(b"354 go ahead")
                elif cmd == b"QUIT":
                    send(b"221 2.0.0 bye")
                    return
                else:
                    send(b"250 2.0.0 ok")
                continue
            try:
                d = s.recv(65536)
            except OSError:
                return
            if not d:
                return
            raw += d
            buf += d

    def wait_messages(self, n, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.1)
        with self.lock:
            return list(self.messages)


def raw_mx(env, addr):
    m = RawMX(addr).start()
    env.on_stop(m.stop)
    return m


# -- open relay ----------------------------------------------------------

# (RCPT argument, expected reply prefix): FOREIGN is a domain postern
# must never relay to for a stranger, LEGIT one it accepts mail for.
RELAY_PROBES = [
    ("<victim@FOREIGN>", "554 5.7.1"),
    ("<VICTIM@foreign-upper>", "554 5.7.1"),
    ("<victim@FOREIGN.>", "5"),
    ("<victim%FOREIGN@LEGIT>", "250"),           # % is local-part text
    ("<FOREIGN!victim@LEGIT>", "250"),           # so is !
    ('<"victim@FOREIGN"@LEGIT>', "250"),         # quoted local part
    ("<@LEGIT:victim@FOREIGN>", "554 5.7.1"),    # source route dropped
    ("<@LEGIT,@LEGIT:victim@FOREIGN>", "554 5.7.1"),
    ("<victim@FOREIGN@LEGIT>", "501 5.1.3"),
    ("<victim@[127.0.0.9]>", "554 5.7.1"),       # literal: trusted only
    ("<victim@[IPv6:::1]>", "554 5.7.1"),
    ("<victim@FOREIGN", "5"),                    # unbalanced
    ("victim@FOREIGN>", "5"),
    ("<<victim@FOREIGN>>", "5"),
    ("victim@FOREIGN", "5"),                     # missing brackets
    ("<victim@LEGIT>", "250"),
]


def test_open_relay_probes(env):
    """From an untrusted address: every probe gets its answer, and what
    is accepted reaches only LEGIT's MX, with the address unchanged."""
    legit_mx = raw_mx(env, env.block.mx(0))
    foreign_mx = raw_mx(env, env.block.mx(1))
    legit, conf0 = env.route(legit_mx.host, n=0)
    foreign, conf1 = env.route(foreign_mx.host, n=1)
    conf = dict(conf0, relay_domains=[legit], greet_delay=0,
                trusted_networks=["%s/32" % env.block.postern],
                max_errors=100)
    p = env.postern(conf)
    cmds = [b"EHLO stranger.test\r\n", b"MAIL FROM:<x@stranger.test>\r\n"]
    for arg, _ in RELAY_PROBES:
        arg = arg.replace("foreign-upper", foreign.upper())
        arg = arg.replace("FOREIGN", foreign).replace("LEGIT", legit)
        cmds.append(b"RCPT TO:%s\r\n" % arg.encode())
    cmds += [b"DATA\r\n", make_message("relay probe") + b".\r\n",
             b"QUIT\r\n"]
    replies = raw_session(p.addr, p.port, cmds, source=env.block.client)
    got = replies[3:3 + len(RELAY_PROBES)]
    bad = [(a, w, r) for (a, w), r in zip(RELAY_PROBES, got)
           if not r.startswith(w)]
    assert not bad, bad
    assert replies[-2].startswith("250"), replies[-2:]
    accepted = [a.replace("FOREIGN", foreign).replace("LEGIT", legit)
                for a, w in RELAY_PROBES if w == "250"]
    msgs = legit_mx.wait_messages(1, 30)
    assert msgs, "nothing delivered to the relay domain's MX"
    time.sleep(2)
    seen = [r.decode() for m in legit_mx.messages for r in m[1]]
    assert sorted(seen) == sorted(accepted), (seen, accepted)
    for r in seen:
        assert r.rstrip(">").rsplit("@", 1)[1] == legit, r
    assert not foreign_mx.sessions, "relayed to the foreign MX"
    for m in p.queue():
        for r in m["rcpts"]:
            assert r.rsplit("@", 1)[-1] == legit, m


# -- SMTP smuggling --------------------------------------------------------

SMUGGLED = (b"MAIL FROM:<evil@client.test>\r\nRCPT TO:<victim@%s>\r\n"
            b"DATA\r\nSubject: smuggled\r\n\r\nevil\r\n")

# name -> (fake end of data, expected final reply)
SMUGGLE = {
    "lf-dot-lf": (b"\n.\n", "250"),
    "lf-dot-crlf": (b"\n.\r\n", "250"),
    "crlf-dot-lf": (b"\r\n.\n", "250"),
    "cr-dot-cr": (b"\r.\r", "550 5.6.11"),
    "crlf-dot-cr": (b"\r\n.\r", "550 5.6.11"),
    "cr-dot-crlf": (b"\r.\r\n", "550 5.6.11"),
    "crlf-nul-dot-crlf": (b"\r\n\x00.\r\n", "550 5.6.0"),
    "crlf-dot-nul-crlf": (b"\r\n.\x00\r\n", "550 5.6.0"),
    "lf-dot-nul-lf": (b"\n.\x00\n", "550 5.6.0"),
}


def smuggle_session(p, rcpt, body, timeout=15):
    s = socket.create_connection((p.addr, p.port), timeout=timeout)
    f = s.makefile("rb")
    try:
        assert read_reply(f).startswith("220")
        for cmd in (b"EHLO client.test\r\n", b"MAIL FROM:<a@client.test>\r\n",
                    b"RCPT TO:<%s>\r\n" % rcpt.encode(), b"DATA\r\n"):
            s.sendall(cmd)
            r = read_reply(f)
            assert r[:1] in ("2", "3"), r
        s.sendall(body + b"\r\n.\r\nQUIT\r\n")
        replies = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(replies) < 10:
            r = read_reply(f)
            if not r:
                break
            replies.append(r.strip())
        return replies
    finally:
        s.close()


def test_smuggling_receipt_and_relay(env):
    """No fake end of data ends the message: bare-LF variants are data
    (one 250, the hidden commands stay text), bare CR and NUL variants
    are refused after the real end (550).  What postern relays has CR LF
    line ends only: checked on the raw bytes the next hop receives."""
    mx = raw_mx(env, env.block.mx(0))
    domain, conf = env.route(mx.host)
    p = env.postern(dict(conf, greet_delay=0))
    want_250 = 0
    for i, (name, (end, want)) in enumerate(sorted(SMUGGLE.items())):
        body = (b"Subject: smuggle %s\r\n\r\nfirst" % name.encode() + end
                + SMUGGLED % domain.encode() + b"tail")
        replies = smuggle_session(p, "r%d@%s" % (i, domain), body)
        assert len(replies) == 2, (name, replies)
        assert replies[0].startswith(want), (name, replies)
        assert replies[1].startswith("221"), (name, replies)
        want_250 += want == "250"
    msgs = mx.wait_messages(want_250, 30)
    time.sleep(2)
    assert len(mx.messages) == want_250, mx.messages
    for mail, rcpts, data in mx.messages:
        assert b"evil" not in mail, mail
        assert len(rcpts) == 1 and b"victim" not in rcpts[0], rcpts
        assert b"MAIL FROM:<evil@client.test>" in data
    for raw in mx.sessions:
        assert BARE_LF.search(bytes(raw)) is None, bytes(raw)
        assert BARE_CR.search(bytes(raw)) is None, bytes(raw)
    assert len(msgs) == want_250


def test_dot_lines_restuffed_on_relay(env):
    """Lines "." and ".x" that arrived as bare-LF data go out stuffed,
    so the next hop cannot take them for the end of data."""
    mx = raw_mx(env, env.block.mx(0))
    domain, conf = env.route(mx.host)
    p = env.postern(dict(conf, greet_delay=0))
    body = b"Subject: dots\r\n\r\na\n.\nb\r\n..c\r\n.\r\r\n"
    replies = smuggle_session(p, "dots@" + domain, body)
    assert replies[0].startswith("550 5.6.11"), replies
    body = b"Subject: dots\r\n\r\na\n.\nb\r\n..c\n.\r\nend"
    replies = smuggle_session(p, "dots@" + domain, body)
    assert replies[0].startswith("250"), replies
    msgs = mx.wait_messages(1, 30)
    assert len(msgs) == 1
    raw = b"".join(bytes(r) for r in mx.sessions)
    assert b"\r\na\r\n..\r\nb\r\n..c\r\n..\r\nend\r\n.\r\n" in raw, raw
    assert BARE_LF.search(raw) is None and BARE_CR.search(raw) is None


# -- resource exhaustion ------------------------------------------------------

def test_slowloris_does_not_block_others(env):
    """Clients sending one octet per second are cut off when the command
    deadline (timeout_command, for the whole line) passes: 421 4.4.2.
    Meanwhile a well-behaved client is served at normal speed."""
    p = env.postern({"greet_delay": 0, "timeout_command": 4})
    base, _ = good_client(p, env.block.postern2)
    slow = []
    for i in range(5):
        s = socket.create_connection((p.addr, p.port), timeout=10,
                                     source_address=(env.block.client, 0))
        slow.append(s)
    try:
        for s in slow:
            s.settimeout(5)
            assert s.recv(512).startswith(b"220")
        line = b"EHLO slowly.dripping.client.test\r\n"
        worst = 0.0
        t0 = time.monotonic()
        cut = set()
        for i in range(10):                 # ten seconds, one octet each
            for k, s in enumerate(slow):
                if k in cut:
                    continue
                try:
                    s.sendall(line[i:i + 1])
                except OSError:
                    cut.add(k)
            dt, _ = good_client(p, env.block.postern2)
            worst = max(worst, dt)
            time.sleep(max(0.0, t0 + i + 1 - time.monotonic()))
        outs = [read_all(s, timeout=3) for s in slow]
    finally:
        for s in slow:
            s.close()
    assert worst < GOOD_LATENCY, (worst, base)
    for out in outs:
        assert b"421 4.4.2" in out, out
        assert b"250" not in out, out


def test_connection_flood_from_one_address(env):
    """Beyond max_children_per_ip the master answers 421 4.7.0 at once
    and closes; another address is still served.  The flood is many
    connections at once from one address."""
    p = env.postern({"greet_delay": 0, "max_children_per_ip": 5,
                     "max_children": 100})
    held, refused, greeted = [], 0, 0
    try:
        for i in range(300):
            try:
                s = socket.create_connection(
                    (p.addr, p.port), timeout=5,
                    source_address=(env.block.client, 0))
            except OSError:
                refused += 1
                continue
            held.append(s)
        t0 = time.monotonic()
        dt, _ = good_client(p, env.block.postern2)
        for s in held:
            s.settimeout(5)
            try:
                first = s.recv(512)
            except OSError:
                first = b""
            if first.startswith(b"220"):
                greeted += 1
            else:
                assert first.startswith(b"421 4.7.0"), first
                refused += 1
        assert time.monotonic() - t0 < 60
    finally:
        for s in held:
            s.close()
    assert greeted == 5, (greeted, refused)
    assert refused == 300 - 5
    assert dt < GOOD_LATENCY, dt
    p.wait_log(r"refused: too many connections from it", timeout=10)
    # Once they are gone the address is served again.
    deadline = time.monotonic() + 15
    while True:
        r = raw_session(p.addr, p.port, [b"QUIT\r\n"],
                        source=env.block.client)
        if r[0].startswith("220") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert r[0].startswith("220"), r


def test_huge_command_lines(env):
    """A command line over the limit (512 + extension allowance, RFC 5321
    §4.5.3.1.4) gets 500 5.5.2 however long it is, without the server
    holding it; the session goes on."""
    p = env.postern({"greet_delay": 0})
    s = socket.create_connection((p.addr, p.port), timeout=20)
    f = s.makefile("rb")
    try:
        assert read_reply(f).startswith("220")
        for n in (2000, 100000, 4 << 20):
            t0 = time.monotonic()
            s.sendall(b"NOOP " + b"x" * n + b"\r\n")
            r = read_reply(f)
            assert r.startswith("500 5.5.2"), (n, r)
            assert time.monotonic() - t0 < 20
            s.sendall(b"NOOP\r\n")
            assert read_reply(f).startswith("250"), n
        dt, _ = good_client(p, env.block.postern2)
        assert dt < GOOD_LATENCY
        s.sendall(b"QUIT\r\n")
        assert read_reply(f).startswith("221")
    finally:
        s.close()


def test_pipelined_garbage_after_data(env):
    """What follows the end of data in the same packet is commands: each
    garbage line gets 500 5.5.2 (binary or not) and none of it joins the
    message.  Garbage sent right after DATA, before the 354, is message
    text: it ends only at CRLF.CRLF and a NUL in it refuses the message
    (550 5.6.0)."""
    mx = raw_mx(env, env.block.mx(0))
    domain, conf = env.route(mx.host)
    p = env.postern(dict(conf, greet_delay=0, max_errors=50))
    garbage = (b"\x16\x03\x01\x02\x00\x01GET / HTTP/1.0\r\n"
               b"\xff\xfe\xfd garbage\r\nMAILFROM\r\n")
    s = socket.create_connection((p.addr, p.port), timeout=20)
    f = s.makefile("rb")
    try:
        assert read_reply(f).startswith("220")
        s.sendall(b"EHLO client.test\r\nMAIL FROM:<a@client.test>\r\n"
                  b"RCPT TO:<g1@%s>\r\nDATA\r\n" % domain.encode())
        replies = [read_reply(f) for _ in range(4)]
        assert replies[3].startswith("354"), replies
        s.sendall(b"Subject: one\r\n\r\nbody\r\n.\r\n" + garbage +
                  b"NOOP\r\n")
        assert read_reply(f).startswith("250 2.0.0"), "message"
        for i in range(2):
            r = read_reply(f)
            assert r.startswith("500 5.5.2"), (i, r)
        # "MAILFROM" is an unknown verb too.
        assert read_reply(f).startswith("500"), "MAILFROM"
        assert read_reply(f).startswith("250"), "NOOP"
        # Garbage straight after DATA (not waiting for 354) is data:
        # with a NUL in it the message is refused, without it is kept.
        for rcpt, junk, want in (("g2", garbage, "550 5.6.0"),
                                 ("g3", garbage.replace(b"\x00", b""),
                                  "250 2.0.0")):
            s.sendall(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<%s@%s>\r\n"
                      b"DATA\r\n" % (rcpt.encode(), domain.encode()) +
                      junk + b"\r\n.\r\nNOOP\r\n")
            replies = [read_reply(f) for _ in range(5)]
            assert replies[2].startswith("354"), replies
            assert replies[3].startswith(want), replies
            assert replies[4].startswith("250"), replies
        s.sendall(b"QUIT\r\n")
        assert read_reply(f).startswith("221")
    finally:
        s.close()
    msgs = mx.wait_messages(2, 30)
    assert len(msgs) == 2, msgs
    first = [m for m in msgs if b"g1@" in m[1][0]][0][2]
    assert b"garbage" not in first and b"HTTP" not in first, first
    assert not [m for m in msgs if b"g2@" in m[1][0]]
    second = [m for m in msgs if b"g3@" in m[1][0]][0][2]
    assert b"GET / HTTP/1.0" in second, second


def test_early_talker_and_others(env):
    """A stranger talking before the banner gets 554 5.5.1 and no 220;
    a client that waits, from another address, is greeted normally."""
    p = env.postern({"trusted_networks": ["%s/32" % env.block.postern],
                     "greet_delay": 1})
    s = socket.create_connection((p.addr, p.port), timeout=10,
                                 source_address=(env.block.client, 0))
    try:
        s.sendall(b"EHLO early.test\r\nMAIL FROM:<a@b.test>\r\n")
        out = read_all(s, timeout=8)
    finally:
        s.close()
    assert out.startswith(b"554 5.5.1"), out
    assert b"220 " not in out and b"250" not in out, out
    dt, _ = good_client(p, env.block.postern)
    assert dt < GOOD_LATENCY


TLS_GARBAGE = {
    "random": os.urandom(4096),
    "zeros": b"\x00" * 1024,
    "plaintext": b"EHLO plain.test\r\nMAIL FROM:<a@b.test>\r\n",
    "sslv2-hello": bytes.fromhex("80 2e 01 00 02 00 15 00 00 00 10") +
    b"\x00" * 37,
    "truncated-hello": bytes.fromhex("16 03 01 02 00 01 00 01 fc 03 03"),
    "huge-record": bytes.fromhex("16 03 03 ff ff") + b"\x01" * 300,
}


def test_tls_garbage_handshake(env):
    """After 220 to STARTTLS, anything that is not a TLS handshake ends
    that session (no reply in clear, the connection closes within the
    command timeout); a half handshake times out; other clients do not
    notice.  A real handshake right after works."""
    p = env.postern({"greet_delay": 0, "timeout_command": 5})
    for name, junk in sorted(TLS_GARBAGE.items()):
        s = socket.create_connection((p.addr, p.port), timeout=10,
                                     source_address=(env.block.client, 0))
        f = s.makefile("rb")
        try:
            assert read_reply(f).startswith("220")
            s.sendall(b"EHLO client.test\r\n")
            assert read_reply(f).startswith("250")
            s.sendall(b"STARTTLS\r\n")
            assert read_reply(f).startswith("220 2.0.0"), name
            t0 = time.monotonic()
            try:
                s.sendall(junk)
            except OSError:
                pass
            out = read_all(s, timeout=15)
            took = time.monotonic() - t0
        finally:
            s.close()
        assert b"250" not in out and b"354" not in out, (name, out)
        assert took < 12, (name, took)
        dt, _ = good_client(p, env.block.postern2)
        assert dt < GOOD_LATENCY, (name, dt)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.create_connection((p.addr, p.port), timeout=10)
    try:
        f = s.makefile("rb")
        assert read_reply(f).startswith("220")
        s.sendall(b"EHLO client.test\r\n")
        assert read_reply(f).startswith("250")
        s.sendall(b"STARTTLS\r\n")
        assert read_reply(f).startswith("220")
        t = ctx.wrap_socket(s, server_hostname="postern.test")
        t.sendall(b"EHLO client.test\r\n")
        assert read_reply(t.makefile("rb")).startswith("250")
        t.close()
    finally:
        s.close()


# -- privilege separation --------------------------------------------------

def _uids(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("Uid:"):
                    return [int(x) for x in line.split()[1:]]
    except OSError:
        pass
    return None


def _cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def test_network_readers_run_unprivileged(env):
    """With user = nobody, the master and the session child that reads a
    client's bytes have real, effective and saved uid of nobody (only the
    local delivery server, which never reads network input, keeps root)."""
    import pwd
    nobody = pwd.getpwnam("nobody").pw_uid
    p = env.postern({"user": "nobody", "greet_delay": 0}, start=False)
    # The spool and log live under pytest's private directories: let
    # the unprivileged user through them (they are this test's own).
    d = p.workdir
    while d not in ("/", "/tmp"):
        os.chmod(d, 0o755)
        d = os.path.dirname(d)
    p.start()
    time.sleep(1)
    s = socket.create_connection((p.addr, p.port), timeout=10)
    try:
        f = s.makefile("rb")
        assert read_reply(f).startswith("220")
        s.sendall(b"EHLO client.test\r\n")
        assert read_reply(f).startswith("250")
        procs = {pid: (_uids(pid), _cmdline(pid)) for pid in p.all_pids()}
        # The process holding this client's connection (a session
        # process may serve several clients in turn, so it need not be
        # new since the connection).
        session = pids_with_connection(list(procs), remote=s.getsockname())
    finally:
        s.close()
    assert _uids(p.pid) == [nobody] * 4, procs
    root = [pid for pid, (u, _) in procs.items() if u and 0 in u]
    # At most one root process: the local delivery server.
    assert len(root) <= 1, procs
    # The session process reading this client's bytes is nobody too.
    assert len(session) == 1, (session, procs)
    for pid in session:
        assert procs[pid][0] == [nobody] * 4, (pid, procs)


def test_tls_renegotiation_refused(env):
    """A client that asks to renegotiate TLS 1.2 (a CPU cost for the
    server, and the old injection attack) gets a no_renegotiation alert
    and its session ends; others are served meanwhile."""
    import subprocess
    p = env.postern({"greet_delay": 0})
    proc = subprocess.Popen(
        ["openssl", "s_client", "-connect", "%s:%d" % (p.addr, p.port),
         "-starttls", "smtp", "-tls1_2", "-crlf"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    try:
        for line, pause in ((b"EHLO reneg.test\n", 1.0), (b"R\n", 2.0),
                            (b"NOOP\n", 1.0), (b"QUIT\n", 0.5)):
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except OSError:
                break
            time.sleep(pause)
        dt, _ = good_client(p, env.block.postern2)
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert b"RENEGOTIATING" in out, out
    assert b"no renegotiation" in out, out
    assert b"250 2.0.0" not in out.split(b"RENEGOTIATING", 1)[1], out
    assert dt < GOOD_LATENCY, dt
