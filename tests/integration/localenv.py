"""Shared set-up for the sendmail and local delivery tests: a postern
with a mail spool, an aliases file and the sendmail name, all in a
temporary directory; the daemon is stopped by the fixture."""

import mailbox
import os
import subprocess
import time

import pytest

import harness


class Local:
    def __init__(self, tmp, block):
        self.tmp = tmp
        os.chmod(str(tmp), 0o755)       # pipes and files run as others
        self.mail = tmp / "mail"
        self.mail.mkdir()
        os.chmod(str(self.mail), 0o1777)
        self.aliases = tmp / "aliases"
        self.aliases.write_text("postmaster: root\n")
        self.p = harness.Postern(tmp / "postern", block.postern, conf={
            "mail_spool_dir": str(self.mail),
            "aliases": str(self.aliases),
            "local_domains": ["postern.test"],
            "local_pipe_timeout": 5,
            "default_user": "nobody",
        })
        self.sendmail_path = str(tmp / "sendmail")
        os.symlink(harness.postern_bin(), self.sendmail_path)

    def sendmail(self, args, data=b"", timeout=30, name=None):
        path = self.sendmail_path
        if name is not None:
            path = str(self.tmp / name)
            if not os.path.exists(path):
                os.symlink(harness.postern_bin(), path)
        r = subprocess.run([path, "-C", self.p.conf_path] + list(args),
                           input=data, capture_output=True, timeout=timeout)
        return r.returncode, r.stdout.decode("utf-8", "replace"), \
            r.stderr.decode("utf-8", "replace")

    def maildrop(self):
        d = self.p.spool + "-maildrop"
        if not os.path.isdir(d):
            return []
        return [n for n in os.listdir(d) if not n.startswith(".")
                and not n.endswith(".tmp")]

    def mbox(self, user="root"):
        return mailbox.mbox(str(self.mail / user), create=False)

    def wait_mbox(self, user="root", count=1, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            path = self.mail / user
            if path.exists():
                msgs = list(mailbox.mbox(str(path), create=False))
                if len(msgs) >= count:
                    return msgs
            time.sleep(0.1)
        raise AssertionError("%s: %d message(s) not delivered\n%s" %
                             (user, count, self.p.diagnostics()))


@pytest.fixture
def local(tmp_path, block):
    loc = Local(tmp_path, block)
    try:
        yield loc
    finally:
        loc.p.stop()
