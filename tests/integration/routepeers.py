"""Peers for the routing and throttling tests: a receiver that limits how
many messages it accepts per window (and answers 421 beyond), a
packet-dropping firewall rule on one loopback address (nftables), and a
relay that requires SMTP AUTH under TLS.  Each is stopped or removed by
its owner's finalizer; only loopback addresses are ever touched.
"""

import subprocess
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
