"""Export throughput per sink (part of audit_bench.py): receivers on 127.0.0.1 in this process."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from guard.audit import chain
from guard.audit.store import open_store
from guard.siem.outbox import Exporter
from guard.siem.sinks import JsonLinesSink, SplunkHecSink, SyslogSink, WebhookSink


def _cert(d: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))  # fmt: skip
    c, k = d / "c.pem", d / "k.pem"
    c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    k.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return c, k


def _drain_stream(server: socket.socket, ctx: ssl.SSLContext | None) -> None:
    def run() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            if ctx:
                conn = ctx.wrap_socket(conn, server_side=True)

            def read(c: socket.socket = conn) -> None:
                with c:
                    while c.recv(1 << 20):
                        pass

            threading.Thread(target=read, daemon=True).start()

    threading.Thread(target=run, daemon=True).start()


def _udp_sink() -> tuple[socket.socket, int]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("127.0.0.1", 0))

    def run() -> None:
        while True:
            try:
                s.recv(65535)
            except OSError:
                return

    threading.Thread(target=run, daemon=True).start()
    return s, s.getsockname()[1]


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"text":"Success","code":0}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a: object) -> None:
        pass


def bench_export(n: int, repeat: int, make_events) -> dict:  # noqa: ANN001
    tmp = Path(tempfile.mkdtemp())
    store = open_store(f"sqlite:///{tmp}/audit.db")
    events = make_events(n)
    for i in range(0, n, 1000):
        chain.append(store, events[i : i + 1000])
    cert, key = _cert(tmp)
    tcp = socket.create_server(("127.0.0.1", 0))
    tls = socket.create_server(("127.0.0.1", 0))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    _drain_stream(tcp, None)
    _drain_stream(tls, ctx)
    udp, uport = _udp_sink()
    http = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    hurl = f"http://127.0.0.1:{http.server_address[1]}"
    sinks = {
        "jsonl_file": lambda: JsonLinesSink(str(tmp / "out.jsonl")),
        "syslog_udp": lambda: SyslogSink(f"udp://127.0.0.1:{uport}"),
        "syslog_tcp": lambda: SyslogSink(f"tcp://127.0.0.1:{tcp.getsockname()[1]}"),
        "syslog_tls": lambda: SyslogSink(f"tls://127.0.0.1:{tls.getsockname()[1]}", ca=cert),
        "splunk_hec": lambda: SplunkHecSink(hurl, token="bench"),
        "webhook": lambda: WebhookSink(hurl + "/hook", secret="bench"),
    }
    res = {}
    for name, make in sinks.items():
        rates = []
        for r in range(repeat):
            sink = make()
            ex = Exporter(store, sink, f"{name}-{r}", batch_size=500)
            t0 = time.perf_counter()
            assert ex.run() == n
            rates.append(n / (time.perf_counter() - t0))
            sink.close()
        res[name] = round(statistics.median(rates))
        print(f"export {name}: {res[name]} events/s", flush=True)
    # Baseline: reading the outbox alone (fetch + ECS/CEF-free), the ceiling every sink shares.
    ex = Exporter(store, JsonLinesSink("/dev/null"), "read-only")
    t0, seq, got = time.perf_counter(), 0, 0
    while batch := ex.fetch(seq):
        seq, got = batch[-1].seq, got + len(batch)
    res["outbox_read_only"] = round(got / (time.perf_counter() - t0))
    print(f"export outbox read only: {res['outbox_read_only']} events/s", flush=True)
    http.shutdown()
    for s in (tcp, tls, udp):
        s.close()
    store.close()
    return res
