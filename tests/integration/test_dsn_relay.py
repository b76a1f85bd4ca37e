"""RFC 3461 on the way through: NOTIFY, RET, ENVID and ORCPT given to
postern are relayed to a next hop that offers DSN; when the next hop
does not offer it, NOTIFY=SUCCESS is answered by postern with a
"relayed" report (RFC 3461 §5.2.2, RFC 3464), which Python's email
package reads as multipart/report.
"""

import email
import smtplib

import pytest

from routepeers import DsnMX

WAIT = 30


def submit_dsn(p, sender, rcpt, envid="env-42"):
    s = p.smtp()
    try:
        s.ehlo("client.test")
        assert s.has_extn("dsn")
        code, msg = s.mail(sender, ["RET=HDRS", "ENVID=%s" % envid])
        assert code == 250, msg
        code, msg = s.rcpt(rcpt, ["NOTIFY=SUCCESS,FAILURE",
                                  "ORCPT=rfc822;orig+2B@client.test"])
        assert code == 250, msg
        code, msg = s.data(b"Subject: dsn relay\r\nFrom: <%s>\r\n\r\nhi\r\n"
                           % sender.encode())
        assert code == 250, msg
    finally:
        try:
            s.quit()
        except smtplib.SMTPException:
            s.close()


def test_dsn_parameters_relayed(env):
    if env.dns is None:
        pytest.skip("needs the test DNS")
    nh = DsnMX(env.block.mx(0))
    nh.start()
    env.on_stop(nh.stop)
    back = env.mx(env.block.mx(1))
    dom, conf = env.route(nh.host, n=0)
    back_dom, _ = env.route(back.host, n=1)
    p = env.postern(conf)
    submit_dsn(p, "w@" + back_dom, "r@" + dom)
    m = nh.wait_for(1, WAIT)
    assert len(m) == 1, p.diagnostics()
    opts = " ".join(m[0].mail_options).upper()
    assert "RET=HDRS" in opts and "ENVID=ENV-42" in opts, opts
    rp = " ".join(nh.rcpt_params[0][1]).upper()
    assert "NOTIFY=SUCCESS,FAILURE" in rp, rp
    assert "ORCPT=RFC822;ORIG+2B@CLIENT.TEST" in rp, rp
    # The next hop reports success itself: no report from postern.
    p.wait_log(r"to=<r@%s> .*status=sent" % dom, timeout=WAIT)
    assert not back.wait_for(1, 2)


def test_notify_success_without_dsn_next_hop(env):
    if env.dns is None:
        pytest.skip("needs the test DNS")
    nh = env.mx(env.block.mx(0))        # aiosmtpd: no DSN offered
    back = env.mx(env.block.mx(1))
    dom, conf = env.route(nh.host, n=0)
    back_dom, _ = env.route(back.host, n=1)
    p = env.postern(conf)
    submit_dsn(p, "w@" + back_dom, "r@" + dom)
    assert len(nh.wait_for(1, WAIT)) == 1
    p.wait_log(r"dsn=\S+ kind=success", timeout=WAIT)
    d = [x for x in back.wait_for(1, WAIT) if x.mail_from == ""]
    assert len(d) == 1, p.diagnostics()
    rep = email.message_from_bytes(d[0].data)
    assert rep.get_content_type() == "multipart/report"
    assert rep.get_param("report-type") == "delivery-status"
    parts = rep.get_payload()
    groups = parts[1].get_payload()
    assert groups[0]["Original-Envelope-Id"] == "env-42"
    assert groups[1]["Action"] == "relayed"
    assert groups[1]["Status"].startswith("2.")
    assert groups[1]["Original-Recipient"].replace(" ", "") == \
        "rfc822;orig+@client.test"
    assert groups[1]["Final-Recipient"] == "rfc822; r@" + dom
