"""Installing and operating postern as an administrator does: what
start-up refuses, and how it says so."""

import os
import pwd
import stat
import subprocess

import pytest

EX_CONFIG = 78


def _conf(tmp_path, lines):
    p = tmp_path / "postern.conf"
    p.write_text("\n".join(lines) + "\n")
    return str(p)


def _run(binary, *args, timeout=20):
    r = subprocess.run([binary] + list(args), capture_output=True,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout + r.stderr


@pytest.fixture
def daemon_user():
    if os.geteuid() != 0:
        pytest.skip("needs root: the spool is given to the daemon user")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")


def test_foreign_spool_dir_refused(tmp_path, postern_bin, daemon_user, block):
    """spool_dir = /var/spool-style: a directory that holds other
    things is refused, never chowned to the daemon user or chmodded."""
    spool = tmp_path / "spool"
    spool.mkdir()
    os.chmod(str(spool), 0o755)
    (spool / "cron").mkdir()
    (spool / "lpd").write_text("x")
    conf = _conf(tmp_path, ["spool_dir = %s" % spool, "user = nobody",
                            "listen = %s:2525" % block.postern,
                            "pidfile = %s" % (tmp_path / "pid"),
                            "log_file = %s" % (tmp_path / "log")])
    before = os.stat(str(spool))
    rc, out = _run(postern_bin, "-n", "-c", conf)
    assert rc == EX_CONFIG, out
    assert "spool_dir %s: an existing directory" % spool in out, out
    assert "%s/postern" % spool in out, out
    rc, out = _run(postern_bin, "-d", "-c", conf)
    log = (tmp_path / "log").read_text() if (tmp_path / "log").exists() \
        else ""
    assert rc != 0 and "an existing directory" in out + log, out + log
    after = os.stat(str(spool))
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == \
        (before.st_uid, before.st_gid, 0o755)
    assert not os.path.exists(str(spool / "db"))


def test_spool_dir_made_or_adopted(tmp_path, postern_bin, daemon_user):
    """An absent spool_dir, or an empty one an administrator made, is
    fine; a file in its place is not."""
    for name, make in [("absent", None), ("empty", 0o700), ("shared", 0o755),
                       ("file", "file")]:
        spool = tmp_path / name
        if make == "file":
            spool.write_text("")
        elif make is not None:
            spool.mkdir()
            os.chmod(str(spool), make)
        conf = _conf(tmp_path, ["spool_dir = %s" % spool, "user = nobody"])
        rc, out = _run(postern_bin, "-n", "-c", conf)
        if make == "file":
            assert rc == EX_CONFIG and "not a directory" in out, out
        elif make == 0o755:
            # Empty, but open to others: not made for postern alone.
            assert rc == EX_CONFIG and "an existing directory" in out, out
        else:
            assert rc == 0, (name, out)


def _in_etc_copy(script):
    """sh SCRIPT in a private mount namespace over a copy of /etc."""
    pre = ("etc=$(mktemp -d /tmp/postern-etc.XXXXXX)\n"
           "cp -a /etc/. \"$etc\"/\n"
           "mount --bind \"$etc\" /etc\n")
    r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh",
                        "-ec", pre + script], capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout + r.stderr


def test_system_defaults(tmp_path, postern_bin, daemon_user):
    """Debian: the hostname is /etc/mailname's when it names a domain, the
    aliases file is /etc/aliases (FreeBSD: /etc/mail/aliases)."""
    conf = _conf(tmp_path, ["user ="])
    rc, out = _in_etc_copy("echo mail.postern-test.example > /etc/mailname\n"
                           "%s -n -v -c %s\n" % (postern_bin, conf))
    assert rc == 0, out
    assert "hostname = mail.postern-test.example\n" in out, out
    want = "/etc/mail/aliases" if os.uname().sysname == "FreeBSD" \
        else "/etc/aliases"
    assert "aliases = %s\n" % want in out, out


def test_check_names_missing_user(tmp_path, postern_bin):
    conf = _conf(tmp_path, ["user = postern-no-such-user",
                            "spool_dir = %s" % (tmp_path / "spool")])
    rc, out = _run(postern_bin, "-n", "-c", conf)
    assert rc == EX_CONFIG and "unknown user postern-no-such-user" in out, out


# -- postern -n on each broken input ---------------------------------------

