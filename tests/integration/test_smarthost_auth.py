"""Client SMTP AUTH to a smarthost (RFC 4954): postern behind a firewall
sends everything through relayhost with credentials from
relayhost_auth_file.

Peers: an aiosmtpd relay, named smarthost.<domain> in the signed test DNS,
that offers STARTTLS with a certificate from the test CA for that name
(smtp_tls_ca_file: a next hop with credentials must be authenticated,
verify), then AUTH, and takes mail only from an authenticated client; the
same relay with a self-signed certificate (what an attacker on the path
presents); the same relay offering AUTH in clear and no STARTTLS.  Every
peer records each byte it received per connection, so the tests can say
that no AUTH command and no password ever reached a peer in clear or
unauthenticated.

Expectations: delivered with AUTH PLAIN (LOGIN when PLAIN is not
offered) after verifying the relay's certificate; a self-signed relay
never sees AUTH; a weaker level written for the relay in the
tls_policy_file is obeyed, with a warning at start, at postern -n and at
each use; a wrong password defers with 4.7.8 and delivers nothing; no
STARTTLS defers without any AUTH on the wire; a world-readable
credentials file is refused with a log line and nothing is sent.
"""

import base64
import os
import re

import pytest
from aiosmtpd.smtp import AuthResult

import peers
from harness import make_message, qid_from_reply
from routepeers import wait_until
from tlsnet import TestCA

WAIT = 30
PORT = 2525
USER = "alice"
PASSWORD = "s3cret#1"


class _RecSMTP(peers._SMTP):
    """Keeps every byte received, per connection (after STARTTLS the
    decrypted bytes: what the client wrote)."""

    def data_received(self, data):
        with self.mx.lock:
            self.mx.raw.setdefault(self.conn_id, bytearray()).extend(data)
        super().data_received(data)


class _RecController(peers._Controller):
    def factory(self):
        return _RecSMTP(self.handler, self.mx, **self.SMTP_kwargs)


class AuthRelay(peers.RecordingMX):
    """A smarthost that takes mail only after AUTH.  starttls=False:
    no STARTTLS, AUTH offered in clear (a careless server)."""

    def __init__(self, host, users, starttls=True, mechanisms=None, **kw):
        super().__init__(host, **kw)
        self.users = dict(users)
        self.starttls = starttls
        self.mechanisms = mechanisms
        self.logins = []
        self.raw = {}

    def _auth(self, server, session, envelope, mechanism, auth_data):
        login = getattr(auth_data, "login", None)
        ok = (login is not None and
              self.users.get(login.decode()) == auth_data.password.decode())
        with self.lock:
            self.logins.append((mechanism, login.decode() if login else None,
                                ok))
        # handled=False: aiosmtpd answers 535 5.7.8 itself on failure.
        return AuthResult(success=ok, handled=False)

    def start(self):
        kw = dict(auth_required=True, authenticator=self._auth)
        if self.starttls:
            kw.update(tls_context=self._ssl_context(), require_starttls=True,
                      auth_require_tls=True)
        else:
            kw.update(auth_require_tls=False)
        if self.mechanisms is not None:
            kw["auth_exclude_mechanism"] = [
                m for m in ("PLAIN", "LOGIN") if m not in self.mechanisms]
        self._controller = _RecController(
            self, peers._Handler(self), hostname=self.host, port=self.port,
            server_hostname=self.hostname, ready_timeout=10, **kw)
        self._controller.start()
        return self

    def lines(self):
        """Every command line received, over all connections."""
        with self.lock:
            chunks = [bytes(b) for b in self.raw.values()]
        out = []
        for c in chunks:
            out.extend(l for l in c.split(b"\r\n") if l)
        return out

    def received(self):
        with self.lock:
            return b"".join(bytes(b) for b in self.raw.values())


def smarthost_name(env):
    return "smarthost." + env.block.domain(0)


