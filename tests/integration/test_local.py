"""Local delivery: alias expansion (include, pipe, file, remote, loop)
and mbox locking with concurrent writers and a reader holding the
lock, read back with Python's mailbox.mbox."""

import mailbox
import os
import shutil
import tempfile
import time

from localenv import local  # noqa: F401  (fixture)


def test_alias_include_pipe_file_remote_loop(local):
    # Pipes and files run as default_user (nobody): a directory it can
    # reach, outside pytest's private temporary tree.
    t = tempfile.mkdtemp(prefix="postern-local-")
    os.chmod(t, 0o1777)
    try:
        alias_scenario(local, t)
    finally:
        shutil.rmtree(t, ignore_errors=True)


def alias_scenario(local, out):
    import pathlib
    t = pathlib.Path(out)
    (local.tmp / "staff").write_text("# staff\nroot\n")
    local.aliases.write_text(
        "postmaster: root\n"
        "list: :include:%s,\n"
        "\t\"|/bin/sh -c 'cat > %s/pipe.out'\",\n"
        "\t%s/file.out, far@remote.example\n"
        "a: b\nb: a\n" % (local.tmp / "staff", t, t))
    local.p.start()
    rc, out, err = local.sendmail(["-i", "list"], b"Subject: alias\n\nx\n")
    assert rc == 0, err
    m = local.wait_mbox("root")[0]
    assert m["Subject"] == "alias"
    local.p.wait_log(r"local=pipe:.* status=sent")
    local.p.wait_log(r"local=file:.* status=sent")
    local.p.wait_log(r"forwarded to 1 remote address")
    local.p.wait_log(r"to=<far@remote\.example>")
    assert "Subject: alias" in (t / "pipe.out").read_text()
    fm = list(mailbox.mbox(str(t / "file.out"), create=False))
    assert fm[0]["Subject"] == "alias"
    st = os.stat(str(t / "file.out"))
    assert st.st_uid != 0          # written as default_user, not root
    rc, out, err = local.sendmail(["-i", "a"], b"Subject: loop\n\nx\n")
    assert rc == 0, err
    local.p.wait_log(r"to=<a@postern\.test> .*status=bounced .*loop")


def test_unknown_user_bounces(local):
    local.p.start()
    rc, out, err = local.sendmail(["-i", "nosuchuser"], b"Subject: u\n\nx\n")
    assert rc == 0, err
    local.p.wait_log(r"to=<nosuchuser@postern\.test> .*status=bounced "
                     r"\(.*user unknown")


def test_mbox_lock_discipline_concurrent_writers(local):
    path = local.mail / "root"
    path.write_text("")
    local.p.start()
    box = mailbox.mbox(str(path))
    box.lock()                      # dotlock + fcntl (+ flock) as mutt
    try:
        for i in range(2):
            rc, out, err = local.sendmail(
                ["-i", "root"], ("Subject: c%d\n\n%s\n" % (i, "y" * 5000))
                .encode())
            assert rc == 0, err
        local.p.wait_log(r"worker \d+ for postern\.test", count=1)
        time.sleep(2)
        assert path.stat().st_size == 0, "written while the mbox was locked"
    finally:
        box.unlock()
        box.close()
    msgs = local.wait_mbox("root", count=2)
    assert sorted(m["Subject"] for m in msgs) == ["c0", "c1"]
    for m in msgs:
        assert m.get_payload() == "y" * 5000 + "\n"
    # The dotlock goes after the append is written and the box closed, so
    # a reader may see both messages a moment before the lock is removed.
    deadline = time.monotonic() + 10
    while os.path.exists(str(path) + ".lock") and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(str(path) + ".lock"), "dotlock left behind"
