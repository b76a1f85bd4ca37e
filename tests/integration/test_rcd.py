"""rc.d/postern: sh -n, and start/status/configtest/reload/stop through
a small rc.subr stand-in (tests/rcd/rc.subr) with a temporary rc.conf.

pw(8), getent(1) and logger(1) are stand-ins on PATH that record their
calls (STUBS below): getent answers from two small files, the
groups and users that "exist", and pw groupadd adds to the first, so
that what the script creates and refuses can be seen without touching
this machine's accounts."""

import os
import subprocess
import time

import pytest

from harness import REPO, postern_bin, render_conf, pid_alive

SCRIPT = os.path.join(REPO, "rc.d", "postern")
RCSUBR = os.path.join(REPO, "tests", "rcd", "rc.subr")

STUBS = {
    "pw": """#!/bin/sh
echo "pw $*" >> "$RCD_STUB_LOG"
case "$1" in
groupadd) echo "$2" >> "$RCD_STUB_DB/group" ;;
*) exit 64 ;;
esac
""",
    "getent": """#!/bin/sh
echo "getent $*" >> "$RCD_STUB_LOG"
if [ -n "$2" ] && [ -f "$RCD_STUB_DB/$1" ] &&
    grep -qx -- "$2" "$RCD_STUB_DB/$1"; then
	echo "$2:*:4242:"
	exit 0
fi
exit 2
""",
    "logger": """#!/bin/sh
echo "logger $*" >> "$RCD_STUB_LOG"
""",
}


def test_rcd_syntax_and_keywords():
    subprocess.run(["sh", "-n", SCRIPT], check=True, timeout=10)
    text = open(SCRIPT).read()
    for want in ("# PROVIDE: postern mail", "# REQUIRE: LOGIN FILESYSTEMS",
                 "# KEYWORD: shutdown", 'rcvar="postern_enable"', "desc=",
                 "postern_flags", "postern_config", "pidfile=",
                 "required_files=", "configtest", "reload",
                 'sig_reload="HUP"', "start_precmd"):
        assert want in text, want


