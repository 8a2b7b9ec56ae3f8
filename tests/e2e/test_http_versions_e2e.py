"""Chunked and content-length bodies, keep-alive reuse, clients that offer HTTP/2: all scanned.

httpx offers ALPN ["http/1.1", "h2"] through a proxy and mitmproxy follows the client's order, so the
h2-offering client here talks HTTP/1.1; real HTTP/2 end to end is tests/e2e/test_http2_e2e.py.
"""

from __future__ import annotations

import json
import ssl
import uuid
from collections.abc import Iterator

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMAIL = "marta.kowalska@gmail.com"
TOKEN = "ghp_Q7nV2xLp8RkT4mWz9cHd3sJf6bYg1uAe5iO0"


def _body(i: int = 0) -> dict:
    return {
        "model": f"gpt-http-{uuid.uuid4().hex[:8]}",
        "messages": [{"role": "user", "content": f"Turn {i}: write to {EMAIL}, my key is {TOKEN}."}],
    }


@pytest.fixture
def h2_offering_client(guard, guard_ca) -> Iterator[httpx.Client]:
    ctx = ssl.create_default_context(cafile=str(guard_ca))
    client = httpx.Client(http2=True, proxy=guard.url, verify=ctx, trust_env=False, timeout=60)
    yield client
    client.close()


def _assert_redacted_and_restored(upstream, reply: httpx.Response, body: dict) -> None:
    assert reply.status_code == 200, reply.text
    seen = upstream.seen()
    assert EMAIL not in seen and TOKEN not in seen
    assert reply.json()["choices"][0]["message"]["content"] == "Echo: " + body["messages"][0]["content"]


def test_when_http11_body_is_chunked_then_it_is_scanned_whole(http_client, upstream):
    body = _body()
    raw = json.dumps(body).encode()

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(raw), 17):  # split mid-token, mid-value
            yield raw[i : i + 17]

    reply = http_client.post(f"https://localhost:{upstream.port}/v1/chat/completions", content=chunks(),
                             headers={"content-type": "application/json"})  # fmt: skip
    assert reply.http_version == "HTTP/1.1"
    _assert_redacted_and_restored(upstream, reply, body)


@pytest.mark.parametrize("client_fixture", ["http_client", "h2_offering_client"])
def test_when_connection_is_reused_then_every_request_is_scanned(request, client_fixture, upstream):
    client = request.getfixturevalue(client_fixture)
    for i in range(3):
        body = _body(i)
        reply = client.post(f"https://localhost:{upstream.port}/v1/chat/completions", json=body)
        _assert_redacted_and_restored(upstream, reply, body)


def _raw_through_proxy(guard, guard_ca, port: int, payload: bytes) -> bytes:
    """CONNECT through guard, TLS with guard's CA, send raw bytes; everything that comes back until close."""
    import socket

    with socket.create_connection(("127.0.0.1", guard.port), timeout=15) as sock:
        sock.sendall(f"CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        assert head.split(b" ")[1] == b"200", head
        with ssl.create_default_context(cafile=str(guard_ca)).wrap_socket(sock, server_hostname="localhost") as tls:
            tls.sendall(payload)
            data = b""
            while got := tls.recv(65536):
                data += got
            return data


def test_when_a_chunked_request_ends_with_trailers_then_guard_answers_400_and_forwards_nothing(
    guard, guard_ca, upstream
):
    body = json.dumps(_body()).encode()
    model = json.loads(body)["model"]
    payload = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost:{upstream.port}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\nX-Checksum: 1\r\n\r\n"
    )
    before = len(guard.lines)
    reply = _raw_through_proxy(guard, guard_ca, upstream.port, payload)
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert b"trailer" in reply, "the employee is told why"
    assert model not in upstream.seen() and EMAIL not in upstream.seen()
    assert "Traceback" not in "\n".join(guard.lines[before:]), "answered, not crashed"
