"""Identifier fields (model, role, ids, a model in the URL) are scanned: an e-mail or a key there blocks.

With a real detection pool (pattern rules). The last test is the false-alarm proof: every identifier
value in the captured payloads (tests/data/), in the request bodies of the end-to-end tests, and a
list of real model names and ids is scanned, and none of them would block.
"""

from __future__ import annotations

import ast
import base64
import json
import random
import uuid
from pathlib import Path

import pytest

from guard import identifiers, providers
from guard.audit_jsonl import JsonlAuditSink
from guard.core import Action, mask
from guard.hosts import load_destinations
from guard.identity import Identity
from guard.pipeline import Pipeline, RequestIn
from guard.policy import DefaultPolicy
from guard.providers.leftover import STRUCTURAL
from tests.attachments import docs
from tests.providers.test_parse import CASES

pytestmark = pytest.mark.slow
EMAIL = "jane.doe@example.com"
AKID = "AKIAZ7QK3M5N2P4R6T8V"  # an AWS access key id (the shape AWS documents; not a real key)
TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def sink(tmp_path: Path):
    s = JsonlAuditSink(tmp_path / "audit.jsonl")
    yield s
    s.close()


def make(pool, sink) -> Pipeline:
    return Pipeline(load_destinations(), pool, DefaultPolicy(), sink, b"k")


def req(p: Pipeline, body: dict, host: str = "api.openai.com", path: str = "/v1/chat/completions") -> RequestIn:
    return RequestIn("POST", host, path, {"content-type": "application/json"}, json.dumps(body).encode(),
                     p.destinations.match(host), Identity("alice", source="proxyauth"), "10.0.0.1")  # fmt: skip


def event(p: Pipeline, out, sink: JsonlAuditSink) -> dict:
    p.finish(out.state, upstream_status=None)
    sink.flush()
    return json.loads(sink.path.read_text().splitlines()[-1])


def message(out) -> str:
    return json.loads(out.response[2])["error"]["message"]


@pytest.mark.parametrize(("value", "category", "says"), [(EMAIL, "email", "an e-mail address"),
                                                          (AKID, "secret", "a secret")])  # fmt: skip
async def test_when_the_model_holds_an_email_or_a_key_then_the_request_is_blocked_and_the_event_masks_it(
    pool, sink, value, category, says
):
    p = make(pool, sink)
    out = await p.process(req(p, {"model": value, "messages": [{"role": "user", "content": "hello"}]}))
    assert out.action is Action.BLOCK and out.body is None and out.response[0] == 400
    text = message(out)
    assert f"its model field holds {says}" in text and value not in text
    ev = event(p, out, sink)
    assert ev["model"] == mask(value) and value not in json.dumps(ev)
    assert ev["policy_rules"] == [f"guard-identifier-{category}"]
    assert [(f["category"], f["field"]) for f in ev["findings"]] == [(category, "model")]


async def test_when_a_tool_call_id_or_a_role_holds_a_key_then_the_field_kind_is_named(pool, sink):
    p = make(pool, sink)
    body = {"model": "gpt-4o", "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "tool_calls": [{"id": f"call_{AKID}", "type": "function",
                                              "function": {"name": "weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": f"key {AKID}", "content": "sunny"}]}  # fmt: skip
    out = await p.process(req(p, body))
    assert out.action is Action.BLOCK
    assert "its id and tool call id fields hold a secret" in message(out) and AKID not in message(out)
    ev = event(p, out, sink)
    assert ev["model"] == "gpt-4o" and AKID not in json.dumps(ev)


async def test_when_a_gemini_url_names_an_email_as_the_model_then_it_is_blocked(pool, sink):
    p = make(pool, sink)
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    out = await p.process(req(p, body, "generativelanguage.googleapis.com", f"/v1beta/models/{EMAIL}:generateContent"))
    assert out.action is Action.BLOCK
    assert "model (in the URL) field holds an e-mail address" in json.loads(out.response[2])["error"]["message"]
    assert event(p, out, sink)["model"] == mask(EMAIL)