def relay(env, password=PASSWORD, selfsigned=False, **kw):
    """The smarthost, its name in the test DNS; a certificate for that
    name from the test CA, or a self-signed one."""
    if env.dns is None:
        pytest.skip("no signed test DNS for the smarthost's name")
    name = smarthost_name(env)
    if selfsigned:
        tls = env.cert(name)
    else:
        cert, key, chain = TestCA(str(env.dir("pki"))).issue(name)
        tls = (chain, key)
    r = AuthRelay(env.block.mx(0), {USER: PASSWORD}, port=PORT, tls=tls,
                  **kw)
    r.start()
    env.on_stop(r.stop)
    env.dns.add_records(["%s. 300 IN A %s" % (name, r.host)])
    return r


def smarthost_postern(env, r, user=USER, password=PASSWORD, mode=0o600,
                      table=None, start=True):
    name = smarthost_name(env)
    creds = env.tmp / "relay_auth"
    creds.write_text("# smarthost\n[%s]:%d  %s  %s\n"
                     % (name, PORT, user, password))
    os.chmod(creds, mode)
    conf = {"relayhost": "[%s]:%d" % (name, PORT),
            "relayhost_auth_file": str(creds),
            "smtp_tls_ca_file": TestCA(str(env.dir("pki"))).ca_cert,
            "retry_min": 300, "retry_max": 600}
    if table is not None:
        path = env.tmp / "tls_policy"
        path.write_text(table)
        conf["tls_policy_file"] = str(path)
    return env.postern(conf, start=start)


def settled(p, qid, rcpt):
    """The recipient's first outcome line, whatever it is (the peer is
    judged before the status)."""
    return p.wait_log(r"%s: to=<%s> .*status=(sent|deferred|bounced)"
                      % (qid, re.escape(rcpt)), timeout=WAIT)[0].string


def auth_lines(r):
    return [l for l in r.lines() if l.upper().startswith(b"AUTH")]


def send(p, rcpt, tag):
    code, text = p.send("s@client.test", [rcpt], make_message(tag, to=rcpt))
    assert code == 250, text
    return qid_from_reply(text)


def secrets():
    """The password as it could appear on the wire or in a log."""
    plain = base64.b64encode(b"\0" + USER.encode() + b"\0" +
                             PASSWORD.encode())
    return [PASSWORD.encode(), base64.b64encode(PASSWORD.encode()), plain]


def assert_no_password_in_log(p):
    log = p.log_text().encode()
    for s in secrets():
        assert s not in log, s


def test_delivered_through_authenticated_smarthost(env):
    r = relay(env)
    p = smarthost_postern(env, r)
    qid = send(p, "u@far.example", "auth plain")
    msgs = r.wait_for(1, WAIT)
    assert len(msgs) == 1, p.diagnostics()
    assert msgs[0].rcpt_tos == ["u@far.example"]
    assert msgs[0].tls is not None          # AUTH and mail over TLS only
    assert r.logins == [("PLAIN", USER, True)]
    p.wait_log(r"relay=\S*\[%s\]:%d authenticated: AUTH PLAIN as %s$"
               % (re.escape(r.host), PORT, USER), timeout=WAIT)
    # The relay's certificate was verified (test CA, its name).
    p.wait_log(r"%s: to=<u@far\.example> .*relay=\S*\[%s\]:%d "
               r"tls=TLS\S+ auth=verify .*status=sent"
               % (qid, re.escape(r.host), PORT), timeout=WAIT)
    # The only AUTH line on the wire came after STARTTLS.
    lines = r.lines()
    auth = [i for i, l in enumerate(lines) if l.upper().startswith(b"AUTH")]
    tls = [i for i, l in enumerate(lines) if l.upper() == b"STARTTLS"]
    assert len(auth) == 1 and tls and tls[0] < auth[0], lines
    assert_no_password_in_log(p)


