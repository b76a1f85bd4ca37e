"""Temporary files in the maildrop (QID.tmp, left by a sendmail that
died, or made by a user of the group in bulk) never hold up the
pickup: a message submitted with sendmail is still queued and
delivered, a stale one (mtime two hours back) is removed, a fresh one
is kept for its writer."""

import os
import time

from localenv import local  # noqa: F401  (fixture)

STALE = "661A8B0000000001.tmp"
FRESH = "661A8B0000000002.tmp"


def maildrop_dir(local):
    return local.p.spool + "-maildrop"


def wait_gone(path, timeout=10):
    deadline = time.monotonic() + timeout
    while os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not os.path.exists(path)


def test_stale_tmp_removed_fresh_kept_mail_delivered(local):
    local.p.start()
    d = maildrop_dir(local)
    for name in (STALE, FRESH):
        with open(os.path.join(d, name), "wb") as f:
            f.write(b"POSTERN-MAILDROP 1\nS root\n")    # a writer's half
    two_hours_ago = time.time() - 7200
    os.utime(os.path.join(d, STALE), (two_hours_ago, two_hours_ago))
    rc, out, err = local.sendmail(["-i", "root"], b"Subject: past tmp\n\nx\n")
    assert rc == 0, err
    assert local.wait_mbox("root")[0]["Subject"] == "past tmp"
    assert wait_gone(os.path.join(d, STALE)), "stale .tmp file kept"
    local.p.wait_log(r"maildrop %s: removed stale temporary file uid=0"
                     % STALE)
    assert os.path.exists(os.path.join(d, FRESH)), "fresh .tmp file removed"
    assert local.maildrop() == []


def test_many_tmp_files_do_not_hold_up_pickup(local):
    # Submitted while the daemon is down; then more temporary files than
    # one pickup pass looks at (PICKUP_MAX_FILES, 1000).
    rc, out, err = local.sendmail(["-i", "root"], b"Subject: crowded\n\nx\n")
    assert rc == 0, err
    d = maildrop_dir(local)
    for i in range(10000):
        open(os.path.join(d, "%016X.tmp" % (0x661A8B0100000000 + i)),
             "wb").close()
    local.p.start()
    assert local.wait_mbox("root", timeout=20)[0]["Subject"] == "crowded"
    assert local.maildrop() == []
    assert len(os.listdir(d)) == 10000     # fresh ones are the writers'