def rc(script, env, *args):
    r = subprocess.run(["sh", script] + list(args), env=env,
                       capture_output=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


class RcEnv:
    """A copy of the script on the stand-in rc.subr, a postern.conf, an
    rc.conf and the recording stubs; groups/users: what getent knows."""

    def __init__(self, tmp, block, conf_extra=None, groups=(), users=()):
        self.tmp = tmp
        self.spool = tmp / "spool"
        self.pidfile = tmp / "postern.pid"
        self.log = tmp / "log"
        self.conf = tmp / "postern.conf"
        conf = {
            "hostname": "postern.test",
            "listen": "%s:25" % block.postern,
            "user": "", "pidfile": str(self.pidfile),
            "spool_dir": str(self.spool),
            "log_file": str(self.log), "mail_spool_dir": str(tmp),
        }
        conf.update(conf_extra or {})
        self.conf.write_text(render_conf(conf))
        self.script = tmp / "postern.rc"
        self.script.write_text(open(SCRIPT).read().replace(
            ". /etc/rc.subr", ". %s" % RCSUBR))
        rcconf = tmp / "rc.conf"
        rcconf.write_text(
            'postern_enable="YES"\npostern_config="%s"\n'
            'postern_pidfile="%s"\npostern_command="%s"\n'
            % (self.conf, self.pidfile, postern_bin()))
        stubs = tmp / "stubs"
        stubs.mkdir()
        for name, text in STUBS.items():
            (stubs / name).write_text(text)
            os.chmod(str(stubs / name), 0o755)
        db = tmp / "db"
        db.mkdir()
        (db / "group").write_text("".join(g + "\n" for g in groups))
        (db / "passwd").write_text("".join(u + "\n" for u in users))
        self.calls = tmp / "calls"
        self.calls.write_text("")
        self.env = dict(os.environ, RC_CONF=str(rcconf),
                        PATH="%s:%s" % (stubs, os.environ["PATH"]),
                        RCD_STUB_LOG=str(self.calls), RCD_STUB_DB=str(db))

    def run(self, *args):
        return rc(str(self.script), self.env, *args)

    def recorded(self):
        return self.calls.read_text().splitlines()

    def wait_pid(self):
        for _ in range(100):
            if self.pidfile.exists() and self.pidfile.read_text().strip():
                return int(self.pidfile.read_text())
            time.sleep(0.1)
        raise AssertionError("no pid in %s" % self.pidfile)

    def wait_log(self, text):
        for _ in range(50):
            if self.log.exists() and text in self.log.read_text():
                return True
            time.sleep(0.1)
        return False


@pytest.fixture
def rcenv(tmp_path, block):
    made = []

    def make(**kw):
        e = RcEnv(tmp_path, block, **kw)
        made.append(e)
        return e
    yield make
    for e in made:
        e.run("onestop")


def test_rcd_start_status_configtest_reload_stop(rcenv):
    e = rcenv(groups=["posterndrop"])
    code, out = e.run("configtest")
    assert code == 0 and "configuration ok" in out, out
    code, out = e.run("start")
    assert code == 0, out
    pid = e.wait_pid()
    assert oct(os.stat(str(e.spool) + "-maildrop").st_mode & 0o7777) \
        == "0o1730"
    # The group existed: nothing was made.
    assert not [c for c in e.recorded() if c.startswith("pw ")], \
        e.recorded()
    code, out = e.run("status")
    assert code == 0 and "is running as pid %d" % pid in out, out
    # SIGHUP is ignored until the daemon's handlers exist (master.c):
    # reload once it says it started.
    assert e.wait_log("postern started"), e.log.read_text()
    code, out = e.run("reload")
    assert code == 0, out
    assert e.wait_log("SIGHUP"), e.log.read_text()
    # The runner re-reads postern.conf too: let it finish before the
    # file changes again.
    assert e.wait_log("runner: tables reloaded"), e.log.read_text()
    assert pid_alive(pid)
    # A broken configuration refuses the reload; the daemon runs on.
    good = e.conf.read_text()
    e.conf.write_text(good + "no_such_key = 1\n")
    code, out = e.run("reload")
    assert code != 0 and 'unknown key "no_such_key"' in out, out
    time.sleep(0.3)     # a SIGHUP sent anyway would be logged by now
    assert e.log.read_text().count("SIGHUP") == 1, e.log.read_text()
    assert pid_alive(pid)
    e.conf.write_text(good)
    code, out = e.run("stop")
    assert code == 0, out
    assert not pid_alive(pid)
    code, out = e.run("status")
    assert code != 0 and "not running" in out, out
    # A broken configuration stops start in its precmd, with the message.
    e.conf.write_text(good + "no_such_key = 1\n")
    code, out = e.run("start")
    assert code != 0 and 'unknown key "no_such_key"' in out, out
    assert "failed precmd routine" in out, out


def test_rcd_missing_dropgroup_is_made_and_start_goes_on(rcenv):
    e = rcenv(groups=[])
    code, out = e.run("start")
    assert code == 0, out
    calls = e.recorded()
    assert "pw groupadd posterndrop" in calls, calls
    assert "made group posterndrop (maildrop_group)" in out, out
    assert [c for c in calls if c.startswith("logger ")
            and "made group posterndrop" in c], calls
    # The test binary is not setgid: the line that finishes the job.
    assert "chgrp posterndrop %s && chmod 2755 %s" % (
        postern_bin(), postern_bin()) in out, out
    pid = e.wait_pid()
    assert pid_alive(pid)
    code, out = e.run("status")
    assert code == 0 and "is running as pid %d" % pid in out, out
    # Made once: the next start finds it.
    e.run("stop")
    e.calls.write_text("")
    code, out = e.run("start")
    assert code == 0, out
    assert "pw groupadd posterndrop" not in e.recorded(), e.recorded()


def test_rcd_maildrop_group_key_is_followed(rcenv):
    e = rcenv(conf_extra={"maildrop_group": "mdrop"}, groups=["posterndrop"])
    code, out = e.run("start")
    assert code == 0, out
    assert "pw groupadd mdrop" in e.recorded(), e.recorded()


def test_rcd_missing_user_refuses_start_with_pw_lines(rcenv):
    e = rcenv(conf_extra={"user": "pstnouser"}, groups=["posterndrop"])
    code, out = e.run("start")
    assert code != 0, out
    assert "user pstnouser" in out and "does not exist" in out, out
    assert "    pw groupadd pstnouser\n" in out, out
    assert ('    pw useradd pstnouser -g pstnouser -d %s '
            '-s /usr/sbin/nologin -c "postern MTA"\n' % e.spool) in out, out
    assert "Starting postern" not in out, out
    assert not e.pidfile.exists()
    # Nothing is created for the user: its uid is the administrator's.
    assert not [c for c in e.recorded() if c.startswith("pw ")], \
        e.recorded()


def test_rcd_pidfile_mismatch_refuses_start(rcenv, tmp_path):
    e = rcenv(conf_extra={"pidfile": str(tmp_path / "other.pid")},
              groups=["posterndrop"])
    code, out = e.run("start")
    assert code != 0, out
    assert 'set postern_pidfile="%s"' % (tmp_path / "other.pid") in out, out
    assert not (tmp_path / "other.pid").exists()
