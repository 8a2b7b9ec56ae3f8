"""The mitmproxy-free pipeline with a real detection pool: redact, restore, block, fail closed, audit."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from guard.audit_jsonl import JsonlAuditSink
from guard.core import Action
from guard.hosts import load_destinations
from guard.identity import Identity
from guard.pipeline import Pipeline, RequestIn
from guard.policy import DefaultPolicy

pytestmark = pytest.mark.slow
EMAIL = "heidi.klum@gmail.com"
TOKEN = "ghp_R8xK2mPq9vLw3nZt7YbC4dFh6jGs1aE5uQ0o"


class ExplodingPolicy(DefaultPolicy):
    """A policy with a bug: decide() raises."""

    def decide(self, ctx, findings, classifications=()):
        raise KeyError("bug in a policy rule")


class BrokenClassifiers(DefaultPolicy):
    """A policy whose classifiers raise (they run while the workers scan)."""

    def classify(self, segments):
        raise ValueError("bug in a classifier")


@pytest.fixture
def sink(tmp_path: Path):
    s = JsonlAuditSink(tmp_path / "audit.jsonl")
    yield s
    s.close()


def make(pool, sink, policy=None, body_limit=1 << 20) -> Pipeline:
    return Pipeline(load_destinations(), pool, policy or DefaultPolicy(), sink, b"k", body_limit=body_limit)


def chat(text: str, **extra) -> bytes:
    return json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}).encode()


def req(p: Pipeline, body: bytes, who: str = "alice") -> RequestIn:
    dest = p.destinations.match("api.openai.com")
    return RequestIn("POST", "api.openai.com", "/v1/chat/completions", {"content-type": "application/json"}, body,
                     dest, Identity(who, source="proxyauth"), "10.0.0.1")  # fmt: skip


def audit_lines(sink: JsonlAuditSink) -> list[dict]:
    sink.flush()
    return [json.loads(x) for x in sink.path.read_text().splitlines()]


async def test_when_prompt_has_secrets_then_body_is_redacted_and_reply_restored(pool, sink):
    p = make(pool, sink)
    out = await p.process(req(p, chat(f"key {TOKEN} mail {EMAIL}")))
    assert out.action is Action.REDACT
    sent = json.loads(out.body)["messages"][0]["content"]
    assert TOKEN not in sent and EMAIL not in sent and "[SECRET_1]" in sent and "[EMAIL_1]" in sent
    reply = json.dumps({"choices": [{"message": {"content": "ok [EMAIL_1]"}}], "usage": {"total_tokens": 5}})
    restored = p.restore_body(out.state, "application/json", reply.encode())
    assert json.loads(restored)["choices"][0]["message"]["content"] == f"ok {EMAIL}"
    p.finish(out.state, upstream_status=200, response_bytes=len(restored))
    [event] = audit_lines(sink)
    assert event["action"] == "redact" and event["identity"] == "alice" and event["usage"] == {"total_tokens": 5}
    assert {f["category"] for f in event["findings"]} == {"secret", "email"}
    assert TOKEN not in json.dumps(event) and EMAIL not in json.dumps(event)
    assert set(event["timings_ms"]) >= {"parse", "detect", "policy", "apply", "total"}


async def test_when_policy_raises_then_request_is_blocked_and_recorded(pool, sink):
    p = make(pool, sink, ExplodingPolicy())
    out = await p.process(req(p, chat(f"mail {EMAIL}")))
    status, headers, body = out.response
    assert out.action is Action.BLOCK and status == 400
    assert "policy failed" in json.loads(body)["error"]["message"]
    p.finish(out.state, upstream_status=None)
    [event] = audit_lines(sink)
    assert event["action"] == "block" and event["error"] == "policy: KeyError"


async def test_when_classification_raises_during_the_scan_then_request_is_blocked_and_the_pool_still_works(pool, sink):
    p = make(pool, sink, BrokenClassifiers())
    out = await p.process(req(p, chat(f"mail {EMAIL} and a fresh text")))
    assert out.action is Action.BLOCK and out.body is None
    assert "policy failed" in json.loads(out.response[2])["error"]["message"]
    p.finish(out.state, upstream_status=None)
    [event] = audit_lines(sink)
    assert event["error"] == "policy: ValueError"
    found = await pool.scan([f"then {EMAIL} again, another text"])
    assert [f.category for f in found[0]] == ["email"]


@pytest.mark.parametrize(("body", "says"), [(b"{not json", "could not read"), (chat("z" * 3000), "larger than")])
async def test_when_body_cannot_be_scanned_then_it_is_blocked(pool, sink, body, says):
    p = make(pool, sink, body_limit=2048)
    out = await p.process(req(p, body))
    assert out.action is Action.BLOCK and says in out.response[2].decode()


async def test_conversation_id_is_stable_per_user_and_first_message(pool, sink):
    p = make(pool, sink)
    a1 = await p.process(req(p, chat(f"hello {EMAIL}")))
    a2 = await p.process(req(p, chat(f"hello {EMAIL}")))
    b = await p.process(req(p, chat(f"hello {EMAIL}"), who="bob"))
    assert a1.state.conversation_id == a2.state.conversation_id != b.state.conversation_id


async def test_when_stream_is_gzipped_and_split_then_it_is_restored(pool, sink):
    p = make(pool, sink)
    out = await p.process(req(p, chat(f"mail {EMAIL}", stream=True)))
    events = [{"choices": [{"delta": {"content": piece}}]} for piece in ("to [EM", "AIL_", "1] now")]
    raw = b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events)
    raw += b'data: {"choices":[],"usage":{"total_tokens":9}}\n\ndata: [DONE]\n\n'
    z = gzip.compress(raw)
    t = p.stream(out.state, "gzip")
    out_bytes = b"".join(t.feed(z[i : i + 7]) for i in range(0, len(z), 7)) + t.feed(b"")
    text = "".join(
        json.loads(line[6:])["choices"][0]["delta"]["content"]
        for line in out_bytes.decode().splitlines()
        if line.startswith("data: {") and json.loads(line[6:])["choices"]
    )
    assert text == f"to {EMAIL} now"
    assert out.state.usage == {"total_tokens": 9}


async def test_when_stream_transform_fails_then_stream_ends_with_one_error_event(pool, sink):
    p = make(pool, sink)
    out = await p.process(req(p, chat(f"mail {EMAIL}", stream=True)))
    t = p.stream(out.state, "gzip")
    first = t.feed(b"this is not gzip data")
    assert b"error" in first and b"guard could not restore" in first
    assert t.feed(b"data: more\n\n") == b"" and t.feed(b"") == b""
    assert out.state.error.startswith("stream:")


async def test_when_evidence_is_on_then_event_carries_sealed_prompt_only_the_key_opens(pool, sink, tmp_path):
    from guard.audit.evidence import generate_keypair, load_private_key, load_public_key, open_sealed

    priv, pub = generate_keypair(tmp_path / "keys")
    p = Pipeline(load_destinations(), pool, DefaultPolicy(), sink, b"k", evidence_key=load_public_key(pub))
    out = await p.process(req(p, chat(f"mail {EMAIL}")))
    event = p.finish(out.state, upstream_status=200)
    assert EMAIL.encode() not in event.evidence
    opened = open_sealed(load_private_key(priv), event.event_id, event.evidence)
    assert opened == {"original": f"mail {EMAIL}", "redacted": "mail [EMAIL_1]"}
