"""The local server runs as root: what it reads for a user, and how long
its children may live.

A test user (uid 4242) exists only inside a private mount namespace in
which the daemon runs (/etc/passwd and /etc/group bind-mounted), so the
machine's accounts are never touched.  Checks:

- an :include: named in a .forward is read with that user's rights: a
  root-only file comes back as a bounce that holds no byte of it, and
  the log holds none either;
- an :include: named in the aliases file is read only when root (or the
  aliases file's owner) owns it and nobody else may write it;
- a FIFO include and a .forward of slow pipes are cut off at
  local_delivery_timeout, defer, leave no process behind and are
  delivered exactly once when fixed.
"""

import os
import re
import secrets
import shlex
import shutil
import stat
import tempfile
import time

import pytest

from localenv import Local

UID = GID = 4242
USER = "ptest"
TIMEOUT = 3                     # local_delivery_timeout in these tests


class RootEnv:
    def __init__(self, tmp_path, block):
        self.loc = Local(tmp_path, block)
        # Reachable by uid 4242: outside pytest's private tree.
        self.pub = tempfile.mkdtemp(prefix="postern-root-")
        os.chmod(self.pub, 0o755)
        self.home = os.path.join(self.pub, "home")
        os.mkdir(self.home, 0o755)
        os.chown(self.home, UID, GID)
        pw = open("/etc/passwd").read().rstrip("\n") + \
            "\n%s:x:%d:%d::%s:/bin/sh\n" % (USER, UID, GID, self.home)
        gr = open("/etc/group").read().rstrip("\n") + \
            "\n%s:x:%d:\n" % (USER, GID)
        (tmp_path / "passwd").write_text(pw)
        (tmp_path / "group").write_text(gr)
        wrapper = tmp_path / "postern-ns"
        wrapper.write_text(
            "#!/bin/sh\nexec unshare -m sh -c 'mount --bind %s /etc/passwd "
            "&& mount --bind %s /etc/group && exec %s \"$@\"' sh \"$@\"\n" %
            (shlex.quote(str(tmp_path / "passwd")),
             shlex.quote(str(tmp_path / "group")),
             shlex.quote(self.loc.p.binary)))
        os.chmod(str(wrapper), 0o755)
        self.loc.p.binary = str(wrapper)
        self.loc.p.conf["local_delivery_timeout"] = TIMEOUT
        self.loc.p.write_conf()

    def user_file(self, name, text, mode=0o644, uid=UID):
        path = os.path.join(self.home, name)
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, uid, GID if uid == UID else 0)
        os.chmod(path, mode)
        return path

    def forward(self, text):
        # Replaced in one rename: a retry never reads half of it.
        tmp = self.user_file(".forward.tmp", text)
        os.rename(tmp, os.path.join(self.home, ".forward"))

    def send(self, rcpt, subject):
        rc, out, err = self.loc.sendmail(
            ["-i", "-f", "root@postern.test", rcpt],
            ("Subject: %s\n\nbody of %s\n" % (subject, subject)).encode())
        assert rc == 0, err

    def close(self):
        self.loc.p.stop()
        shutil.rmtree(self.pub, ignore_errors=True)


@pytest.fixture
def env(tmp_path, block):
    e = RootEnv(tmp_path, block)
    try:
        yield e
    finally:
        e.close()


def raw_mbox(loc, user):
    path = loc.mail / user
    return path.read_bytes() if path.exists() else b""


def pieces(secret, n=8):
    """Every n-byte run of the secret, in both cases."""
    out = set()
    for s in (secret, secret.lower()):
        for i in range(len(s) - n + 1):
            out.add(s[i:i + n].encode())
    return out


def test_forward_include_of_root_only_file_bounces_without_its_text(env):
    secret = "root:S3cr3t%s:19000:0:99999:7:::" % secrets.token_hex(12)
    sdir = os.path.join(env.pub, "etc")
    os.mkdir(sdir, 0o755)
    shadow = os.path.join(sdir, "shadow")
    with open(shadow, "w") as f:
        f.write(secret + "\n")
    os.chmod(shadow, 0o600)                     # root only, as /etc/shadow
    env.forward(":include:%s\n" % shadow)
    env.loc.p.start()
    env.send(USER, "shadow")
    env.loc.p.wait_log(r"to=<%s@postern\.test> relay=local .*status=bounced" % USER)
    bounce = env.loc.wait_mbox("root")[0]
    everything = raw_mbox(env.loc, "root") + \
        open(env.loc.p.log_path, "rb").read() + \
        open(env.loc.p.out_path, "rb").read()
    for p in pieces(secret):
        assert p not in everything, "the bounce or the log quotes %r" % p
    assert "refused or unreadable" in bounce.as_string()


def test_aliases_include_must_be_trusted(env):
    inc = os.path.join(env.pub, "lists")
    os.mkdir(inc, 0o755)

    def listfile(name, mode, uid):
        path = os.path.join(inc, name)
        with open(path, "w") as f:
            f.write("\\%s\n" % USER)
        os.chown(path, uid, 0)
        os.chmod(path, mode)
        return path

    ww = listfile("world", 0o666, 0)            # anyone may write it
    theirs = listfile("theirs", 0o644, UID)     # a user's, read as root
    good = listfile("good", 0o644, 0)
    env.loc.aliases.write_text(
        "postmaster: root\nww: :include:%s\ntheirs: :include:%s\n"
        "good: :include:%s\n" % (ww, theirs, good))
    # A .forward's include is the user's own file, read as the user.
    mine = env.user_file("mine", "\\%s\n" % USER, mode=0o600)
    env.forward(":include:%s\n" % mine)
    env.loc.p.start()
    env.send("ww", "world-writable")
    env.send("theirs", "user-owned")
    env.loc.p.wait_log(r"to=<ww@postern\.test> relay=local .*status=bounced")
    env.loc.p.wait_log(r"to=<theirs@postern\.test> relay=local .*status=bounced")
    assert env.loc.p.grep_log(r":include: %s .*refused: group or world "
                              r"writable" % re.escape(ww))
    assert env.loc.p.grep_log(r":include: %s .*refused: not owned by root"
                              % re.escape(theirs))
    env.send("good", "trusted")
    env.send(USER, "own-include")
    msgs = env.loc.wait_mbox(USER, count=2)
    assert sorted(m["Subject"] for m in msgs) == ["own-include", "trusted"]
    bounces = env.loc.wait_mbox("root", count=2)
    assert len(bounces) == 2


