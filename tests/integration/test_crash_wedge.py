"""The queue never stays wedged (docs/queue.md, "A process that dies"):
a process that joined the queue environment and is killed with kill -9
inside a transaction leaves Berkeley DB locks behind, and every receiver
waits on them.  Here each such process is stopped inside its
transaction (test_crash_point = stop:txn-..., crashpoint.h) and killed
from outside:

  - postern flush, in the middle of moving schedule entries;
  - postern queue, in the middle of its listing (read locks);
  - a delivery worker, after its runner was killed;
  - the session child of a root sendmail -bs, inside the DATA
    transaction (the dialogue sent line by line, each reply awaited);
  - a session killed while it waits for a lock, then the holder (failchk
    can hang there: its helper's deadline and a recovery end it).

And a holder that stays alive: the receiver behind it answers 451 4.3.0
within the lock time-out instead of waiting.

In each case the running daemon, without a restart, accepts new mail
with 250 at its SMTP port within RECOVER_WITHIN seconds, and every
message acknowledged before the kill reaches the peer.  None of these
processes but the worker is a child of the master; they are found by
the master's periodic failchk, the worker by its death as an orphan
(the master is a subreaper).
"""

import os
import re
import select
import signal
import smtplib
import subprocess
import time

from crashkit import (kill9, ppid_of, send_one, wait_gone,
                      wait_pid_with_connection)
from harness import make_message, render_conf

RECOVER_WITHIN = 8.0        # seconds from the kill to a new 250
LOCK_TIMEOUT = 10.0         # QUEUE_LOCK_TIMEOUT in queue/qdb.h
RECOVER_AFTER_HANG = 20.0   # the same when failchk may hang: its 5 s
                            # deadline, then a recovery
DELIVER_WITHIN = 30.0
SESSION_TIMEOUT = 3         # seconds one probe waits for a reply
STOP_RE = r"test_crash_point %s: pid (\d+) stops"


def accepted_again(p, rcpt, subj):
    """Seconds from now until a new message gets 250 (bounded by
    RECOVER_WITHIN); None when it never does."""
    t0 = time.monotonic()
    codes = []
    while time.monotonic() - t0 < RECOVER_WITHIN:
        code = send_one(p, subj, rcpt, timeout=SESSION_TIMEOUT)
        if code == 250:
            return time.monotonic() - t0
        codes.append(code)
        time.sleep(0.2)
    print("replies while wedged: %r" % codes)
    return None


def subjects_at(mx):
    import email
    return {email.message_from_bytes(m.data)["Subject"]
            for m in list(mx.messages)}


def wait_delivered(mx, subjects, timeout=DELIVER_WITHIN):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if set(subjects) <= subjects_at(mx):
            return True
        time.sleep(0.1)
    return False


class DeferFirst:
    """data_reply: 451 to the first message, 250 to the rest, so that a
    message stays deferred (retry_min is long) until postern flush."""

    def __init__(self):
        self.calls = 0

    def __call__(self, envelope):
        self.calls += 1
        return "451 4.3.0 try later" if self.calls == 1 else None


def start(env, mx_kw=None, **extra):
    mx = env.mx(env.block.mx(0), **(mx_kw or {}))
    dest, conf = env.route(env.block.mx(0))
    # A deferred recipient stays deferred: only a flush makes it due.
    conf.update(retry_min=300, retry_max=600)
    conf.update(extra)
    p = env.postern(conf)
    return p, mx, "wedge@" + dest


def crash_conf(p, point):
    """A copy of p's configuration that stops at point: for a command
    run beside the daemon (the daemon itself does not stop)."""
    conf = dict(p.conf)
    conf["test_crash_point"] = "stop:" + point
    path = os.path.join(p.workdir, "crash-%s.conf" % point)
    with open(path, "w") as f:
        f.write(render_conf(conf, p.dns_lines))
    return path


def stopped_pid(p, point, since, timeout=15.0):
    m = p.wait_log(STOP_RE % re.escape(point), timeout=timeout,
                   since=since)
    return int(m[-1].group(1))


def deferred_message(p, mx, rcpt, subj):
    """A message acknowledged with 250 and deferred by the peer."""
    assert send_one(p, subj, rcpt, timeout=20) == 250
    deadline = time.monotonic() + 20
    while mx.rejected < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert mx.rejected >= 1, p.diagnostics()
    p.wait_log(r"status=deferred", timeout=10)
    assert len(p.queue()) == 1


def check_recovered(p, master, rcpt, subj, kill_at):
    took = accepted_again(p, rcpt, subj)
    assert took is not None, \
        "no 250 within %ss of the kill\n%s" % (RECOVER_WITHIN,
                                               p.diagnostics())
    assert p.running() and p.pid == master, "the daemon was restarted"
    print("250 again %.2fs after the kill (%.2fs after the probe began)"
          % (time.monotonic() - kill_at, took))


