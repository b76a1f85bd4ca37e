"""DNSSEC is never silently off (policy/dns_anchor.c).

postern looks for the root trust anchor where Debian and FreeBSD keep it,
refuses to start without one unless "dnssec = off" says so (and then says
so at every start, in postern status and in postern policy), and checks at
start that the forwarders it is given pass DNSSEC data.

The system's own key files are hidden or replaced in a private mount
namespace (unshare -m), so nothing on the host is touched.
"""

import os
import shutil
import socket
import subprocess
import threading

import pytest

import dns.flags
import dns.message
import dns.query
import dns.rdatatype

import harness

# Where postern looks, in order (policy/dns_anchor.c dns_anchor_paths).
SYSTEM_KEYS = ["/usr/share/dns/root.key", "/var/lib/unbound/root.key",
               "/var/unbound/root.key", "/usr/local/etc/unbound/root.key"]
EX_CONFIG = 78


def _need_mount_ns():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) for a private mount namespace")


def in_mount_ns(script, binary, conf, args=("-n",), timeout=30):
    """Runs `postern ARGS -c CONF` after SCRIPT (sh) in a private mount
    namespace: the mounts SCRIPT makes are seen by postern only."""
    cmd = "%s\nexec \"$0\" %s -c \"$1\"" % (script, " ".join(args))
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh",
                        "-ec", cmd, binary, conf], capture_output=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def hide_all_keys():
    """sh lines putting an empty tmpfs over every directory that holds a
    system root key, so that none of them can be read."""
    dirs = sorted({os.path.dirname(p) for p in SYSTEM_KEYS
                   if os.path.isdir(os.path.dirname(p))})
    return "\n".join("mount -t tmpfs none %s" % d for d in dirs)


def write_conf(tmp_path, lines):
    p = tmp_path / "postern.conf"
    p.write_text("\n".join(["spool_dir = %s" % (tmp_path / "spool"),
                            "user ="] + lines) + "\n")
    return str(p)


def test_no_anchor_refused(tmp_path, postern_bin):
    _need_mount_ns()
    conf = write_conf(tmp_path, [])
    rc, out = in_mount_ns(hide_all_keys(), postern_bin, conf)
    assert rc == EX_CONFIG, out
    assert "no DNSSEC trust anchor" in out, out
    for p in SYSTEM_KEYS:
        assert p in out, out
    assert "dnssec = off" in out and "resolver_trust_anchor" in out, out
    # The daemon refuses to start just the same.
    rc, out = in_mount_ns(hide_all_keys(), postern_bin, conf, args=("-d",))
    assert rc == EX_CONFIG and "no DNSSEC trust anchor" in out, out
    # resolver = forward validated nothing without an anchor, too.
    conf = write_conf(tmp_path, ["resolver = forward",
                                 "resolver_forward = 127.0.0.1@53"])
    rc, out = in_mount_ns(hide_all_keys(), postern_bin, conf)
    assert rc == EX_CONFIG and "no DNSSEC trust anchor" in out, out


@pytest.mark.parametrize("path", ["/var/unbound/root.key",
                                  "/usr/local/etc/unbound/root.key"])
def test_freebsd_anchor_found(tmp_path, postern_bin, dns, path):
    """FreeBSD keeps the key for local_unbound in /var/unbound and the
    unbound package's in /usr/local/etc/unbound: both are found."""
    _need_mount_ns()
    if dns is None:
        pytest.skip("no test DNS")
    top = "/var" if path.startswith("/var/") else "/usr/local/etc"
    script = "\n".join([hide_all_keys(),
                        "mount -t tmpfs none %s" % top,
                        "mkdir -p %s" % os.path.dirname(path),
                        "cp %s %s" % (dns.trust_anchor, path)])
    conf = write_conf(tmp_path, [])
    rc, out = in_mount_ns(script, postern_bin, conf)
    assert rc == 0, out
    assert "dnssec: on, trust anchor %s" % path in out, out