def test_login_when_plain_is_not_offered(env):
    r = relay(env, mechanisms=["LOGIN"])
    p = smarthost_postern(env, r)
    send(p, "v@far.example", "auth login")
    assert len(r.wait_for(1, WAIT)) == 1, p.diagnostics()
    assert r.logins == [("LOGIN", USER, True)]
    p.wait_log(r"authenticated: AUTH LOGIN as %s$" % USER, timeout=WAIT)
    assert_no_password_in_log(p)


def test_wrong_password_defers_with_478(env):
    r = relay(env)
    p = smarthost_postern(env, r, password="wrong-one")
    qid = send(p, "w@far.example", "wrong password")
    p.wait_log(r"%s: to=<w@far\.example> .*relay=none .*status=deferred "
               r"\(4\.7\.8 authentication failed: AUTH PLAIN to "
               r"\S+: 535 5\.7\.8" % qid, timeout=WAIT)
    p.wait_log(r"relay=\S+ AUTH PLAIN as %s refused: 535 5\.7\.8" % USER,
               timeout=WAIT)
    q = p.queue()
    assert [m["qid"] for m in q] == [qid], q
    assert "4.7.8 authentication failed" in q[0]["text"], q
    assert r.count() == 0
    assert r.logins and all(l == ("PLAIN", USER, False) for l in r.logins)
    # The mail waits, it is never bounced for a configuration problem.
    assert not p.grep_log(r"status=bounced|dsn=")
    log = p.log_text()
    assert "wrong-one" not in log


# aiosmtpd warns about AUTH without TLS: that careless server is the point.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_no_starttls_no_auth_on_the_wire(env):
    r = relay(env, starttls=False)
    p = smarthost_postern(env, r)
    qid = send(p, "x@far.example", "no starttls")
    p.wait_log(r"%s: to=<x@far\.example> .*relay=none .*status=deferred "
               r"\(TLS is required \(verify, relayhost_auth_file\) but the "
               r"server does not offer STARTTLS\)" % qid, timeout=WAIT)
    # The peer was connected to, saw EHLO, and never AUTH or a password.
    assert wait_until(lambda: any(l.upper().startswith(b"EHLO")
                                  for l in r.lines()), 5), r.lines()
    lines = r.lines()
    assert not any(l.upper().startswith(b"AUTH") for l in lines), lines
    got = r.received()
    for s in secrets():
        assert s not in got
    assert r.logins == []
    assert r.count() == 0
    assert_no_password_in_log(p)


def test_world_readable_credentials_refused(env):
    r = relay(env)
    # postern -n and the start refuse a file others can read ...
    p = smarthost_postern(env, r, mode=0o644, start=False)
    rc, out = p.check_conf()
    assert rc == 78 and "readable by others (mode 0644)" in out, out
    # ... and one made readable while postern runs is not used.
    os.chmod(str(env.tmp / "relay_auth"), 0o600)
    p.start()
    os.chmod(str(env.tmp / "relay_auth"), 0o644)
    qid = send(p, "y@far.example", "mode 0644")
    p.wait_log(r"relayhost_auth_file not used: \S+relay_auth: readable by "
               r"others \(mode 0644\): refused", timeout=WAIT)
    p.wait_log(r"%s: to=<y@far\.example> .*relay=none .*status=deferred "
               r"\(relayhost_auth_file not used: " % qid, timeout=WAIT)
    # Nothing was sent: not the mail, not even EHLO (the peer's own
    # start-up check connects once, without a word).
    assert r.received() == b""
    assert r.logins == []
    assert r.count() == 0