def procs_with(pred):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if pred(pid):
                found.append(pid)
        except OSError:
            continue
    return found


def holds_open(path):
    def pred(pid):
        d = "/proc/%s/fd" % pid
        for fd in os.listdir(d):
            try:
                if os.readlink(os.path.join(d, fd)) == path:
                    return True
            except OSError:
                pass
        return False
    return pred


def runs_sleep(marks):
    def pred(pid):
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
        return len(argv) >= 2 and argv[0].endswith(b"sleep") and \
            argv[1].decode("ascii", "replace") in marks
    return pred


def wait_gone(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = procs_with(pred)
        if not left:
            return
        time.sleep(0.1)
    raise AssertionError("processes left behind: %s" % left)


def deferred_once_then_exactly_once(env, subject, fix):
    """After the first deferral, fix() repairs the .forward; the mail
    must then arrive once, and stay once."""
    mark = env.loc.p.mark()
    t0 = time.monotonic()
    env.send(USER, subject)
    env.loc.p.wait_log(r"to=<%s@postern\.test> relay=local .*status=deferred" % USER,
                       timeout=TIMEOUT + 10, since=mark)
    took = time.monotonic() - t0
    assert took < TIMEOUT + 5, "deferred only after %.1fs" % took
    fix()
    env.loc.p.flush()
    msgs = env.loc.wait_mbox(USER, count=1, timeout=20)
    time.sleep(TIMEOUT + 1)         # a late second copy would be here now
    msgs = list(env.loc.mbox(USER))
    assert [m["Subject"] for m in msgs] == [subject]
    assert env.loc.p.queue() == []


def test_fifo_include_is_cut_off_and_delivered_once_later(env):
    fifo = os.path.join(env.home, "list")
    os.mkfifo(fifo, 0o644)
    os.chown(fifo, UID, GID)
    env.forward(":include:%s\n" % fifo)
    env.loc.p.start()

    def fix():
        wait_gone(holds_open(fifo), 2)      # nobody still waits on it
        os.unlink(fifo)
        env.user_file("list", "\\%s\n" % USER)

    deferred_once_then_exactly_once(env, "fifo", fix)


def test_slow_pipes_are_cut_off_and_delivered_once_later(env):
    marks = ["30.%d" % i for i in range(1, 5)]
    out = os.path.join(env.home, "late")
    env.forward("".join('"|sleep %s; cat >> %s"\n' % (m, out)
                        for m in marks))
    env.loc.p.start()

    def fix():
        wait_gone(runs_sleep(marks), 2)     # the commands were killed
        env.forward("\\%s\n" % USER)

    deferred_once_then_exactly_once(env, "slow", fix)
    assert env.loc.p.grep_log(r"local delivery stopped after %ds "
                              r"\(local_delivery_timeout\)" % TIMEOUT)
    assert not procs_with(runs_sleep(marks))
    assert not os.path.exists(out)


def test_worker_gone_stops_the_root_child(env):
    """A deliver worker that dies mid-delivery: the server's child sees
    its socket hang up and stops the commands, long before the deadline;
    the retry delivers once."""
    env.loc.p.conf["local_delivery_timeout"] = 60
    env.loc.p.write_conf()
    marks = ["40.%d" % i for i in range(1, 4)]
    out = os.path.join(env.home, "late")
    env.forward("".join('"|sleep %s; cat >> %s"\n' % (m, out)
                        for m in marks))
    env.loc.p.start()
    env.send(USER, "gone")
    m = env.loc.p.wait_log(r"runner: worker (\d+) for postern\.test")[0]
    worker = int(m.group(1))
    deadline = time.monotonic() + 10
    while not procs_with(runs_sleep(marks)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert procs_with(runs_sleep(marks)), "the pipe never started"
    os.kill(worker, 9)
    wait_gone(runs_sleep(marks), 3)
    env.loc.p.wait_log(r"to=<%s@postern\.test> delivery worker gone" % USER)
    env.forward("\\%s\n" % USER)
    env.loc.p.flush()
    env.loc.wait_mbox(USER, count=1, timeout=30)
    time.sleep(1)
    assert [m["Subject"] for m in env.loc.mbox(USER)] == ["gone"]
    assert not os.path.exists(out)


def test_bounce_never_quotes_an_include(env):
    """A user's own include naming a mailbox that does not exist: the
    bounce says a recipient from an :include: file failed, and names
    neither the line nor the file."""
    token = "nobody%s" % secrets.token_hex(10)
    mine = env.user_file("mine", "%s\n" % token, mode=0o600)
    env.forward(":include:%s\n" % mine)
    env.loc.p.start()
    env.send(USER, "quote")
    env.loc.p.wait_log(r"to=<%s@postern\.test> relay=local .*status=bounced"
                       % USER)
    env.loc.wait_mbox("root")
    bounce = raw_mbox(env.loc, "root")
    assert token.encode() not in bounce
    assert mine.encode() not in bounce
    assert b"of a recipient from an :include: file" in bounce
