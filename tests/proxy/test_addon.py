"""The mitmproxy addon with mitmproxy's own test kit (taddons, tflow): every path blocks or forwards as it should."""

from __future__ import annotations

import json

import pytest
from mitmproxy.test import taddons, tflow, tutils

from guard.addon import GuardAddon
from guard.audit_jsonl import JsonlAuditSink
from guard.hosts import load_destinations
from guard.pipeline import Pipeline
from guard.policy import DefaultPolicy
from tests.proxy.test_pipeline import ExplodingPolicy

pytestmark = pytest.mark.slow
EMAIL = "ivan.petrov@gmail.com"


@pytest.fixture
def make_addon(pool, tmp_path):
    sinks = []

    def make(policy=None, body_limit=1 << 20):
        sink = JsonlAuditSink(tmp_path / "audit.jsonl")
        sinks.append(sink)
        p = Pipeline(load_destinations(), pool, policy or DefaultPolicy(), sink, b"k", body_limit=body_limit)
        return GuardAddon(p, identity_header="x-user")

    yield make
    for s in sinks:
        s.close()


def flow(host="api.openai.com", content=None, headers=()):
    body = content if content is not None else json.dumps(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": f"mail {EMAIL}"}]}).encode()  # fmt: skip
    req = tutils.treq(host=host, port=443, scheme=b"https", method=b"POST", path=b"/v1/chat/completions",
                      headers=[(b"content-type", b"application/json"), *headers], content=body)  # fmt: skip
    return tflow.tflow(req=req)


async def run_request(addon, f):
    with taddons.context(addon):
        addon.requestheaders(f)
        await addon.request(f)
    return f


async def test_when_host_is_guarded_then_body_is_redacted(make_addon):
    f = await run_request(make_addon(), flow())
    assert f.response is None and EMAIL not in f.request.get_text() and "[EMAIL_1]" in f.request.get_text()
    assert f.request.headers["accept-encoding"] == "identity"


async def test_when_host_is_not_guarded_then_flow_is_untouched(make_addon):
    f = await run_request(make_addon(), flow(host="example.org"))
    assert f.response is None and EMAIL in f.request.get_text()


async def test_when_policy_crashes_then_flow_is_blocked_not_forwarded(make_addon):
    f = await run_request(make_addon(ExplodingPolicy()), flow())
    assert f.response is not None and f.response.status_code == 400
    assert "policy failed" in f.response.get_text() and EMAIL not in f.response.get_text()


async def test_when_content_length_exceeds_limit_then_blocked_before_body(make_addon):
    f = flow(content=b"x" * 5000, headers=[(b"content-length", b"5000")])
    addon = make_addon(body_limit=1000)
    with taddons.context(addon):
        addon.requestheaders(f)
    assert f.response is not None and "larger than guard's limit" in f.response.get_text()


async def test_when_host_header_differs_from_connection_then_blocked(make_addon):
    f = flow()
    f.request.headers["host"] = "cdn.example.net"
    await run_request(make_addon(), f)
    assert f.response is not None and "Host header" in f.response.get_text()


async def test_when_websocket_upgrade_to_llm_host_then_blocked(make_addon):
    f = await run_request(make_addon(), flow(headers=[(b"upgrade", b"websocket")]))
    assert f.response is not None and "WebSocket" in f.response.get_text()


async def test_when_reply_is_sse_then_it_streams_through_the_restorer(make_addon):
    addon = make_addon()
    f = await run_request(addon, flow())
    f.response = tutils.tresp(headers=[(b"content-type", b"text/event-stream")], content=b"")
    with taddons.context(addon):
        addon.responseheaders(f)
        s = f.response.stream
        assert callable(s)
        assert s(b'data: {"choices":[{"delta":{"content":"[EMA') == []  # held back mid-stream: [] not b""
        out = s(b'IL_1]"}}]}\n\n') + s(b"")
        addon.response(f)
    assert EMAIL.encode() in out