def test_configured_anchor_wins(tmp_path, postern_bin, dns):
    if dns is None:
        pytest.skip("no test DNS")
    conf = write_conf(tmp_path, ["resolver_trust_anchor = %s" %
                                 dns.trust_anchor])
    r = subprocess.run([postern_bin, "-n", "-c", conf], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert "trust anchor %s" % dns.trust_anchor in r.stdout


def test_bad_values(tmp_path, postern_bin):
    for lines, want in [
            (["dnssec = maybe"], "on or off"),
            (["dnssec = off", "resolver_trust_anchor = /etc/hosts"],
             "contradict")]:
        conf = write_conf(tmp_path, lines)
        r = subprocess.run([postern_bin, "-n", "-c", conf],
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == EX_CONFIG and want in r.stderr, (lines, r)


def test_dnssec_off_is_said(tmp_path, postern_bin, block):
    """With dnssec = off, postern starts without any anchor, and says it
    validates nothing at start, in status and in policy."""
    _need_mount_ns()
    conf = write_conf(tmp_path, ["dnssec = off"])
    rc, out = in_mount_ns(hide_all_keys(), postern_bin, conf)
    assert rc == 0, out
    assert "dnssec: OFF" in out, out
    p = harness.Postern(tmp_path / "d", block.postern, port=2525,
                        conf={"dnssec": "off"}, binary=postern_bin)
    try:
        p.start()
        assert p.grep_log(r"dnssec: OFF \(dnssec = off\)")
        rc, out, err = p.command("status")
        assert rc == 0 and "dnssec: OFF" in out, (out, err)
        rc, out, err = p.command("policy", "postern-test.invalid")
        assert "dnssec: OFF" in out, (out, err)
    finally:
        p.stop()


# -- the forwarder check at start ----------------------------------------

class StrippingForwarder:
    """A forwarder as found on cheap routers: it answers from the real
    (test) DNS but drops every DNSSEC record on the way."""

    STRIP = {dns.rdatatype.RRSIG, dns.rdatatype.NSEC, dns.rdatatype.NSEC3,
             dns.rdatatype.DS}

    def __init__(self, addr, upstream):
        self.addr = addr
        self.upstream = upstream
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((addr, 53))
        self.sock.settimeout(0.2)
        self.queries = 0
        self._stop = False
        self._t = threading.Thread(target=self._serve, daemon=True)

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._stop = True
        self._t.join(5)
        self.sock.close()

    def _answer(self, wire):
        q = dns.message.from_wire(wire)
        r = dns.query.udp(q, self.upstream, port=53, timeout=2)
        for section in (r.answer, r.authority, r.additional):
            section[:] = [rr for rr in section if rr.rdtype not in self.STRIP]
        r.flags &= ~dns.flags.AD
        return r.to_wire()

    def _serve(self):
        while not self._stop:
            try:
                wire, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            try:
                self.sock.sendto(self._answer(wire), peer)
            except Exception:  # upstream silent: the client times out
                continue


def _forward_postern(tmp_path, block, binary, dns, forwarder):
    conf = {"resolver": "forward", "resolver_forward": forwarder,
            "resolver_trust_anchor": dns.trust_anchor,
            "resolver_option": ["do-not-query-localhost: no"]}
    return harness.Postern(tmp_path / "d", block.postern, port=2525,
                           conf=conf, binary=binary)


def test_stripping_forwarder_is_named(tmp_path, postern_bin, block, dns):
    if dns is None:
        pytest.skip("no test DNS")
    fwd = StrippingForwarder(block.mx(0), dns.addr).start()
    p = _forward_postern(tmp_path, block, postern_bin, dns,
                         "%s@53" % block.mx(0))
    try:
        p.start()
        p.wait_log(r"dnssec: resolver %s@53 does not pass DNSSEC data.*"
                   r"resolver = recursive" % block.mx(0).replace(".", r"\."),
                   timeout=20)
        assert fwd.queries > 0
    finally:
        p.stop()
        fwd.stop()


def test_validating_path_passes_check(tmp_path, postern_bin, block, dns):
    """The same check through a path that keeps the DNSSEC records."""
    if dns is None:
        pytest.skip("no test DNS")
    p = _forward_postern(tmp_path, block, postern_bin, dns, "%s@53" % dns.addr)
    try:
        p.start()
        p.wait_log(r"resolver check: the root DNSKEY validates", timeout=20)
        assert not p.grep_log(r"does not pass DNSSEC data")
    finally:
        p.stop()
