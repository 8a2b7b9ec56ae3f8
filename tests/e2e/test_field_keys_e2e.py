"""An e-mail address and a GitHub token used as keys in `metadata` are blocked by the real proxy: the
upstream gets nothing, the client gets guard's message, and neither the audit store nor guard's output
holds either key (not even in a field path). Ordinary metadata keys still go through."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import audit_db_bytes, audit_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EMAIL = "jane.doe@gmail.com"
TOKEN = "ghp_Xq7Lm2Pz9Kd4Rt6Wv1Bn8Cy3Fh5Js0Ga2Ue7"  # GitHub's token shape (not a real token)


def _chat(client, upstream, metadata: dict):
    model = f"gpt-4o-mini-{uuid.uuid4().hex[:8]}"
    body = {"model": model, "messages": [{"role": "user", "content": "Summarise our Q3 plan."}], "metadata": metadata}
    resp = client.post(f"https://localhost:{upstream.port}/v1/chat/completions", json=body,
                       headers={"authorization": "Bearer sk-test"})  # fmt: skip
    return model, resp


def test_when_metadata_keys_hold_an_email_and_a_github_token_then_nothing_leaves_and_nothing_is_stored(
    http_client, upstream, guard, guard_home
):
    before = len(upstream.received)
    model, resp = _chat(http_client, upstream, {EMAIL: "vip", TOKEN: 1, "tier": "gold"})
    assert resp.status_code == 400 and len(upstream.received) == before
    msg = resp.json()["error"]["message"]
    assert "a field name in the request holds" in msg and "e-mail address" in msg and "secret" in msg
    assert EMAIL not in msg and TOKEN not in msg
    (row,) = audit_rows(guard_home, model)
    assert row["action"] == "block" and "guard-field-name-email" in row["policy_rules"]
    assert sorted(f["category"] for f in row["findings"]) == ["email", "secret"]
    assert all(f["field"].startswith("metadata.<key:") for f in row["findings"])
    stored, said = audit_db_bytes(guard_home), guard.output()
    for value in (EMAIL, TOKEN):
        assert value.encode() not in stored and value not in said and value not in upstream.seen()


def test_when_metadata_keys_are_ordinary_then_the_request_passes_with_them(http_client, upstream, guard_home):
    meta = {"user_id": "u-1042", "trace-id": "7f3a", "team": "finance"}
    model, resp = _chat(http_client, upstream, meta)
    assert resp.status_code == 200 and upstream.received[-1].json["metadata"] == meta
    (row,) = audit_rows(guard_home, model)
    assert row["action"] == "allow"
