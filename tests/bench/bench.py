#!/usr/bin/python3
"""postern against Postfix on the same machine, same loopback, same load.

  1. accept rate: smtp-source -s 20 -m N -l 4096 into a destination that
     is held (relayed to a next hop that refuses connections, so nothing
     is delivered while measuring); messages/s = N / wall time of
     smtp-source.
  2. relay rate: the same load relayed to smtp-sink; messages/s = N /
     (time from the first submit until the sink counted N).
  3. memory of one idle SMTP session: connect, EHLO, then VmRSS of the
     process serving it (postern's per-connection child, Postfix's smtpd).

Postfix runs as a separate instance (postfix -c DIR) with its own
main.cf/master.cf, queue and data directories under a temporary
directory, with its durable defaults.  Everything started here is
stopped, and /etc/postfix/main.cf restored, on the way out.

usage: bench.py [--postern ./postern] [--quick] [--messages N]
"""

import argparse
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from harness import Postern, descendants, vm_rss_kb  # noqa: E402
from peers import SmtpSink, port_open, wait_port  # noqa: E402

NET = "127.0.90"
POSTERN_ADDR = NET + ".1"
POSTFIX_ADDR = NET + ".2"
BLACKHOLE = NET + ".99"     # nothing listens here: connection refused
SINK_ADDR = NET + ".20"
SESSIONS = 20
SIZE = 4096
STEP_TIMEOUT = 900          # seconds, per measurement
MAIN_CF = "/etc/postfix/main.cf"


def log(msg):
    print("bench: " + msg, flush=True)


# -- Postfix instance -----------------------------------------------------

