"""make install as an administrator runs it: the paths compiled in are the
ones installed to, the binary is setgid to the maildrop group (made when
missing), and a local user who is not root can then submit with sendmail.

The tree is copied (objects and all) so that the build under test is not
touched; everything that changes the host's /etc (the new group) happens in
a private mount namespace over a copy of /etc.
"""

import os
import shutil
import stat
import subprocess
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
GROUP = "posterndrop"


def _need_root():
    # make install rebuilds with the Makefile's own compiler and flags:
    # the sanitizer stage's objects cannot be relinked that way, and this
    # tests the Makefile, which the normal pass already did.
    if os.environ.get("POSTERN_SANITIZED"):
        pytest.skip("the install is tested in the normal pass")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1)")
    if shutil.which("setpriv") is None:
        pytest.skip("needs setpriv(1)")


@pytest.fixture(scope="module")
def world():
    """A copy of the tree and a scratch directory any user can enter."""
    _need_root()
    base = tempfile.mkdtemp(prefix="postern-install.")
    os.chmod(base, 0o755)
    src = os.path.join(base, "src")
    shutil.copytree(TOP, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "run", ".sanitize", "__pycache__", "fuzz", "*.log"))
    try:
        yield base, src
    finally:
        shutil.rmtree(base, ignore_errors=True)


def in_ns(script, timeout=300):
    """Runs sh SCRIPT in a private mount namespace whose /etc is a copy."""
    pre = ("etc=$(mktemp -d /tmp/postern-etc.XXXXXX)\n"
           "cp -a /etc/. \"$etc\"/\n"
           "mount --bind \"$etc\" /etc\n")
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh",
                        "-ec", pre + script], capture_output=True,
                       text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def test_staged_install(world):
    """DESTDIR staging: paths, modes, the setgid bit, and the compiled-in
    configuration path that sendmail, mailq and newaliases use."""
    base, src = world
    stage = os.path.join(base, "stage")
    etc = os.path.join(base, "conf-etc")
    rc, out = in_ns(
        "cd %s\n"
        "! getent group %s\n"
        "make install DESTDIR=%s PREFIX=/usr SYSCONFDIR=%s >/dev/null\n"
        "getent group %s\n"
        "stat -c 'MODE %%a %%G' %s/usr/sbin/postern\n"
        % (src, GROUP, stage, etc, GROUP, stage))
    assert rc == 0, out
    assert "MODE 2755 %s" % GROUP in out, out
    sbin = os.path.join(stage, "usr", "sbin")
    assert os.readlink(os.path.join(sbin, "postern-sendmail")) == "postern"
    for man in ("share/man/man8/postern.8", "share/man/man5/postern.conf.5"):
        st = os.stat(os.path.join(stage, "usr", man))
        assert stat.S_IMODE(st.st_mode) == 0o644
    conf = os.path.join(stage + etc, "postern.conf")
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o644
    # The installed commands look where SYSCONFDIR put postern.conf (in
    # the staging tree it is not there yet: the message names the path).
    want = os.path.join(etc, "postern.conf")
    for args in (["-n"], ):
        r = subprocess.run([os.path.join(sbin, "postern")] + args,
                           capture_output=True, text=True, timeout=20)
        assert want in r.stderr + r.stdout, r
    mailq = os.path.join(base, "mailq")
    os.symlink(os.path.join(sbin, "postern"), mailq)
    r = subprocess.run([mailq], capture_output=True, text=True, timeout=20)
    assert want in r.stderr, r.stderr
    # The host's /etc/group never saw the group.
    r = subprocess.run(["getent", "group", GROUP], capture_output=True)
    assert r.returncode != 0 or GROUP_EXISTED


GROUP_EXISTED = subprocess.run(["getent", "group", GROUP],
                               capture_output=True).returncode == 0


def test_user_submits_after_install(world):
    """After make install (no DESTDIR), a local user who is neither root
    nor the daemon's user submits with sendmail, and the mail reaches the
    maildrop; without the setgid bit the user is told the fix."""
    base, src = world
    prefix = os.path.join(base, "prefix")
    etc = os.path.join(prefix, "etc", "postern")
    spool = os.path.join(base, "spool")
    msg = os.path.join(base, "msg")
    with open(msg, "w") as f:
        f.write("To: root\nSubject: from nobody\n\nhello\n")
    os.chmod(msg, 0o644)
    script = (
        "cd %(src)s\n"
        "make install PREFIX=%(prefix)s SYSCONFDIR=%(etc)s >/dev/null\n"
        "cat > %(etc)s/postern.conf <<EOF\n"
        "spool_dir = %(spool)s\nuser = nobody\nlisten = 127.0.0.1:2599\n"
        "pidfile = %(base)s/pid\nlog_file = %(base)s/log\n"
        "local_domains = localhost\nEOF\n"
        "%(prefix)s/sbin/postern -n\n"
        # The daemon makes the maildrop (group posterndrop, 1730).
        "%(prefix)s/sbin/postern\n"
        "i=0; while [ ! -s %(base)s/pid ] && [ $i -lt 100 ]; do "
        "sleep 0.1; i=$((i+1)); done\n"
        "kill $(cat %(base)s/pid)\n"
        # A local user: neither root nor the daemon's user.
        "useradd -M -N -g users -s /bin/sh pstlocal\n"
        "set +e\n"
        "setpriv --reuid=pstlocal --regid=users --clear-groups "
        "%(prefix)s/sbin/postern-sendmail -t < %(msg)s\n"
        "echo SUBMIT=$?\n"
        "ls %(spool)s-maildrop | sed 's/^/FILE /'\n"
        # Without the setgid bit the user is told what root must run.
        "chmod 0755 %(prefix)s/sbin/postern\n"
        "setpriv --reuid=pstlocal --regid=users --clear-groups "
        "%(prefix)s/sbin/postern-sendmail -t < %(msg)s\n"
        "echo PLAIN=$?\n" % dict(src=src, prefix=prefix, etc=etc,
                                 spool=spool, base=base, msg=msg))
    rc, out = in_ns(script)
    assert rc == 0, out
    assert "SUBMIT=0" in out, out
    files = [ln for ln in out.splitlines() if ln.startswith("FILE ")
             and not ln.endswith(".tmp")]
    assert len(files) == 1, out
    assert "PLAIN=77" in out, out
    assert "not setgid %s" % GROUP in out and "chmod 2755" in out, out
