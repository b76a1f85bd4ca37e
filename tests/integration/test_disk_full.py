"""A full spool: postern's spool (and with it the Berkeley DB log) on a
small tmpfs.  When the space runs low EHLO announces a smaller SIZE;
when it is gone MAIL gets 452 4.3.1; when the log cannot grow under a
message already being received, its data gets 452 4.3.1.  When the space
comes back postern accepts again without a restart, and every message
accepted before is delivered, once and undamaged.

Root is needed to mount the tmpfs; it is always unmounted at the end.
"""

import hashlib
import os
import re
import smtplib
import subprocess
import time

import pytest

from crashkit import db_recover_copy, log_clean, queue_clean
from harness import make_message

TMPFS_SIZE = 64 * 1024 * 1024
RESERVE = 16 * 1024 * 1024      # smtpd_envelope.c SPOOL_RESERVE
MAX_SIZE = 10 * 1024 * 1024


def free_bytes(path):
    sv = os.statvfs(path)
    return sv.f_bavail * sv.f_frsize


def fill(path, leave):
    """Writes filler files under path until about leave bytes are free
    (0: until the file system refuses).  Returns the files."""
    files = []
    chunk = b"\0" * (1024 * 1024)
    for i in range(1000):
        room = free_bytes(path) - leave
        if room <= 0:
            break
        name = os.path.join(path, "filler.%d" % i)
        files.append(name)
        try:
            with open(name, "wb") as f:
                n = min(room, 64 * 1024 * 1024)
                while n > 0:
                    f.write(chunk[:min(n, len(chunk))])
                    n -= len(chunk)
        except OSError:
            break
    return files


def unfill(files):
    for f in files:
        try:
            os.unlink(f)
        except FileNotFoundError:
            pass


def ehlo_size(p):
    s = smtplib.SMTP(p.addr, p.port, timeout=20)
    try:
        code, text = s.ehlo("full.client.test")
        m = re.search(rb"SIZE (\d+)", text)
        return int(m.group(1)) if m else None
    finally:
        s.close()


def body_of(i):
    line = ("message %d " % i) + hashlib.sha256(b"%d" % i).hexdigest()
    return (line + "\r\n") * 1500      # about 100 KiB


def send(p, i, rcpt):
    """(code of MAIL or of the final dot, text)."""
    s = smtplib.SMTP(p.addr, p.port, timeout=30)
    try:
        s.ehlo("full.client.test")
        code, text = s.mail("full@client.test")
        if code != 250:
            return code, text.decode()
        s.rcpt(rcpt)
        code, text = s.data(make_message("full-%d" % i, body=body_of(i),
                                         to=rcpt))
        return code, text.decode()
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()