class PostfixInstance:
    def __init__(self, base, name, relayhost):
        self.dir = os.path.join(base, name)
        self.conf = os.path.join(self.dir, "etc")
        self.queue = os.path.join(self.dir, "queue")
        self.data = os.path.join(self.dir, "data")
        self.relayhost = relayhost
        self.started = False

    def write(self):
        for d in (self.conf, self.queue, self.data):
            os.makedirs(d, exist_ok=True)
        pf = pwd.getpwnam("postfix")
        os.chown(self.data, pf.pw_uid, pf.pw_gid)
        os.chmod(self.dir, 0o755)
        main = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue,
            "data_directory": self.data,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "postfix.bench.test",
            "mydomain": "bench.test",
            "mydestination": "",
            # Postfix accepts only addresses configured on an interface
            # here; the smtpd service itself names POSTFIX_ADDR below.
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions":
                "permit_mynetworks, reject_unauth_destination",
            "relayhost": self.relayhost,
            "maillog_file": os.path.join(self.dir, "maillog"),
            "maillog_file_prefixes": self.dir,
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "default_process_limit": "100",
            "smtp_connect_timeout": "5s",
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
            "smtputf8_enable": "no",
            "syslog_name": "postfix-bench",
            "smtp_tls_security_level": "none",
            "smtpd_tls_security_level": "none",
        }
        with open(os.path.join(self.conf, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        # Debian's master.cf with no chroot (the instance has no chroot
        # tree) and smtpd on POSTFIX_ADDR:25; otherwise unchanged.
        out = []
        with open("/etc/postfix/master.cf") as f:
            for line in f:
                fields = line.split()
                if (line[:1].isalpha() and len(fields) >= 8 and
                        fields[4] == "y"):
                    fields[4] = "n"
                    line = "  ".join(fields) + "\n"
                if fields[:2] == ["smtp", "inet"]:
                    line = line.replace("smtp", POSTFIX_ADDR + ":25", 1)
                out.append(line)
        with open(os.path.join(self.conf, "master.cf"), "w") as f:
            f.writelines(out)

    def postfix(self, *args, timeout=60):
        # postfix(1) reports to stderr only when it is a terminal:
        # script(1) gives it one so that errors reach the caller.
        cmd = " ".join(["postfix", "-c", self.conf] + list(args))
        return subprocess.run(["script", "-qec", cmd, "/dev/null"],
                              capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def start(self):
        self.write()
        r = self.postfix("check")
        if r.returncode != 0:
            raise RuntimeError("postfix check: %s" % (r.stdout + r.stderr))
        r = self.postfix("start")
        if r.returncode != 0:
            raise RuntimeError("postfix start: %s" % (r.stdout + r.stderr))
        self.started = True
        if not wait_port(POSTFIX_ADDR, 25, 20):
            raise RuntimeError("postfix does not listen on %s:25"
                               % POSTFIX_ADDR)

    def master_pid(self):
        try:
            with open(os.path.join(self.queue, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self):
        if not self.started:
            return
        pid = self.master_pid()
        kids = descendants(pid) if pid else []
        try:
            self.postfix("stop", timeout=30)
        except subprocess.TimeoutExpired:
            pass
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if not any(os.path.exists("/proc/%d" % p) for p in
                       ([pid] if pid else []) + kids):
                break
            time.sleep(0.1)
        for p in ([pid] if pid else []) + kids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.started = False


class AlternateConfig:
    """Lists instance directories in /etc/postfix/main.cf's
    alternate_config_directories for the run; restores the file after."""

    def __init__(self, dirs):
        self.dirs = dirs
        self.saved = None
        self.existed = os.path.exists(MAIN_CF)

    def __enter__(self):
        if self.existed:
            with open(MAIN_CF) as f:
                self.saved = f.read()
        text = self.saved or ""
        lines = [line for line in text.splitlines()
                 if not line.startswith("alternate_config_directories")]
        prev = subprocess.run(["postconf", "-h",
                               "alternate_config_directories"],
                              capture_output=True, text=True).stdout.strip() \
            if self.existed else ""
        dirs = " ".join(x for x in [prev] + self.dirs if x)
        lines.append("alternate_config_directories = " + dirs)
        with open(MAIN_CF, "w") as f:
            f.write("\n".join(lines) + "\n")
        return self

    def __exit__(self, *a):
        if self.existed:
            with open(MAIN_CF, "w") as f:
                f.write(self.saved)
        else:
            try:
                os.unlink(MAIN_CF)
            except FileNotFoundError:
                pass


# -- load -----------------------------------------------------------------

def smtp_source(addr, count, rcpt):
    cmd = ["smtp-source", "-s", str(SESSIONS), "-m", str(count),
           "-l", str(SIZE), "-f", "bench@source.test", "-t", rcpt,
           "-M", "source.test", "%s:25" % addr]
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=STEP_TIMEOUT)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError("smtp-source: rc=%d %s" % (r.returncode,
                                                      r.stderr[-500:]))
    return dt


def measure_accept(addr, count):
    dt = smtp_source(addr, count, "held@held.bench.test")
    return count / dt


def measure_relay(addr, count, sink):
    t0 = time.monotonic()
    smtp_source(addr, count, "sink@sink.bench.test")
    deadline = t0 + STEP_TIMEOUT
    while time.monotonic() < deadline:
        if sink.proc is not None and sink.proc.poll() is not None:
            break
        if sink.count() >= count:
            break
        time.sleep(0.01)
    dt = time.monotonic() - t0
    got = max(sink.count(), count if sink.proc.poll() is not None else 0)
    if got < count:
        raise RuntimeError("sink counted %d of %d in %ds"
                           % (got, count, STEP_TIMEOUT))
    return count / dt


def _inode_of_peer(client):
    """Inode of the server-side TCP socket whose remote end is client
    (addr, port), from /proc/net/tcp."""
    a, port = client
    want = "%s:%04X" % ("".join("%02X" % int(x)
                                for x in reversed(a.split("."))), port)
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[2] == want:
                return fields[9]
    return None


def _holder(pids, inode):
    for pid in pids:
        d = "/proc/%d/fd" % pid
        try:
            fds = os.listdir(d)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(d, fd)) == "socket:[%s]" % inode:
                    return pid
            except OSError:
                continue
    return None


def idle_session_rss(addr, server_pids, name=None):
    """After a second of quiet (the servers are idle, as in the hours
    between bursts of mail), connects, says EHLO, and returns VmRSS (KiB)
    of the process that holds the server side of this connection (for
    Postfix, among its smtpd processes)."""
    time.sleep(1)
    s = socket.create_connection((addr, 25), timeout=10)
    try:
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"EHLO rss.bench.test\r\n")
        for _ in range(50):
            line = f.readline()
            if not line or line[3:4] != b"-":
                break
        time.sleep(0.5)
        pids = list(server_pids())
        if name:
            pids = [p for p in pids if comm(p) == name]
        inode = _inode_of_peer(s.getsockname())
        pid = _holder(pids, inode) if inode else None
        rss = vm_rss_kb(pid) if pid else None
        s.sendall(b"QUIT\r\n")
        return rss
    finally:
        s.close()


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


# -- runs -----------------------------------------------------------------

def postern_conf(relayhost):
    return {"relayhost": relayhost, "max_children": 200,
            "max_children_per_ip": 200, "retry_min": 3600,
            "retry_max": 7200, "queue_run_interval": 60,
            "connect_timeout": 5, "verbose": 0,
            "resolver": "system"}


def run_postern(binary, base, count):
    res = {}
    p = Postern(os.path.join(base, "postern-accept"), POSTERN_ADDR,
                conf=postern_conf("[%s]:25" % BLACKHOLE), binary=binary)
    try:
        p.start()
        log("postern: accept %d" % count)
        res["accept"] = measure_accept(POSTERN_ADDR, count)
        res["rss"] = idle_session_rss(POSTERN_ADDR, p.all_pids)
    finally:
        p.stop()
    # The cost of the strict fork-per-connection model (postern.conf(5)).
    conf = postern_conf("[%s]:25" % BLACKHOLE)
    conf["session_max_use"] = 1
    p = Postern(os.path.join(base, "postern-accept1"), POSTERN_ADDR,
                conf=conf, binary=binary)
    try:
        p.start()
        log("postern: accept %d, session_max_use = 1" % count)
        res["accept1"] = measure_accept(POSTERN_ADDR, count)
    finally:
        p.stop()
    sink = SmtpSink(SINK_ADDR, max_messages=count)
    p = Postern(os.path.join(base, "postern-relay"), POSTERN_ADDR,
                conf=postern_conf("[%s]:25" % SINK_ADDR), binary=binary)
    try:
        sink.start()
        p.start()
        log("postern: relay %d" % count)
        res["relay"] = measure_relay(POSTERN_ADDR, count, sink)
    finally:
        p.stop()
        sink.stop()
    return res


def run_postfix(base, count):
    res = {}
    pf = PostfixInstance(base, "postfix-accept", "[%s]:25" % BLACKHOLE)
    try:
        pf.start()
        log("postfix: accept %d" % count)
        res["accept"] = measure_accept(POSTFIX_ADDR, count)

        def pids():
            m = pf.master_pid()
            return [m] + descendants(m) if m else []
        res["rss"] = idle_session_rss(POSTFIX_ADDR, pids, name="smtpd")
    finally:
        pf.stop()
    sink = SmtpSink(SINK_ADDR, max_messages=count)
    pf = PostfixInstance(base, "postfix-relay", "[%s]:25" % SINK_ADDR)
    try:
        sink.start()
        pf.start()
        log("postfix: relay %d" % count)
        res["relay"] = measure_relay(POSTFIX_ADDR, count, sink)
    finally:
        pf.stop()
        sink.stop()
    return res


def table(pt, pf):
    rows = [("accepted msg/s (held, 20 sessions, 4 KiB)", "accept", "%.0f"),
            ("  the same, postern with session_max_use = 1", "accept1",
             "%.0f"),
            ("relayed msg/s to smtp-sink (end to end)", "relay", "%.0f"),
            ("idle session RSS (KiB)", "rss", "%d")]
    w = max(len(r[0]) for r in rows)
    out = ["%-*s %10s %10s %8s" % (w, "", "postern", "Postfix", "ratio")]
    for label, key, fmt in rows:
        a, b = pt.get(key), pf.get(key)
        sa = fmt % a if a is not None else "-"
        sb = fmt % b if b is not None else "-"
        ratio = "%.2f" % (a / b) if a and b else "-"
        out.append("%-*s %10s %10s %8s" % (w, label, sa, sb, ratio))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--postern", default=os.path.join(
        os.path.dirname(os.path.dirname(HERE)), "postern"))
    ap.add_argument("--quick", action="store_true",
                    help="2000 messages instead of 20000")
    ap.add_argument("--messages", type=int, default=0)
    ap.add_argument("--only", choices=["postern", "postfix"])
    args = ap.parse_args()
    count = args.messages or (2000 if args.quick else 20000)
    binary = os.path.abspath(args.postern)
    if os.geteuid() != 0:
        sys.exit("bench: needs root (port 25, a Postfix instance)")
    for a in (POSTERN_ADDR, POSTFIX_ADDR, SINK_ADDR):
        if port_open(a, 25, 0.2):
            sys.exit("bench: %s:25 is in use" % a)
    base = tempfile.mkdtemp(prefix="postern-bench-")
    os.chmod(base, 0o755)
    pt, pf = {}, {}
    errors = []
    try:
        if args.only != "postfix":
            try:
                pt = run_postern(binary, base, count)
            except Exception as e:
                errors.append("postern: %s" % e)
        if args.only != "postern":
            dirs = [os.path.join(base, n, "etc")
                    for n in ("postfix-accept", "postfix-relay")]
            with AlternateConfig(dirs):
                try:
                    pf = run_postfix(base, count)
                except Exception as e:
                    errors.append("postfix: %s" % e)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print()
    print("%d messages of %d bytes, %d sessions, %d CPUs"
          % (count, SIZE, SESSIONS, os.cpu_count() or 0))
    print(table(pt, pf))
    for e in errors:
        print("bench: error: " + e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