def _broken_inputs(tmp_path):
    import peers
    c1, k1 = peers.make_cert(str(tmp_path / "c1"), "one.test")
    c2, k2 = peers.make_cert(str(tmp_path / "c2"), "two.test")
    tls = tmp_path / "tls_policy"
    tls.write_text("example.org verify\nexample.net maybe-later\n")
    transport = tmp_path / "transport"
    transport.write_text("example.org [10.1.2.3]:25\nexample.net [oops\n")
    limits = tmp_path / "limits"
    limits.write_text("example.org speed=fast\n")
    auth = tmp_path / "auth"
    auth.write_text("[smtp.example.net]:587 alice s3cret\n")
    os.chmod(str(auth), 0o644)
    return [
        (["trusted_networks = 127.0.0.0/8, 10.0.0.0/33"],
         'trusted_networks: "10.0.0.0/33"'),
        (["trusted_networks = 192.0.2.1, not-an-address"],
         'trusted_networks: "not-an-address"'),
        (["relayhost = [smtp.example.net"], "relayhost [smtp.example.net"),
        (["tls_policy_file = %s" % tls], "tls_policy_file: %s:2" % tls),
        (["tls_policy_file = %s" % (tmp_path / "none")],
         "tls_policy_file: %s" % (tmp_path / "none")),
        (["transport_table = %s" % transport],
         "transport_table: %s:2" % transport),
        (["destination_limits = %s" % limits],
         "destination_limits: %s:1" % limits),
        (["relayhost = [smtp.example.net]:587",
          "relayhost_auth_file = %s" % auth], "readable by others"),
        (["tls_cert = %s" % c1, "tls_key = %s" % k2], "key values mismatch"),
        (["tls_cert = %s" % c1, "tls_key = %s" % (tmp_path / "nokey")],
         "tls_key %s" % (tmp_path / "nokey")),
        (["max_children = 0"], "max_children: out of range: 1 to"),
    ], (c1, k1)


def test_check_refuses_each_broken_input(tmp_path, postern_bin):
    cases, (c1, k1) = _broken_inputs(tmp_path)
    base = ["user =", "spool_dir = %s" % (tmp_path / "spool")]
    for lines, want in cases:
        conf = _conf(tmp_path, base + lines)
        rc, out = _run(postern_bin, "-n", "-c", conf)
        assert rc == EX_CONFIG and want in out, (lines, rc, out)
    # The good pair passes, and so does the rest without the broken line.
    conf = _conf(tmp_path, base + ["tls_cert = %s" % c1, "tls_key = %s" % k1,
                                   "trusted_networks = 127.0.0.0/8, ::1, "
                                   "192.0.2.0/24"])
    rc, out = _run(postern_bin, "-n", "-c", conf)
    assert rc == 0, out


def test_start_refuses_what_check_refuses(tmp_path, postern_bin, block):
    """The daemon runs the same checks before it starts: a broken table
    stops it with the message, not a runner that restarts every second."""
    transport = tmp_path / "transport"
    transport.write_text("example.net [oops\n")
    conf = _conf(tmp_path, ["user =", "spool_dir = %s" % (tmp_path / "spool"),
                            "listen = %s:2525" % block.postern,
                            "pidfile = %s" % (tmp_path / "pid"),
                            "transport_table = %s" % transport])
    rc, out = _run(postern_bin, "-d", "-c", conf)
    assert rc == EX_CONFIG and "transport_table: %s:1" % transport in out, out


# -- tables that break while postern runs -----------------------------------

def _runner_pid(p):
    return int(p.grep_log(r"\[(\d+)\]: runner: started")[-1].group(1))


def test_broken_table_at_run_time(tmp_path, postern_bin, block):
    """A table broken while postern runs: on SIGHUP the previous one stays
    in force; a runner started on it waits instead of restarting every
    second; postern status says why; a fixed file is picked up."""
    import signal
    import time
    import harness
    transport = tmp_path / "transport"
    transport.write_text("example.org [192.0.2.1]:25\n")
    p = harness.Postern(tmp_path / "d", block.postern, port=2525,
                        conf={"transport_table": str(transport)},
                        binary=postern_bin)
    try:
        p.start()
        p.wait_log(r"runner: started")
        transport.write_text("example.org [192.0.2.1\n")
        mark = p.mark()
        os.kill(p.pid, signal.SIGHUP)
        p.wait_log(r"runner: transport_table: .*:1: .*keeping the previous "
                   r"tables", since=mark)
        rc, out, _ = p.command("status")
        assert "tables: transport_table: %s:1" % transport in out, out
        # A runner that starts on the broken file (here: after a crash).
        mark = p.mark()
        os.kill(_runner_pid(p), signal.SIGKILL)
        p.wait_log(r"no delivery starts until it loads", since=mark)
        time.sleep(3)
        assert len(p.grep_log(r"runner: started", since=mark)) == 1
        assert len(p.grep_log(r"transport_table", since=mark)) == 1
        rc, out, _ = p.command("status")
        assert "no delivery starts until it loads" in out, out
        transport.write_text("example.org [192.0.2.2]:25\n")
        mark = p.mark()
        os.kill(p.pid, signal.SIGHUP)
        p.wait_log(r"runner: tables loaded, deliveries start", since=mark)
        rc, out, _ = p.command("status")
        assert "tables:" not in out, out
    finally:
        p.stop()