@pytest.mark.parametrize(("query", "field", "says"), [
    (f"?note={EMAIL}", "URL parameter note", "an e-mail address"),
    (f"?api-version=2024-06-01&q=deploy%20with%20{AKID}", "URL parameter q", "a secret"),
    ("?" + EMAIL.replace("@", "%40"), "URL parameter name", "an e-mail address"),
])  # fmt: skip
async def test_when_the_url_query_holds_an_email_or_a_key_then_the_request_is_blocked(pool, sink, query, field, says):
    p = make(pool, sink)
    out = await p.process(req(p, {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                              path="/v1/chat/completions" + query))  # fmt: skip
    assert out.action is Action.BLOCK
    assert f"its {field} field holds {says}" in message(out) and EMAIL not in message(out) and AKID not in message(out)
    raw = json.dumps(event(p, out, sink))
    assert EMAIL not in raw and AKID not in raw


async def test_when_a_url_path_segment_holds_an_email_then_the_request_is_blocked(pool, sink):
    p = make(pool, sink)
    out = await p.process(req(p, {"input": "hi"}, path=f"/v1/notes/{EMAIL.replace('@', '%40')}/append"))
    assert out.action is Action.BLOCK
    assert "its URL path field holds an e-mail address" in message(out) and EMAIL not in message(out)
    assert EMAIL not in json.dumps(event(p, out, sink))


async def test_no_path_of_the_providers_apis_or_their_ids_would_block(pool):
    rnd = random.Random(3)
    alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    ids = [f"{prefix}{''.join(rnd.choice(alnum) for _ in range(n))}" for _ in range(40)
           for prefix, n in (("thread_", 24), ("file-", 22), ("asst_", 24), ("msg_01", 22), ("chatcmpl-", 29),
                             ("org-", 24), ("batch_", 32), ("resp_", 48))]  # fmt: skip
    uuids = [str(uuid.UUID(int=rnd.getrandbits(128), version=4)) for _ in range(40)]
    paths = ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/messages", "/v1/messages/count_tokens",
             "/openai/deployments/gpt4o-prod-eastus2/chat/completions", "/api/chat", "/api/generate",
             "/v1beta/models/gemini-1.5-pro-002:streamGenerateContent", "/backend-api/conversation",
             "/backend-api/sentinel/chat-requirements", "/backend-api/files/process_upload_stream"]
    paths += [f"/v1/threads/{i}/runs" for i in ids] + [f"/backend-api/conversation/{u}" for u in uuids]
    texts = sorted({s.text for path in paths for s in identifiers.url_segments(path)})
    found = await pool.scan(texts)
    assert [(t, f.rule_id) for t, fs in zip(texts, found, strict=True) for f in fs
            if f.category in identifiers.BLOCKING] == []  # fmt: skip


async def test_when_the_query_is_ordinary_or_carries_the_providers_own_key_then_nothing_blocks(pool, sink):
    p = make(pool, sink)
    gemini_key = "AIza575yx8xm5MslfY5ubiheyEd7P4zDL-ak6J0"  # random; Gemini takes its API key as ?key=
    body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
    out = await p.process(req(p, body, "generativelanguage.googleapis.com",
                              f"/v1beta/models/gemini-1.5-pro:streamGenerateContent?alt=sse&key={gemini_key}"))  # fmt: skip
    assert out.action is Action.ALLOW
    assert [f.rule_id for f in (await pool.scan([gemini_key]))[0]] == ["gcp-api-key"]  # a key anywhere else
    chat = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]}
    for query in ("?api-version=2024-06-01", "?offset=0&limit=28&order=updated",
                  "?conversation_id=6802f1a2-7c1e-8000-9a1b-0c2d3e4f5a6b&beta=true", "?q=quarterly%20plan"):  # fmt: skip
        out = await p.process(req(p, chat, path="/v1/chat/completions" + query))
        assert out.action is Action.ALLOW, query


async def test_when_model_ids_look_like_names_dates_or_phones_then_nothing_blocks(pool, sink):
    p = make(pool, sink)
    for model in ("gpt-4o-2024-08-06", "claude-3-5-sonnet-20241022", "john-smith-ft-2024-10-22", "+1 415 555 0132"):
        out = await p.process(req(p, {"model": model, "messages": [{"role": "user", "content": "hello"}]}))
        assert out.action is Action.ALLOW, model
        assert event(p, out, sink)["model"] == model  # stored as sent: nothing sensitive was found in it


async def test_when_the_generic_scan_redacts_a_key_in_model_then_the_event_masks_the_model(pool, sink):
    p = make(pool, sink)  # an unknown endpoint: every string, `model` too, is an ordinary segment
    out = await p.process(req(p, {"model": f"m-{AKID}", "input": "hi"}, path="/v1/unknown/thing"))
    assert out.action is Action.REDACT and AKID not in out.body.decode()
    assert event(p, out, sink)["model"] == mask(f"m-{AKID}")


async def test_when_a_request_is_blocked_before_detection_then_its_unchecked_model_is_masked(pool, sink):
    p = make(pool, sink)
    data = base64.b64encode(docs.encrypted_pdf("x")).decode()
    body = {"model": EMAIL, "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}}]}]}  # fmt: skip
    out = await p.process(req(p, body, "api.anthropic.com", "/v1/messages"))
    assert out.action is Action.BLOCK and "cannot read" in json.loads(out.response[2])["error"]["message"]
    assert event(p, out, sink)["model"] == mask(EMAIL)


def test_identifier_segments_skip_what_the_adapter_already_scans_and_repeat_each_value_once():
    body = {"model": "gpt-4o", "metadata": {"type": "note"}, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "user", "content": "c"}]}  # fmt: skip
    parsed = providers.parse_request("openai", "POST", "/v1/chat/completions", {}, json.dumps(body).encode())
    segs = identifiers.segments(parsed)
    assert [(s.text, s.path) for s in segs] == [
        ("gpt-4o", ("model",)),
        ("user", ("messages", 0, "role")),
        ("text", ("messages", 0, "content", 0, "type")),
    ]
    assert all(s.kind == "identifier" for s in segs)  # metadata.type is text the adapter scans already


