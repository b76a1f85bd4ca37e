"""Helpers for the crash and full-disk tests: find the postern process
that owns a given TCP connection (to kill -9 exactly that one), check the
queue and the Berkeley DB environment after a crash, and a stalling
peer reply.

Every wait here is bounded in time.
"""

import os
import re
import shutil
import smtplib
import socket
import struct
import subprocess
import tempfile
import threading
import time

from harness import make_message

DB_RECOVER = shutil.which("db5.3_recover") or shutil.which("db_recover")
DB_VERIFY = shutil.which("db5.3_verify") or shutil.which("db_verify")

# What a damaged environment or queue says in postern's log.
BAD_LOG_RE = re.compile(
    r"needs recovery|DB_RUNRECOVERY|PANIC|panic|moved aside|corrupt|"
    r"sanitizer|Assertion", re.I)


# -- which process owns a connection ------------------------------------

def _hexaddr(addr, port):
    """/proc/net/tcp form of an IPv4 address and port."""
    packed = socket.inet_aton(addr)
    return "%08X:%04X" % (struct.unpack("<I", packed)[0], port)


def _tcp_inodes(local=None, remote=None):
    """Socket inodes of IPv4 TCP connections matching (addr, port) pairs;
    a port of 0 matches any port."""
    out = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            tok = line.split()
            if len(tok) < 10:
                continue
            ok = True
            for want, got in ((local, tok[1]), (remote, tok[2])):
                if want is None:
                    continue
                h = _hexaddr(want[0], want[1])
                if want[1] == 0:
                    ok = ok and got.split(":")[0] == h.split(":")[0]
                else:
                    ok = ok and got == h
            if ok and tok[9] != "0":
                out.add(tok[9])
    return out


def pids_with_connection(pids, local=None, remote=None):
    """Those of pids that hold a TCP socket with the given local and/or
    remote (addr, port)."""
    inodes = _tcp_inodes(local, remote)
    found = []
    for pid in pids:
        d = "/proc/%d/fd" % pid
        try:
            fds = os.listdir(d)
        except OSError:
            continue
        for fd in fds:
            try:
                t = os.readlink(os.path.join(d, fd))
            except OSError:
                continue
            m = re.match(r"socket:\[(\d+)\]", t)
            if m and m.group(1) in inodes:
                found.append(pid)
                break
    return found


def wait_pid_with_connection(p, local=None, remote=None, timeout=10.0):
    """The one postern process (of p) holding that connection."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pids_with_connection(p.all_pids(), local, remote)
        if len(got) == 1:
            return got[0]
        time.sleep(0.05)
    raise AssertionError("no single postern process holds %r -> %r: %r"
                         % (local, remote, got))


def group_pids(pgid):
    """Live processes of a process group (postern runs in its own
    session, so its children stay in the master's group when it dies)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        rest = stat[stat.rfind(")") + 2:].split()
        if rest[0] != "Z" and int(rest[2]) == pgid:
            out.append(int(d))
    return out


def ppid_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    return int(stat[stat.rfind(")") + 2:].split()[1])


def kill9(pid):
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


def wait_gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                stat = f.read()
        except OSError:
            return True
        if stat[stat.rfind(")") + 2] == "Z":
            return True
        time.sleep(0.02)
    return False


# -- after a crash ------------------------------------------------------

def queue_clean(p):
    """postern queue lists cleanly; returns the parsed listing."""
    rc, out, err = p.command("queue")
    assert rc == 0, "postern queue: rc=%d %s %s" % (rc, out, err)
    assert not BAD_LOG_RE.search(out + err), out + err
    from harness import parse_queue
    return parse_queue(out)


def log_clean(p, since=0):
    """No line of the log (after since) says the environment or a record
    is damaged."""
    text = p.log_text().encode("utf-8", "replace")[since:]
    bad = [l for l in text.decode("utf-8", "replace").splitlines()
           if BAD_LOG_RE.search(l) and "test_crash_point" not in l]
    assert not bad, "damage in the log:\n%s" % "\n".join(bad[:20])


def db_recover_copy(spool):
    """With every postern process gone: copies the environment's tables
    and log files (not the region files) aside, runs db_recover on the
    copy and db_verify on each table.  Returns a short text of what was
    done; raises AssertionError when recovery or a verify fails.  Skipped
    (returns None) when the Berkeley DB utilities are not installed."""
    if DB_RECOVER is None or DB_VERIFY is None:
        return None
    src = os.path.join(spool, "db")
    tmp = tempfile.mkdtemp(prefix="postern-dbcheck-")
    try:
        names = sorted(os.listdir(src))
        for n in names:
            if n.startswith("__db."):
                continue
            shutil.copy2(os.path.join(src, n), os.path.join(tmp, n))
        r = subprocess.run([DB_RECOVER, "-v", "-h", tmp],
                           capture_output=True, timeout=60)
        text = (r.stdout + r.stderr).decode("utf-8", "replace")
        assert r.returncode == 0, "db_recover failed: %s" % text
        tables = [n for n in names if n.endswith(".db")]
        for t in tables:
            v = subprocess.run([DB_VERIFY, "-h", tmp, t],
                               capture_output=True, timeout=60)
            vt = (v.stdout + v.stderr).decode("utf-8", "replace")
            assert v.returncode == 0, "db_verify %s: %s" % (t, vt)
        logs = [n for n in names if n.startswith("log.")]
        return "recovered %d log file(s), verified %d table(s)" % (
            len(logs), len(tables))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def recovery_seen(p, since):
    """The master reopened the environment with recovery after since."""
    return bool(p.grep_log(r"postern started", since=since))


# -- a peer that holds its reply to the final dot -----------------------

class StallingReply:
    """data_reply for RecordingMX: the first message stalls (the peer's
    event loop waits, bounded) until release(); then it is refused with
    451 (not recorded) or accepted as the test chose.  Later messages are
    accepted."""

    def __init__(self, then="451 4.3.0 try again", limit=30.0):
        self.reached = threading.Event()
        self.released = threading.Event()
        self.then = then
        self.limit = limit
        self.calls = 0

    def __call__(self, envelope):
        self.calls += 1
        if self.calls > 1:
            return None
        self.reached.set()
        self.released.wait(self.limit)
        return self.then

    def release(self):
        self.released.set()


def send_one(p, subj, rcpt, timeout=20):
    """One message in one session: the reply code to the final dot, or
    None when the session failed or timed out first."""
    s = None
    try:
        s = smtplib.SMTP(p.addr, p.port, timeout=timeout)
        s.ehlo("crash.client.test")
        s.mail("crash@client.test")
        s.rcpt(rcpt)
        code, _ = s.data(make_message(subj, to=rcpt))
        return code
    except (smtplib.SMTPException, OSError):
        return None
    finally:
        if s is not None:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                s.close()
