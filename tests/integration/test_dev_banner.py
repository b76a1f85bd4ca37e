"""`make run` (postern -D) prints how to try it: the commands of that
banner are run here as written, in a fresh directory, and must work.
The banner relies on tests/deps.sh: swaks, and Net::SSLeay for --tls, are
installed by `make deps`."""

import os
import re
import shutil
import socket
import subprocess
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DEPS = os.path.join(HERE, "..", "deps.sh")
BIN = os.environ.get("POSTERN_BIN",
                     os.path.join(HERE, "..", "..", "postern"))
DEV_ADDR = ("127.0.0.1", 2525)  # config_dev() in mta/config.c


def port_open(addr):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(addr) == 0


def read_banner(proc, deadline):
    """The lines postern -D writes before its first log line."""
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if line == "":
            break
        if line.strip() == "" and lines:
            return lines
        lines.append(line.rstrip("\n"))
    pytest.fail("no end of the banner: %r" % lines)


def test_deps_install_what_the_banner_needs():
    r = subprocess.run(["sh", DEPS, "list", "test"], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert {"swaks", "libnet-ssleay-perl"} <= set(r.stdout.split())


def test_banner_commands_work_as_written(tmp_path):
    if shutil.which("swaks") is None:
        pytest.skip("swaks not installed (make deps)")
    if port_open(DEV_ADDR):
        pytest.skip("127.0.0.1:2525 is taken: run in a network namespace")
    proc = subprocess.Popen([BIN, "-D"], cwd=str(tmp_path),
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        banner = read_banner(proc, time.monotonic() + 10)
        cmds = [l.strip() for l in banner if l.startswith("  ")]
        swaks = [c for c in cmds if c.startswith("swaks ")]
        queue = [c for c in cmds if c.startswith("./postern ")]
        assert len(swaks) == 2 and len(queue) == 1, banner
        assert any(" --tls " in c for c in swaks), banner
        deadline = time.monotonic() + 10
        while not port_open(DEV_ADDR) and time.monotonic() < deadline:
            time.sleep(0.1)
        qids = []
        for cmd in swaks:
            r = subprocess.run(cmd.split(), capture_output=True, text=True,
                               timeout=30)
            assert r.returncode == 0, (cmd, r.stdout, r.stderr)
            if "--tls" in cmd:
                assert "TLS started" in r.stdout, r.stdout
            m = re.search(r"<[-~]  250 2\.0\.0 Ok: queued as (\w+)", r.stdout)
            assert m, (cmd, r.stdout)
            qids.append(m.group(1))
        # "./postern" is the binary of the directory make run ran in.
        argv = [BIN] + queue[0].split()[1:]
        r = subprocess.run(argv, cwd=str(tmp_path), capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        for qid in qids:
            assert qid in r.stdout, r.stdout
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        proc.stderr.close()
