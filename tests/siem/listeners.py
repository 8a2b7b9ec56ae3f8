"""Real receivers for the SIEM tests: syslog over UDP/TCP/TLS and an HTTP collector, all on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (it is its own CA); returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "guard-test-siem")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    c, k = directory / "cert.pem", directory / "key.pem"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return c, k


class SyslogListener:
    """Collect syslog messages: one per UDP datagram, or octet-counted frames on TCP/TLS."""

    def __init__(self, proto: str, cert: tuple[Path, Path] | None = None) -> None:
        self.proto = proto
        self.messages: list[bytes] = []
        self._cv = threading.Condition()
        if proto == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
        else:
            self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._ctx = None
        if proto == "tls":
            self._ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ctx.load_cert_chain(*cert)
        self._threads = [threading.Thread(target=self._serve, daemon=True)]
        self._threads[0].start()

    @property
    def url(self) -> str:
        return f"{self.proto}://127.0.0.1:{self.port}"

    def _add(self, m: bytes) -> None:
        with self._cv:
            self.messages.append(m)
            self._cv.notify_all()

    def _serve(self) -> None:
        while True:
            try:
                if self.proto == "udp":
                    data, _ = self.sock.recvfrom(65535)
                    self._add(data)
                    continue
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self._ctx:
                try:
                    conn = self._ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    conn.close()
                    continue
            threading.Thread(target=self._read_frames, args=(conn,), daemon=True).start()

    def _read_frames(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while b" " in buf:
                    length, rest = buf.split(b" ", 1)
                    n = int(length)  # RFC 6587 octet counting: "LEN SP MSG"
                    if len(rest) < n:
                        break
                    self._add(rest[:n])
                    buf = rest[n:]

    def wait(self, n: int, timeout: float = 10.0) -> list[bytes]:
        with self._cv:
            assert self._cv.wait_for(lambda: len(self.messages) >= n, timeout), f"got {len(self.messages)} of {n}"
            return list(self.messages)

    def close(self) -> None:
        # shutdown wakes the thread blocked in accept(); close alone would leave the port listening
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


SYSLOG_RE = re.compile(rb"^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[[^\]]*\]) (.*)$", re.S)


def parse_5424(m: bytes) -> dict:
    """Split an RFC 5424 message into its header fields, structured data and message."""
    g = SYSLOG_RE.match(m)
    assert g, m[:200]
    pri = int(g.group(1))
    return {
        "facility": pri // 8,
        "severity": pri % 8,
        "timestamp": g.group(2).decode(),
        "hostname": g.group(3).decode(),
        "app": g.group(4).decode(),
        "procid": g.group(5).decode(),
        "msgid": g.group(6).decode(),
        "sd": g.group(7).decode(),
        "msg": g.group(8).decode(),
    }


def parse_cef(line: str) -> tuple[list[str], dict[str, str]]:
    """Parse a CEF line into its 7 header fields and its extension dict, undoing the escapes."""
    assert line.startswith("CEF:")
    header, i, cur = [], 4, ""
    while len(header) < 7:
        c = line[i]
        if c == "\\":
            cur += line[i + 1]
            i += 2
            continue
        if c == "|":
            header.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    ext_text = line[i:]
    # keys start after an unescaped space: " key=" where '=' is not escaped
    starts = [m.start(1) for m in re.finditer(r"(?:^| )(\w+)=", ext_text)]
    ext = {}
    for j, s in enumerate(starts):
        end = starts[j + 1] - 1 if j + 1 < len(starts) else len(ext_text)
        key, _, raw = ext_text[s:end].partition("=")
        val = re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m.group(1), m.group(1)), raw)
        ext[key] = val
    return header, ext


class Collector:
    """An HTTP server that stores every POST and answers with scripted status codes (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail_next: list[int] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = collector.fail_next.pop(0) if collector.fail_next else 200
                if status == 200:
                    collector.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                reply = json.dumps(
                    {"text": "Success" if status == 200 else "Unavailable", "code": 0 if status == 200 else 9}
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *a) -> None:  # keep test output quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
