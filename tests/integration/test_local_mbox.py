"""Local delivery into a spool any user can write (mode 1777 here): a
hard link to a file of root's, a symlink to it, a FIFO or a foreign
file at the mailbox's name, planted before the delivery or in the
window between any check and the open (plant_open.c, an LD_PRELOAD
shim, puts it there at the moment the daemon opens the name with
O_CREAT: the user who always wins the race).  Each leaves the target
as it was, nothing hangs, and the mail is deferred with 4.2.0 and the
reason, in the log and in "postern queue".  A normal delivery creates
the mailbox for its user, mode 0600, and appends to it."""

import grp
import os
import pwd
import re
import stat
import subprocess

import pytest

from localenv import local  # noqa: F401  (fixture)

HERE = os.path.dirname(os.path.abspath(__file__))
USER = "nobody"
PASSWD = "root:x:0:0:root:/root:/bin/sh\n"

REASON = {
    "link": "more than one link",
    "symlink": "a symbolic link",
    "fifo": "not a regular file",
    "fifo_read": "not a regular file",
    "foreign": "not owned by the recipient",
}


@pytest.fixture(scope="module")
def shim(tmp_path_factory):
    so = str(tmp_path_factory.mktemp("shim") / "plant_open.so")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", so,
                    os.path.join(HERE, "plant_open.c"), "-ldl"], check=True)
    return so


def snapshot(path):
    st = os.lstat(str(path))
    return (path.read_bytes(), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode),
            st.st_ino)


def plant(kind, box, target):
    if kind == "link":
        os.link(str(target), str(box))
    elif kind == "symlink":
        os.symlink(str(target), str(box))
    elif kind in ("fifo", "fifo_read"):
        os.mkfifo(str(box), 0o666)
    elif kind == "foreign":
        box.write_text("")          # root's, not the recipient's


def release_fifo(box):
    """A writer blocked in open(2) on the FIFO (the old code) goes on."""
    try:
        if stat.S_ISFIFO(os.lstat(str(box)).st_mode):
            os.close(os.open(str(box), os.O_RDONLY | os.O_NONBLOCK))
    except OSError:
        pass


def delivery_line(local, status):
    """The first outcome of the mailbox delivery; none within 15 s is
    a delivery that hangs."""
    return local.p.wait_log(
        r"(\w+): to=<%s@postern\.test> local=mailbox:%s status=%s "
        r"\((\S+) (.*)\)$" % (USER, USER, status), timeout=15)[0]


@pytest.mark.parametrize("kind,when", [
    ("link", "before"), ("symlink", "before"), ("fifo", "before"),
    ("fifo_read", "before"), ("foreign", "before"),
    ("link", "race"), ("symlink", "race"), ("fifo", "race"),
])
def test_planted_mailbox_refused(local, shim, monkeypatch, kind, when):
    box = local.mail / USER
    target = local.tmp / "passwd"
    target.write_text(PASSWD)
    os.chmod(str(target), 0o644)
    reader = None
    if when == "race":
        monkeypatch.setenv("LD_PRELOAD", shim)
        monkeypatch.setenv("PLANT_PATH", str(box))
        monkeypatch.setenv("PLANT_KIND", kind)
        monkeypatch.setenv("PLANT_TARGET", str(target))
        if os.environ.get("POSTERN_SANITIZED"):
            monkeypatch.setenv("ASAN_OPTIONS", os.environ.get(
                "ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    else:
        plant(kind, box, target)
        if kind == "fifo_read":
            reader = os.open(str(box), os.O_RDONLY | os.O_NONBLOCK)
    before = snapshot(target)
    try:
        local.p.start()
        rc, out, err = local.sendmail(["-i", USER],
                                      b"Subject: planted\n\nx\n")
        assert rc == 0, err
        m = delivery_line(local, r"\w+")
        qid, status, text = m.group(1), m.group(2), m.group(3)
        assert snapshot(target) == before, "target changed: %r" % (
            snapshot(target)[1:4],)
        assert m.group(0).find("status=deferred") != -1, m.group(0)
        assert status == "4.2.0", m.group(0)
        assert "mailbox refused: " + REASON[kind] in text, m.group(0)
        q = [e for e in local.p.queue() if e["qid"] == qid]
        assert q, "not in the queue"
        assert "%s@postern.test" % USER in q[0]["rcpts"], q[0]["text"]
        assert REASON[kind] in q[0]["text"], q[0]["text"]
        assert not local.p.grep_log(r"to=<%s@postern\.test> .*status=sent"
                                    % USER)
    finally:
        release_fifo(box)
        if reader is not None:
            os.close(reader)


def test_fresh_mailbox_owner_mode_and_append(local):
    box = local.mail / USER
    local.p.start()
    for i in range(2):
        rc, out, err = local.sendmail(["-i", USER],
                                      b"Subject: fresh %d\n\nx\n" % i)
        assert rc == 0, err
        msgs = local.wait_mbox(USER, count=i + 1)
    assert [m["Subject"] for m in msgs] == ["fresh 0", "fresh 1"]
    st = os.lstat(str(box))
    assert stat.S_ISREG(st.st_mode) and st.st_nlink == 1
    assert st.st_uid == pwd.getpwnam(USER).pw_uid
    assert st.st_gid == grp.getgrnam("mail").gr_gid
    assert stat.S_IMODE(st.st_mode) == 0o600
    delivery_line(local, "sent")
