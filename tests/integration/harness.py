"""Helpers for postern's integration tests: a Postern instance with its
own config, spool and log in a temporary directory, started in the
foreground as a subprocess and always stopped by its owner.

Every wait here is bounded in time.
"""

import os
import re
import signal
import smtplib
import socket
import subprocess
import time

from peers import port_open, wait_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def postern_bin():
    return os.environ.get("POSTERN_BIN", os.path.join(REPO, "postern"))


# -- processes -----------------------------------------------------------

def _children_map():
    """{ppid: [pid, ...]} from /proc."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may contain spaces and parentheses.
        rest = stat[stat.rfind(")") + 2:].split()
        kids.setdefault(int(rest[1]), []).append(int(d))
    return kids


def descendants(pid):
    """Every live descendant of pid (children first found, then theirs)."""
    kids = _children_map()
    out, todo = [], [pid]
    while todo and len(out) < 10000:
        p = todo.pop()
        for c in kids.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def vm_rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


# -- configuration ------------------------------------------------------

def render_conf(conf, extra_lines=()):
    """conf: {key: value}; lists become comma separated, except listen,
    resolver_option and resolver_config which repeat.  None values are
    left out."""
    lines = []
    for k, v in conf.items():
        if v is None:
            continue
        if k in ("listen", "resolver_option", "resolver_config"):
            for one in (v if isinstance(v, (list, tuple)) else [v]):
                lines.append("%s = %s" % (k, one))
        elif isinstance(v, (list, tuple)):
            lines.append("%s = %s" % (k, ", ".join(str(x) for x in v)))
        else:
            lines.append("%s = %s" % (k, v))
    lines.extend(extra_lines)
    return "\n".join(lines) + "\n"


class PosternError(Exception):
    pass


class Postern:
    """One postern daemon.

    addr: its loopback address; port: its SMTP listener there.
    conf: extra keys over the test defaults; dns_lines: resolver lines
    (from dnsnet) appended to the config.
    """

    def __init__(self, workdir, addr, port=25, conf=None, dns_lines=(),
                 binary=None, name="postern"):
        self.workdir = str(workdir)
        self.addr = addr
        self.port = port
        self.binary = binary or postern_bin()
        self.name = name
        self.spool = os.path.join(self.workdir, "spool")
        self.conf_path = os.path.join(self.workdir, "postern.conf")
        self.log_path = os.path.join(self.workdir, "postern.log")
        self.out_path = os.path.join(self.workdir, "postern.out")
        # Made for postern alone, as install -d -m 0700 would (a spool
        # open to others is not taken over).
        os.makedirs(self.spool, mode=0o700, exist_ok=True)
        self.conf = {
            "hostname": "postern.test",
            "listen": ["%s:%d" % (addr, port)],
            "user": "",
            # "postern flush" signals the daemon through it.
            "pidfile": os.path.join(self.workdir, "postern.pid"),
            "spool_dir": self.spool,
            "log_file": self.log_path,
            "verbose": 1,
            "trusted_networks": ["127.0.0.0/8"],
            "retry_min": 2,
            "retry_max": 4,
            "queue_run_interval": 1,
            "connect_timeout": 3,
            "client_timeout": 20,
        }
        self.conf.update(conf or {})
        self.dns_lines = list(dns_lines)
        self.proc = None
        self._out = None
        self.starts = 0
        self.write_conf()

    # -- config ----------------------------------------------------------
    def write_conf(self):
        with open(self.conf_path, "w") as f:
            f.write(render_conf(self.conf, self.dns_lines))

    def check_conf(self):
        """postern -n -c conf: (returncode, output)."""
        r = subprocess.run([self.binary, "-n", "-c", self.conf_path],
                           capture_output=True, timeout=20)
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace")

    # -- life ------------------------------------------------------------
    def start(self, timeout=20.0):
        if not os.access(self.binary, os.X_OK):
            raise PosternError("no postern binary at %s" % self.binary)
        if port_open(self.addr, self.port, timeout=0.2):
            raise PosternError("%s:%d already in use" % (self.addr, self.port))
        self._out = open(self.out_path, "ab")
        mark = self.mark()
        # POSTERN_WRAPPER: a command put before the daemon's (valgrind).
        wrapper = os.environ.get("POSTERN_WRAPPER", "").split()
        self.proc = subprocess.Popen(
            wrapper + [self.binary, "-d", "-c", self.conf_path],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._out,
            start_new_session=True, cwd=self.workdir)
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PosternError(
                    "postern exited with %s at start\n%s" %
                    (self.proc.returncode, self.diagnostics()))
            # Listeners are bound before queue recovery: ready is when
            # the master says it started.
            if (self.grep_log(r"postern started", since=mark) and
                    port_open(self.addr, self.port, timeout=0.2)):
                return self
            time.sleep(0.05)
        self.stop()
        raise PosternError("postern did not listen on %s:%d within %ss\n%s"
                           % (self.addr, self.port, timeout,
                              self.diagnostics()))

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def all_pids(self):
        if self.proc is None:
            return []
        return [self.proc.pid] + descendants(self.proc.pid)

    def _kill_all(self, sig):
        pids = self.all_pids()
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, sig)
            except (ProcessLookupError, PermissionError):
                pass
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        return pids

    def _reap(self, pids, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None:
                self.proc.poll()
            if not any(pid_alive(p) for p in pids):
                return True
            time.sleep(0.02)
        return False

    def kill9(self):
        """kill -9 the master and every child at once (no clean-up)."""
        if self.proc is None:
            return
        pids = self._kill_all(signal.SIGKILL)
        # Children forked between the scan and the kill: scan again.
        pids += self._kill_all(signal.SIGKILL)
        self._reap(pids, 10)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._closed()

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL for whatever is left after timeout."""
        if self.proc is None:
            return None
        pids = self.all_pids()
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        clean = self._reap(pids, timeout)
        if not clean:
            self._kill_all(signal.SIGKILL)
            self._reap(pids + self.all_pids(), 5)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        rc = self.proc.returncode
        self._closed()
        return rc if clean else None

    def _closed(self):
        self.proc = None
        if self._out is not None:
            self._out.close()
            self._out = None
        # Wait (bounded) until the listener is gone so a restart can bind.
        wait_port(self.addr, self.port, timeout=5, closed=True)

    def restart(self, timeout=20.0):
        self.stop()
        return self.start(timeout)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    # -- logs ------------------------------------------------------------
    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_lines(self):
        return self.log_text().splitlines()

    def mark(self):
        """Position in the log; pass to wait_log(since=) to see only
        what comes after."""
        try:
            return os.path.getsize(self.log_path)
        except FileNotFoundError:
            return 0

    def wait_log(self, regex, timeout=20.0, since=0, count=1):
        """Waits until regex matches count log lines (after since);
        returns the list of matches.  Raises AssertionError on timeout."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        found = []
        while True:
            text = self.log_text().encode("utf-8", "replace")[since:]
            found = [m for m in (rx.search(l) for l in
                                 text.decode("utf-8", "replace").splitlines())
                     if m]
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(
                    "log: %r seen %d/%d times in %ss\n%s" %
                    (regex, len(found), count, timeout, self.diagnostics()))
            time.sleep(0.05)

    def grep_log(self, regex, since=0):
        rx = re.compile(regex)
        text = self.log_text().encode("utf-8", "replace")[since:]
        return [m for m in (rx.search(l) for l in
                            text.decode("utf-8", "replace").splitlines())
                if m]

    def diagnostics(self, n=40):
        out = ""
        try:
            with open(self.out_path, "rb") as f:
                out = f.read()[-3000:].decode("utf-8", "replace")
        except FileNotFoundError:
            pass
        log = "\n".join(self.log_lines()[-n:])
        return "--- postern stdout/stderr ---\n%s\n--- log (last %d) ---\n%s" \
            % (out, n, log)

    # -- commands --------------------------------------------------------
    def command(self, *args, timeout=20):
        # Options before the command: BSD getopt stops at "queue".
        r = subprocess.run([self.binary, "-c", self.conf_path] + list(args),
                           capture_output=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout.decode("utf-8", "replace"), \
            r.stderr.decode("utf-8", "replace")

    def queue(self):
        """postern queue: a list of {qid, text, rcpts} (may be empty)."""
        rc, out, err = self.command("queue")
        if rc != 0:
            raise PosternError("postern queue: rc=%d %s%s" % (rc, out, err))
        return parse_queue(out)

    def flush(self):
        rc, out, err = self.command("flush")
        if rc != 0:
            raise PosternError("postern flush: rc=%d %s%s" % (rc, out, err))
        return out

    # -- SMTP ------------------------------------------------------------
    def smtp(self, source=None, timeout=20):
        """smtplib session to this postern, optionally from a given
        loopback source address."""
        s = smtplib.SMTP(timeout=timeout,
                         source_address=(source, 0) if source else None)
        s.connect(self.addr, self.port)
        return s

    def send(self, mail_from, rcpts, data, source=None, helo="client.test"):
        """One message; returns (code, reply-text) of the final dot
        (the queue id is in the text)."""
        s = self.smtp(source)
        try:
            s.ehlo(helo)
            code, msg = s.mail(mail_from)
            if code != 250:
                return code, msg.decode()
            for r in rcpts:
                code, msg = s.rcpt(r)
                if code not in (250, 251):
                    return code, msg.decode()
            code, msg = s.data(data)
            return code, msg.decode()
        finally:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                s.close()


# Queue ids: QID_LEN (16) characters, letters and digits.
QID_RE = re.compile(r"\b([0-9A-Za-z]{16})\b")
ADDR_RE = re.compile(r"<([^<>\s]*)>|(\S+@\S+)")


def qid_from_reply(text):
    m = QID_RE.search(text)
    return m.group(1) if m else None


def parse_queue(text):
    """Lenient reader of "postern queue": a message starts with a line
    whose first token is a queue id; the lines after it until the next
    one belong to it.  Recipients are the addresses on those lines."""
    msgs = []
    cur = None
    for line in text.splitlines():
        tok = line.split()
        if not tok:
            continue
        first = tok[0].rstrip("*!")
        if (not line[0].isspace() and len(first) == 16 and
                first.isalnum()):
            cur = {"qid": first, "text": line, "sender": None, "rcpts": []}
            addrs = [a or b for a, b in ADDR_RE.findall(line)]
            if addrs:
                cur["sender"] = addrs[0]
            msgs.append(cur)
            continue
        if cur is None:
            continue
        cur["text"] += "\n" + line
        if line.strip().startswith("("):
            continue
        for a, b in ADDR_RE.findall(line):
            cur["rcpts"].append(a or b)
    return msgs


def make_message(subject, body="hello\r\n", mid=None, sender="sender@client.test",
                 to="rcpt@example.test", extra_headers=()):
    mid = mid or "<%s@client.test>" % re.sub(r"\W", "", subject)
    hdrs = ["From: <%s>" % sender, "To: <%s>" % to,
            "Subject: %s" % subject, "Message-ID: %s" % mid,
            "Date: Mon, 24 Nov 2025 12:00:00 +0000"]
    hdrs.extend(extra_headers)
    return ("\r\n".join(hdrs) + "\r\n\r\n" + body).encode()


def raw_session(addr, port, lines, timeout=10, source=None):
    """Sends bytes (a list of chunks, each sent after reading the
    previous reply) and returns the list of replies; for byte-exact
    tests of the SMTP dialogue."""
    s = socket.create_connection((addr, port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    replies = []
    try:
        f = s.makefile("rb")
        replies.append(read_reply(f))
        for chunk in lines:
            s.sendall(chunk)
            replies.append(read_reply(f))
    finally:
        s.close()
    return replies


def read_reply(f):
    """One SMTP reply, all its lines, from a binary file object."""
    out = b""
    for _ in range(100):
        line = f.readline(4096)
        if not line:
            break
        out += line
        if len(line) < 4 or line[3:4] != b"-":
            break
    return out.decode("utf-8", "replace")
