"""Mail loops end (RFC 5321 §6.3): more than max_hop_count Received
fields in the header section are refused with 554 5.4.6 at the end of
DATA (never 250), mail picked up from sendmail(1) over the limit
bounces with 5.4.6, local delivery adds Delivered-To and bounces a
message that already carries the same one.  A transport entry that
points back at postern and a forward between two hosts that forwards
back both end with exactly one DSN at the sender's peer."""

import os
import re
import subprocess
import time

import harness
from harness import make_message, qid_from_reply

WAIT = 90


def received(n, folded=False):
    one = ("Received: from h%d.example by x.example;\r\n"
           "\tMon, 24 Nov 2025 12:00:00 +0000" if folded else
           "Received: from h%d.example by x.example; Mon, 24 Nov 2025")
    return "\r\n".join(one % i for i in range(n)).encode() + b"\r\n"


def dsn_status(msg):
    m = re.search(rb"^Status: (\S+)", msg.data, re.M)
    return m.group(1).decode() if m else None


def sender_sink(env):
    """A peer for the senders' domain, reached by a transport entry."""
    dom = "client.b%d.example" % env.block.k
    mx = env.mx(env.block.mx(1), port=2525)
    return dom, mx, "%s [%s]:2525\n" % (dom, mx.host)


def test_50_received_pass_51_refused_after_data(env):
    out = env.mx(env.block.mx(0), port=2525)
    dom = "d.b%d.example" % env.block.k
    table = env.tmp / "transport"
    table.write_text("%s [%s]:2525\n" % (dom, out.host))
    p = env.postern({"transport_table": str(table), "relay_domains": [dom]})
    rcpt = "a@" + dom
    code, text = p.send("s@client.test", [rcpt], received(50, folded=True) +
                        make_message("fifty", to=rcpt))
    assert code == 250, text
    code, text = p.send("s@client.test", [rcpt], received(51) +
                        make_message("fifty-one", to=rcpt))
    assert code == 554 and text.startswith("5.4.6"), (code, text)
    # In the body they are not trace fields.
    code, text = p.send("s@client.test", [rcpt], make_message(
        "body", to=rcpt, body=received(60).decode()))
    assert code == 250, text
    # Field names in any case count.
    code, text = p.send("s@client.test", [rcpt], received(51).replace(
        b"Received:", b"rEcEiVeD:") + make_message("case", to=rcpt))
    assert code == 554, (code, text)
    got = out.wait_for(2, 30)
    time.sleep(2)
    subjects = sorted(m.header("Subject") for m in out.messages)
    assert subjects == ["body", "fifty"], subjects
    # What went on: the 50 it came with plus ours.
    fifty = [m for m in out.messages if m.header("Subject") == "fifty"][0]
    assert len(re.findall(rb"^Received:", fifty.data, re.M)) == 51
    assert len(got) == 2


def test_transport_entry_back_to_postern_ends_with_one_dsn(env):
    sdom, smx, sline = sender_sink(env)
    loop = "loop.b%d.example" % env.block.k
    table = env.tmp / "transport"
    table.write_text(sline + "%s [%s]:25\n" % (loop, env.block.postern))
    p = env.postern({"transport_table": str(table), "relay_domains": [loop]})
    code, text = p.send("s@" + sdom, ["x@" + loop],
                        make_message("loop", to="x@" + loop,
                                     sender="s@" + sdom))
    assert code == 250, text
    msgs = smx.wait_for(1, WAIT)
    assert len(msgs) == 1, p.diagnostics()
    # No second one comes: nothing of the loop is left in the queue.
    deadline = time.monotonic() + 60
    while p.queue() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert p.queue() == []
    time.sleep(3)
    assert len(smx.messages) == 1, smx.messages
    # Fifty hops through postern, then the refusal.
    assert len(p.grep_log(r"refused: 554 5\.4\.6")) == 1
    dsn = smx.messages[0]
    assert dsn.mail_from == "" and dsn.rcpt_tos == ["s@" + sdom]
    assert dsn_status(dsn) == "5.4.6", dsn.data[:2000]
    assert b"Subject: loop" in dsn.data
    assert b"5.4.6" in dsn.data


def local_conf(env, name, domain, aliases, extra=None):
    d = env.dir(name)
    os.chmod(str(d), 0o755)
    mail = d / "mail"
    mail.mkdir(exist_ok=True)
    os.chmod(str(mail), 0o1777)
    (d / "aliases").write_text(aliases)
    conf = {"mail_spool_dir": str(mail), "aliases": str(d / "aliases"),
            "local_domains": [domain], "hostname": domain,
            "default_user": "nobody", "local_pipe_timeout": 5}
    conf.update(extra or {})
    return conf, mail


