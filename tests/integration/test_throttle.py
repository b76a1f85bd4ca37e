"""Throttling remotes: a destination that accepts 5 messages per window
and answers 421 beyond gets every message eventually, none lost or
duplicated, with few connections while it is throttled, while a second
destination is delivered at full speed; the learned limit survives a
restart and shows in "postern status"; static destination_limits.
"""

import re
import time

import pytest

import harness
from harness import make_message
from routepeers import ThrottleMX, wait_until

N_THROTTLED = 60
N_FAST = 20
LIMIT = 5
WINDOW = 2


def submit(p, dest, n, tag):
    for i in range(n):
        r = "%s%d@%s" % (tag, i, dest)
        code, text = p.send("s@client.test", [r], make_message(
            "%s %d" % (tag, i), to=r, mid="<%s%d@client.test>" % (tag, i)))
        assert code == 250, text


def test_throttled_destination_gets_everything(env):
    if env.dns is None:
        pytest.skip("needs the test DNS for two destinations")
    slow = ThrottleMX(env.block.mx(0), limit=LIMIT, window=WINDOW)
    slow.start()
    env.on_stop(slow.stop)
    fast = env.mx(env.block.mx(1))
    slow_dom, conf = env.route(slow.host, n=0)
    fast_dom, _ = env.route(fast.host, n=1)
    conf.update(throttle_window=WINDOW, throttle_backoff_min=1,
                throttle_backoff_max=4, max_batch=100)
    p = env.postern(conf)
    t0 = time.monotonic()
    submit(p, slow_dom, N_THROTTLED, "t")
    submit(p, fast_dom, N_FAST, "f")
    t_sub = time.monotonic() - t0
    # The second destination at full speed while the first is throttled.
    assert len(fast.wait_for(N_FAST, 30)) == N_FAST, p.diagnostics()
    t_fast = time.monotonic() - t0
    p.wait_log(r"rate-limit reply after", timeout=30)
    got = slow.wait_for(N_THROTTLED, 150)
    t_slow = time.monotonic() - t0
    rcpts = sorted(r for m in got for r in m.rcpt_tos)
    want = sorted("t%d@%s" % (i, slow_dom) for i in range(N_THROTTLED))
    assert rcpts == want, (len(rcpts), p.diagnostics())
    time.sleep(1)
    assert len(slow.messages) == N_THROTTLED          # no duplicate
    assert t_fast < t_slow
    refusals = slow.refused
    conns = slow.connections
    print("throttle: %d+%d messages submitted in %.1fs; fast destination "
          "done at %.1fs; throttled destination done at %.1fs with %d "
          "connections, %d of them refused with 421; at most %d "
          "accepted per %ds window"
          % (N_THROTTLED, N_FAST, t_sub, t_fast, t_slow, conns, refusals,
             slow.max_per_window(), WINDOW))
    # Connections during the throttle stay bounded: the workers already
    # under way when the first 421 came (max_per_destination) and a few
    # while the limit is learned, not one per message or per pass.
    assert refusals <= 15, (refusals, p.diagnostics())
    assert conns <= N_THROTTLED // (LIMIT - 1) + 15, conns
    # A rate-limit deferral never counts as an attempt.
    sent = p.grep_log(r"to=<t\d+@%s> .*attempt=(\d+) status=sent"
                      % re.escape(slow_dom))
    assert len(sent) == N_THROTTLED
    assert {m.group(1) for m in sent} == {"1"}
    assert not p.grep_log(r"to=<t\d+@.*status=bounced")
    # Learned and shown; kept across a restart.
    rc, out, err = p.command("status")
    assert rc == 0, err
    assert re.search(r"%s .*learned=\d+/%ds" % (re.escape(slow_dom), WINDOW),
                     out), out
    p.restart()
    rc, out2, _ = p.command("status")
    assert re.search(r"%s .*learned=\d+/%ds" % (re.escape(slow_dom), WINDOW),
                     out2), out2


def test_static_limit_paces(env):
    mx = env.mx(env.block.mx(0))
    dest, conf = env.route(mx.host, n=0)
    limits = env.tmp / "limits"
    limits.write_text("# destination limits\n%s  3/minute concurrency=1\n"
                      ".b%d.example  100/day\n" % (dest, env.block.k))
    conf.update(destination_limits=str(limits))
    p = env.postern(conf)
    submit(p, dest, 5, "s")
    assert len(mx.wait_for(3, 20)) >= 3
    time.sleep(3)
    assert len(mx.messages) == 3, p.diagnostics()
    p.wait_log(r"runner: %s: throttled for \d+s, 2 recipient\(s\) wait"
               % re.escape(dest), timeout=10)
    rc, out, _ = p.command("status")
    assert rc == 0 and dest in out, out


def test_bad_destination_limits_file(env):
    # Like a bad TLS policy table: postern -n and the start refuse it,
    # with file:line (broken while postern runs: test_operate.py).
    limits = env.tmp / "limits"
    limits.write_text("a.example 3/minute\nb.example 3/fortnight\n")
    p = env.postern({"destination_limits": str(limits)}, start=False)
    rc, out = p.check_conf()
    assert rc == 78 and "limits:2: the period must be minute, hour or " \
        "day" in out, out
    with pytest.raises(harness.PosternError) as e:
        p.start()
    assert "limits:2: the period must be" in str(e.value)
