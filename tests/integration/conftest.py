"""pytest fixtures for postern's integration tests.

Each test gets its own block of loopback addresses 127.0.K.0/24 (K unique
per test in the run), so postern, its peers and its clients never
collide with another test's: postern listens on 127.0.K.1:25, MX peers on
127.0.K.10 and up, untrusted clients connect from 127.0.K.200.  Every
process and thread a fixture starts is stopped by a finalizer, also when
the test fails.
"""

import itertools
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import harness  # noqa: E402
import peers  # noqa: E402
import sanitizer  # noqa: E402

try:
    import dnsnet  # noqa: E402  (signed test DNS, tests/integration/dnsnet.py)
except ImportError:
    dnsnet = None

# 127.0.53.0/24 is the test DNS's, 127.0.90.0/24 the benchmark's; the
# blocks skip them and go on into 127.1.x.0/24 when 127.0.x runs out.
# POSTERN_TEST_BLOCK: first block, for two runs sharing a host.
_RESERVED = {53, 54, 90}


def _block_numbers(start):
    """Block numbers k (Block maps k to 127.k//251.k%251.0/24), without
    the reserved blocks and the x.0 ones."""
    for k in itertools.count(start):
        b, c = divmod(k, 251)
        if c == 0 or (b == 0 and c in _RESERVED):
            continue
        yield k


_blocks = _block_numbers(int(os.environ.get("POSTERN_TEST_BLOCK", "60")))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running scenario")


def pytest_unconfigure(config):
    sanitizer.finish()


@pytest.fixture(scope="session")
def postern_bin():
    path = harness.postern_bin()
    if not os.access(path, os.X_OK):
        pytest.fail("postern binary not found at %s (make postern, or set "
                    "POSTERN_BIN)" % path, pytrace=False)
    # The sanitizer stage must not pass by running a plain binary.
    if os.environ.get("POSTERN_SANITIZED") and not sanitizer.built_in(path):
        pytest.fail("POSTERN_SANITIZED is set, but %s has no "
                    "AddressSanitizer runtime" % path, pytrace=False)
    return path


class Block:
    """The loopback addresses of one test."""

    def __init__(self, k):
        # 127.0.60.0/24 .. 127.0.250.0/24, then 127.1.0.0/24 and on: the
        # whole of 127.0.0.0/8 is loopback, so blocks never run out.
        if k > 250 * 200:
            raise RuntimeError("out of loopback blocks")
        self.k = k
        self.net = "127.%d.%d" % (k // 251, k % 251)
        self.postern = self.net + ".1"
        self.postern2 = self.net + ".2"
        self.client = self.net + ".200"

    def mx(self, n=0):
        return "%s.%d" % (self.net, 10 + n)

    def domain(self, n=0):
        """A destination domain of this test, e.g. d0.b61.example."""
        return "d%d.b%d.example" % (n, self.k)


@pytest.fixture
def block():
    return Block(next(_blocks))


@pytest.fixture(scope="session")
def dns(tmp_path_factory):
    """The signed test DNS, when tests/integration/dnsnet.py exists."""
    if dnsnet is None:
        yield None
        return
    # POSTERN_TEST_DNS_ADDR: another address when two runs share a host.
    d = dnsnet.DnsNet(str(tmp_path_factory.mktemp("dns")),
                      addr=os.environ.get("POSTERN_TEST_DNS_ADDR",
                                          "127.0.53.1"))
    # Every test's domains live under "example.", a signed zone of its own.
    d.add_zone("example")
    d.start()
    try:
        yield d
    finally:
        d.stop()


class Env:
    """Factories for one test; everything made here is stopped at the
    end of the test."""

    def __init__(self, request, tmp_path, block, dns, binary):
        self.request = request
        self.tmp = tmp_path
        self.block = block
        self.dns = dns
        self.binary = binary
        self._stop = []
        self._n = 0

    def finish(self):
        errors = []
        for fn in reversed(self._stop):
            try:
                fn()
            except Exception as e:  # keep stopping the others
                errors.append(e)
        self._stop = []
        if errors:
            raise errors[0]

    def dir(self, name):
        d = self.tmp / name
        d.mkdir(parents=True, exist_ok=True)
        return d

    # -- routing --------------------------------------------------------
    def route(self, mx_addrs, n=0, mx_names=None):
        """A destination domain whose MX hosts are mx_addrs (preference
        order).  Returns (domain, conf): conf are the postern.conf keys
        that make postern find them.  Through the signed test DNS when it
        is there; otherwise through relayhost (one MX only)."""
        if isinstance(mx_addrs, str):
            mx_addrs = [mx_addrs]
        domain = self.block.domain(n)
        if self.dns is not None:
            names = mx_names or ["mx%d.%s" % (i, domain)
                                 for i in range(len(mx_addrs))]
            self.dns.add_mx(domain, list(zip(names, mx_addrs)))
            return domain, {}
        return domain, {"relayhost": "[%s]:25" % mx_addrs[0]}

    def dns_lines(self):
        return self.dns.conf_lines() if self.dns is not None else []

    # -- processes ------------------------------------------------------
    def postern(self, conf=None, addr=None, port=25, start=True):
        self._n += 1
        p = harness.Postern(self.dir("postern%d" % self._n),
                            addr or self.block.postern, port=port,
                            conf=conf, dns_lines=self.dns_lines(),
                            binary=self.binary)
        self._stop.append(p.stop)
        self._stop.append(lambda: self._report(p))
        if start:
            p.start()
        return p

    def _report(self, p):
        # On failure pytest shows this with the captured output.
        rep = getattr(self.request.node, "rep_call", None)
        if rep is not None and rep.failed:
            print(p.diagnostics(60))

    def mx(self, addr=None, **kw):
        m = peers.RecordingMX(addr or self.block.mx(0), **kw)
        m.start()
        self._stop.append(m.stop)
        return m

    def sink(self, addr=None, **kw):
        s = peers.SmtpSink(addr or self.block.mx(0), **kw)
        s.start()
        self._stop.append(s.stop)
        return s

    def cert(self, cn):
        return peers.make_cert(str(self.dir("certs")), cn)

    def on_stop(self, fn):
        self._stop.append(fn)


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def sanitizer_reports(request, tmp_path, monkeypatch):
    """Fails the test when any process it started printed a sanitizer
    report (tests/integration/sanitizer.py).  Autouse, so it is set up
    before the test's other fixtures and torn down after them: the
    daemons are stopped, and their exit-time leak checks written, when
    it looks."""
    d = sanitizer.test_dir(request.node.name)
    for k, v in sanitizer.options(d).items():
        monkeypatch.setenv(k, v)
    yield d
    found = sanitizer.reports(d, sorted(tmp_path.rglob("postern.out")))
    if not found:
        sanitizer.remove(d)
        return
    pytest.fail("sanitizer report(s) from postern processes of this test:\n"
                + sanitizer.format_reports(found), pytrace=False)


@pytest.fixture
def env(request, tmp_path, block, dns, postern_bin):
    e = Env(request, tmp_path, block, dns, postern_bin)
    try:
        yield e
    finally:
        e.finish()
