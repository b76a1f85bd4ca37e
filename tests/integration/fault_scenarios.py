"""Scenarios that reach the deliberate faults of tests/sanitizer/fault.c,
one per kind of process the harness watches.  Not a test_*.py file: the
normal pass never collects it; tests/sanitizer/test_harness.py runs it
against a clean sanitized postern, where every scenario passes, and
against tests/sanitizer/postern-faulty, where every one must fail with
its sanitizer report.  The session and local delivery scenarios' own
assertions hold either way: only the harness sees those faults.  The
leak check ends "postern policy" with status 1 before stdio is flushed,
so that scenario's own assertion fails as well; what the harness test
looks for is the report in the failure."""

import os

from harness import make_message, raw_session
from localenv import local  # noqa: F401  (fixture)


def open_to_others(p):
    """The spool and log live under pytest's private directories: let
    the daemon's user through them (they are this test's own)."""
    d = p.workdir
    while d not in ("/", "/tmp"):
        os.chmod(d, 0o755)
        d = os.path.dirname(d)


def helo_then_another_client(env, helo):
    """One session says HELO helo; a second one must still be served."""
    p = env.postern({"user": "nobody", "greet_delay": 0}, start=False)
    open_to_others(p)
    p.start()
    first = raw_session(p.addr, p.port, [b"HELO " + helo + b"\r\n"])
    assert first[0].startswith("220"), first
    replies = raw_session(p.addr, p.port, [b"HELO other.test\r\n",
                                           b"QUIT\r\n"])
    assert replies[1].startswith("250"), replies
    assert replies[2].startswith("221"), replies


def test_session_child_heap_overflow(env):
    """The session child, running as nobody: ASan."""
    helo_then_another_client(env, b"fault-heap.test")


def test_session_child_undefined_behaviour(env):
    """The session child, running as nobody: UBSan."""
    helo_then_another_client(env, b"fault-ub.test")


def test_policy_command_leak(env):
    """A short-lived command: LeakSanitizer at its exit."""
    p = env.postern(start=False)
    rc, out, err = p.command("policy", "fault-leak.test")
    assert "domain: fault-leak.test" in out, out + err
    assert "delivery: not allowed" in out, out + err


def test_root_local_delivery_child(local):
    """The root local delivery server's child for one recipient."""
    p = local.p
    # A name the RCPT check accepts (an alias to nobody real), so that
    # the root server expands it.
    local.aliases.write_text("postmaster: root\n"
                             "fault-root: postern-fault-nosuchuser\n")
    p.start()
    code, text = p.send("s@client.test", ["fault-root@postern.test"],
                        make_message("fault root", to="fault-root@postern.test"))
    assert code == 250, text
    # Unknown target (clean) or a child that died (faulty): either way an
    # outcome, and the daemon goes on.
    p.wait_log(r"to=<fault-root@postern\.test> .*status=(bounced|deferred)")
    assert p.running()