# -- no false alarms -----------------------------------------------------------------------------

REAL_IDS = """gpt-4o-2024-08-06 gpt-4o-mini-2024-07-18 gpt-4.1-2025-04-14 o3-mini-2025-01-31 gpt-5-2025-08-07
chatgpt-4o-latest gpt-4o-realtime-preview-2024-12-17 ft:gpt-4o-mini-2024-07-18:acme-corp:support-bot:9ZxQk3Lp
claude-3-5-sonnet-20241022 claude-3-opus-20240229 claude-sonnet-4-20250514 claude-opus-4-1-20250805
anthropic.claude-3-5-sonnet-20241022-v2:0 us.anthropic.claude-3-7-sonnet-20250219-v1:0
arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0
gemini-1.5-pro-002 gemini-1.5-flash-8b-exp-0924 gemini-2.5-pro-preview-05-06 tunedModels/my-model-x7k2p9q1
projects/acme-prod-4471/locations/us-central1/publishers/google/models/gemini-1.5-pro-002
accounts/fireworks/models/llama-v3p1-70b-instruct meta-llama/Meta-Llama-3.1-8B-Instruct mistral-large-2411
llama3.1:8b-instruct-q4_K_M qwen2.5-coder:32b mixtral:8x7b-instruct-v0.1-q5_K_M gpt4o-prod gpt-4o-eastus2-2024-08-06
chatcmpl-9x8YzAbCdEfGhIjKlMnOpQrStUvW call_4qGkTLk1yN6vBdCbR8iC3sVe toolu_01A09q90qw90lq917835lq9
msg_01XFDUDYJgAACzvnptvVoYEL resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b file-BK7bzQj3FfZFXr7DbL6xJwfo
rs_6876cf02e0bc8192b74af0fb64b715ff06fa2fcced15a5ac 5c1e7a0f-7f4b-4a8d-9b0e-2f6c1d3e4a5b client-created-root
2023-06-01 2024-10-21 2025-04-01-preview web_search_20250305 computer_20241022 text_editor_20250124""".split()


def _captured() -> set[str]:
    out: set[str] = set()
    for adapter, path, rel, *_ in CASES:
        body = (TESTS / "data" / rel).read_bytes()
        parsed = providers.parse_request(adapter, "POST", path, {"content-type": "application/json"}, body)
        out |= {s.text for s in identifiers.segments(parsed)}
    for f in (TESTS / "data" / "evasion").glob("*.json"):
        doc = json.loads(f.read_text())
        raw = json.dumps(doc["body"]).encode()
        parsed = providers.parse_request(doc["adapter"], "POST", doc["path"], {"content-type": "application/json"}, raw)
        out |= {s.text for s in identifiers.segments(parsed)}
    return out


def _e2e_request_values() -> set[str]:
    """String literals the end-to-end and SDK tests send under identifier keys (model=..., "role": ...)."""

    def lit(v: ast.expr) -> str | None:
        if isinstance(v, ast.Constant) and isinstance(v.value, str):
            return v.value
        if isinstance(v, ast.JoinedStr):  # f"att-{uuid...}": the literal parts around a hex id
            return "".join(x.value if isinstance(x, ast.Constant) else "3f9a2c1b" for x in v.values)
        return None

    out: set[str] = set()
    for f in [*TESTS.glob("e2e/*.py"), *TESTS.glob("routing/*.py"), *TESTS.glob("providers/test_sdk*.py")]:
        if f.name == "test_identifiers_e2e.py":
            continue  # plants values on purpose
        for node in ast.walk(ast.parse(f.read_text())):
            pairs = zip(node.keys, node.values, strict=True) if isinstance(node, ast.Dict) else ()
            for k, v in pairs:
                if isinstance(k, ast.Constant) and k.value in STRUCTURAL and (s := lit(v)):
                    out.add(s)
            if isinstance(node, ast.keyword) and node.arg in STRUCTURAL and (s := lit(node.value)):
                out.add(s)
    return out


async def test_no_identifier_in_captured_payloads_e2e_bodies_or_real_model_ids_would_block(pool):
    captured, e2e = _captured(), _e2e_request_values()
    rnd = random.Random(7)  # opaque provider blobs (thinking signatures, encrypted reasoning) and random ids
    blobs = {base64.b64encode(rnd.randbytes(rnd.choice([96, 300, 900]))).decode() for _ in range(100)}
    values = sorted(captured | e2e | set(REAL_IDS) | blobs)
    assert len(captured) > 40 and len(e2e) > 30  # the sources were really read
    found = await pool.scan(values)
    alarms = [(v, f.rule_id) for v, fs in zip(values, found, strict=True) for f in fs
              if f.category in identifiers.BLOCKING]  # fmt: skip
    assert alarms == []
    planted = await pool.scan([EMAIL, AKID, f"claude-3-5-sonnet {EMAIL}"])
    assert all(any(f.category in identifiers.BLOCKING for f in fs) for fs in planted)  # the filter still sees these
