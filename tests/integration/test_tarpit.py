"""Tarpits cannot hold the delivery workers (docs/routing.md, "Limits of
one delivery job"; docs/security.md).

Twenty destinations, each with three MX hosts of three addresses: the
first host's addresses accept and close at once (no greeting), the
others are tarpits that answer every line just inside client_timeout
and close with 421 after the data.  One normal destination beside them.
The per-stage timeouts are a few seconds (as a user may set them), the
job deadline accordingly.  Measured at the peers: each tarpit job takes
at most mx_address_limit addresses and mx_session_limit greeted
sessions, and ends at delivery_job_timeout (seconds from the runner's
log); once the tarpits are known to be slow they get at most
max_deliveries - delivery_reserve workers, and the normal destination's
mail is delivered at once beside them.  On code without these limits a
tarpit job takes minutes and the normal mail waits behind twenty of
them: the one-minute bound below fails.
"""

import re
import time

import pytest

from harness import make_message, qid_from_reply
from routepeers import Tarpit, wait_until

NDOM = 20
HOSTS = 3
ADDRS = 3
STAGE = 3                 # connect_timeout and client_timeout, seconds
DELAY = STAGE - 0.4       # the tarpit answers just inside it
JOB = 25                  # delivery_job_timeout
MAX = 20                  # max_deliveries
RESERVE = 4               # delivery_reserve (the default)
ADDR_LIMIT = 5            # mx_address_limit (the default)
SESSION_LIMIT = 2         # mx_session_limit (the default)
NORMAL_BOUND = 60.0       # the normal mail's delivery, seconds


def tarpit_net(env):
    """[(domain, [[addr per host] per host])]: host 0 drops, hosts 1..
    are tarpits; all in the test's own /24 (.10 .. .189)."""
    doms = []
    recs = []
    for i in range(NDOM):
        dom = env.block.domain(i)
        hosts = []
        for h in range(HOSTS):
            name = "mx%d.%s" % (h, dom)
            addrs = ["%s.%d" % (env.block.net,
                                10 + i * HOSTS * ADDRS + h * ADDRS + a)
                     for a in range(ADDRS)]
            recs.append("%s. 300 IN MX %d %s." % (dom, 10 * (h + 1), name))
            recs += ["%s. 300 IN A %s" % (name, a) for a in addrs]
            hosts.append(addrs)
        doms.append((dom, hosts))
    env.dns.add_records(recs)
    return doms


def send(p, rcpt, tag, sender="s@client.test"):
    code, text = p.send(sender, [rcpt], make_message(tag, to=rcpt,
                                                     sender=sender))
    assert code == 250, text
    return qid_from_reply(text)


def test_tarpits_cannot_hold_the_workers(env):
    if env.dns is None:
        pytest.skip("needs the signed test DNS")
    doms = tarpit_net(env)
    drops = [a for _, hosts in doms for a in hosts[0]]
    pits = [a for _, hosts in doms for h in hosts[1:] for a in h]
    tp = Tarpit(drops + pits, DELAY, drop=drops)
    env.on_stop(tp.stop)
    tp.start()
    good = env.mx("%s.190" % env.block.net)
    good_dom = "good.b%d.example" % env.block.k
    env.dns.add_records(["%s. 300 IN MX 10 mx.%s." % (good_dom, good_dom),
                         "mx.%s. 300 IN A %s" % (good_dom, good.host)])
    p = env.postern({"connect_timeout": STAGE, "client_timeout": STAGE,
                     "delivery_job_timeout": JOB, "max_deliveries": MAX,
                     "delivery_reserve": RESERVE,
                     "mx_address_limit": ADDR_LIMIT,
                     "mx_session_limit": SESSION_LIMIT,
                     "max_queue_lifetime": "1d"})
    t0 = time.monotonic()
    qids = {dom: send(p, "u@" + dom, "tarpit %s" % dom) for dom, _ in doms}
    done_rx = (r"runner: (d\d+\.b%d\.example): worker \d+ done in "
               r"([\d.]+)s" % env.block.k)

    # The first round: twenty fresh destinations, every worker.  With
    # the limits they all end near JOB; without, this wait just runs out.
    wait_until(lambda: len(p.grep_log(done_rx)) >= NDOM, JOB + 8)
    t1 = time.monotonic()
    ended = len(p.grep_log(done_rx)) >= NDOM
    if ended:
        # Their retries are under way: the slow ones hold what is
        # theirs, max_deliveries - delivery_reserve at most.
        wait_until(lambda: len(tp.connections(pits, since=t1)) >=
                   MAX - RESERVE, 10)
    t_sub = time.monotonic()
    send(p, "n@" + good_dom, "normal mail")
    got = good.wait_for(1, NORMAL_BOUND)
    t_normal = time.monotonic() - t_sub
    print("normal mail delivered %.1fs after submission (%.1fs into the "
          "test)" % (t_normal, time.monotonic() - t0))
    assert len(got) == 1 and t_normal < NORMAL_BOUND, (t_normal,
                                                      p.diagnostics())
    assert ended, "tarpit jobs still running after %ds" % (JOB + 8)

    # Each first-round job ended at its deadline (the runner's log).
    secs = {}
    for m in p.grep_log(done_rx):
        secs.setdefault(m.group(1), float(m.group(2)))
    print("tarpit job seconds: %s" % sorted(secs.values()))
    assert len(secs) == NDOM
    for dom, s in secs.items():
        assert JOB - 1 <= s <= JOB + 2, (dom, s)

    # At the peers, per first-round job: the first addresses in MX order
    # only, no more than ADDR_LIMIT of them, and at most SESSION_LIMIT
    # greeted sessions (the dropping host never greets).
    for dom, hosts in doms:
        mine = [a for h in hosts for a in h]
        first = [c for c in tp.connections(mine)
                 if c[1] < t0 + JOB - 1]
        tried = [c[0] for c in first]
        greeted = [a for a in tried if a not in hosts[0]]
        assert len(tried) <= ADDR_LIMIT, (dom, tried)
        assert len(greeted) <= SESSION_LIMIT, (dom, tried)
        assert set(hosts[0]) <= set(tried), (dom, tried)
        assert len(tried) == len(set(tried)), (dom, tried)
        # Deferred, with the reason, never bounced.
        p.wait_log(r"%s: to=<u@%s> .*status=deferred \(delivery_job_"
                   r"timeout \(%ds\) reached" % (qids[dom], re.escape(dom),
                                                 JOB), timeout=1)
    assert not p.grep_log(r"to=<u@d\d+\.b%d\.example> .*status=bounced"
                          % env.block.k)

    # The retries: never more than max_deliveries - delivery_reserve
    # tarpit sessions at once.
    conc = max_open(tp.connections(pits, since=t1))
    print("tarpit sessions at once after the first round: %d" % conc)
    assert 1 <= conc <= MAX - RESERVE, conc


def max_open(conns):
    now = time.monotonic()
    ev = sorted([(s, 1) for _, s, _ in conns] +
                [(e if e is not None else now, -1) for _, _, e in conns],
                key=lambda x: (x[0], x[1]))
    cur = best = 0
    for _, d in ev:
        cur += d
        best = max(best, cur)
    return best
