"""Peers for the routing and throttling tests: a receiver that limits how
many messages it accepts per window (and answers 421 beyond), a
packet-dropping firewall rule on one loopback address (nftables), and a
relay that requires SMTP AUTH under TLS.  Each is stopped or removed by
its owner's finalizer; only loopback addresses are ever touched.
"""

import asyncio
import subprocess
import threading
import time

from aiosmtpd.smtp import AuthResult

import peers


class _ThrottleHandler(peers._Handler):
    async def handle_MAIL(self, server, session, envelope, address,
                          mail_options):
        mx = self.mx
        reply = mx.mail_reply()
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"


class ThrottleMX(peers.RecordingMX):
    """Accepts at most `limit` messages per fixed window of `window`
    seconds (windows aligned on multiples of `window`), then answers
    MAIL with a 421 rate-limit reply until the next window, as large
    mailbox providers do.  Counts the refusals and the connections made
    while the limit was reached."""

    REPLY = "421 4.7.0 Too many messages (1.5.6.1), try again later"

    def __init__(self, host, limit=5, window=2.0, **kw):
        super().__init__(host, **kw)
        self.limit = limit
        self.window = window
        self.refused = 0
        self.refused_conns = set()
        self.accepted_at = []

    def _win(self, t):
        return int(t // self.window)

    def mail_reply(self):
        now = time.time()
        with self.lock:
            w = self._win(now)
            n = sum(1 for t in self.accepted_at if self._win(t) == w)
            if n >= self.limit:
                self.refused += 1
                return self.REPLY
            # Counted when admitted, so that concurrent sessions cannot
            # pass the limit together.
            self.accepted_at.append(now)
        return None

    def max_per_window(self):
        with self.lock:
            wins = {}
            for t in self.accepted_at:
                wins[self._win(t)] = wins.get(self._win(t), 0) + 1
            return max(wins.values()) if wins else 0

    def start(self):
        kw = {}
        ctx = self._ssl_context()
        if ctx is not None:
            kw["tls_context"] = ctx
        self._controller = peers._Controller(
            self, _ThrottleHandler(self), hostname=self.host,
            port=self.port, server_hostname=self.hostname,
            ready_timeout=10, **kw)
        self._controller.start()
        return self


class AuthMX(peers.RecordingMX):
    """A relay that offers AUTH PLAIN/LOGIN only after STARTTLS and
    accepts mail only from an authenticated client."""

    def __init__(self, host, users, **kw):
        super().__init__(host, **kw)
        self.users = dict(users)
        self.logins = []

    def _auth(self, server, session, envelope, mechanism, auth_data):
        ok = (getattr(auth_data, "login", None) is not None and
              self.users.get(auth_data.login.decode()) ==
              auth_data.password.decode())
        with self.lock:
            self.logins.append((mechanism, auth_data.login.decode()
                                if auth_data.login else None, ok))
        return AuthResult(success=ok)

    def start(self):
        ctx = self._ssl_context()
        self._controller = peers._Controller(
            self, peers._Handler(self), hostname=self.host, port=self.port,
            server_hostname=self.hostname, ready_timeout=10,
            tls_context=ctx, require_starttls=True, auth_required=True,
            auth_require_tls=True, authenticator=self._auth)
        self._controller.start()
        return self


class Blackhole:
    """An nftables table of our own that silently drops every packet to
    addr (a real connect timeout, not a refusal).  remove() deletes the
    table; always call it from a finalizer."""

    def __init__(self, addr, name):
        self.addr = addr
        self.table = "postern_test_%s" % name
        self.added = False

    def _nft(self, *args):
        return subprocess.run(["nft"] + list(args), capture_output=True,
                              timeout=10, text=True)

    def add(self):
        self.remove()
        for cmd in (["add", "table", "ip", self.table],
                    ["add", "chain", "ip", self.table, "out",
                     "{ type filter hook output priority 0 ; }"],
                    ["add", "rule", "ip", self.table, "out", "ip", "daddr",
                     self.addr, "drop"]):
            r = self._nft(*cmd)
            if r.returncode != 0:
                self.remove()
                raise RuntimeError("nft %s: %s" % (" ".join(cmd), r.stderr))
            self.added = True
        return self

    def remove(self):
        self._nft("delete", "table", "ip", self.table)
        self.added = False


def wait_until(fn, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(step)
    return fn()


DSN_PARAMS = ("RET", "ENVID", "NOTIFY", "ORCPT")


class _DsnSMTP(peers._SMTP):
    """Takes the RFC 3461 parameters (aiosmtpd refuses unknown ones)."""

    def _getparams(self, params):
        got = super()._getparams(params)
        if got is not None:
            for k in DSN_PARAMS:
                got.pop(k, None)
        return got


class _DsnHandler(peers._Handler):
    async def handle_EHLO(self, server, session, envelope, hostname,
                          responses):
        session.host_name = hostname
        return responses[:-1] + ["250-DSN", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address,
                          rcpt_options):
        with self.mx.lock:
            self.mx.rcpt_params.append((address, list(rcpt_options)))
        return await super().handle_RCPT(server, session, envelope, address,
                                         rcpt_options)


class _DsnController(peers._Controller):
    def factory(self):
        return _DsnSMTP(self.handler, self.mx, **self.SMTP_kwargs)


class DsnMX(peers.RecordingMX):
    """A recording MX that offers DSN (RFC 3461) and keeps the MAIL and
    RCPT parameters it was given (rcpt_params: [(address, [params])])."""

    def __init__(self, host, **kw):
        super().__init__(host, **kw)
        self.rcpt_params = []

    def start(self):
        self._controller = _DsnController(
            self, _DsnHandler(self), hostname=self.host, port=self.port,
            server_hostname=self.hostname, ready_timeout=10)
        self._controller.start()
        return self


class Tarpit:
    """TCP peers on many loopback addresses (port 25) that stall every
    step just inside the client's timeout, as tarpits do: each reply
    comes `delay` seconds after the line it answers (the greeting
    `delay` after the connection, the reply to "." after 2 * delay, the
    time RFC 5321 §4.5.3.2.6 allows it), and the end of data is answered
    421, closing the session, so that the client goes on to the next
    address.  Addresses in `drop` accept and close at once, without a
    greeting (a session that never starts).  All run in one asyncio loop
    in a thread; stop() closes everything.

    Records every connection: (address, start, end) on monotonic time;
    greeted() and dropped() count them per address."""

    def __init__(self, addrs, delay, drop=(), port=25):
        self.addrs = list(addrs)
        self.drop = set(drop)
        self.delay = delay
        self.port = port
        self.lock = threading.Lock()
        self.conns = []          # [addr, start, end or None]
        self._loop = None
        self._thread = None
        self._servers = []
        self._ready = threading.Event()
        self._error = None

    async def _reply(self, writer, line, delay):
        await asyncio.sleep(delay)
        writer.write(line.encode() + b"\r\n")
        await writer.drain()

    async def _session(self, reader, writer, rec):
        await self._reply(writer, "220 tarpit ESMTP", self.delay)
        while True:
            line = await asyncio.wait_for(reader.readline(), 120)
            if not line:
                return
            verb = line.strip().upper()
            if verb == b"DATA":
                await self._reply(writer, "354 go on", self.delay)
                while True:
                    body = await asyncio.wait_for(reader.readline(), 120)
                    if not body or body == b".\r\n":
                        break
                await self._reply(writer, "421 4.7.0 tarpit, try later",
                                  2 * self.delay)
                return
            if verb == b"QUIT":
                await self._reply(writer, "221 bye", 0)
                return
            await self._reply(writer, "250 ok", self.delay)

    def _handler(self, addr):
        async def handle(reader, writer):
            rec = [addr, time.monotonic(), None]
            with self.lock:
                self.conns.append(rec)
            try:
                if addr not in self.drop:
                    await self._session(reader, writer, rec)
            except (OSError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError, asyncio.CancelledError):
                pass
            finally:
                rec[2] = time.monotonic()
                writer.close()
        return handle

    async def _start(self):
        for a in self.addrs:
            self._servers.append(await asyncio.start_server(
                self._handler(a), a, self.port, reuse_address=True))

    def _run(self):
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except Exception as e:  # reported by start()
            self._error = e
        self._ready.set()
        if self._error is None:
            self._loop.run_forever()
        for s in self._servers:
            s.close()
        tasks = asyncio.all_tasks(self._loop)
        for t in tasks:
            t.cancel()
        self._loop.run_until_complete(
            asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    def start(self):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(20) or self._error is not None:
            self.stop()
            raise RuntimeError("tarpit did not start: %r" % self._error)
        return self

    def stop(self):
        if self._loop is not None and self._thread is not None:
            try:
                self._loop.call_soon_threadsafe(self._loop.stop)
            except RuntimeError:
                pass
            self._thread.join(10)
        self._thread = None

    def connections(self, addrs=None, since=0.0):
        with self.lock:
            return [tuple(c) for c in self.conns if c[1] >= since and
                    (addrs is None or c[0] in addrs)]
