"""The official openai SDK through `guard proxy` (TLS interception) to a local TLS upstream."""

from __future__ import annotations

import json
import re
import uuid

import openai
import pytest

from guard.core import mask
from tests.e2e.conftest import audit_db_bytes, audit_rows
from tests.e2e.faulty import DIE, RAISE

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAME = "Alice Johnson"
EMAIL = "alice.johnson@gmail.com"
TOKEN = "ghp_R8xK2mPq9vLw3nZt7YbC4dFh6jGs1aE5uQ0o"
PHONE = "+1 415 555 0134"
PROMPT = f"Please email {NAME} at {EMAIL} about the invoice; my token is {TOKEN}."
PLACEHOLDER = re.compile(r"\[(?:PERSON|EMAIL|PHONE|SECRET|CARD)_\d+\]")


@pytest.fixture
def oai(upstream, http_client) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"https://localhost:{upstream.port}/v1", api_key="sk-test-not-a-secret",
                         http_client=http_client, max_retries=0)  # fmt: skip


def _model() -> str:
    return f"gpt-test-{uuid.uuid4().hex[:8]}"


def _assert_clean(upstream, *values: str) -> None:
    seen = upstream.seen()
    for v in values:
        assert v not in seen, "a sensitive value reached the upstream"


def test_when_chat_has_pii_then_upstream_sees_placeholders_and_client_gets_values(oai, upstream, guard_home):
    model = _model()
    reply = oai.chat.completions.create(model=model, messages=[{"role": "user", "content": PROMPT}])
    sent = upstream.received[-1].json["messages"][0]["content"]
    _assert_clean(upstream, NAME, EMAIL, TOKEN)
    assert len(set(PLACEHOLDER.findall(sent))) == 3
    assert reply.choices[0].message.content == "Echo: " + PROMPT
    rows = audit_rows(guard_home, model)
    assert rows and rows[0]["action"] == "redact" and rows[0]["provider"] == "openai"
    assert rows[0]["endpoint"] == "chat.completions" and rows[0]["upstream_status"] == 200
    cats = {f["category"] for f in rows[0]["findings"]}
    assert {"person", "email", "secret"} <= cats
    assert all(len(f["fingerprint"]) == 64 for f in rows[0]["findings"])
    assert json.loads(rows[0]["usage"])["total_tokens"] == 18


def test_when_reply_streams_then_placeholders_split_across_events_are_restored(oai, upstream):
    stream = oai.chat.completions.create(
        model=_model(), messages=[{"role": "user", "content": PROMPT}], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    deltas = [c.choices[0].delta.content or "" for c in stream if c.choices]
    _assert_clean(upstream, NAME, EMAIL, TOKEN)
    assert "".join(deltas) == "Echo: " + PROMPT
    # The upstream sent 3-character deltas, so every placeholder arrived split across events.
    assert not any(PLACEHOLDER.search(d) for d in deltas)


def test_when_conversation_repeats_values_then_same_placeholder_every_turn(oai, upstream):
    model = _model()
    history = [{"role": "user", "content": f"Write to {EMAIL} and {NAME}."}]
    first = oai.chat.completions.create(model=model, messages=history)
    history += [
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": f"Also copy {EMAIL}, and call {PHONE}."},
    ]
    second = oai.chat.completions.create(model=model, messages=history)
    body = upstream.received[-1].json
    _assert_clean(upstream, NAME, EMAIL, PHONE)
    texts = [m["content"] for m in body["messages"]]
    email_ph = set(re.findall(r"\[EMAIL_\d+\]", " ".join(texts)))
    assert len(email_ph) == 1, "one e-mail address, one placeholder, in every message of every turn"
    assert all(next(iter(email_ph)) in t for t in texts)
    assert re.search(r"\[PHONE_\d+\]", texts[2])
    assert second.choices[0].message.content == f"Echo: Also copy {EMAIL}, and call {PHONE}."


@pytest.mark.parametrize("stream", [False, True])
def test_when_model_calls_a_tool_then_arguments_carry_real_values(oai, upstream, stream):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    msgs = [{"role": "user", "content": f"Look up {EMAIL} for {NAME}."}]
    if stream:
        args = ""
        for c in oai.chat.completions.create(model=_model(), messages=msgs, tools=tools, stream=True):
            for tc in (c.choices[0].delta.tool_calls or []) if c.choices else []:
                args += tc.function.arguments or ""
    else:
        r = oai.chat.completions.create(model=_model(), messages=msgs, tools=tools)
        args = r.choices[0].message.tool_calls[0].function.arguments
    assert json.loads(args) == {"query": f"Echo: Look up {EMAIL} for {NAME}."}
    # The tool's result goes back up: its values are redacted too.
    msgs += [
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
                                              "function": {"name": "lookup", "arguments": args}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": f"{NAME}: phone {PHONE}, token {TOKEN}"},
    ]  # fmt: skip
    final = oai.chat.completions.create(model=_model(), messages=msgs, tools=tools)
    _assert_clean(upstream, NAME, EMAIL, PHONE, TOKEN)
    assert final.choices[0].message.content == f"Echo: {NAME}: phone {PHONE}, token {TOKEN}"


@pytest.mark.parametrize("stream", [False, True])
def test_when_body_is_too_large_then_sdk_raises_readable_error(oai, upstream, stream):
    before = len(upstream.received)
    with pytest.raises(openai.BadRequestError) as err:
        oai.chat.completions.create(model=_model(), messages=[{"role": "user", "content": "x" * 100_000}], stream=stream)
    assert "larger than guard's limit" in str(err.value)
    assert len(upstream.received) == before


@pytest.mark.parametrize("trigger", [RAISE, DIE])
def test_when_detection_crashes_then_request_is_blocked(oai, upstream, guard_home, trigger):
    before = len(upstream.received)
    model = _model()
    with pytest.raises(openai.BadRequestError) as err:
        oai.chat.completions.create(model=model, messages=[{"role": "user", "content": f"{trigger} {EMAIL}"}])
    assert "detection failed" in str(err.value)
    assert EMAIL not in str(err.value)
    assert len(upstream.received) == before, "nothing is forwarded unscanned"

    rows = audit_rows(guard_home, mask(model))  # never scanned: the event stores the model masked
    assert rows and rows[0]["action"] == "block" and "detection" in rows[0]["error"]
    # The pool recovers: the next request is scanned and forwarded as usual.
    ok = oai.chat.completions.create(model=_model(), messages=[{"role": "user", "content": f"Hi {EMAIL}"}])
    assert ok.choices[0].message.content == f"Echo: Hi {EMAIL}"
    _assert_clean(upstream, EMAIL)


def test_when_host_header_names_another_site_then_request_is_blocked(http_client, upstream):
    before = len(upstream.received)
    r = http_client.post(f"https://localhost:{upstream.port}/v1/chat/completions",
                         headers={"Host": "evil.example"}, json={"model": "m", "messages": []})  # fmt: skip
    assert r.status_code == 400 and "Host header" in r.text
    assert len(upstream.received) == before


def test_audit_store_never_holds_raw_values(oai, upstream, guard_home):

    model = _model()
    oai.chat.completions.create(model=model, messages=[{"role": "user", "content": PROMPT}])
    assert audit_rows(guard_home, model)
    stored = audit_db_bytes(guard_home)
    for v in (NAME, EMAIL, TOKEN, "sk-test-not-a-secret"):
        assert v.encode() not in stored
