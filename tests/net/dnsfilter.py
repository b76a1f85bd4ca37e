#!/usr/bin/python3
"""A DNS proxy on loopback that makes chosen queries fail: between a
resolver and one authoritative server (UDP and TCP), it forwards every
query byte for byte, except those whose (name, type) it was told to
drop (no answer at all: a time-out at the resolver) or to answer with
SERVFAIL.  The answers it forwards keep their DNSSEC records, so the
rest of a signed zone still validates.

    f = DnsFilter("127.0.53.53", "127.0.53.54").start()
    f.rule("mx0.d0.example", "AAAA", "drop")        # or "servfail"
    f.seen("mx0.d0.example", "AAAA")                 # queries it saw
    f.clear()
    f.stop()

By hand (until interrupted):
    tests/net/dnsfilter.py 127.0.53.53 127.0.53.54 \\
        --drop mx0.d0.example/AAAA --servfail _25._tcp.mx0.d0.example/TLSA

Every socket has a time-out and every thread is a daemon that stop()
ends; it binds the listen address given (a loopback one) and nothing else.
"""

import argparse
import select
import signal
import socket
import struct
import sys
import threading

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype

ACTIONS = ("drop", "servfail")
BACKEND_TIMEOUT = 3.0   # seconds for the backend's answer
TCP_IDLE = 10.0         # seconds a TCP client may stay silent
POLL = 0.2              # how often the loops look at the stop flag


def _key(name, rrtype):
    name = name.strip().lower().rstrip(".") + "."
    return name, rrtype.upper()


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _read_tcp_msg(sock):
    head = _recv_exact(sock, 2)
    if head is None:
        return None
    return _recv_exact(sock, struct.unpack("!H", head)[0])


class DnsFilter:
    def __init__(self, listen, backend, port=53, backend_port=53):
        self.listen = listen
        self.port = port
        self.backend = (backend, backend_port)
        self.lock = threading.Lock()
        self.rules = {}     # (name., TYPE) -> action
        self.counts = {}    # (name., TYPE) -> queries seen
        self.failed = {}    # (name., TYPE) -> queries dropped/SERVFAILed
        self._stop = threading.Event()
        self._threads = []
        self._udp = None
        self._tcp = None

    # -- rules -----------------------------------------------------------
    def rule(self, name, rrtype, action):
        if action not in ACTIONS:
            raise ValueError("action %r not one of %s" % (action, ACTIONS))
        with self.lock:
            self.rules[_key(name, rrtype)] = action

    def clear(self):
        with self.lock:
            self.rules.clear()

    def seen(self, name, rrtype):
        with self.lock:
            return self.counts.get(_key(name, rrtype), 0)

    def failures(self, name, rrtype):
        with self.lock:
            return self.failed.get(_key(name, rrtype), 0)

    def _decide(self, wire):
        """(action or None, the query) for a query's wire form; a query
        that does not parse is dropped."""
        try:
            q = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return "drop", None
        if not q.question:
            return None, q
        k = (q.question[0].name.to_text().lower(),
             dns.rdatatype.to_text(q.question[0].rdtype))
        with self.lock:
            self.counts[k] = self.counts.get(k, 0) + 1
            action = self.rules.get(k)
            if action is not None:
                self.failed[k] = self.failed.get(k, 0) + 1
        return action, q

    @staticmethod
    def _failure(action, q):
        """The reply for a failed query: SERVFAIL, or None (no answer)."""
        if action != "servfail" or q is None:
            return None
        r = dns.message.make_response(q)
        r.set_rcode(dns.rcode.SERVFAIL)
        return r.to_wire()

    # -- UDP -------------------------------------------------------------
    def _udp_forward(self, wire):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(BACKEND_TIMEOUT)
            s.sendto(wire, self.backend)
            try:
                reply, _ = s.recvfrom(65535)
            except OSError:
                return None
        # Same id, or it is not the answer to this query.
        return reply if reply[:2] == wire[:2] else None

    def _udp_one(self, wire, client):
        action, q = self._decide(wire)
        if action is None:
            reply = self._udp_forward(wire)
        else:
            reply = self._failure(action, q)
        if reply is not None and not self._stop.is_set():
            try:
                self._udp.sendto(reply, client)
            except OSError:
                pass

    def _udp_loop(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self._udp], [], [], POLL)
            if not r:
                continue
            try:
                wire, client = self._udp.recvfrom(65535)
            except OSError:
                continue
            # One thread per query: a slow backend answer holds up no
            # other query.
            self._spawn(self._udp_one, wire, client)

    # -- TCP -------------------------------------------------------------
    def _tcp_forward(self, wire):
        try:
            with socket.create_connection(self.backend,
                                          timeout=BACKEND_TIMEOUT) as s:
                s.sendall(struct.pack("!H", len(wire)) + wire)
                return _read_tcp_msg(s)
        except OSError:
            return None

    def _tcp_client(self, conn):
        with conn:
            conn.settimeout(TCP_IDLE)
            while not self._stop.is_set():
                try:
                    wire = _read_tcp_msg(conn)
                except OSError:
                    return
                if wire is None:
                    return
                action, q = self._decide(wire)
                if action is None:
                    reply = self._tcp_forward(wire)
                else:
                    reply = self._failure(action, q)
                if reply is None:
                    # Dropped: the client times out on this connection.
                    continue
                try:
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
                except OSError:
                    return

    def _tcp_loop(self):
        while not self._stop.is_set():
            r, _, _ = select.select([self._tcp], [], [], POLL)
            if not r:
                continue
            try:
                conn, _ = self._tcp.accept()
            except OSError:
                continue
            self._spawn(self._tcp_client, conn)

    # -- life ------------------------------------------------------------
    def _spawn(self, fn, *args):
        t = threading.Thread(target=fn, args=args, daemon=True)
        t.start()
        with self.lock:
            self._threads = [x for x in self._threads if x.is_alive()]
            self._threads.append(t)

    def start(self):
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind((self.listen, self.port))
        self._tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._tcp.bind((self.listen, self.port))
        self._tcp.listen(16)
        for loop in (self._udp_loop, self._tcp_loop):
            self._spawn(loop)
        return self

    def stop(self, timeout=5.0):
        self._stop.set()
        with self.lock:
            threads = list(self._threads)
        for t in threads:
            t.join(timeout)
        for s in (self._udp, self._tcp):
            if s is not None:
                s.close()
        self._udp = self._tcp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _rule_arg(text):
    name, _, rrtype = text.rpartition("/")
    if not name or not rrtype:
        raise argparse.ArgumentTypeError("%r is not NAME/TYPE" % text)
    return name, rrtype


def main():
    ap = argparse.ArgumentParser(description="DNS proxy that fails "
                                 "chosen queries")
    ap.add_argument("listen")
    ap.add_argument("backend")
    for action in ACTIONS:
        ap.add_argument("--" + action, action="append", default=[],
                        type=_rule_arg, metavar="NAME/TYPE")
    args = ap.parse_args()
    f = DnsFilter(args.listen, args.backend)
    for action in ACTIONS:
        for name, rrtype in getattr(args, action):
            f.rule(name, rrtype, action)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    with f:
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
