"""The official anthropic SDK through `guard proxy` (TLS interception) to a local TLS upstream."""

from __future__ import annotations

import re
import ssl
import uuid

import anthropic
import pytest

from tests.e2e.conftest import audit_rows
from tests.e2e.faulty import DIE

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NAME = "Alice Johnson"
EMAIL = "alice.johnson@gmail.com"
CARD = "4539 1488 0343 6467"
PROMPT = f"Refund {NAME} ({EMAIL}) on card {CARD}."
TOOLS = [{"name": "lookup", "description": "Look a customer up.", "input_schema": {"type": "object"}}]


@pytest.fixture
def claude(upstream, guard, guard_ca):
    # The anthropic SDK brings its own HTTP client (httpx2); it goes through guard and trusts guard's CA.
    http = anthropic.DefaultHttpxClient(proxy=guard.url, verify=ssl.create_default_context(cafile=str(guard_ca)),
                                        trust_env=False)  # fmt: skip
    # The anthropic destination of the test rules is 127.0.0.1 (localhost is the openai one).
    client = anthropic.Anthropic(base_url=f"https://127.0.0.1:{upstream.port}", api_key="sk-ant-test-not-a-secret",
                                 http_client=http, max_retries=0, timeout=60)  # fmt: skip
    yield client
    client.close()


def _model() -> str:
    return f"claude-test-{uuid.uuid4().hex[:8]}"


def _assert_clean(upstream, *values: str) -> None:
    seen = upstream.seen()
    for v in values:
        assert v not in seen, "a sensitive value reached the upstream"


def test_when_message_has_pii_then_upstream_sees_placeholders_and_client_gets_values(claude, upstream, guard_home):
    model = _model()
    msg = claude.messages.create(model=model, max_tokens=100, system=f"The customer is {NAME}.",
                                 messages=[{"role": "user", "content": PROMPT}])  # fmt: skip
    body = upstream.received[-1].json
    _assert_clean(upstream, NAME, EMAIL, CARD)
    assert re.search(r"\[PERSON_\d+\]", body["system"])
    assert msg.content[0].text == "Echo: " + PROMPT
    rows = audit_rows(guard_home, model)
    assert rows and rows[0]["provider"] == "anthropic" and rows[0]["endpoint"] == "messages"
    assert {"person", "email", "payment_card"} <= {f["category"] for f in rows[0]["findings"]}


def test_when_reply_streams_then_text_deltas_are_restored(claude, upstream):
    with claude.messages.stream(model=_model(), max_tokens=100, messages=[{"role": "user", "content": PROMPT}]) as s:
        pieces = list(s.text_stream)
        final = s.get_final_message()
    _assert_clean(upstream, NAME, EMAIL, CARD)
    assert "".join(pieces) == "Echo: " + PROMPT
    assert final.content[0].text == "Echo: " + PROMPT
    assert not any("[" in p and "]" in p for p in pieces), "placeholders arrived split across events"


def test_when_tool_use_streams_then_input_json_is_restored_and_tool_result_redacted(claude, upstream):
    msgs = [{"role": "user", "content": f"Find {EMAIL}"}]
    with claude.messages.stream(model=_model(), max_tokens=100, messages=msgs, tools=TOOLS) as s:
        final = s.get_final_message()
    tool = next(b for b in final.content if b.type == "tool_use")
    assert tool.input == {"query": f"Echo: Find {EMAIL}"}
    msgs += [
        {"role": "assistant", "content": [{"type": "tool_use", "id": tool.id, "name": "lookup", "input": tool.input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": f"{NAME}, {CARD}"}]},
    ]
    reply = claude.messages.create(model=_model(), max_tokens=100, messages=msgs, tools=TOOLS)
    _assert_clean(upstream, NAME, EMAIL, CARD)
    assert reply.content[0].text == f"Echo: {NAME}, {CARD}"


@pytest.mark.parametrize("stream", [False, True])
def test_when_request_is_blocked_then_sdk_raises_readable_error(claude, upstream, stream):
    before = len(upstream.received)
    with pytest.raises(anthropic.BadRequestError) as err:
        if stream:
            with claude.messages.stream(model=_model(), max_tokens=10,
                                        messages=[{"role": "user", "content": "y" * 100_000}]) as s:  # fmt: skip
                s.get_final_message()
        else:
            claude.messages.create(model=_model(), max_tokens=10, messages=[{"role": "user", "content": "y" * 100_000}])
    assert "larger than guard's limit" in str(err.value)
    assert len(upstream.received) == before


def test_when_detection_worker_dies_then_message_is_blocked(claude, upstream):
    before = len(upstream.received)
    with pytest.raises(anthropic.BadRequestError) as err:
        claude.messages.create(model=_model(), max_tokens=10, messages=[{"role": "user", "content": f"{DIE} {CARD}"}])
    assert "detection failed" in str(err.value) and CARD not in str(err.value)
    assert len(upstream.received) == before