def test_forward_loop_between_two_hosts_ends(env):
    """alice here forwards to bob on a second host, who forwards back."""
    sdom, smx, sline = sender_sink(env)
    here = "here.b%d.example" % env.block.k
    there = "there.b%d.example" % env.block.k
    t1 = env.tmp / "t1"
    t1.write_text(sline + "%s [%s]:25\n" % (there, env.block.postern2))
    t2 = env.tmp / "t2"
    t2.write_text(sline + "%s [%s]:25\n" % (here, env.block.postern))
    c1, _ = local_conf(env, "h1", here, "postmaster: root\n"
                       "alice: bob@%s\n" % there,
                       {"transport_table": str(t1)})
    c2, _ = local_conf(env, "h2", there, "postmaster: root\n"
                       "bob: alice@%s\n" % here,
                       {"transport_table": str(t2)})
    p1 = env.postern(c1)
    p2 = env.postern(c2, addr=env.block.postern2)
    code, text = p1.send("s@" + sdom, ["alice@" + here],
                         make_message("fwd", to="alice@" + here,
                                      sender="s@" + sdom))
    assert code == 250, text
    msgs = smx.wait_for(1, WAIT)
    assert len(msgs) == 1, p1.diagnostics() + p2.diagnostics()
    time.sleep(5)
    assert len(smx.messages) == 1, smx.messages
    dsn = smx.messages[0]
    assert dsn_status(dsn) == "5.4.6", dsn.data[:2000]
    # Ended by the Delivered-To alice's first pass left on the copy.
    assert re.search(rb"Delivered-To: alice@" + here.encode(), dsn.data)
    # Each host forwarded at most twice: no circulation.
    assert len(p1.grep_log(r"forwarded to 1 remote address")) == 1
    assert len(p2.grep_log(r"forwarded to 1 remote address")) <= 2


def sendmail(p, args, data):
    path = os.path.join(p.workdir, "sendmail")
    if not os.path.exists(path):
        os.symlink(harness.postern_bin(), path)
    r = subprocess.run([path, "-C", p.conf_path] + list(args), input=data,
                       capture_output=True, timeout=30)
    return r.returncode, r.stderr.decode("utf-8", "replace")


def test_pickup_51_received_bounces_and_delivered_to_is_added(env):
    sdom, smx, sline = sender_sink(env)
    table = env.tmp / "transport"
    table.write_text(sline)
    dom = "postern.test"
    conf, mail = local_conf(env, "h", dom, "postmaster: root\n",
                            {"transport_table": str(table)})
    p = env.postern(conf)
    msg = b"Subject: picked\n\nx\n"
    rc, err = sendmail(p, ["-i", "-f", "s@" + sdom, "root"],
                       received(51).replace(b"\r\n", b"\n") + msg)
    assert rc == 0, err
    dsns = smx.wait_for(1, WAIT)
    assert len(dsns) == 1, p.diagnostics()
    assert dsn_status(dsns[0]) == "5.4.6"
    assert not (mail / "root").exists() or \
        b"Subject: picked" not in (mail / "root").read_bytes()
    # 50 pass, and the mbox copy carries Delivered-To.
    rc, err = sendmail(p, ["-i", "-f", "s@" + sdom, "root"],
                       received(50).replace(b"\r\n", b"\n") + msg)
    assert rc == 0, err
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if (mail / "root").exists() and \
                b"Subject: picked" in (mail / "root").read_bytes():
            break
        time.sleep(0.2)
    box = (mail / "root").read_bytes()
    assert b"\nDelivered-To: root@postern.test\n" in box, box[:500]
    time.sleep(1)
    assert len(smx.messages) == 1


def test_message_with_own_delivered_to_bounces(env):
    sdom, smx, sline = sender_sink(env)
    table = env.tmp / "transport"
    table.write_text(sline)
    conf, mail = local_conf(env, "h", "postern.test", "postmaster: root\n",
                            {"transport_table": str(table)})
    p = env.postern(conf)
    code, text = p.send("s@" + sdom, ["root@postern.test"], make_message(
        "again", to="root@postern.test", sender="s@" + sdom,
        extra_headers=["Delivered-To: ROOT@postern.test"]))
    assert code == 250, text
    dsns = smx.wait_for(1, WAIT)
    assert len(dsns) == 1, p.diagnostics()
    assert dsn_status(dsns[0]) == "5.4.6"
    assert not (mail / "root").exists() or \
        b"Subject: again" not in (mail / "root").read_bytes()
