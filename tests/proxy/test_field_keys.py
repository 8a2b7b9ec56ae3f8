"""Data used as an object key: the pipeline blocks what the policy would redact or block there (a key
cannot hold a placeholder), and the audit event never holds such a key, not even in a field path.

With a real detection pool (pattern rules) and the real policies (default, and the shipped policy.yaml
with secrets set to block). The last test is the false-alarm proof over the captured payloads.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from guard import providers
from guard.audit_jsonl import JsonlAuditSink
from guard.core import Action
from guard.hosts import load_destinations
from guard.identity import Identity
from guard.pipeline import Pipeline, RequestIn
from guard.policy import DefaultPolicy, load_policy
from guard.providers.leftover import KEY_KIND, key_segments
from tests.providers.test_parse import CASES

pytestmark = pytest.mark.slow
EMAIL = "jane.doe@gmail.com"
TOKEN = "ghp_Xq7Lm2Pz9Kd4Rt6Wv1Bn8Cy3Fh5Js0Ga2Ue7"
TESTS = Path(__file__).resolve().parents[1]
RULES = TESTS.parent / "rules"


@pytest.fixture
def sink(tmp_path: Path):
    s = JsonlAuditSink(tmp_path / "audit.jsonl")
    yield s
    s.close()


def make(pool, sink, policy=None) -> Pipeline:
    return Pipeline(load_destinations(), pool, policy or DefaultPolicy(), sink, b"k")


def req(p: Pipeline, body: dict, host: str = "api.openai.com", path: str = "/v1/chat/completions") -> RequestIn:
    return RequestIn("POST", host, path, {"content-type": "application/json"}, json.dumps(body).encode(),
                     p.destinations.match(host), Identity("alice", source="proxyauth"), "10.0.0.1")  # fmt: skip


def chat(metadata: dict, content: str = "Summarise our Q3 plan.") -> dict:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": content}], "metadata": metadata}


def event(p: Pipeline, out, sink: JsonlAuditSink) -> tuple[dict, str]:
    p.finish(out.state, upstream_status=None)
    sink.flush()
    raw = sink.path.read_text().splitlines()[-1]
    return json.loads(raw), raw


def message(out) -> str:
    return json.loads(out.response[2])["error"]["message"]


@pytest.mark.parametrize(("key", "category", "says"), [(EMAIL, "email", "an e-mail address"),
                                                       (TOKEN, "secret", "a secret")])  # fmt: skip
async def test_when_a_metadata_key_holds_what_policy_redacts_then_the_request_is_blocked(
    pool, sink, key, category, says
):
    p = make(pool, sink)
    out = await p.process(req(p, chat({key: "vip", "tier": "gold"})))
    assert out.action is Action.BLOCK and out.body is None and out.response[0] == 400
    text = message(out)
    assert f"a field name in the request holds {says}" in text and key not in text
    ev, raw = event(p, out, sink)
    assert key not in raw and key.split("@")[0] not in raw
    assert ev["policy_rules"][0] == f"guard-field-name-{category}"
    (finding,) = ev["findings"]
    assert finding["category"] == category and finding["field"].startswith("metadata.<key:")
    assert "metadata.tier" in ev["scanned"] and all(key not in f for f in ev["scanned"])


async def test_when_the_policy_blocks_secrets_then_a_key_holding_one_is_named_as_a_field_name(pool, sink, tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    text = (rules / "policy.yaml").read_text()
    assert "    secret: redact" in text
    (rules / "policy.yaml").write_text(text.replace("    secret: redact", "    secret: block"))
    p = make(pool, sink, load_policy(rules, edm_dir=tmp_path / "no-edm"))
    body = {"model": "claude-sonnet-4-20250514", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"name": "lookup", "description": "Look up", "input_schema": {
                "type": "object", "properties": {TOKEN: {"type": "string"}}}}]}  # fmt: skip
    out = await p.process(req(p, body, "api.anthropic.com", "/v1/messages"))
    assert out.action is Action.BLOCK
    assert "a field name in the request holds a secret" in json.loads(out.response[2])["error"]["message"]
    ev, raw = event(p, out, sink)
    assert TOKEN not in raw and "category-secret" in ev["policy_rules"]


async def test_when_text_is_redacted_then_ordinary_and_odd_but_clean_keys_go_through_untouched(pool, sink):
    p = make(pool, sink)
    meta = {"user_id": "u-1", "Customer Notes": "renewal", "session": "s"}
    out = await p.process(req(p, chat(meta, f"Write to {EMAIL} today.")))
    assert out.action is Action.REDACT and out.body is not None
    sent = json.loads(out.body)
    assert sent["metadata"] == meta and EMAIL not in sent["messages"][0]["content"]
    ev, raw = event(p, out, sink)
    assert "Customer Notes" not in raw and "metadata.user_id" in ev["scanned"]


async def test_when_an_allow_listed_address_is_a_key_then_the_shipped_policy_lets_it_pass(pool, sink, tmp_path):
    p = make(pool, sink, load_policy(RULES, edm_dir=tmp_path / "no-edm"))  # example.com is allow-listed there
    out = await p.process(req(p, chat({"bob@example.com": "x"})))
    assert out.action is Action.ALLOW
    out = await p.process(req(p, chat({EMAIL: "x"})))  # the same policy: another domain's address blocks
    assert out.action is Action.BLOCK and "a field name in the request holds an e-mail address" in message(out)


async def test_when_metadata_keys_are_ordinary_then_the_request_is_allowed(pool, sink):
    p = make(pool, sink)
    out = await p.process(req(p, chat({"user_id": "u-1", "trace-id": "abc", "env": "prod"})))
    assert out.action is Action.ALLOW and out.body is None
    ev, _ = event(p, out, sink)
    assert ev["findings"] == [] and "metadata.trace-id" in ev["scanned"]


async def test_no_key_of_a_captured_payload_is_scanned_or_raises_a_finding(pool):
    keys: set[str] = set()
    for adapter, path, rel, *_ in CASES:
        parsed = providers.parse_request(adapter, "POST", path, {}, (TESTS / "data" / rel).read_bytes())
        keys |= {s.text for s in parsed.segments if s.kind == KEY_KIND}
        body = json.loads((TESTS / "data" / rel).read_bytes())
        stack = [body]  # every key, plain or not: none holds anything the detectors see
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                keys |= set(node)
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
    assert len(keys) > 50
    found = await pool.scan(sorted(keys))
    assert [k for k, fs in zip(sorted(keys), found, strict=True) if fs] == []
    assert key_segments({"model": "m", "messages": []}) == []
