"""`python -m guard.healthcheck`, the containers' HEALTHCHECK: healthy only when the role answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def probe(url: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "GUARD_HEALTHCHECK_URL": url,
        "HTTP_PROXY": "http://127.0.0.1:9",
        "http_proxy": "http://127.0.0.1:9",
    }
    return subprocess.run(
        [sys.executable, "-m", "guard.healthcheck"], env=env, capture_output=True, text=True, timeout=30
    )


@pytest.fixture
def http_server():
    status = {"code": 200}

    class H(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(status["code"] if self.path == "/healthz" else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}", status
    srv.shutdown()
    srv.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_when_http_endpoint_answers_2xx_then_healthy_even_with_a_proxy_set(http_server):
    base, _ = http_server
    assert probe(base + "/healthz").returncode == 0


def test_when_http_endpoint_fails_then_unhealthy_with_the_status(http_server):
    base, status = http_server
    status["code"] = 503
    p = probe(base + "/healthz")
    assert p.returncode == 1 and "HTTP 503" in p.stderr


def test_when_tcp_listener_accepts_then_healthy_and_when_gone_then_unhealthy():
    with socket.create_server(("127.0.0.1", 0)) as srv:
        assert probe(f"tcp://127.0.0.1:{srv.getsockname()[1]}").returncode == 0
    p = probe(f"tcp://127.0.0.1:{closed_port()}")
    assert p.returncode == 1 and "ConnectionRefusedError" in p.stderr
