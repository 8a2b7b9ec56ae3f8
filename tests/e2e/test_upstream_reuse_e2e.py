"""Reused upstream connections that the server closes: re-sent once (redacted), never after a partial reply.

The upstream here loses the keep-alive race on purpose (tests/e2e/keepalive_upstream.py): a request
that arrives on a connection idle for CROSSED seconds or more is read and hung up on without a reply,
as a server does whose idle timer fired while the request was on its way. Before guard re-sent such
requests, every one of them came back to the client as mitmproxy's `502 server closed connection`.
"""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.keepalive_upstream import KeepAliveUpstream

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CROSSED = 0.3  # s of idleness after which the upstream hangs up on the next request
PAUSE = CROSSED + 0.15
EMAIL = "marta.kowalska@gmail.com"
TOKEN = "ghp_Q7nV2xLp8RkT4mWz9cHd3sJf6bYg1uAe5iO0"


@pytest.fixture(scope="module")
def racy_upstream(tls: tuple[Path, Path, Path]) -> Iterator[KeepAliveUpstream]:
    server = KeepAliveUpstream(tls[1], tls[2], crossed_close_after=CROSSED).start()
    yield server
    server.stop()


def _client(guard, guard_ca: Path) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(guard_ca))
    return httpx.Client(proxy=guard.url, verify=ctx, trust_env=False, timeout=60)


def _body(model: str, i: int) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": f"Turn {i}: mail {EMAIL}, key {TOKEN}."}]}


def _of(records: list, model: str) -> list:
    return [r for r in records if r.json.get("model") == model]


def _converse(client: httpx.Client, port: int, model: str, turns: int, statuses: list[int]) -> None:
    for i in range(turns):
        if i:
            time.sleep(PAUSE)  # the upstream connection sits idle past the server's limit
        body = _body(model, i)
        reply = client.post(f"https://localhost:{port}/v1/chat/completions", json=body)
        statuses.append(reply.status_code)
        assert reply.status_code == 200, reply.text
        assert reply.json()["choices"][0]["message"]["content"] == "Echo: " + body["messages"][0]["content"]


def test_when_reused_connection_closes_before_reply_then_request_is_resent_redacted(guard, guard_ca, racy_upstream):
    model = f"gpt-reuse-{uuid.uuid4().hex[:8]}"
    statuses: list[int] = []
    with _client(guard, guard_ca) as client:
        _converse(client, racy_upstream.port, model, 5, statuses)
    assert statuses == [200] * 5
    dropped, answered = _of(racy_upstream.dropped, model), _of(racy_upstream.received, model)
    assert len(dropped) == 4  # every reused connection lost the race...
    assert len(answered) == 5  # ...and every one of those requests was delivered once more
    seen = racy_upstream.seen()
    assert EMAIL not in seen and TOKEN not in seen  # the first attempt and the re-sent one: both redacted
    assert [r.body for r in dropped] == [r.body for r in answered[1:]]  # re-sent exactly as first sent


def test_when_many_clients_reuse_closed_connections_then_none_gets_502(guard, guard_ca, racy_upstream):
    model = f"gpt-reuse-{uuid.uuid4().hex[:8]}"
    statuses: list[int] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with _client(guard, guard_ca) as client:
                _converse(client, racy_upstream.port, model, 3, statuses)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[0]
    assert statuses == [200] * 18
    assert len(_of(racy_upstream.dropped, model)) == 12
    assert len(_of(racy_upstream.received, model)) == 18
    assert EMAIL not in racy_upstream.seen()


def test_when_reply_breaks_after_partial_bytes_then_request_is_not_resent(guard, guard_ca, racy_upstream):
    model = f"gpt-partial-{uuid.uuid4().hex[:8]}"
    url = f"https://localhost:{racy_upstream.port}/v1/chat/completions"
    with _client(guard, guard_ca) as client:
        assert client.post(url, json=_body(model, 0)).status_code == 200
        reply = client.post(url, json=_body(model, 1), headers={"x-test-break": "partial"})  # same connection
    assert len(_of(racy_upstream.received, model)) == 2  # the broken one reached the upstream once, never again
    assert not _of(racy_upstream.dropped, model)
    assert reply.status_code == 502
    message = reply.json()["error"]["message"]  # OpenAI's error shape, not mitmproxy's HTML page
    assert "no complete answer" in message and "guard reference" in message
    assert EMAIL not in message and TOKEN not in message


def test_when_resent_request_is_hung_up_on_again_then_guard_answers_once_in_provider_format(
    guard, guard_ca, racy_upstream
):
    model = f"gpt-close-{uuid.uuid4().hex[:8]}"
    url = f"https://localhost:{racy_upstream.port}/v1/chat/completions"
    with _client(guard, guard_ca) as client:
        assert client.post(url, json=_body(model, 0)).status_code == 200
        reply = client.post(url, json=_body(model, 1), headers={"x-test-break": "close"})  # reused, then fresh
    assert len(_of(racy_upstream.dropped, model)) == 2  # sent, re-sent once on a new connection, not a third time
    assert reply.status_code == 502
    assert "no complete answer" in reply.json()["error"]["message"]
    assert EMAIL not in racy_upstream.seen()
