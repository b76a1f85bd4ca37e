#!/usr/bin/env python3
"""Soak: a long, bounded run of postern relaying to smtp-sink on loopback,
watching what must stay flat.

    python3 tests/soak/soak.py --postern ./postern --messages 100000

Submits --messages small messages over --sessions concurrent SMTP
sessions to a postern whose relayhost is Postfix's smtp-sink, samples
every --interval seconds: messages submitted and delivered, RSS and open
file descriptors of the master and the runner, and the Berkeley DB log
files in spool/db (checkpoints must let them be removed).  Stops at
--time-limit whatever happens; waits after the last delivery for a
checkpoint (every 60s).  Prints the samples and a summary; exits 1 when
a message is missing at the sink, when private memory or descriptors of
the master or the runner grow (the second half of the run above the
first by more than the slack below), or when the log files are not
removed after the checkpoint.
"""

import argparse
import os
import re
import shutil
import smtplib
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

from harness import Postern, vm_rss_kb  # noqa: E402
from peers import SmtpSink  # noqa: E402

RSS_SLACK_KB = 2048     # growth allowed between the halves of the run
FD_SLACK = 4
LOGS_IDLE = 2           # log files once checkpointed and idle

BODY = ("Subject: soak\r\nFrom: <soak@client.test>\r\n"
        "To: <sink@relay.test>\r\n\r\n" + ("x" * 76 + "\r\n") * 24)


