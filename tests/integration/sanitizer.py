"""Sanitizer reports of every postern process a test starts.

A binary built with -fsanitize=address,undefined reads its options from
ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS.  conftest.py puts them in
the environment of the whole test (os.environ), so the daemon, every
process it forks (session children, runner, workers, pickup, the root
local delivery server and its children) and every command a test runs
(postern queue/flush/policy/-n, sendmail, newaliases, mailq, the rc.d
script) inherit them.  log_path sends each process's report to
DIR/san.PID instead of its stderr (which a test may capture and never
show, and which is /dev/null for a daemon not in the foreground).
postern never chroots, so an absolute DIR outside the test's private
tmp_path (pytest makes that 0700), with mode 1777, is reachable and
writable for the children that run as another user (user = nobody; the
local server's file deliveries run as the file's owner).  Should a process still fail to
open it, the runtime prints "ERROR: Can't open file" on stderr and dies:
the daemon's captured stderr (postern.out) is scanned for that too, and
for any report that went to stderr after all.

UndefinedBehaviorSanitizer writes to log_path only when it shares one
runtime with ASan, as with clang (the Makefile's SAN_CC).  GCC 12 links a
separate libubsan that, next to libasan, ignores log_path and writes to
stderr: reports of the daemon's children would still reach postern.out,
but those of a command whose stderr a test captures would be lost.

Leak checking (detect_leaks=1) is on for everything: LeakSanitizer runs
when a process calls exit() -- the short-lived commands, the master and
the runner; the daemon's forked children end with _exit() or by a
signal and are never leak-checked, only checked for memory errors and
undefined behaviour.
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile

# A report's first line (ASan, LSan and the runtime's own errors), a UBSan
# diagnostic, and the closing summary of any of them.
REPORT_RE = re.compile(
    r"^==\d+==ERROR: |^\S+:\d+:\d+: runtime error: |"
    r"^SUMMARY: \w+Sanitizer", re.M)

# The whole report is kept, up to this much per file (a failure message,
# not a log archive).
REPORT_MAX = 12000

_root = None


def built_in(binary):
    """Whether binary carries the AddressSanitizer runtime: with help=1
    the runtime lists its flags before main() runs."""
    env = dict(os.environ, ASAN_OPTIONS="help=1:detect_leaks=0")
    r = subprocess.run([binary, "-n", "-c", "/nonexistent"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=20)
    return b"Available flags for AddressSanitizer" in r.stdout + r.stderr


def root():
    """The run's directory for report files, made on first use."""
    global _root
    if _root is None:
        _root = tempfile.mkdtemp(prefix="postern-san.")
        # Children of another user need to traverse it.
        os.chmod(_root, 0o755)
    return _root


def test_dir(name):
    """A fresh report directory for one test, writable by every user
    (sticky, like /tmp: no one removes another's file)."""
    safe = re.sub(r"[^\w.-]", "_", name)[:80]
    d = tempfile.mkdtemp(prefix=safe + ".", dir=root())
    os.chmod(d, 0o1777)
    return d


def options(d):
    """{variable: value} for the sanitizer runtimes, reports into d."""
    log = "log_path=%s" % os.path.join(d, "san")
    return {
        # abort_on_error=0: exit with status 1, no core dump; halt at the
        # first error (the default for ASan, said to be sure).
        "ASAN_OPTIONS": ":".join([
            log, "detect_leaks=1", "halt_on_error=1", "abort_on_error=0",
        ]),
        # -fno-sanitize-recover=undefined already makes UBSan stop at the
        # first report; halt_on_error=1 holds for the recoverable ones.
        "UBSAN_OPTIONS": ":".join([
            log, "print_stacktrace=1", "halt_on_error=1",
        ]),
        "LSAN_OPTIONS": ":".join([log, "print_suppressions=0"]),
    }


def reports(d, stderr_files=()):
    """[(file, text)]: every report file in d, and every captured stderr
    file that carries a report."""
    found = []
    for path in sorted(glob.glob(os.path.join(d, "san.*"))):
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        if text.strip():
            found.append((path, text))
    for path in stderr_files:
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            continue
        m = REPORT_RE.search(text)
        if m is not None or "ERROR: Can't open file" in text:
            start = text.rfind("\n", 0, m.start() if m else 0) + 1
            found.append((path, text[start:]))
    return found


def format_reports(found):
    out = []
    for path, text in found:
        if len(text) > REPORT_MAX:
            text = text[:REPORT_MAX] + "\n[... %d more characters]" % (
                len(text) - REPORT_MAX)
        out.append("--- %s ---\n%s" % (path, text.rstrip()))
    return "\n".join(out)


def remove(d):
    shutil.rmtree(d, ignore_errors=True)


def finish():
    """At the end of the run: the run's directory goes when no test left
    reports in it (a failed test's stay, named in its failure)."""
    global _root
    if _root is not None:
        try:
            os.rmdir(_root)
        except OSError:
            pass
        _root = None
