"""Text in JSON fields an adapter does not read is scanned too; identifiers and skipped parts are no segments."""

from __future__ import annotations

import json

from guard import identifiers, providers

EMAIL = "dana.whitfield@example.org"


def _parse(adapter: str, path: str, body: dict) -> providers.ParsedRequest:
    return providers.parse_request(
        adapter, "POST", path, {"content-type": "application/json"}, json.dumps(body).encode()
    )


def test_when_text_sits_in_an_unknown_key_of_a_known_endpoint_then_it_is_a_segment():
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
            "x_notes": {"deep": [f"mail {EMAIL}"]}, "metadata": {"note": EMAIL}}  # fmt: skip
    parsed = _parse("openai", "/v1/chat/completions", body)
    by_path = {s.path: s.text for s in parsed.segments}
    assert by_path[("x_notes", "deep", 0)] == f"mail {EMAIL}"
    assert by_path[("metadata", "note")] == EMAIL
    # identifiers the format defines are no segments, so never redacted (guard.identifiers scans them)
    assert ("model",) not in by_path and ("messages", 0, "role") not in by_path
    assert [s.path for s in identifiers.segments(parsed)] == [("model",), ("messages", 0, "role")]


def test_when_an_adapter_skipped_an_image_then_its_data_is_not_rescanned():
    body = {"model": "claude", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "text", "text": "what is this"}]}]}  # fmt: skip
    parsed = _parse("anthropic", "/v1/messages", body)
    assert parsed.skipped and all("data" not in s.path for s in parsed.segments)
    assert [s.text for s in parsed.segments] == ["what is this"]