@pytest.mark.parametrize("cert", ["selfsigned", "wrongname"])
def test_unauthenticated_smarthost_never_gets_auth(env, cert):
    """A relay presenting a self-signed certificate for its name, or a
    test-CA certificate for another name (an attacker on the path): TLS
    comes up, the certificate is not verified, and the peer never sees
    an AUTH command or the password."""
    if cert == "selfsigned":
        r = relay(env, selfsigned=True)
    else:
        if env.dns is None:
            pytest.skip("no signed test DNS for the smarthost's name")
        c, k, chain = TestCA(str(env.dir("pki"))).issue(
            "other." + env.block.domain(0))
        r = AuthRelay(env.block.mx(0), {USER: PASSWORD}, port=PORT,
                      tls=(chain, k))
        r.start()
        env.on_stop(r.stop)
        env.dns.add_records(["%s. 300 IN A %s" % (smarthost_name(env),
                                                  r.host)])
    p = smarthost_postern(env, r)
    qid = send(p, "z@far.example", "unauthenticated smarthost")
    line = settled(p, qid, "z@far.example")
    # TLS was set up (the peer saw STARTTLS), and then nothing more.
    assert any(l.upper() == b"STARTTLS" for l in r.lines()), r.lines()
    assert auth_lines(r) == [], r.lines()
    assert r.logins == []
    got = r.received()
    for s in secrets():
        assert s not in got
    assert r.count() == 0
    assert re.search(r"status=deferred \(TLS verify: server certificate of "
                     r"\S+ not verified", line), line
    assert_no_password_in_log(p)


def test_weaker_level_for_the_smarthost_is_warned(env):
    """The administrator wrote "encrypt" for the relay itself: the
    self-signed relay gets AUTH and the mail, and postern warns at
    postern -n, at start, and at each use."""
    r = relay(env, selfsigned=True)
    name = smarthost_name(env)
    p = smarthost_postern(env, r, table="# trusted LAN\n%s encrypt\n" % name,
                          start=False)
    p.write_conf()
    rc, out = p.check_conf()
    assert rc == 0, out
    warn = (r"credentials for \[%s\]:%d go to a next hop that is not "
            r"authenticated: \S+tls_policy:2 says encrypt"
            % (re.escape(name), PORT))
    assert re.search(warn, out), out
    p.start()
    p.wait_log(warn, timeout=WAIT)
    qid = send(p, "e@far.example", "weaker by choice")
    assert len(r.wait_for(1, WAIT)) == 1, p.diagnostics()
    assert r.logins == [("PLAIN", USER, True)]
    p.wait_log(r"credentials for \[%s\]:%d sent to %s without "
               r"authenticating it: \S+tls_policy:2 says encrypt"
               % (re.escape(name), PORT, re.escape(name)), timeout=WAIT)
    p.wait_log(r"%s: to=<e@far\.example> .*auth=untrusted .*status=sent"
               % qid, timeout=WAIT)
    assert_no_password_in_log(p)
    # postern policy shows the relay's entry and the same warning.
    rc, out, err = p.command("policy", "far.example")
    assert rc == 0, out + err
    assert re.search(r"tls_policy \(next hop\): \S+:2: %s encrypt"
                     % re.escape(name), out), out
    assert "credentials: relayhost_auth_file line 2" in out, out
    assert "level: encrypt (tls_policy:2)" in out, out
    assert "WARNING: credentials would go to %s without" % name in out, out


@pytest.mark.parametrize("which", ["domain", "parent"])
def test_recipient_domain_entry_does_not_weaken_smarthost(env, which):
    """A weak entry for the recipient domain, or a ".parent" entry that
    covers the relay's name, is not one for the relay itself: credentials
    still need a verified relay."""
    r = relay(env, selfsigned=True)
    table = "far.example encrypt\n" if which == "domain" else \
        ".%s encrypt\n" % smarthost_name(env).split(".", 1)[1]
    p = smarthost_postern(env, r, table=table)
    qid = send(p, "f@far.example", "domain entry")
    line = settled(p, qid, "f@far.example")
    assert auth_lines(r) == [], r.lines()
    assert r.count() == 0
    assert re.search(r"status=deferred \(TLS verify: server certificate of "
                     r"\S+ not verified", line), line