@pytest.fixture
def small_spool(env):
    """A postern (not started) whose spool is a fresh tmpfs."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mx_addr = env.block.mx(0)
    dest, conf = env.route(mx_addr)
    # No retry while the disk is full: only the receiver meets it.
    conf.update(max_message_size=MAX_SIZE, retry_min=60, retry_max=120)
    p = env.postern(conf, start=False)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%d,mode=0700" % TMPFS_SIZE, "postern-test",
                        p.spool], capture_output=True, timeout=20)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs: %s" % r.stderr.decode())

    def umount():
        p.stop()
        for _ in range(50):
            if subprocess.run(["umount", p.spool],
                              capture_output=True).returncode == 0:
                return
            time.sleep(0.1)
        subprocess.run(["umount", "-l", p.spool], capture_output=True)

    env.on_stop(umount)
    return p, mx_addr, "full@" + dest


def test_full_spool(env, small_spool):
    """Low space shrinks SIZE, no space is 452 4.3.1 at MAIL, space back
    is mail accepted again; everything accepted is delivered intact."""
    p, mx_addr, rcpt = small_spool
    p.start()
    spool = p.spool
    assert ehlo_size(p) == MAX_SIZE

    # Accepted before the disk fills: the peer is down, they stay queued.
    accepted = []
    for i in range(5):
        code, text = send(p, i, rcpt)
        assert code == 250, text
        accepted.append(i)

    # Low: the announced SIZE follows the room left.
    files = fill(spool, RESERVE + 4 * 1024 * 1024)
    low = ehlo_size(p)
    print("\ndisk full: %d bytes free -> EHLO SIZE %s"
          % (free_bytes(spool), low))
    assert low is not None and 0 < low < 3 * 1024 * 1024, low
    # A message that still fits is taken.
    code, text = send(p, 5, rcpt)
    assert code == 250, text
    accepted.append(5)

    # Full: MAIL is refused with 452 4.3.1, and the SIZE= parameter too.
    files += fill(spool, 0)
    print("disk full: %d bytes free -> EHLO SIZE %s"
          % (free_bytes(spool), ehlo_size(p)))
    code, text = send(p, 100, rcpt)
    assert code == 452 and "4.3.1" in text, (code, text)
    unfill(files)

    # Space comes back: postern takes mail again, without a restart.
    assert ehlo_size(p) == MAX_SIZE
    for i in range(6, 9):
        code, text = send(p, i, rcpt)
        assert code == 250, text
        accepted.append(i)
    assert len(queue_clean(p)) == len(accepted)

    # Everything accepted is delivered once and undamaged.
    mx = env.mx(mx_addr)
    p.flush()
    got = mx.wait_for(len(accepted), timeout=60)
    deadline = time.monotonic() + 30
    while queue_clean(p) and time.monotonic() < deadline:
        time.sleep(0.25)
    assert not queue_clean(p)
    time.sleep(1)
    got = list(mx.messages)
    subjects = sorted(m.header("Subject") for m in got)
    assert subjects == sorted("full-%d" % i for i in accepted), subjects
    for m in got:
        i = int(m.header("Subject").split("-")[1])
        assert body_of(i).encode() in m.data, "message %d damaged" % i
    log_clean(p)
    p.stop()
    db = db_recover_copy(spool)
    print("disk full: %d accepted, %d delivered once and intact; %s"
          % (len(accepted), len(got), db))


def test_log_cannot_grow_during_data(env, small_spool):
    """The disk fills up after MAIL: the message's data gets 452 4.3.1,
    postern goes on without a restart once space is back, and the
    message accepted before is delivered."""
    p, mx_addr, rcpt = small_spool
    p.start()
    spool = p.spool
    code, text = send(p, 0, rcpt)
    assert code == 250, text
    files = fill(spool, RESERVE + 1024 * 1024)
    s = smtplib.SMTP(p.addr, p.port, timeout=30)
    try:
        s.ehlo("full.client.test")
        assert s.mail("full@client.test")[0] == 250
        assert s.rcpt(rcpt)[0] == 250
        files += fill(spool, 0)
        try:
            code, text = s.data(make_message(
                "full-101", body=body_of(101) * 40, to=rcpt))
        except smtplib.SMTPServerDisconnected:
            code, text = None, b"connection closed"
    finally:
        s.close()
        unfill(files)
    print("\nlog cannot grow: data -> %s %s" % (code, text.decode().strip()))
    # A delivery worker may fault on the full disk first (SIGBUS inside
    # Berkeley DB): the master then stops every process to recover, this
    # session with it, before its data is answered.  Either way the
    # message was never acknowledged.
    if code is None:
        p.wait_log(r"queue: a process died inside the queue", timeout=30)
    else:
        assert code == 452 and b"4.3.1" in text, (code, text)
    # When Berkeley DB faulted on the full disk, the master recovers the
    # queue by itself; meanwhile connections get 421 4.3.0.
    deadline = time.monotonic() + 60
    while True:
        try:
            code2, text2 = send(p, 1, rcpt)
        except (smtplib.SMTPException, OSError) as e:
            code2, text2 = None, str(e)
        if code2 == 250 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert code2 == 250, text2
    mx = env.mx(mx_addr)
    p.flush()
    got = mx.wait_for(2, timeout=60)
    assert sorted(m.header("Subject") for m in got) == ["full-0", "full-1"]
    log = p.log_text()
    since = 0
    if "a process died inside the queue" in log:
        assert "queue: recovery complete" in log, log[-3000:]
        since = len(log[:log.rindex("queue: recovery complete")].encode())
    log_clean(p, since)