# -- session processes and stopping -----------------------------------------

def _session_pids(p, n):
    """The session process that serves each of n connections in turn: the
    master's child that exists only while postern serves it, or that the
    master hands it to."""
    import socket
    import harness
    base = set(harness.descendants(p.pid))
    seen = []
    for _ in range(n):
        s = socket.create_connection((p.addr, p.port), timeout=10)
        f = s.makefile("rb")
        assert f.readline().startswith(b"220")
        s.sendall(b"EHLO client.test\r\n")
        while not f.readline().startswith(b"250 "):
            pass
        now = set(harness.descendants(p.pid)) - base
        s.sendall(b"QUIT\r\n")
        assert f.readline().startswith(b"221")
        s.close()
        seen.append(frozenset(now))
    return seen


@pytest.mark.parametrize("max_use", [1, None])
def test_session_max_use(tmp_path, postern_bin, block, max_use):
    """session_max_use = 1: a fresh process for every connection (the
    strict fork-per-connection model); by default one process serves
    many connections in turn."""
    import harness
    conf = {"session_max_use": max_use} if max_use else {}
    p = harness.Postern(tmp_path / "d", block.postern, port=2525, conf=conf,
                        binary=postern_bin)
    try:
        p.start()
        seen = _session_pids(p, 20)
        distinct = set().union(*seen)
        if max_use == 1:
            assert all(len(s) >= 1 for s in seen), seen
            # Each connection is served by a process that did not exist
            # for any connection before it.
            earlier = set()
            for now in seen:
                assert now - earlier, (now, earlier)
                earlier |= now
            assert len(distinct) >= 20, distinct
        else:
            assert len(distinct) <= 3, distinct
    finally:
        p.stop()


def test_clean_stop(tmp_path, postern_bin, block):
    """A normal stop (service postern stop: SIGTERM) logs one line, with
    no process 'ended abnormally' and no Berkeley DB chatter, even with a
    client connected, and removes the pidfile."""
    import signal
    import socket
    import harness
    p = harness.Postern(tmp_path / "d", block.postern, port=2525,
                        conf={"verbose": 0}, binary=postern_bin)
    p.start()
    p.wait_log(r"runner: started")
    s = socket.create_connection((p.addr, p.port), timeout=10)
    assert s.makefile("rb").readline().startswith(b"220")
    pidfile = p.conf["pidfile"]
    assert os.path.exists(pidfile)
    mark = p.mark()
    os.kill(p.pid, signal.SIGTERM)
    p.proc.wait(timeout=20)
    s.close()
    assert p.proc.returncode == 0
    after = p.log_text().encode()[mark:].decode().splitlines()
    # The connected client's own session line is an event of its own.
    after = [ln for ln in after if "postern/smtpd[" not in ln]
    assert len(after) == 1 and after[0].endswith("shutting down"), after
    assert not os.path.exists(pidfile)
    p.stop()


# -- SIGHUP: postern.conf again ----------------------------------------------

def _peer_subject(p):
    """The subject of the certificate postern presents after STARTTLS."""
    import smtplib
    import ssl
    s = smtplib.SMTP(p.addr, p.port, timeout=10)
    try:
        s.ehlo("client.test")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        der = s.sock.getpeercert(binary_form=True)
    finally:
        s.close()
    r = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                        "-subject"], input=der, capture_output=True,
                       timeout=10)
    return r.stdout.decode()


def _rcpts_accepted(p, n):
    import smtplib
    s = smtplib.SMTP(p.addr, p.port, timeout=10)
    try:
        s.ehlo("client.test")
        s.mail("s@client.test")
        return [s.rcpt("r%d@far.example" % i)[0] for i in range(n)]
    finally:
        s.close()


