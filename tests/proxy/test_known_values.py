"""A value replaced earlier in a conversation stays replaced when it comes back without a finding of its own.

ChatGPT web sends only the new message of a conversation (its `conversation_id` ties the turns together),
and a value found through its context ("my name is zelda") is no finding when it recurs bare ("tell zelda").
The conversation's vault knows it: guard replaces it again with the same placeholder, and an object key
holding it blocks (a key cannot hold a placeholder). Real detection pool (pattern rules), real policy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guard.audit_jsonl import JsonlAuditSink
from guard.core import Action
from guard.hosts import load_destinations
from guard.identity import Identity
from guard.pipeline import KNOWN_VALUE_RULE, Pipeline, RequestIn
from guard.policy import DefaultPolicy

pytestmark = pytest.mark.slow


@pytest.fixture
def sink(tmp_path: Path):
    s = JsonlAuditSink(tmp_path / "audit.jsonl")
    yield s
    s.close()


def web(text: str, conversation: str) -> dict:
    return {"action": "next", "conversation_id": conversation, "parent_message_id": "p-0", "model": "auto",
            "messages": [{"id": "m-1", "author": {"role": "user"},
                          "content": {"content_type": "text", "parts": [text]}}]}  # fmt: skip


def req(p: Pipeline, body: dict, host: str, path: str, who: str = "alice") -> RequestIn:
    return RequestIn("POST", host, path, {"content-type": "application/json"}, json.dumps(body).encode(),
                     p.destinations.match(host), Identity(who, source="proxyauth"), "10.0.0.1")  # fmt: skip


def sent_text(out) -> str:
    return json.loads(out.body)["messages"][0]["content"]["parts"][0]


async def test_when_a_replaced_name_comes_back_bare_in_the_next_chatgpt_turn_then_it_is_replaced_again(pool, sink):
    p = Pipeline(load_destinations(), pool, DefaultPolicy(), sink, b"k")
    first = await p.process(req(p, web("Hi, my name is zelda and I need a cover letter.", "c-1"),
                                "chatgpt.com", "/backend-api/conversation"))  # fmt: skip
    assert first.action is Action.REDACT and "zelda" not in sent_text(first)
    placeholder = sent_text(first).split("my name is ")[1].split(" ")[0]
    assert placeholder.startswith("[PERSON_")

    again = await p.process(req(p, web("Make it shorter and sign it zelda.", "c-1"), "chatgpt.com",
                                "/backend-api/conversation"))  # fmt: skip
    assert again.action is Action.REDACT
    assert sent_text(again) == f"Make it shorter and sign it {placeholder}."
    assert KNOWN_VALUE_RULE in again.state.decision.rules
    reply = json.dumps({"message": {"content": {"parts": [f"Done, {placeholder}."]}}}).encode()
    assert b"Done, zelda." in p.restore_body(again.state, "application/json", reply)

    # Another conversation never saw the value: the same bare text is nobody's business.
    other = await p.process(req(p, web("Make it shorter and sign it zelda.", "c-2"), "chatgpt.com",
                                "/backend-api/conversation"))  # fmt: skip
    assert other.action is Action.ALLOW and other.body is None


async def test_when_a_key_holds_a_value_replaced_earlier_in_the_conversation_then_the_request_is_blocked(pool, sink):
    p = Pipeline(load_destinations(), pool, DefaultPolicy(), sink, b"k")
    history = [{"role": "user", "content": "Hi, my name is zelda and I need a cover letter."}]
    body = {"model": "gpt-4o", "messages": history}
    first = await p.process(req(p, body, "api.openai.com", "/v1/chat/completions"))
    assert first.action is Action.REDACT

    turn2 = {"model": "gpt-4o", "metadata": {"notes for zelda": "vip"},
             "messages": [*history, {"role": "assistant", "content": "Sure, zelda."},
                          {"role": "user", "content": "Shorter please."}]}  # fmt: skip
    out = await p.process(req(p, turn2, "api.openai.com", "/v1/chat/completions"))
    assert out.action is Action.BLOCK
    message = json.loads(out.response[2])["error"]["message"]
    assert "field name" in message and "earlier in this conversation" in message and "zelda" not in message
    assert "guard-field-name-known-value" in out.state.decision.rules
    p.finish(out.state, upstream_status=None)
    sink.flush()
    assert "zelda" not in sink.path.read_text()


async def test_when_a_field_name_is_a_value_replaced_earlier_then_the_request_is_blocked(pool, sink):
    # "zelda" reads as a field name, so it is not scanned as a key; the vault still knows it.
    p = Pipeline(load_destinations(), pool, DefaultPolicy(), sink, b"k")
    first = await p.process(req(p, web("Hi, my name is zelda and I need a cover letter.", "c-9"),
                                "chatgpt.com", "/backend-api/conversation"))  # fmt: skip
    assert first.action is Action.REDACT
    turn2 = web("Shorter please.", "c-9") | {"client_contextual_info": {"zelda": {"is_dark_mode": True}}}
    out = await p.process(req(p, turn2, "chatgpt.com", "/backend-api/conversation"))
    assert out.action is Action.BLOCK
    assert "guard-field-name-known-value" in out.state.decision.rules
    shown = out.response[2].decode()  # ChatGPT web's own error shape
    assert "field name" in shown and "zelda" not in shown

    # Field names that are no value of this conversation pass as before, in it and in another one.
    plain = web("Shorter please.", "c-9") | {"client_contextual_info": {"is_dark_mode": True, "page_height": 900}}
    assert (await p.process(req(p, plain, "chatgpt.com", "/backend-api/conversation"))).action is Action.ALLOW
    elsewhere = await p.process(req(p, turn2 | {"conversation_id": "c-10"}, "chatgpt.com", "/backend-api/conversation"))
    assert elsewhere.action is Action.ALLOW


async def test_when_a_field_name_is_a_value_redacted_in_the_same_request_then_the_request_is_blocked(pool, sink):
    p = Pipeline(load_destinations(), pool, DefaultPolicy(), sink, b"k")
    body = {"model": "gpt-4o", "metadata": {"zelda": "vip"},
            "messages": [{"role": "user", "content": "Hi, my name is zelda and I need a cover letter."}]}  # fmt: skip
    out = await p.process(req(p, body, "api.openai.com", "/v1/chat/completions"))
    assert out.action is Action.BLOCK and "guard-field-name-known-value" in out.state.decision.rules
