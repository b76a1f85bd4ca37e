"""rc.d/postern: sh -n, and start/status/configtest/reload/stop through
a small rc.subr stand-in (tests/rcd/rc.subr) with a temporary rc.conf."""

import os
import subprocess
import time

from harness import REPO, postern_bin, render_conf, pid_alive

SCRIPT = os.path.join(REPO, "rc.d", "postern")
RCSUBR = os.path.join(REPO, "tests", "rcd", "rc.subr")


def test_rcd_syntax_and_keywords():
    subprocess.run(["sh", "-n", SCRIPT], check=True, timeout=10)
    text = open(SCRIPT).read()
    for want in ("# PROVIDE: mail", "# REQUIRE: LOGIN FILESYSTEMS",
                 "# KEYWORD: shutdown", "postern_enable", "postern_flags",
                 "postern_config", "pidfile=", "configtest", "reload",
                 "start_precmd"):
        assert want in text, want


def rc(script, env, *args):
    r = subprocess.run(["sh", script] + list(args), env=env,
                       capture_output=True, timeout=60)
    return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")


def test_rcd_start_status_configtest_reload_stop(tmp_path, block):
    tmp = tmp_path
    spool = tmp / "spool"
    pidfile = tmp / "postern.pid"
    conf = tmp / "postern.conf"
    conf.write_text(render_conf({
        "hostname": "postern.test",
        "listen": "%s:25" % block.postern,
        "user": "", "pidfile": str(pidfile), "spool_dir": str(spool),
        "log_file": str(tmp / "log"), "mail_spool_dir": str(tmp),
    }))
    script = tmp / "postern.rc"
    script.write_text(open(SCRIPT).read().replace(
        ". /etc/rc.subr", ". %s" % RCSUBR))
    rcconf = tmp / "rc.conf"
    rcconf.write_text(
        'postern_enable="YES"\npostern_config="%s"\npostern_pidfile="%s"\n'
        'postern_command="%s"\npostern_spool="%s"\npostern_user="root"\n'
        'postern_group="root"\npostern_dropgroup="root"\n'
        % (conf, pidfile, postern_bin(), spool))
    e = dict(os.environ, RC_CONF=str(rcconf))

    try:
        run_scenario(script, e, conf, pidfile, spool)
    finally:
        rc(str(script), e, "onestop")


def run_scenario(script, e, conf, pidfile, spool):
    code, out = rc(str(script), e, "configtest")
    assert code == 0 and "configuration ok" in out, out
    code, out = rc(str(script), e, "start")
    assert code == 0, out
    assert oct(os.stat(str(spool) + "-maildrop").st_mode & 0o7777) == "0o1730"
    for _ in range(100):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.1)
    code, out = rc(str(script), e, "status")
    assert code == 0 and "is running as pid" in out, out
    pid = int(pidfile.read_text())
    code, out = rc(str(script), e, "reload")
    assert code == 0, out
    time.sleep(0.3)
    assert pid_alive(pid)
    code, out = rc(str(script), e, "stop")
    assert code == 0, out
    assert not pid_alive(pid)
    code, out = rc(str(script), e, "status")
    assert code != 0 and "not running" in out, out
    # A broken configuration stops start in its precmd.
    conf.write_text("no_such_key = 1\n")
    code, out = rc(str(script), e, "start")
    assert code != 0 and "unknown key" in out, out
