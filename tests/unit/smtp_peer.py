#!/usr/bin/python3
"""A scripted SMTP server for the SMTP client tests.

Serves a given number of connections on a listening socket it inherits
(--fd), answers as told, and records every byte the client sends, in
clear and inside TLS, into --record.  Markers in the record:
"=== CONNECT ===" at each connection, "=== TLS ===" once TLS is up.
"""
import argparse
import socket
import ssl
import sys


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--fd", type=int, required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--connections", type=int, default=1)
    p.add_argument("--greeting", default="220 peer.test ESMTP")
    p.add_argument("--ext", default="", help="EHLO keywords, comma-separated")
    p.add_argument("--no-ehlo", action="store_true", help="502 to EHLO")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--tls-break", action="store_true",
                   help="answer the ClientHello with garbage")
    p.add_argument("--starttls-reply", default="220 2.0.0 ready")
    p.add_argument("--mail-reply", default="250 2.1.0 ok")
    p.add_argument("--rcpt", action="append", default=[],
                   help="ADDR=REPLY for one recipient")
    p.add_argument("--data-reply", default="354 go ahead")
    p.add_argument("--dot-reply", default="250 2.0.0 queued as PEER1")
    p.add_argument("--rset-reply", default="250 2.0.0 ok")
    p.add_argument("--timeout", type=float, default=10.0)
    return p.parse_args()


class Conn:
    def __init__(self, sock, args, rec):
        self.sock = sock
        self.args = args
        self.rec = rec
        self.buf = b""
        self.tls = False

    def readline(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        line += b"\n"
        self.rec.write(line)
        self.rec.flush()
        return line

    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")

    def ehlo(self):
        kws = [k for k in self.args.ext.split(",") if k]
        if self.tls:
            kws = [k for k in kws if k.upper() != "STARTTLS"]
        lines = ["peer.test"] + kws
        for i, text in enumerate(lines):
            sep = " " if i == len(lines) - 1 else "-"
            self.send("250" + sep + text)

    def starttls(self):
        self.send(self.args.starttls_reply)
        if not self.args.starttls_reply.startswith("220"):
            return True
        if self.buf:
            self.rec.write(b"=== EARLY DATA ===\n")
        self.buf = b""
        if self.args.tls_break:
            self.sock.recv(4096)
            self.sock.sendall(b"this is not TLS\r\n" * 4)
            return False
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.args.cert, self.args.key)
        self.sock = ctx.wrap_socket(self.sock, server_side=True)
        self.tls = True
        self.rec.write(b"=== TLS ===\n")
        return True

    def data(self):
        self.send(self.args.data_reply)
        if not self.args.data_reply.startswith("354"):
            return True
        while True:
            line = self.readline()
            if line is None:
                return False
            if line == b".\r\n":
                break
        self.send(self.args.dot_reply)
        return True

    def rcpt(self, line):
        addr = line.split(b"<", 1)[-1].split(b">", 1)[0].decode("utf-8",
                                                                 "replace")
        for r in self.args.rcpt:
            a, reply = r.split("=", 1)
            if a == addr:
                self.send(reply)
                return
        self.send("250 2.1.5 ok")

    def serve(self):
        self.send(self.args.greeting)
        if not self.args.greeting.startswith("220"):
            return
        while True:
            line = self.readline()
            if line is None:
                return
            verb = line.split()[0].upper() if line.split() else b""
            if verb == b"EHLO":
                if self.args.no_ehlo:
                    self.send("502 5.5.2 no EHLO here")
                else:
                    self.ehlo()
            elif verb == b"HELO":
                self.send("250 peer.test")
            elif verb == b"STARTTLS":
                if not self.starttls():
                    return
            elif verb == b"MAIL":
                self.send(self.args.mail_reply)
            elif verb == b"RCPT":
                self.rcpt(line)
            elif verb == b"DATA":
                if not self.data():
                    return
            elif verb == b"RSET":
                self.send(self.args.rset_reply)
            elif verb == b"QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("500 5.5.1 unknown command")


def main():
    args = parse_args()
    lsock = socket.socket(fileno=args.fd)
    lsock.settimeout(args.timeout)
    with open(args.record, "ab") as rec:
        for _ in range(args.connections):
            try:
                sock, _ = lsock.accept()
            except socket.timeout:
                return 1
            sock.settimeout(args.timeout)
            rec.write(b"=== CONNECT ===\n")
            conn = Conn(sock, args, rec)
            try:
                conn.serve()
            except (OSError, ssl.SSLError) as e:
                rec.write(("=== ERROR %s ===\n" % e).encode())
            finally:
                conn.sock.close()
                sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
