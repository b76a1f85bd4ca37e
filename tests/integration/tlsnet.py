"""TLS-policy test network: a test PKI made with openssl at test time, an
HTTPS MTA-STS policy server (Python's ssl + http.server), and receiving
SMTP peers that record, for every MAIL command, whether it came over TLS
(so a test checks at the peer that nothing was sent in clear).

    pki = TestCA(dir)                      # CA made once per directory
    cert, key, chain = pki.issue("mx0.d0.b61.example")
    pki.spki_sha256(cert)                   # TLSA 3 1 1 data (hex)
    pki.spki_sha256(pki.ca_cert)            # TLSA 2 1 1 data (hex)
    srv = PolicyServer("127.0.61.50", pki, "d0.b61.example",
                       "version: STSv1\\nmode: enforce\\n...")
    peer = TlsPeer("127.0.61.10", tls=(chain, key), tls_mode="hide")

Everything binds loopback addresses only and is stopped by its owner.
"""

import http.server
import os
import ssl
import subprocess
import threading

import peers
from peers import RecordingMX, _Controller, _SMTP, _tls_info


def _run(argv, **kw):
    return subprocess.run(argv, check=True, capture_output=True, timeout=60,
                          **kw)


class TestCA:
    __test__ = False
    """A test CA and the server certificates it issues (EC P-256)."""

    def __init__(self, directory, days=30):
        self.dir = str(directory)
        self.days = days
        os.makedirs(self.dir, exist_ok=True)
        self.ca_cert = os.path.join(self.dir, "ca.crt")
        self.ca_key = os.path.join(self.dir, "ca.key")
        if not os.path.exists(self.ca_cert):
            _run(["openssl", "req", "-x509", "-newkey", "ec",
                  "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", self.ca_key, "-out", self.ca_cert,
                  "-days", str(days), "-subj", "/CN=postern test CA",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def issue(self, name, days=None):
        """(cert, key, chain) for DNS name; chain is cert + CA (what a
        server sends so DANE-TA(2) finds the trust anchor)."""
        base = os.path.join(self.dir, name)
        cert, key, chain = base + ".crt", base + ".key", base + ".chain"
        if os.path.exists(chain):
            return cert, key, chain
        ext = base + ".ext"
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:%s\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n"
                    "keyUsage=critical,digitalSignature\n" % name)
        _run(["openssl", "req", "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
              "-out", base + ".csr", "-subj", "/CN=" + name])
        _run(["openssl", "x509", "-req", "-in", base + ".csr",
              "-CA", self.ca_cert, "-CAkey", self.ca_key,
              "-CAcreateserial", "-days", str(days or self.days),
              "-extfile", ext, "-out", cert])
        with open(chain, "w") as out:
            for p in (cert, self.ca_cert):
                with open(p) as f:
                    out.write(f.read())
        return cert, key, chain

    @staticmethod
    def spki_sha256(cert):
        """SHA2-256 of the certificate's SubjectPublicKeyInfo, hex."""
        pub = _run(["openssl", "x509", "-in", cert, "-noout",
                    "-pubkey"]).stdout
        der = _run(["openssl", "pkey", "-pubin", "-outform", "DER"],
                   input=pub).stdout
        out = _run(["openssl", "dgst", "-sha256", "-r"], input=der).stdout
        return out.decode().split()[0]


def make_expired_cert(directory, cn):
    """A self-signed EC certificate for cn that expired a week ago;
    returns (cert, key)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    os.makedirs(directory, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=30))
            .not_valid_after(now - datetime.timedelta(days=7))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cpath = os.path.join(directory, cn + ".expired.crt")
    kpath = os.path.join(directory, cn + ".expired.key")
    with open(cpath, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(kpath, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cpath, kpath


class PolicyServer:
    """https://mta-sts.<domain>/.well-known/mta-sts.txt on addr:port.

    policy: the body (str); status: the HTTP status to answer with;
    cert: (cert, key) to serve instead of one issued by the PKI."""

    def __init__(self, addr, pki, domain, policy, port=443, status=200,
                 cert=None):
        self.addr = addr
        self.port = port
        self.domain = domain
        self.policy = policy
        self.status = status
        self.requests = []
        self.host = "mta-sts." + domain
        if cert is None:
            c, k, chain = pki.issue(self.host)
            cert = (chain, k)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*cert)
        self.httpd = None
        self.thread = None

    def _handler(self):
        srv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                srv.requests.append((self.path, self.headers.get("Host"),
                                     self.request.server_hostname
                                     if hasattr(self.request,
                                                "server_hostname")
                                     else None))
                if self.path != "/.well-known/mta-sts.txt":
                    self.send_error(404)
                    return
                body = srv.policy.encode()
                self.send_response(srv.status)
                if 300 <= srv.status < 400:
                    self.send_header("Location",
                                     "https://%s/elsewhere" % srv.host)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        return Handler

    def start(self):
        self.httpd = http.server.ThreadingHTTPServer(
            (self.addr, self.port), self._handler())
        self.httpd.socket = self.ctx.wrap_socket(self.httpd.socket,
                                                 server_side=True)
        self.httpd.handle_error = lambda *a: None
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.2},
                                       daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(10)
            self.httpd = None


class _PolicySMTP(_SMTP):
    """Records every MAIL command with the TLS state it arrived in, and
    can hide STARTTLS from EHLO (a stripping attacker's view)."""

    async def smtp_EHLO(self, hostname):
        if self.mx.tls_mode != "hide":
            return await super().smtp_EHLO(hostname)
        ctx, self.tls_context = self.tls_context, None
        try:
            return await super().smtp_EHLO(hostname)
        finally:
            self.tls_context = ctx

    async def smtp_MAIL(self, arg):
        with self.mx.lock:
            self.mx.mail_cmds.append(_tls_info(self))
        return await super().smtp_MAIL(arg)


class _PolicyController(_Controller):
    def factory(self):
        return _PolicySMTP(self.handler, self.mx, **self.SMTP_kwargs)


class TlsPeer(RecordingMX):
    """RecordingMX that also records MAIL commands (mail_cmds: one entry
    per MAIL, None when it came in clear, else (version, cipher)).

    tls_mode: as RecordingMX, plus "hide" (STARTTLS works but is not
    advertised: what a client sees behind a stripping attacker) and
    "tls12" (TLS 1.2 at most)."""

    def __init__(self, host, port=25, **kw):
        super().__init__(host, port, **kw)
        self.mail_cmds = []

    def _ssl_context(self):
        if self.tls_mode != "tls12":
            return super()._ssl_context()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*self.tls)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def clear_mail_cmds(self):
        with self.lock:
            return [m for m in self.mail_cmds if m is None]

    def start(self):
        kw = {}
        ctx = self._ssl_context()
        if ctx is not None:
            kw["tls_context"] = ctx
        self._controller = _PolicyController(
            self, peers._Handler(self), hostname=self.host, port=self.port,
            server_hostname=self.hostname, ready_timeout=10, **kw)
        self._controller.start()
        return self
