"""The interim JSONL audit sink: submit never blocks, lines land on disk, a full queue drops and counts."""

from __future__ import annotations

import json

from guard.audit_jsonl import JsonlAuditSink
from guard.events import AuditEvent, fingerprint, load_fingerprint_key


def test_events_are_appended_as_json_lines(tmp_path):
    sink = JsonlAuditSink(tmp_path / "a.jsonl")
    for i in range(3):
        sink.submit(AuditEvent(action="redact", model=f"m{i}"))
    sink.close()
    rows = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [r["model"] for r in rows] == ["m0", "m1", "m2"]


def test_when_queue_is_full_then_submit_drops_without_blocking(tmp_path):
    sink = JsonlAuditSink(tmp_path / "a.jsonl", max_queue=1)
    for _ in range(200):
        sink.submit(AuditEvent(action="allow"))
    sink.close()
    assert sink.dropped > 0 and sink.written + sink.dropped == 200


def test_fingerprint_key_file_is_created_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("GUARD_FINGERPRINT_KEY", raising=False)
    key = load_fingerprint_key(tmp_path)
    assert (tmp_path / "fingerprint.key").stat().st_mode & 0o777 == 0o600
    assert load_fingerprint_key(tmp_path) == key and len(key) == 64
    assert fingerprint("v", key) == fingerprint("v", key) != fingerprint("v", b"other")
