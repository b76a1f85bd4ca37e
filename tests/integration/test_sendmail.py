"""sendmail(8) command lines as real callers use them: periodic(8),
mail(1), PHP's mail(), swaks over -bs; submission while the daemon is
stopped, delivered once it starts."""

import subprocess

from localenv import local  # noqa: F401  (fixture)


def test_periodic_style_t_daemon_stopped_then_delivered(local):
    msg = (b"To: root\nSubject: host daily run output\n\n"
           b"Checking for a current ports tree:\nFrom the ports\n")
    rc, out, err = local.sendmail(["-t"], msg)
    assert rc == 0, err
    assert len(local.maildrop()) == 1
    rc, out, err = local.sendmail(["-bp"], name="mailq")
    assert "1 message in the maildrop" in out, out + err
    local.p.start()
    m = local.wait_mbox("root")[0]
    assert m["Subject"] == "host daily run output"
    assert m["Date"] and m["Message-ID"] and m["From"]
    assert m["Return-Path"] == "<root@postern.test>"
    assert ">From the ports" in m.get_payload()
    assert local.maildrop() == []
    local.p.wait_log(r"from=<root@postern\.test> .*\(maildrop\)")


def test_mail_command_line(local):
    # mail(1) runs "sendmail -i -- user" with To and Subject written.
    local.p.start()
    rc, out, err = local.sendmail(
        ["-i", "--", "root"], b"To: root\nSubject: subj\n\n.\nline\n")
    assert rc == 0, err
    m = local.wait_mbox("root")[0]
    assert m["Subject"] == "subj"
    assert m.get_payload() == ".\nline\n"


def test_php_style_t_i_f_bcc_removed(local):
    local.p.start()
    msg = (b"To: root@postern.test\nBcc: postmaster\nSubject: php\n"
           b"From: www@example.org\n\nbody\n.\nmore\n")
    rc, out, err = local.sendmail(["-t", "-i", "-f", "www@example.org"], msg)
    assert rc == 0, err
    msgs = local.wait_mbox("root", count=2)
    for m in msgs:
        assert m["Bcc"] is None
        assert m["From"] == "www@example.org"
        assert m["Return-Path"] == "<www@example.org>"
        assert m.get_payload().endswith("body\n.\nmore\n")


def test_dot_ends_input_without_i(local):
    rc, out, err = local.sendmail(["root"], b"Subject: d\n\nbefore\n.\nafter\n")
    assert rc == 0, err
    local.p.start()
    m = local.wait_mbox("root")[0]
    assert m.get_payload() == "before\n"


def test_ignorable_options_warn_usage_errors(local):
    rc, out, err = local.sendmail(
        ["-oQ/var/spool/mqueue", "-O", "Timeout.x=1", "-oem", "-odb", "root"],
        b"Subject: w\n\nx\n")
    assert rc == 0, err
    assert "warning" in err and "-oQ" in err
    rc, out, err = local.sendmail([], b"x\n")
    assert rc == 64, (rc, err)             # EX_USAGE
    rc, out, err = local.sendmail(["-bt"], b"")
    assert rc == 64


def test_bs_with_swaks_over_a_pipe(local):
    local.p.start()
    r = subprocess.run(
        ["swaks", "--pipe", "%s -C %s -bs" % (local.sendmail_path,
                                              local.p.conf_path),
         "--from", "swaks@client.test", "--to", "root@postern.test",
         "--header", "Subject: over bs", "--timeout", "20"],
        capture_output=True, timeout=60)
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode == 0, out + r.stderr.decode()
    assert "queued as" in out
    m = local.wait_mbox("root")[0]
    assert m["Subject"] == "over bs"


def test_newaliases_and_bv(local):
    local.aliases.write_text(
        "postmaster: root\nlist: root, far@remote.example\n")
    rc, out, err = local.sendmail([], name="newaliases")
    assert rc == 0, err
    assert "2 aliases" in out
    rc, out, err = local.sendmail(["-bv", "list", "x@remote.example"])
    assert rc == 0, out + err
    assert "list... deliverable: mailer local, user root" in out
    assert "list... deliverable: mailer smtp, address far@remote.example" in out
    assert "x@remote.example... deliverable: mailer smtp" in out


def test_mailq_usage_names_the_working_option(local):
    """mailq takes sendmail's -C config; its usage line says so."""
    rc, out, err = local.sendmail(["-Z"], name="mailq")
    assert rc == 64, (rc, err)
    assert "usage: mailq [-C config]" in err, err
    local.p.start()
    rc, out, err = local.sendmail([], name="mailq")
    assert rc == 0 and "usage" not in err, (rc, out, err)
