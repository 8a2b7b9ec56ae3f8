"""Reused upstream connections that the server closes: re-sent once (redacted), never after a partial reply.

The upstream here loses the keep-alive race on purpose (tests/e2e/keepalive_upstream.py): a request
that arrives on a connection idle for CROSSED seconds or more is read and hung up on without a reply,
as a server does whose idle timer fired while the request was on its way. Before guard re-sent such
requests, every one of them came back to the client as mitmproxy's `502 server closed connection`.
What cannot be re-sent is answered 502 in the provider's error format as an upstream error (OpenAI
code `guard_upstream_error`, Anthropic `api_error`), never worded as a block: nothing was blocked.
"""

from __future__ import annotations

import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
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
    error = reply.json()["error"]  # OpenAI's error shape, not mitmproxy's HTML page
    assert error["code"] == "guard_upstream_error" and error["type"] == "server_error"  # not worded as a block
    assert "no complete answer" in error["message"] and "guard reference" in error["message"]
    assert "blocked" not in error["message"]
    assert EMAIL not in error["message"] and TOKEN not in error["message"]


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
    assert reply.json()["error"]["code"] == "guard_upstream_error"
    assert "no complete answer" in reply.json()["error"]["message"]
    assert EMAIL not in racy_upstream.seen()


def test_when_the_upstream_breaks_then_the_openai_sdk_raises_a_server_error_not_a_block(guard, guard_ca, racy_upstream):
    model = f"gpt-sdk-{uuid.uuid4().hex[:8]}"
    with _client(guard, guard_ca) as http:
        client = openai.OpenAI(base_url=f"https://localhost:{racy_upstream.port}/v1", api_key="sk-test",
                               http_client=http, max_retries=0)  # fmt: skip
        with pytest.raises(openai.InternalServerError) as info:
            client.chat.completions.create(**_body(model, 0), extra_headers={"x-test-break": "partial"})
    assert info.value.status_code == 502
    assert info.value.code == "guard_upstream_error" and info.value.type == "server_error"
    assert "no complete answer" in info.value.message and EMAIL not in info.value.message
    assert len(_of(racy_upstream.received, model)) == 1


def test_when_the_upstream_breaks_then_the_anthropic_sdk_raises_an_api_error_not_invalid_request(
    guard, guard_ca, racy_upstream
):
    model = f"claude-sdk-{uuid.uuid4().hex[:8]}"
    # The anthropic SDK brings its own HTTP client (httpx2); 127.0.0.1 is the test rules' anthropic host.
    http = anthropic.DefaultHttpxClient(proxy=guard.url, verify=ssl.create_default_context(cafile=str(guard_ca)),
                                        trust_env=False)  # fmt: skip
    with anthropic.Anthropic(base_url=f"https://127.0.0.1:{racy_upstream.port}", api_key="sk-ant-test",
                             http_client=http, max_retries=0) as client:  # fmt: skip
        with pytest.raises(anthropic.InternalServerError) as info:
            client.messages.create(model=model, max_tokens=10, messages=[{"role": "user", "content": f"mail {EMAIL}"}],
                                   extra_headers={"x-test-break": "partial"})  # fmt: skip
    assert info.value.status_code == 502
    assert info.value.body["type"] == "error" and info.value.body["error"]["type"] == "api_error"
    assert "no complete answer" in info.value.body["error"]["message"]
    assert EMAIL not in str(info.value.body) and EMAIL not in racy_upstream.seen()
