#!/usr/bin/python3
"""Serve the signed test DNS by hand (for "make run", or to try a zone):

    tests/net/dnsnet-serve.py /tmp/dns \\
        --zone 'mx.example=@ MX 10 mx1; mx1 A 127.0.2.1' \\
        --zone 'plain.example:unsigned=@ MX 10 mx1; mx1 A 127.0.2.2'

prints the postern.conf lines that resolve through it and serves until
interrupted.  Modes: signed (default), csk, unsigned, bogus, expired.
Then: tests/net/dnsq -C conf mx.example

A zone served by an nsd of its own on SERVER, its NS glue naming GLUE
(where tests/net/dnsfilter.py can stand in front of it):

    --zone 'f.example@127.0.53.54/127.0.53.53=@ MX 10 mx1; mx1 A 127.0.2.1'
    tests/net/dnsfilter.py 127.0.53.53 127.0.53.54 --drop mx1.f.example/AAAA
"""

import argparse
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import dnsnet  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="signed test DNS on loopback")
    ap.add_argument("workdir")
    ap.add_argument("--addr", default="127.0.53.1")
    ap.add_argument("--zone", action="append", default=[],
                    metavar="NAME[:MODE][@SERVER[/GLUE]]=RR; RR; ...")
    args = ap.parse_args()
    net = dnsnet.DnsNet(args.workdir, addr=args.addr)
    for spec in args.zone:
        head, _, rrs = spec.partition("=")
        head, _, where = head.partition("@")
        name, _, mode = head.partition(":")
        server, _, glue = where.partition("/")
        net.add_zone(name, [r.strip() for r in rrs.split(";") if r.strip()],
                     mode or "signed", server=server or None,
                     glue=glue or None)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    with net:
        conf = os.path.join(net.workdir, "postern.conf")
        with open(conf, "w") as f:
            f.write("\n".join(net.conf_lines()) + "\n")
        print("\n".join(net.conf_lines()))
        print("# written to %s; unbound-host -C %s" % (conf, net.unbound_conf))
        sys.stdout.flush()
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