class Submitter:
    def __init__(self, addr, port, total, deadline, rate):
        self.rate = rate
        self.t0 = time.monotonic()
        self.addr = addr
        self.port = port
        self.total = total
        self.deadline = deadline
        self.lock = threading.Lock()
        self.next = 0
        self.acked = 0
        self.failed = 0

    def take(self):
        with self.lock:
            if self.next >= self.total or time.monotonic() > self.deadline:
                return None
            self.next += 1
            n = self.next
        if self.rate > 0:
            # Paced: a steady state, not a backlog drained at the end.
            wait = self.t0 + n / self.rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        return n

    def run(self):
        s = None
        sent = 0
        while True:
            n = self.take()
            if n is None:
                break
            try:
                if s is None or sent >= 200:
                    if s is not None:
                        s.quit()
                    s = smtplib.SMTP(self.addr, self.port, timeout=60)
                    s.ehlo("soak.client.test")
                    sent = 0
                refused = s.sendmail("soak@client.test",
                                     ["sink@relay.test"],
                                     BODY.replace("soak\r\n",
                                                  "soak %d\r\n" % n, 1))
                code = 550 if refused else 250
                sent += 1
                with self.lock:
                    if code == 250:
                        self.acked += 1
                    else:
                        self.failed += 1
            except (smtplib.SMTPException, OSError):
                with self.lock:
                    self.failed += 1
                s = None
        if s is not None:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def rss_anon_kb(pid):
    """Private memory: RSS without the shared Berkeley DB regions, whose
    pages count in RSS as they are touched (the 16 MiB cache)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def log_files(spool):
    try:
        return len([n for n in os.listdir(os.path.join(spool, "db"))
                    if n.startswith("log.")])
    except OSError:
        return None


def runner_pid(p):
    found = re.findall(r"postern/runner\[(\d+)\]: runner: started",
                       p.log_text())
    return int(found[-1]) if found else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--postern", default=os.path.join(
        os.path.dirname(os.path.dirname(HERE)), "postern"))
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--time-limit", type=float, default=1800,
                    help="seconds for the whole run (default 1800)")
    ap.add_argument("--interval", type=float, default=10)
    ap.add_argument("--rate", type=float, default=300,
                    help="submissions per second, 0: as fast as possible")
    ap.add_argument("--addr", default="127.0.251.1")
    ap.add_argument("--sink", default="127.0.251.10")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directory")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="postern-soak-")
    sink = SmtpSink(a.sink, 25, backlog=1000)
    p = Postern(work, a.addr, 25, binary=os.path.abspath(a.postern), conf={
        "relayhost": "[%s]:25" % a.sink, "verbose": 0,
        "max_children": 200, "max_children_per_ip": 200,
        "max_deliveries": 20, "max_per_destination": 20,
        "retry_min": 5, "retry_max": 60, "client_timeout": 60})
    start = time.monotonic()
    deadline = start + a.time_limit
    samples = []
    ok = True
    try:
        sink.start()
        p.start()
        sub = Submitter(a.addr, 25, a.messages,
                        deadline - min(90, a.time_limit / 2), a.rate)
        threads = [threading.Thread(target=sub.run, daemon=True)
                   for _ in range(a.sessions)]
        for t in threads:
            t.start()
        print("soak: %d messages, %d sessions, limit %ds, work %s"
              % (a.messages, a.sessions, a.time_limit, work))
        print("%7s %8s %8s %6s %9s %9s %8s %8s %5s %5s %5s" % (
            "secs", "acked", "sunk", "msg/s", "rss_mast", "rss_runr",
            "anon_m", "anon_r", "fd_m", "fd_r", "logs"))
        last_t, last_n = start, 0
        delivered_at = None
        while time.monotonic() < deadline:
            time.sleep(a.interval)
            now = time.monotonic()
            sunk = sink.count()
            rp = runner_pid(p)
            smp = {"t": now - start, "acked": sub.acked, "sunk": sunk,
                   "rate": (sunk - last_n) / (now - last_t),
                   "rss_m": vm_rss_kb(p.pid), "fd_m": fd_count(p.pid),
                   "anon_m": rss_anon_kb(p.pid),
                   "anon_r": rss_anon_kb(rp) if rp else None,
                   "rss_r": vm_rss_kb(rp) if rp else None,
                   "fd_r": fd_count(rp) if rp else None,
                   "logs": log_files(p.spool)}
            last_t, last_n = now, sunk
            samples.append(smp)
            print("%7.0f %8d %8d %6.0f %9s %9s %8s %8s %5s %5s %5s" % (
                smp["t"], smp["acked"], smp["sunk"], smp["rate"],
                smp["rss_m"], smp["rss_r"], smp["anon_m"], smp["anon_r"],
                smp["fd_m"], smp["fd_r"], smp["logs"]), flush=True)
            done = all(not t.is_alive() for t in threads)
            if done and sunk >= sub.acked and delivered_at is None:
                delivered_at = now
            # Then up to 75s more: a checkpoint (every 60s) must let the
            # log files go.
            if delivered_at is not None and (
                    smp["logs"] is not None and smp["logs"] <= LOGS_IDLE or
                    now - delivered_at > 75):
                break
        for t in threads:
            t.join(5)
        elapsed = (delivered_at or time.monotonic()) - start
        sunk = sink.count()
        print("soak: %d acknowledged, %d refused/failed, %d at the sink "
              "in %.0fs: %.0f msg/s end to end"
              % (sub.acked, sub.failed, sunk, elapsed, sunk / elapsed))
        if sunk < sub.acked:
            print("soak: FAIL: %d acknowledged messages not delivered"
                  % (sub.acked - sunk))
            ok = False
        ok = flat(samples) and ok
        logs = samples[-1]["logs"] if samples else None
        print("soak: log files: at most %s during the run, %s at the end "
              "(after a checkpoint, at most %d expected)" % (
                  max((x["logs"] or 0) for x in samples) if samples else None,
                  logs, LOGS_IDLE))
        if logs is None or logs > LOGS_IDLE:
            ok = False
    finally:
        p.stop()
        sink.stop()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


def flat(samples):
    """Second half of the run against the first: bounded growth."""
    if len(samples) < 4:
        print("soak: too few samples to judge growth")
        return True
    half = len(samples) // 2
    ok = True
    for key, slack, what in (("anon_m", RSS_SLACK_KB, "master anon KiB"),
                             ("anon_r", RSS_SLACK_KB, "runner anon KiB"),
                             ("fd_m", FD_SLACK, "master fds"),
                             ("fd_r", FD_SLACK, "runner fds")):
        a = [s[key] for s in samples[:half] if s[key] is not None]
        b = [s[key] for s in samples[half:] if s[key] is not None]
        if not a or not b:
            continue
        grew = max(b) > max(a) + slack
        print("soak: %-15s first half max %d, second half max %d, last %d%s"
              % (what, max(a), max(b), b[-1], "  GROWING" if grew else ""))
        ok = ok and not grew
    return ok


if __name__ == "__main__":
    sys.exit(main())