def stopped_pid_stderr(proc, point, timeout=15.0):
    """The pid in the stop line a command writes to its stderr (commands
    log there, not to log_file)."""
    rx = re.compile(STOP_RE % re.escape(point))
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        r, _, _ = select.select([proc.stderr], [], [], 0.2)
        if not r:
            continue
        chunk = os.read(proc.stderr.fileno(), 4096)
        if not chunk:
            break
        seen += chunk
        m = rx.search(seen.decode("utf-8", "replace"))
        if m:
            return int(m.group(1))
    raise AssertionError("no stop at %s: %r" % (point, seen))


def kill_command(p, args, point):
    """Runs postern ARGS with the crash point, kills it -9 where it
    stops; returns the time of the kill."""
    conf_path = crash_conf(p, point)
    proc = subprocess.Popen([p.binary, "-c", conf_path] + args,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        pid = stopped_pid_stderr(proc, point)
        assert pid == proc.pid
        kill9(pid)
        kill_at = time.monotonic()
        proc.wait(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        return kill_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def test_kill_flush_inside_its_transaction(env):
    """postern flush killed after it moved a schedule entry, its write
    locks on the schedule and recipients held."""
    p, mx, rcpt = start(env, mx_kw={"data_reply": DeferFirst()})
    master = p.pid
    deferred_message(p, mx, rcpt, "wedge-flush-before")
    kill_at = kill_command(p, ["flush"], "txn-flush")
    check_recovered(p, master, rcpt, "wedge-flush-after", kill_at)
    # The flush that died moved nothing: the earlier message is still
    # deferred, and a real flush now sends it.
    p.flush()
    assert wait_delivered(mx, ["wedge-flush-before", "wedge-flush-after"]), \
        p.diagnostics()


def test_kill_queue_listing_inside_its_transaction(env):
    """postern queue killed in its read transaction, its read locks on
    the messages and recipients held."""
    p, mx, rcpt = start(env, mx_kw={"data_reply": DeferFirst()})
    master = p.pid
    deferred_message(p, mx, rcpt, "wedge-list-before")
    kill_at = kill_command(p, ["queue"], "txn-walk")
    check_recovered(p, master, rcpt, "wedge-list-after", kill_at)
    p.flush()
    assert wait_delivered(mx, ["wedge-list-before", "wedge-list-after"]), \
        p.diagnostics()


def test_kill_worker_after_its_runner(env):
    """The runner is killed while its worker is inside the transaction
    that records a delivery; then the worker is killed (it dies with its
    runner anyway, as an orphan)."""
    p, mx, rcpt = start(env, test_crash_point="stop:txn-update")
    master = p.pid
    mark = p.mark()
    assert send_one(p, "wedge-worker-before", rcpt, timeout=20) == 250
    worker = stopped_pid(p, "txn-update", mark)
    runner = ppid_of(worker)
    assert runner != master
    kill9(runner)
    assert wait_gone(runner)
    kill9(worker)
    kill_at = time.monotonic()
    assert wait_gone(worker)
    check_recovered(p, master, rcpt, "wedge-worker-after", kill_at)
    # The peer had the first message before the worker stopped.
    assert wait_delivered(mx, ["wedge-worker-before"]), p.diagnostics()
    # Every later worker stops at the same point again (after its first
    # message): to see the second one delivered, the daemon is stopped
    # and started without the crash point.
    p.kill9()
    p.conf.pop("test_crash_point")
    p.write_conf()
    p.start()
    p.flush()
    assert wait_delivered(mx, ["wedge-worker-before",
                               "wedge-worker-after"]), \
        "%r\n%s" % (subjects_at(mx), p.diagnostics())


def test_kill_lock_waiter_then_holder(env):
    """A session child killed while it waits for a lock (behind a
    postern flush stopped inside its transaction), then the flush killed
    too.  failchk can hang on what a killed waiter leaves behind; it runs
    in a helper with a deadline, so the daemon still recovers by itself
    (a recovery may be part of it: RECOVER_AFTER_HANG)."""
    p, mx, rcpt = start(env, mx_kw={"data_reply": DeferFirst()})
    master = p.pid
    deferred_message(p, mx, rcpt, "wedge-waiter-before")
    conf_path = crash_conf(p, "txn-flush")
    flush = subprocess.Popen([p.binary, "-c", conf_path, "flush"],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    s = None
    try:
        assert stopped_pid_stderr(flush, "txn-flush") == flush.pid
        s = smtplib.SMTP(p.addr, p.port, timeout=20)
        s.ehlo("waiter.client.test")
        s.mail("wedge@client.test")
        s.rcpt(rcpt)
        s.putcmd("DATA")
        assert s.getreply()[0] == 354
        s.send(make_message("wedge-waiter-killed", to=rcpt) + b".\r\n")
        waiter = wait_pid_with_connection(
            p, local=(p.addr, p.port), remote=s.sock.getsockname())
        # It reached the queue and waits: no reply comes.
        s.sock.settimeout(1.0)
        try:
            got = s.sock.recv(512)
        except OSError:
            got = b""
        assert got == b"", got
        kill9(waiter)
        assert wait_gone(waiter)
        kill9(flush.pid)
        kill_at = time.monotonic()
        flush.wait(timeout=10)
    finally:
        if s is not None:
            s.close()
        if flush.poll() is None:
            flush.kill()
            flush.wait(timeout=10)
    took = None
    deadline = time.monotonic() + RECOVER_AFTER_HANG
    while took is None and time.monotonic() < deadline:
        took = accepted_again(p, rcpt, "wedge-waiter-after")
    assert took is not None, p.diagnostics()
    assert p.running() and p.pid == master, "the daemon was restarted"
    print("250 again %.2fs after the kill; recovery: %s" % (
        time.monotonic() - kill_at,
        bool(p.grep_log(r"recovery complete"))))
    for m in p.grep_log(r"helper|overran|recovery|stopping every"):
        print("  " + m.string)
    p.flush()
    assert wait_delivered(mx, ["wedge-waiter-before", "wedge-waiter-after"]), \
        p.diagnostics()
    time.sleep(1.0)
    assert "wedge-waiter-killed" not in subjects_at(mx)


def test_live_lock_holder_gets_451_not_a_wait(env):
    """A postern flush that stops inside its transaction but does not die
    (failchk cannot free a live process's locks): the receiver waiting
    behind it answers 451 4.3.0 within the lock time-out, never a 250 for
    mail it could not commit, and never hangs; once the flush is killed,
    mail is accepted again."""
    p, mx, rcpt = start(env, mx_kw={"data_reply": DeferFirst()})
    master = p.pid
    deferred_message(p, mx, rcpt, "wedge-live-before")
    conf_path = crash_conf(p, "txn-flush")
    flush = subprocess.Popen([p.binary, "-c", conf_path, "flush"],
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    s = None
    try:
        assert stopped_pid_stderr(flush, "txn-flush") == flush.pid
        t0 = time.monotonic()
        s = smtplib.SMTP(p.addr, p.port, timeout=LOCK_TIMEOUT + 10)
        s.ehlo("live.client.test")
        s.mail("wedge@client.test")
        s.rcpt(rcpt)
        code, text = s.data(make_message("wedge-live-refused", to=rcpt))
        took = time.monotonic() - t0
        print("reply after %.2fs: %d %s" % (took, code, text))
        assert code == 451 and text.startswith(b"4.3.0"), (code, text)
        assert took <= LOCK_TIMEOUT + 5
        kill9(flush.pid)
        kill_at = time.monotonic()
        flush.wait(timeout=10)
    finally:
        if s is not None:
            s.close()
        if flush.poll() is None:
            flush.kill()
            flush.wait(timeout=10)
    check_recovered(p, master, rcpt, "wedge-live-after", kill_at)
    p.flush()
    assert wait_delivered(mx, ["wedge-live-before", "wedge-live-after"]), \
        p.diagnostics()
    time.sleep(1.0)
    assert "wedge-live-refused" not in subjects_at(mx)


def read_reply(f):
    """One SMTP reply (all its lines) from the -bs pipe."""
    lines = []
    while True:
        line = f.readline()
        assert line, "sendmail -bs closed: %r" % lines
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return lines


def test_kill_sendmail_bs_child_inside_data(env):
    """The session child of a root sendmail -bs killed inside the DATA
    transaction (after the final dot, before the commit)."""
    p, mx, rcpt = start(env)
    master = p.pid
    assert send_one(p, "wedge-bs-before", rcpt, timeout=20) == 250
    assert wait_delivered(mx, ["wedge-bs-before"]), p.diagnostics()
    conf_path = crash_conf(p, "txn-submit")
    sendmail = os.path.join(p.workdir, "sendmail")
    if not os.path.exists(sendmail):
        os.symlink(p.binary, sendmail)
    proc = subprocess.Popen([sendmail, "-C", conf_path, "-bs"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        assert read_reply(proc.stdout)[0].startswith(b"220")
        for line, want in ((b"EHLO bs.client.test", b"250"),
                           (b"MAIL FROM:<bs@client.test>", b"250"),
                           (b"RCPT TO:<%s>" % rcpt.encode(), b"250"),
                           (b"DATA", b"354")):
            proc.stdin.write(line + b"\r\n")
            proc.stdin.flush()
            got = read_reply(proc.stdout)
            assert got[-1].startswith(want), (line, got)
        proc.stdin.write(make_message("wedge-bs-killed", to=rcpt) +
                         b".\r\n")
        proc.stdin.flush()
        child = stopped_pid_stderr(proc, "txn-submit")
        assert ppid_of(child) == proc.pid
        kill9(child)
        kill_at = time.monotonic()
        assert wait_gone(child)
        # No 250 for the killed transaction: the relay just ends.
        rest = proc.stdout.read()
        assert b"250 2.0.0" not in rest, rest
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    check_recovered(p, master, rcpt, "wedge-bs-after", kill_at)
    assert wait_delivered(mx, ["wedge-bs-before", "wedge-bs-after"]), \
        p.diagnostics()
    # The killed transaction was never committed: it is not delivered.
    time.sleep(1.0)
    assert "wedge-bs-killed" not in subjects_at(mx)
