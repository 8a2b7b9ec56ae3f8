"""An e-mail address or an AWS key typed into `model` is blocked by the real proxy: the upstream gets
nothing, the client gets guard's message in the provider's format, and neither the audit store nor
guard's output holds the value. An ordinary dated model id still goes through."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from guard.core import mask
from tests.e2e.conftest import audit_db_bytes, audit_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
EMAIL = "jane.doe@example.com"  # example.com is on the bundled allow-list for text: in a model it still blocks
AKID = "AKIAW6J3N8P2R5T9V4XC"  # an AWS access key id in the documented shape (not a real key)


def _events_after(home: Path, seq: int, timeout: float = 15.0) -> list[dict]:
    deadline = time.time() + timeout
    while True:
        con = sqlite3.connect(home / "audit.db")
        con.row_factory = sqlite3.Row
        try:
            rows = [dict(r) for r in con.execute("SELECT * FROM audit_event WHERE seq > ? ORDER BY seq", (seq,))]
        finally:
            con.close()
        if rows or time.time() > deadline:
            return rows
        time.sleep(0.2)


def _settled_seq(client, upstream, home: Path) -> int:
    """Send a clean request and wait for its event: the seq after which the next request's event lands."""
    model = f"gpt-4o-mini-{uuid.uuid4().hex[:8]}"
    assert _send(client, upstream, "openai", model).status_code == 200
    return audit_rows(home, model)[0]["seq"]


def _send(client, upstream, adapter: str, model: str):
    if adapter == "openai":
        body = {"model": model, "messages": [{"role": "user", "content": "Summarise our Q3 plan."}]}
        return client.post(f"https://localhost:{upstream.port}/v1/chat/completions", json=body,
                           headers={"authorization": "Bearer sk-test"})  # fmt: skip
    body = {"model": model, "max_tokens": 32, "messages": [{"role": "user", "content": "Summarise our Q3 plan."}]}
    return client.post(f"https://127.0.0.1:{upstream.port}/v1/messages", json=body,
                       headers={"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"})  # fmt: skip


@pytest.mark.parametrize(("adapter", "value", "says"), [("openai", EMAIL, "an e-mail address"),
                                                        ("anthropic", AKID, "a secret")])  # fmt: skip
def test_when_the_model_holds_an_email_or_an_aws_key_then_nothing_leaves_and_nothing_is_stored(
    http_client, upstream, guard, guard_home, adapter, value, says
):
    seq = _settled_seq(http_client, upstream, guard_home)
    before = len(upstream.received)
    resp = _send(http_client, upstream, adapter, value)
    assert resp.status_code == 400 and len(upstream.received) == before
    msg = resp.json()["error"]["message"]
    assert f"its model field holds {says}" in msg and value not in msg
    (row,) = _events_after(guard_home, seq)
    assert row["action"] == "block" and row["model"] == mask(value)
    assert row["policy_rules"] and "guard-identifier-" in row["policy_rules"]
    assert value.encode() not in audit_db_bytes(guard_home) and value not in guard.output()


def test_when_the_model_is_an_ordinary_dated_id_then_the_request_passes(http_client, upstream, guard_home):
    seq = _settled_seq(http_client, upstream, guard_home)
    resp = _send(http_client, upstream, "openai", "gpt-4o-2024-08-06")
    assert resp.status_code == 200 and upstream.received[-1].json["model"] == "gpt-4o-2024-08-06"
    (row,) = _events_after(guard_home, seq)
    assert row["action"] == "allow" and row["model"] == "gpt-4o-2024-08-06"
