"""Receiving MX peers for postern's integration tests.

RecordingMX: an aiosmtpd server in a thread on 127.0.x.y:25 that records
every accepted message (envelope, bytes, TLS state) and can be told to
misbehave: reply codes per recipient, a 4xx/5xx greeting, STARTTLS with a
given certificate or a broken STARTTLS, close after N messages.

SmtpSink: Postfix's smtp-sink as a fast counting (or dumping) sink for
load tests.

Everything here only ever binds loopback addresses.
"""

import asyncio
import json
import logging
import os
import re
import signal
import socket
import ssl
import subprocess
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

# aiosmtpd logs every failed handshake with a traceback: the tests count
# those failures themselves.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)

__all__ = ["Message", "RecordingMX", "SmtpSink", "make_cert",
           "wait_port", "port_open"]


def port_open(host, port, timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(host, port, timeout=10.0, closed=False):
    """Waits (bounded) until host:port accepts connections (or refuses
    them when closed=True).  Returns True on success."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port) != closed:
            return True
        time.sleep(0.05)
    return False


def make_cert(directory, cn, days=30):
    """Self-signed EC P-256 certificate for cn; returns (cert, key)."""
    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, cn + ".crt")
    key = os.path.join(directory, cn + ".key")
    if not (os.path.exists(cert) and os.path.exists(key)):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", cert, "-days", str(days),
             "-subj", "/CN=" + cn, "-addext", "subjectAltName=DNS:" + cn],
            check=True, capture_output=True, timeout=30)
    return cert, key


class Message:
    """One message as the peer accepted it."""

    def __init__(self, peer, helo, mail_from, mail_options, rcpt_tos,
                 data, tls, conn_id):
        self.peer = peer              # (ip, port) of the client
        self.helo = helo
        # aiosmtpd keeps the null reverse-path as "<>"; "" here.
        self.mail_from = "" if mail_from == "<>" else mail_from
        self.mail_options = mail_options
        self.rcpt_tos = list(rcpt_tos)
        self.data = data              # bytes, dot-unstuffed, CRLF lines
        self.tls = tls                # None or (version, cipher)
        self.conn_id = conn_id
        self.time = time.time()

    def as_dict(self):
        return {"peer": list(self.peer), "helo": self.helo,
                "mail_from": self.mail_from,
                "mail_options": self.mail_options,
                "rcpt_tos": self.rcpt_tos,
                "data": self.data.decode("utf-8", "surrogateescape"),
                "tls": list(self.tls) if self.tls else None,
                "conn_id": self.conn_id, "time": self.time}

    def header(self, name):
        """First value of a header (unfolded), or None."""
        import email
        msg = email.message_from_bytes(self.data)
        v = msg.get(name)
        return None if v is None else " ".join(str(v).split())

    def __repr__(self):
        return "<Message from=%r to=%r %d bytes tls=%r>" % (
            self.mail_from, self.rcpt_tos, len(self.data), self.tls)


def _tls_info(server):
    try:
        obj = server.transport.get_extra_info("ssl_object")
    except Exception:
        obj = None
    if obj is None:
        return None
    return (obj.version(), obj.cipher()[0])


class _Handler:
    def __init__(self, mx):
        self.mx = mx

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        reply = self.mx.rcpt_reply(address)
        if reply is not None and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return reply or "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        mx = self.mx
        reply = mx.data_reply
        if callable(reply):
            reply = reply(envelope)
        if reply is not None and not reply.startswith("2"):
            with mx.lock:
                mx.rejected += 1
            return reply
        msg = Message(session.peer, session.host_name, envelope.mail_from,
                      list(envelope.mail_options), envelope.rcpt_tos,
                      bytes(envelope.original_content), _tls_info(server),
                      getattr(server, "conn_id", 0))
        mx.record(msg)
        server.accepted_here = getattr(server, "accepted_here", 0) + 1
        if mx.close_after and server.accepted_here >= mx.close_after:
            server.close_after_reply = True
        return reply or "250 2.0.0 Ok: queued as %d" % mx.count()


class _SMTP(SMTP):
    """aiosmtpd's session with the misbehaviours the tests need."""

    def __init__(self, handler, mx, **kw):
        super().__init__(handler, **kw)
        self.mx = mx
        self.close_after_reply = False
        with mx.lock:
            mx.connections += 1
            self.conn_id = mx.connections

    async def push(self, status):
        await super().push(status)
        if self.close_after_reply and str(status).startswith("250 2.0.0"):
            self.close_after_reply = False
            if self.transport is not None:
                self.transport.close()

    async def _handle_client(self):
        greeting = self.mx.greeting
        if not greeting:
            return await super()._handle_client()
        # RFC 5321 §3.1: after a 554 greeting the server waits for QUIT;
        # after 421 it closes.
        await self.push(greeting)
        if greeting.startswith("554"):
            deadline = time.monotonic() + 10
            while (self.transport is not None
                   and time.monotonic() < deadline):
                try:
                    line = await asyncio.wait_for(self._reader.readline(),
                                                  timeout=5)
                except (asyncio.TimeoutError, ConnectionError):
                    break
                if not line:
                    break
                if line.strip().upper() == b"QUIT":
                    await self.push("221 2.0.0 Bye")
                    break
                await self.push("503 5.5.1 No service")
        if self.transport is not None:
            self.transport.close()

    async def smtp_STARTTLS(self, arg):
        if self.mx.starttls_garbage:
            # Answers 220 then writes something that is not a TLS record.
            await self.push("220 2.0.0 Ready to start TLS")
            if self.transport is not None:
                self.transport.write(b"this is not TLS\r\n" * 4)
                self.transport.close()
            with self.mx.lock:
                self.mx.tls_failures += 1
            return
        try:
            return await super().smtp_STARTTLS(arg)
        except Exception:
            with self.mx.lock:
                self.mx.tls_failures += 1
            raise


class _Controller(Controller):
    def __init__(self, mx, handler, **kw):
        self.mx = mx
        super().__init__(handler, **kw)

    def factory(self):
        return _SMTP(self.handler, self.mx, **self.SMTP_kwargs)


class RecordingMX:
    """A recording MX on host:port.

    rcpt_replies: {address (case-insensitive): "450 4.2.0 later"} or a
      callable(address) -> reply or None; None means accept.
    data_reply: reply to the final dot instead of 250 (str or callable).
    greeting: e.g. "421 4.3.2 busy" or "554 5.3.2 no": refuse sessions.
    tls: (cert, key) to offer STARTTLS; tls_mode: "ok" (default),
      "nocipher" (TLS 1.2 only, PSK suites only: no client without a PSK
      shares one, the handshake fails), "garbage" (220 then non-TLS bytes).
    close_after: drop the connection after N accepted messages.
    record_file: also append each message as a JSON line there.
    """

    def __init__(self, host, port=25, *, rcpt_replies=None, data_reply=None,
                 greeting=None, tls=None, tls_mode="ok", close_after=0,
                 record_file=None, hostname=None, data_size_limit=0):
        self.host = host
        self.port = port
        self.rcpt_replies = rcpt_replies or {}
        self.data_reply = data_reply
        self.greeting = greeting
        self.tls = tls
        self.tls_mode = tls_mode
        self.starttls_garbage = tls_mode == "garbage"
        self.close_after = close_after
        self.record_file = record_file
        self.hostname = hostname or "mx-%s.peer" % host.replace(".", "-")
        self.data_size_limit = data_size_limit
        self.messages = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.connections = 0
        self.rejected = 0
        self.tls_failures = 0
        self._controller = None

    # -- behaviour -------------------------------------------------------
    def rcpt_reply(self, address):
        r = self.rcpt_replies
        if callable(r):
            return r(address)
        return r.get(address) or r.get(address.lower())

    def _ssl_context(self):
        if not self.tls:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.tls)
        if self.tls_mode == "nocipher":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            ctx.set_ciphers("PSK-AES128-GCM-SHA256:PSK-AES256-GCM-SHA384")
        return ctx

    # -- recording -------------------------------------------------------
    def record(self, msg):
        with self.cond:
            self.messages.append(msg)
            if self.record_file:
                with open(self.record_file, "a") as f:
                    f.write(json.dumps(msg.as_dict()) + "\n")
            self.cond.notify_all()

    def count(self):
        with self.lock:
            return len(self.messages)

    def wait_for(self, n, timeout=30.0):
        """Waits until at least n messages arrived; returns the list."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(min(left, 0.5))
            return list(self.messages)

    def by_rcpt(self, address):
        with self.lock:
            return [m for m in self.messages if address in m.rcpt_tos]

    # -- life ------------------------------------------------------------
    def start(self):
        kw = {}
        ctx = self._ssl_context()
        if ctx is not None:
            kw["tls_context"] = ctx
        if self.data_size_limit:
            kw["data_size_limit"] = self.data_size_limit
        self._controller = _Controller(
            self, _Handler(self), hostname=self.host, port=self.port,
            server_hostname=self.hostname, ready_timeout=10, **kw)
        self._controller.start()
        return self

    def stop(self):
        if self._controller is not None:
            try:
                self._controller.stop()
            except Exception:
                pass
            self._controller = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()


class SmtpSink:
    """Postfix's smtp-sink on host:port.  count() reads its running
    counter; with dump_dir every message is written there as a file."""

    def __init__(self, host, port=25, *, max_messages=0, dump_dir=None,
                 backlog=1000, extra=()):
        self.host = host
        self.port = port
        self.max_messages = max_messages
        self.dump_dir = dump_dir
        self.backlog = backlog
        self.extra = list(extra)
        self.proc = None
        self._out = b""
        self._reader = None
        self._lock = threading.Lock()

    def start(self, timeout=10.0):
        cmd = ["smtp-sink", "-u", "root", "-c"]
        if self.max_messages:
            cmd += ["-M", str(self.max_messages)]
        if self.dump_dir:
            os.makedirs(self.dump_dir, exist_ok=True)
            cmd += ["-d", os.path.join(self.dump_dir, "%H%M%S.")]
        cmd += self.extra
        cmd += ["%s:%d" % (self.host, self.port), str(self.backlog)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not wait_port(self.host, self.port, timeout):
            self.stop()
            raise RuntimeError("smtp-sink did not listen on %s:%d: %r"
                               % (self.host, self.port, self._out[-500:]))
        return self

    def _read(self):
        while True:
            b = self.proc.stdout.read1(4096) if self.proc else b""
            if not b:
                return
            with self._lock:
                self._out = (self._out + b)[-4096:]

    def count(self):
        """Messages received so far: the last counter smtp-sink printed
        (with -c it prints "sess=N quit=N mesg=N\\r")."""
        with self._lock:
            out = self._out.decode("ascii", "replace")
        found = re.findall(r"mesg=(\d+)", out)
        return int(found[-1]) if found else 0

    def dumped(self):
        if not self.dump_dir:
            return []
        out = []
        for root, _dirs, files in os.walk(self.dump_dir):
            for f in files:
                out.append(os.path.join(root, f))
        return sorted(out)

    def wait_exit(self, timeout):
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()
