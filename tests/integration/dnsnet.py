"""A signed test DNS on loopback: a DNSSEC-signed root "." with delegations
to test zones, served by nsd on one 127.x address, so that libunbound in
postern does full recursion from a root-hints file and validates from a
trust-anchor file exactly as it would on the Internet.

    net = DnsNet(workdir)                 # nsd on 127.0.53.1:53
    net.add_zone("mx.example", ["@ MX 10 mx1", "mx1 A 127.0.2.1"])
    net.add_zone("plain.example", ["@ MX 10 mx1", "mx1 A 127.0.2.2"],
                 mode="unsigned")
    net.start()
    net.add_mx("d0.b61.example", [("mx0.d0.b61.example", "127.0.61.10")])
    conf_lines = net.conf_lines()         # resolver keys for postern.conf
    net.stop()

Zone modes (RFC 4035 §4.3 outcomes):
  signed    KSK + ZSK, DS in the parent                  -> secure
  csk       one combined key, DS in the parent           -> secure
  unsigned  not signed, no DS in the parent (insecure delegation) -> insecure
  bogus     signed, but the parent's DS is of a key that signed nothing
  expired   signed with signatures whose validity ended days ago
Zones whose top-level domain is not given are made (signed) so that every
delegation is one label deep under its parent.

A zone can be served by an nsd of its own instead of the main one:

    net.add_zone("f.example", server="127.0.53.54", glue="127.0.53.53")

serves f.example only from 127.0.53.54, while the parent's NS glue (and
the zone's own NS address) name 127.0.53.53, where a test puts a proxy
that forwards to 127.0.53.54 (tests/net/dnsfilter.py).  Only such a
separate server makes the resolver ask the proxy: an nsd that also holds
the parent answers the child's names itself.  Records are zone-file lines
relative to the zone's origin; absolute names end with a dot.  Changes made
after start() are served at once (nsd reloads; this waits for the new
serial).
"""

import os
import signal
import subprocess
import time

import dns.message
import dns.query
import dns.rdatatype

NS_LABEL = "dnsnet-ns"
MODES = ("signed", "csk", "unsigned", "bogus", "expired")
DAY = 86400


def _fqdn(name):
    name = name.strip().lower()
    if name in ("", "."):
        return "."
    return name.rstrip(".") + "."


def _parent_of(zone, zones):
    """The longest zone in zones that is a proper suffix of zone."""
    best = "."
    for z in zones:
        if z == zone or z == ".":
            continue
        if zone.endswith("." + z) and len(z) > len(best):
            best = z
    return best if zone != "." else None


def _stamp(t):
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(t))


class DnsNetError(Exception):
    pass


class Zone:
    def __init__(self, name, mode, server=None, glue=None):
        if mode not in MODES:
            raise ValueError("zone %s: mode %r not one of %s"
                             % (name, mode, ", ".join(MODES)))
        self.name = name
        self.mode = mode
        self.server = server    # its own nsd's address, None: the main one
        self.glue = glue or server  # the NS address resolvers are given
        self.records = []
        self.keys = []      # base names of the signing keys
        self.ds_key = None  # base name of the key whose DS the parent holds
        self.ds = []        # DS lines for the parent

    @property
    def signed(self):
        return self.mode != "unsigned"


