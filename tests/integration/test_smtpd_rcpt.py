"""Local recipients checked at RCPT (rcpt_local.h): an unknown local
user is refused with 550 5.1.1 in the dialogue, so nothing is accepted
and bounced later to a sender that may be forged.  Inputs: an aliases
file, the machine's password database (root, nobody), postern.conf keys
(local_recipient_check, local_catchall, user); expectations: the replies
a real client gets, and what lands in the mailboxes."""

import mailbox
import os
import pathlib
import shutil
import subprocess
import tempfile
import time

import harness
from harness import make_message, raw_session

LOCAL = "local.test"


def local_postern(env, aliases="postmaster: root\nlist: root\n", top=None,
                  **conf):
    """A postern for LOCAL with its own mail spool and aliases file; the
    client (env.block.client) is not trusted.  top: its directory, else
    one under pytest's."""
    d = pathlib.Path(top) if top else env.dir("local")
    os.chmod(str(d), 0o755)
    mail = d / "mail"
    mail.mkdir(exist_ok=True)
    os.chmod(str(mail), 0o1777)
    (d / "aliases").write_text(aliases)
    c = {"local_domains": [LOCAL], "aliases": str(d / "aliases"),
         "mail_spool_dir": str(mail), "greet_delay": 0,
         "trusted_networks": ["%s/32" % env.block.postern]}
    c.update(conf)
    start = c.pop("start", True)
    if top is None:
        return env.postern(c, start=start), mail
    p = harness.Postern(d / "postern", env.block.postern, conf=c,
                        dns_lines=env.dns_lines())
    env.on_stop(p.stop)
    if start:
        p.start()
    return p, mail


def rcpt_replies(p, source, rcpts):
    """The reply to each RCPT of one transaction, in order."""
    lines = [b"EHLO client.test\r\n", b"MAIL FROM:<someone@client.test>\r\n"]
    lines += [("RCPT TO:<%s>\r\n" % r).encode() for r in rcpts]
    lines.append(b"QUIT\r\n")
    replies = raw_session(p.addr, p.port, lines, source=source)
    # banner, EHLO, MAIL, then one per RCPT
    return replies[3:3 + len(rcpts)]


def wait_mbox(path, count=1, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            msgs = list(mailbox.mbox(str(path), create=False))
            if len(msgs) >= count:
                return msgs
        time.sleep(0.1)
    raise AssertionError("%s: %d message(s) not delivered" % (path, count))


def test_unknown_user_refused_known_and_alias_accepted(env):
    p, mail = local_postern(env)
    rcpts = ["nosuchuser@" + LOCAL, "root@" + LOCAL, "ROOT@Local.Test",
             "list@" + LOCAL, "List@" + LOCAL, "postmaster@" + LOCAL,
             "PostMaster@" + LOCAL, "postmaster", "mailer-daemon@" + LOCAL,
             "root+ext@" + LOCAL, "nobody@" + LOCAL]
    got = rcpt_replies(p, env.block.client, rcpts)
    want = ["550 5.1.1 <nosuchuser@local.test>: Recipient address "
            "rejected: user unknown", "250 2.1.5", "250 2.1.5", "250 2.1.5",
            "250 2.1.5", "250 2.1.5", "250 2.1.5", "250 2.1.5", "250 2.1.5",
            # no recipient delimiter: "root+ext" is a name of its own
            "550 5.1.1 <root+ext@local.test>:", "250 2.1.5"]
    assert len(got) == len(want) == len(rcpts), got
    for r, g, w in zip(rcpts, got, want):
        assert g.startswith(w), (r, g, got)
    # A trusted client gets the same answer: unknown is unknown.
    got = rcpt_replies(p, env.block.postern, ["nosuchuser@" + LOCAL])
    assert got[0].startswith("550 5.1.1"), got
    # The accepted alias really reaches its mailbox.
    code, text = p.send("someone@client.test", ["list@" + LOCAL],
                        make_message("to the list"), source=env.block.client)
    assert code == 250, text
    m = wait_mbox(mail / "root")[0]
    assert m["Subject"] == "to the list"
    assert m["Delivered-To"] == "list@" + LOCAL


def test_catchall_accepts_any_local_part(env):
    p, mail = local_postern(env, aliases="postmaster: root\ncatch: root\n",
                            local_catchall="catch")
    rcpts = ["nosuchuser@" + LOCAL, "Whatever.Else@" + LOCAL,
             "root@" + LOCAL]
    got = rcpt_replies(p, env.block.client, rcpts)
    assert all(g.startswith("250 2.1.5") for g in got), got
    code, text = p.send("someone@client.test", ["nosuchuser@" + LOCAL],
                        make_message("caught"), source=env.block.client)
    assert code == 250, text
    m = wait_mbox(mail / "root")[0]
    assert m["Subject"] == "caught"
    assert m["Delivered-To"] == "nosuchuser@" + LOCAL
    p.wait_log(r"to=<nosuchuser@local\.test> unknown local name, to the "
               r"catch-all catch")


def test_check_off_is_the_old_behaviour(env):
    """local_recipient_check = no: accepted at RCPT, bounced by local
    delivery afterwards."""
    p, mail = local_postern(env, local_recipient_check="no")
    got = rcpt_replies(p, env.block.client, ["nosuchuser@" + LOCAL])
    assert got[0].startswith("250 2.1.5"), got
    code, text = p.send("", ["nosuchuser@" + LOCAL], make_message("late"),
                        source=env.block.client)
    assert code == 250, text
    p.wait_log(r"to=<nosuchuser@local\.test> .*status=bounced "
               r"\(.*user unknown")


def test_unprivileged_session_reads_the_alias_map(env):
    """As in production: sessions run as an unprivileged user, the map is
    made by newaliases under a strict umask, and the aliases text is not
    readable by that user.  The alias is still found (only the .db could
    tell), an unknown name is still refused."""
    # Outside pytest's private tree (0700, and reset by any other pytest
    # run on the machine), so that nobody can reach the spool.
    top = tempfile.mkdtemp(prefix="postern-rcpt-")
    env.on_stop(lambda: shutil.rmtree(top, ignore_errors=True))
    p, mail = local_postern(env, aliases="postmaster: root\nmaplist: root\n",
                            top=top, user="nobody", start=False)
    aliases = p.conf["aliases"]
    os.chmod(aliases, 0o600)
    newaliases = os.path.join(p.workdir, "newaliases")
    os.symlink(harness.postern_bin(), newaliases)
    r = subprocess.run([newaliases, "-C", p.conf_path], capture_output=True,
                       timeout=30, umask=0o077)
    assert r.returncode == 0, r.stderr
    # The text must not be newer than the map, or the text is read.
    st = os.stat(aliases + ".db")
    os.utime(aliases, (st.st_atime, st.st_mtime - 10))
    p.start()
    got = rcpt_replies(p, env.block.client,
                       ["maplist@" + LOCAL, "nosuchuser@" + LOCAL,
                        "root@" + LOCAL])
    assert got[0].startswith("250 2.1.5"), (got, p.diagnostics())
    assert got[1].startswith("550 5.1.1"), got
    assert got[2].startswith("250 2.1.5"), got