def test_sighup_applies_postern_conf(env):
    """SIGHUP (service postern reload) re-reads postern.conf: a limit, the
    certificate and the relayhost apply at once, to new sessions and to
    the runner's workers; a listener change is named as needing a
    restart; a broken file keeps the running configuration."""
    import signal
    import harness
    import peers
    from harness import qid_from_reply
    c1, k1 = peers.make_cert(str(env.dir("c1")), "one.postern.test")
    c2, k2 = peers.make_cert(str(env.dir("c2")), "two.postern.test")
    mx0, mx1 = env.mx(env.block.mx(0)), env.mx(env.block.mx(1))
    conf = {"max_recipients": 2, "tls_cert": c1, "tls_key": k1,
            "relayhost": "[%s]:25" % env.block.mx(0), "retry_min": 1}
    p = env.postern(conf)
    p.wait_log(r"runner: started")
    assert _rcpts_accepted(p, 3) == [250, 250, 452]
    assert "one.postern.test" in _peer_subject(p)
    code, text = p.send("s@client.test", ["a@far.example"],
                        harness.make_message("before"))
    assert code == 250
    mx0.wait_for(1)

    p.conf.update({"max_recipients": 5, "tls_cert": c2, "tls_key": k2,
                   "relayhost": "[%s]:25" % env.block.mx(1),
                   "listen": ["%s:25" % p.addr, "%s:2526" % p.addr]})
    p.write_conf()
    mark = p.mark()
    os.kill(p.pid, signal.SIGHUP)
    p.wait_log(r"SIGHUP: .* re-read: .*max_recipients.* applied", since=mark)
    p.wait_log(r"SIGHUP: .*listen changed, which takes a restart", since=mark)
    assert _rcpts_accepted(p, 3) == [250, 250, 250]
    assert "two.postern.test" in _peer_subject(p)
    assert not harness.port_open(p.addr, 2526, timeout=0.5)
    code, text = p.send("s@client.test", ["b@far.example"],
                        harness.make_message("after"))
    assert code == 250, text
    mx1.wait_for(1)
    assert mx0.count() == 1

    p.conf["max_recipients"] = "banana"
    p.write_conf()
    mark = p.mark()
    os.kill(p.pid, signal.SIGHUP)
    p.wait_log(r"SIGHUP: .*max_recipients: expected a number; the running "
               r"configuration stays", since=mark)
    assert _rcpts_accepted(p, 3) == [250, 250, 250]


def test_clean_stop_unprivileged(postern_bin, block, daemon_user):
    """With user = nobody the daemon cannot unlink a pidfile in a root
    directory itself; it is still gone after a normal stop."""
    import shutil
    import signal
    import tempfile
    import harness
    base = tempfile.mkdtemp(prefix="postern-stop.")
    try:
        os.chmod(base, 0o755)
        run = os.path.join(base, "run")
        os.mkdir(run, 0o755)
        p = harness.Postern(os.path.join(base, "d"), block.postern,
                            port=2525, binary=postern_bin,
                            conf={"user": "nobody", "verbose": 0,
                                  "pidfile": os.path.join(run, "pid")})
        os.chmod(p.workdir, 0o755)
        p.start()
        p.wait_log(r"runner: started")
        assert os.path.exists(os.path.join(run, "pid"))
        os.kill(p.pid, signal.SIGTERM)
        p.proc.wait(timeout=20)
        deadline = 50
        while os.path.exists(os.path.join(run, "pid")) and deadline:
            import time
            time.sleep(0.1)
            deadline -= 1
        assert not os.path.exists(os.path.join(run, "pid"))
        p.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_foreign_maildrop_dir_refused(tmp_path, postern_bin, daemon_user,
                                      block):
    """maildrop_dir is made group-writable (1730): one that is not
    postern's, or a symlink, is refused and left as it is."""
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    os.chmod(str(foreign), 0o755)
    (foreign / "keep").write_text("x")
    target = tmp_path / "target"
    target.mkdir()
    os.chmod(str(target), 0o700)
    link = tmp_path / "link"
    os.symlink(str(target), str(link))
    for d in (foreign, link):
        conf = _conf(tmp_path, ["spool_dir = %s" % (tmp_path / "spool"),
                                "user = nobody", "maildrop_dir = %s" % d,
                                "listen = %s:2525" % block.postern,
                                "pidfile = %s" % (tmp_path / "pid")])
        rc, out = _run(postern_bin, "-n", "-c", conf)
        assert rc == EX_CONFIG and "maildrop_dir %s" % d in out, out
        rc, out = _run(postern_bin, "-d", "-c", conf)
        assert rc == EX_CONFIG and "maildrop_dir" in out, out
    for d, mode in ((foreign, 0o755), (target, 0o700)):
        st = os.stat(str(d))
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, mode)
