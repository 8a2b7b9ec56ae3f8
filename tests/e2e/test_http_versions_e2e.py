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