class DnsNet:
    def __init__(self, workdir, addr="127.0.53.1", zones=None, modes=None):
        self.workdir = os.path.abspath(str(workdir))
        self.addr = addr
        self.port = 53
        self.zones = {}
        self.proc = None
        self.procs = {}     # server address -> nsd of the separate zones
        self.serial = int(time.time()) & 0x7fffffff
        self._served = set()
        self._mtime = 0
        self.zonedir = os.path.join(self.workdir, "zones")
        self.keydir = os.path.join(self.workdir, "keys")
        for d in (self.workdir, self.zonedir, self.keydir):
            os.makedirs(d, exist_ok=True)
        self.root_hints = os.path.join(self.workdir, "root.hints")
        self.trust_anchor = os.path.join(self.workdir, "root.ds")
        self.unbound_conf = os.path.join(self.workdir, "unbound.conf")
        self.nsd_conf = os.path.join(self.workdir, "nsd.conf")
        self.nsd_log = os.path.join(self.workdir, "nsd.log")
        self.add_zone(".")
        for name, records in (zones or {}).items():
            self.add_zone(name, records, (modes or {}).get(name, "signed"))

    # -- zone data ------------------------------------------------------
    def add_zone(self, name, records=(), mode="signed", server=None,
                 glue=None):
        """A zone delegated from its parent (made if it is a missing
        top-level domain).  records: zone-file lines, origin = the zone.
        server: serve it from a separate nsd on that address; glue: the
        address its NS records name (default: server)."""
        name = _fqdn(name)
        if name == "." and (server or glue):
            raise ValueError("the root is served by the main nsd")
        if name not in self.zones:
            self.zones[name] = Zone(name, mode, server, glue)
        else:
            self.zones[name].mode = mode
        self.zones[name].records.extend(records)
        if name != ".":
            tld = name.rstrip(".").rsplit(".", 1)[-1] + "."
            if tld not in self.zones:
                self.zones[tld] = Zone(tld, "signed")
        self._changed()
        return self.zones[name]

    def zone_for(self, owner):
        """The deepest zone that holds owner."""
        owner = _fqdn(owner)
        if owner in self.zones:
            return self.zones[owner]
        return self.zones[_parent_of(owner, self.zones)]

    def add_records(self, records):
        """Records with absolute owner names, each put in the deepest zone
        that holds its owner."""
        for rr in records:
            owner = rr.split()[0]
            if not owner.endswith("."):
                raise ValueError("add_records: owner of %r is not absolute"
                                 % rr)
            self.zone_for(owner).records.append(rr)
        self._changed()

    def add_mx(self, domain, hosts, implicit_addrs=()):
        """MX records for domain: hosts is [(name, addr)] in preference
        order (preferences 10, 20, ...) or [(name, addr, pref)]."""
        d = _fqdn(domain)
        rrs = []
        for i, h in enumerate(hosts):
            name, addr = _fqdn(h[0]), h[1]
            pref = h[2] if len(h) > 2 else 10 * (i + 1)
            rrs.append("%s 300 IN MX %d %s" % (d, pref, name))
            if addr:
                rrs.append(self._addr_rr(name, addr))
        for a in implicit_addrs:
            rrs.append(self._addr_rr(d, a))
        self.add_records(rrs)

    @staticmethod
    def _addr_rr(name, addr):
        return "%s 300 IN %s %s" % (name, "AAAA" if ":" in addr else "A",
                                    addr)

    # -- building -------------------------------------------------------
    def _run(self, argv, cwd=None):
        p = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
        if p.returncode != 0:
            raise DnsNetError("%s: %s" % (" ".join(argv), p.stderr.strip()))
        return p.stdout

    def _keygen(self, zone, ksk):
        argv = ["ldns-keygen", "-a", "ECDSAP256SHA256"]
        if ksk:
            argv.append("-k")
        return self._run(argv + [zone.name], cwd=self.keydir).strip()

    def _make_keys(self, zone):
        if zone.keys or not zone.signed:
            return
        if zone.mode == "csk":
            zone.keys = [self._keygen(zone, True)]
        else:
            zone.keys = [self._keygen(zone, True), self._keygen(zone, False)]
        zone.ds_key = zone.keys[0]
        if zone.mode == "bogus":
            # A key that signs nothing: its DS in the parent cannot match.
            zone.ds_key = self._keygen(zone, True)
        zone.ds = [line for line in self._run(
            ["ldns-key2ds", "-n", "-2", zone.ds_key + ".key"],
            cwd=self.keydir).splitlines() if line.strip()]

    def _zone_text(self, zone):
        ns = "%s.%s" % (NS_LABEL, zone.name) if zone.name != "." \
            else NS_LABEL + "."
        lines = [
            "$ORIGIN %s" % zone.name,
            "$TTL 300",
            "@ IN SOA %s hostmaster.%s %d 3600 600 86400 300"
            % (ns, NS_LABEL + "." if zone.name == "." else zone.name,
               self.serial),
            "@ IN NS %s" % ns,
            "%s IN A %s" % (ns, self._ns_addr(zone)),
        ]
        for child in sorted(self.zones.values(), key=lambda z: z.name):
            if child.name == "." or \
                    _parent_of(child.name, self.zones) != zone.name:
                continue
            cns = "%s.%s" % (NS_LABEL, child.name)
            lines.append("%s IN NS %s" % (child.name, cns))
            lines.append("%s IN A %s" % (cns, self._ns_addr(child)))
            if child.signed:
                lines.extend(child.ds)
        lines.extend(zone.records)
        return "\n".join(lines) + "\n"

    def _ns_addr(self, zone):
        return zone.glue or self.addr

    def _backend(self, zone):
        """The address of the nsd that holds zone."""
        return zone.server or self.addr

    def _servers(self):
        """Addresses of the separate nsds."""
        return sorted({z.server for z in self.zones.values() if z.server})

    def _zone_file(self, zone):
        base = "root" if zone.name == "." else zone.name.rstrip(".")
        return os.path.join(self.zonedir, base + ".zone")

    def _sign(self, zone, path):
        now = int(time.time())
        if zone.mode == "expired":
            # Past unbound's allowed clock skew (at most a day).
            inception, expiration = now - 40 * DAY, now - 3 * DAY
        else:
            inception, expiration = now - 3600, now + 30 * DAY
        self._run(["ldns-signzone", "-o", zone.name, "-i", _stamp(inception),
                   "-e", _stamp(expiration), "-f", path + ".signed", path]
                  + [os.path.join(self.keydir, k) for k in zone.keys])
        return path + ".signed"

    def _build(self):
        self.serial += 1
        for z in self.zones.values():
            self._make_keys(z)
        served = {}
        for z in self.zones.values():
            path = self._zone_file(z)
            with open(path, "w") as f:
                f.write(self._zone_text(z))
            served[z.name] = self._sign(z, path) if z.signed else path
        root = self.zones["."]
        with open(self.trust_anchor, "w") as f:
            f.write("\n".join(root.ds) + "\n")
        with open(self.root_hints, "w") as f:
            f.write(".\t3600000\tIN\tNS\t%s.\n%s.\t3600000\tIN\tA\t%s\n"
                    % (NS_LABEL, NS_LABEL, self.addr))
        self._write_nsd_conf(self.addr, {
            n: f for n, f in served.items()
            if self.zones[n].server is None}, self.nsd_conf, self.nsd_log,
            "")
        for addr in self._servers():
            self._write_nsd_conf(addr, {
                n: f for n, f in served.items()
                if self.zones[n].server == addr}, *self._nsd_files(addr))
        self._write_unbound_conf()
        return served

    def _nsd_files(self, addr):
        """(conf, log, file suffix) of the separate nsd on addr."""
        tag = "-" + addr.replace(".", "_").replace(":", "_")
        return (os.path.join(self.workdir, "nsd%s.conf" % tag),
                os.path.join(self.workdir, "nsd%s.log" % tag), tag)

    def _write_nsd_conf(self, addr, served, conf, log, tag):
        def state(name):
            return os.path.join(self.workdir, name % tag)

        server = [
            "server:",
            "\tip-address: %s@%d" % (addr, self.port),
            "\tport: %d" % self.port,
            '\tusername: ""',
            '\tchroot: ""',
            '\tdatabase: ""',
            "\tzonesdir: \"%s\"" % self.zonedir,
            "\tzonelistfile: \"%s\"" % state("zone%s.list"),
            "\txfrdfile: \"%s\"" % state("xfrd%s.state"),
            "\txfrdir: \"%s\"" % self.workdir,
            "\tpidfile: \"%s\"" % state("nsd%s.pid"),
            "\tlogfile: \"%s\"" % log,
            "\tserver-count: 1",
            "\tverbosity: 1",
            "\tzonefiles-write: 0",
            "remote-control:",
            "\tcontrol-enable: no",
        ]
        for name in sorted(served):
            server += ["zone:", "\tname: \"%s\"" % name,
                       "\tzonefile: \"%s\"" % served[name]]
        with open(conf, "w") as f:
            f.write("\n".join(server) + "\n")

    def resolver_options(self):
        """resolver_option values postern needs besides hints and anchor:
        the test servers live on 127.0.0.0/8, which unbound refuses to
        query by default."""
        return ["do-not-query-localhost: no"]

    def conf_lines(self):
        """postern.conf lines that make postern resolve through this DNS."""
        return ["resolver = recursive",
                "resolver_root_hints = %s" % self.root_hints,
                "resolver_trust_anchor = %s" % self.trust_anchor] + \
            ["resolver_option = %s" % o for o in self.resolver_options()]

    def _write_unbound_conf(self):
        lines = ["server:",
                 "\troot-hints: \"%s\"" % self.root_hints,
                 "\ttrust-anchor-file: \"%s\"" % self.trust_anchor,
                 "\tchroot: \"\"", "\tusername: \"\"",
                 "\tpidfile: \"\"", "\tdirectory: \"%s\"" % self.workdir]
        lines += ["\t" + o for o in self.resolver_options()]
        with open(self.unbound_conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- serving --------------------------------------------------------
    def _spawn_nsd(self, conf, log_path):
        log = open(log_path, "a")
        try:
            return subprocess.Popen(
                ["nsd", "-d", "-c", conf], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()

    def start(self, timeout=15.0):
        if self.proc is not None:
            return self
        served = self._build()
        self._served = set(served)
        self.proc = self._spawn_nsd(self.nsd_conf, self.nsd_log)
        try:
            for addr in self._servers():
                conf, log, _tag = self._nsd_files(addr)
                self.procs[addr] = self._spawn_nsd(conf, log)
            self._wait_serial(timeout)
        except Exception:
            self.stop()
            raise
        return self

    def _all_procs(self):
        return [(self.nsd_log, self.proc)] + [
            (self._nsd_files(a)[1], p) for a, p in sorted(self.procs.items())]

    def _changed(self):
        if self.proc is None:
            return
        if set(self.zones) != self._served or \
                set(self._servers()) != set(self.procs):
            # A new zone needs a new nsd.conf: restart.
            self.stop()
            self.start()
            return
        self._build()
        self._touch()
        for _log, p in self._all_procs():
            p.send_signal(signal.SIGHUP)
        self._wait_serial(15.0)

    def _touch(self):
        # nsd reloads a zone file whose mtime changed; make sure it did
        # even when rewritten within the clock's resolution.
        self._mtime = max(self._mtime + 1, time.time() + 1)
        t = self._mtime
        for name in os.listdir(self.zonedir):
            os.utime(os.path.join(self.zonedir, name), (t, t))

    def _serial(self, zone):
        # Asked at the nsd that holds the zone, never through a proxy
        # in front of it (which may be told to drop the query).
        q = dns.message.make_query(zone, dns.rdatatype.SOA)
        try:
            r = dns.query.udp(q, self._backend(self.zones[zone]),
                              port=self.port, timeout=0.5)
        except Exception:
            return None
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.SOA:
                return rrset[0].serial
        return None

    def _wait_serial(self, timeout):
        """Until every zone answers with the serial just built."""
        deadline = time.monotonic() + timeout
        pending = set(self.zones)
        while pending:
            for log, p in self._all_procs():
                if p.poll() is not None:
                    raise DnsNetError("nsd exited with %d: %s" % (
                        p.returncode, self._log_tail(log)))
            for z in sorted(pending):
                if self._serial(z) == self.serial:
                    pending.discard(z)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise DnsNetError("nsd does not serve %s with serial %d: %s"
                                  % (", ".join(sorted(pending)), self.serial,
                                     " | ".join(self._log_tail(log) for
                                                log, _p in
                                                self._all_procs())))
            time.sleep(0.05)

    def _log_tail(self, path=None, n=20):
        try:
            with open(path or self.nsd_log) as f:
                return " | ".join(f.read().splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self, timeout=10.0):
        if self.proc is None:
            return
        procs = [p for _log, p in self._all_procs()]
        self.proc, self.procs = None, {}
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout)

    close = stop

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- checking -------------------------------------------------------
    def unbound_host(self, name, rrtype="A", timeout=30):
        """unbound-host's verdict, as the reference for postern's."""
        p = subprocess.run(["unbound-host", "-C", self.unbound_conf, "-v",
                            "-t", rrtype, name], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
        return p.stdout
