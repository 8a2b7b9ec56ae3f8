"""plan_route + routing.client.send against a real local OpenAI-compatible server (the private model)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from guard.core import Action, Decision
from guard.policy.destinations import Destinations, PrivateDestination
from guard.providers import parse_request
from guard.routing import RouteError, plan_route
from guard.routing.client import PrivateModelUnavailable, send
from guard.routing.sse import SseReader
from tests.routing.private_server import PrivateModel

ROUTE = Decision(Action.ROUTE_PRIVATE, ("marking-en-caps",), target="internal")
PROMPT = "CONFIDENTIAL: the Q3 plan for Project Bluefin"


def _dests(url: str, **kw) -> Destinations:
    kw.setdefault("models", (("claude-*", "qwen-internal"),))
    kw.setdefault("default_model", "llama-internal")
    return Destinations(private=(PrivateDestination("internal", url, auth_header="Authorization",
                                                    auth_env="TEST_PRIVATE_KEY", auth_scheme="Bearer", **kw),))  # fmt: skip


def _parse(adapter: str, path: str, body: dict) -> object:
    headers = {
        "content-type": "application/json",
        "authorization": "Bearer sk-public-key",
        "x-api-key": "sk-ant-public",
    }
    return parse_request(adapter, "POST", path, headers, json.dumps(body).encode())


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_PRIVATE_KEY", "private-secret")


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_chat_routed_with_model_mapping_and_own_auth(stream: bool) -> None:
    with PrivateModel() as pm:
        parsed = _parse("openai", "/v1/chat/completions",
                        {"model": "gpt-4o", "stream": stream, "messages": [{"role": "user", "content": PROMPT}]})  # fmt: skip
        plan = plan_route(ROUTE, parsed, _dests(pm.url))
        assert plan.url == pm.url + "/chat/completions" and plan.private_model == "llama-internal"
        reply = await send(plan)
    got = pm.requests[0]
    assert got["path"] == "/v1/chat/completions"
    assert got["body"]["messages"][0]["content"] == PROMPT  # the original, unredacted prompt
    assert got["body"]["model"] == "llama-internal"
    assert got["headers"]["Authorization"] == "Bearer private-secret"
    assert "sk-public-key" not in json.dumps(got["headers"]) and "x-api-key" not in {k.lower() for k in got["headers"]}
    assert reply.status == 200
    if stream:
        text = "".join(json.loads(d)["choices"][0]["delta"].get("content", "") for d in SseReader().feed(reply.body)
                       if d != "[DONE]" and json.loads(d)["choices"])  # fmt: skip
    else:
        text = json.loads(reply.body)["choices"][0]["message"]["content"]
    assert text == "echo: " + PROMPT


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_messages_routed_and_translated(stream: bool) -> None:
    with PrivateModel() as pm:
        parsed = _parse("anthropic", "/v1/messages", {"model": "claude-3-5-sonnet-latest", "max_tokens": 50,
                        "stream": stream, "system": "Be brief", "messages": [{"role": "user", "content": PROMPT}]})  # fmt: skip
        reply = await send(plan_route(ROUTE, parsed, _dests(pm.url)))
    body = pm.requests[0]["body"]
    assert body["model"] == "qwen-internal" and body["messages"][1] == {"role": "user", "content": PROMPT}
    if stream:
        assert reply.headers["content-type"] == "text/event-stream"
        ev = [json.loads(d) for d in SseReader().feed(reply.body)]
        assert ev[0]["type"] == "message_start" and ev[-1]["type"] == "message_stop"
        text = "".join(e["delta"].get("text", "") for e in ev if e["type"] == "content_block_delta")
    else:
        msg = json.loads(reply.body)
        assert msg["type"] == "message" and msg["model"] == "claude-3-5-sonnet-latest"
        text = msg["content"][0]["text"]
    assert text == "echo: " + PROMPT


@pytest.mark.parametrize("path", ["/v1beta/models/gemini-1.5-pro:generateContent",
                                  "/v1beta/models/gemini-1.5-pro:streamGenerateContent?alt=sse"])  # fmt: skip
async def test_gemini_routed_and_translated(path: str) -> None:
    with PrivateModel() as pm:
        parsed = _parse("gemini", path, {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]})
        reply = await send(plan_route(ROUTE, parsed, _dests(pm.url), client_path=path))
    assert pm.requests[0]["body"]["messages"] == [{"role": "user", "content": PROMPT}]
    if "stream" in path:
        ev = [json.loads(d) for d in SseReader().feed(reply.body)]
        text = "".join(p["text"] for e in ev for p in e["candidates"][0]["content"]["parts"])
    else:
        text = json.loads(reply.body)["candidates"][0]["content"]["parts"][0]["text"]
    assert text == "echo: " + PROMPT


async def test_private_model_down_fails_fast() -> None:
    parsed = _parse(
        "openai", "/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": PROMPT}]}
    )
    plan = plan_route(ROUTE, parsed, _dests(f"http://127.0.0.1:{_dead_port()}/v1", connect_timeout_s=1.0))
    t = time.monotonic()
    with pytest.raises(PrivateModelUnavailable, match="unreachable") as err:
        await send(plan)
    assert time.monotonic() - t < 2
    assert "Bluefin" not in str(err.value) and "CONFIDENTIAL" not in str(err.value)
    assert "not responding" in plan.unavailable_message


async def test_private_model_slow_times_out_at_the_setting() -> None:
    with PrivateModel(delay_s=3) as pm:
        parsed = _parse(
            "anthropic",
            "/v1/messages",
            {"model": "claude-3", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        )
        plan = plan_route(ROUTE, parsed, _dests(pm.url, timeout_s=0.5))
        t = time.monotonic()
        with pytest.raises(PrivateModelUnavailable, match="did not answer within 0.5 s"):
            await send(plan)
        assert time.monotonic() - t < 2


async def test_private_model_5xx_is_unavailable_4xx_is_translated() -> None:
    with PrivateModel(status=503) as pm:
        parsed = _parse(
            "anthropic",
            "/v1/messages",
            {"model": "claude-3", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        )
        with pytest.raises(PrivateModelUnavailable, match="HTTP 503"):
            await send(plan_route(ROUTE, parsed, _dests(pm.url)))
    with PrivateModel(status=404) as pm:
        reply = await send(plan_route(ROUTE, parsed, _dests(pm.url)))
    assert reply.status == 404 and json.loads(reply.body)["type"] == "error"


async def test_tls_to_private_model_is_verified_with_its_own_ca(tmp_path: Path) -> None:
    from guard.testca import issue_server_cert

    good = issue_server_cert(tmp_path / "a")
    other = issue_server_cert(tmp_path / "b")
    parsed = _parse("openai", "/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": PROMPT}]})
    with PrivateModel(tls=(good.cert, good.key)) as pm:
        assert pm.url.startswith("https://")
        reply = await send(plan_route(ROUTE, parsed, _dests(pm.url, ca_file=str(good.ca))))
        assert reply.status == 200
        with pytest.raises(PrivateModelUnavailable):
            await send(plan_route(ROUTE, parsed, _dests(pm.url, ca_file=str(other.ca))))
    assert len(pm.requests) == 1  # the unverified connection never sent the prompt


def test_unroutable_formats_are_refused() -> None:
    dests = _dests("http://127.0.0.1:9/v1")
    web = parse_request("chatgpt_web", "POST", "/backend-api/conversation", {}, json.dumps(
        {"action": "next", "messages": [{"content": {"parts": ["hi"]}, "author": {"role": "user"}}]}).encode())  # fmt: skip
    with pytest.raises(RouteError, match="cannot be sent"):
        plan_route(ROUTE, web, dests)
    openai_req = _parse("openai", "/v1/chat/completions", {"model": "m", "messages": []})
    with pytest.raises(RouteError, match="not route_private"):
        plan_route(Decision(Action.REDACT), openai_req, dests)
    with pytest.raises(RouteError, match="no private model"):
        plan_route(ROUTE, openai_req, Destinations())
