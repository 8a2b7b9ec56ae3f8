"""Object keys that are not plain field names are segments, and no rendered path ever holds one.

`{"metadata": {"jane.doe@gmail.com": 1}}` sends an address in a key: it becomes a segment of kind
`key` wherever it sits, while the keys of real API payloads (tests/data/) stay plain and raise nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from guard import providers
from guard.providers._wire import key_label, path_str, plain_key
from guard.providers.leftover import KEY, KEY_KIND, key_segments, leftover_segments
from guard.wsinspect import segments_of
from tests.providers.test_parse import CASES

EMAIL = "jane.doe@gmail.com"
TOKEN = "ghp_Xq7Lm2Pz9Kd4Rt6Wv1Bn8Cy3Fh5Js0Ga2Ue7"
DATA = Path(__file__).resolve().parents[1] / "data"


def _parse(adapter: str, path: str, body: object) -> providers.ParsedRequest:
    return providers.parse_request(
        adapter, "POST", path, {"content-type": "application/json"}, json.dumps(body).encode()
    )


def _keys(parsed: providers.ParsedRequest) -> list[str]:
    return [s.text for s in parsed.segments if s.kind == KEY_KIND]


@pytest.mark.parametrize(
    "key", ["max_tokens", "userId", "$schema", "response_mime_type", "Content-Type", "jane.doe", "50256", "_id"]
)
def test_field_names_are_plain(key):
    assert plain_key(key) and key_label(key) == key


@pytest.mark.parametrize(
    "key",
    [EMAIL, TOKEN, "AKIAIOSFODNNEXAMPLEX", "DE89370400440532013000", "4111111111111111", "123-45-6789",
     "Jane Doe", "+1 415 555 0132", "Müller", "a" * 33, "", "address_line1"],
)  # fmt: skip
def test_data_in_keys_is_not_plain_and_paths_show_a_digest(key):
    assert not plain_key(key)
    rendered = path_str(("metadata", key, "note"))
    assert rendered.startswith("metadata.<key:") and rendered.endswith(">.note")
    assert (key not in rendered) if key else rendered.count("<key:") == 1
    assert rendered == path_str(("metadata", key, "note"))  # stable within the process: events can be compared
    assert path_str(("metadata", key + "x")) != path_str(("metadata", key))


def test_guard_markers_in_paths_stay_readable():
    assert path_str(("messages", 0, "content", 1, "#extracted")) == "messages[0].content[1].#extracted"
    assert path_str(("<url>", "model")) == "<url>.model"


@pytest.mark.parametrize(
    ("adapter", "path", "body"),
    [
        ("openai", "/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                                            "metadata": {EMAIL: "vip", TOKEN: 1}}),
        ("openai", "/v1/responses", {"model": "gpt-4.1", "prompt": {"id": "pmpt_1", "variables": {EMAIL: "x"}},
                                     "tools": [{"type": "function", "name": "f", "parameters": {
                                         "type": "object", "properties": {TOKEN: {"type": "string"}}}}]}),
        ("anthropic", "/v1/messages", {"model": "claude", "max_tokens": 5, "metadata": {"user_id": "u"},
                                       "messages": [{"role": "user", "content": [{"type": "tool_use", "id": "t",
                                                     "name": "n", "input": {EMAIL: True, TOKEN: [1]}}]}]}),
        ("gemini", "/v1beta/models/gemini-1.5-pro:generateContent",
         {"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": {EMAIL: {TOKEN: 2}}}}]}]}),
        ("generic", "/anything", {"x": [{"y": {EMAIL: 1}}], "z": {TOKEN: None}}),
    ],
)  # fmt: skip
def test_when_data_is_used_as_keys_anywhere_then_each_key_is_a_segment_whose_path_hides_it(adapter, path, body):
    parsed = _parse(adapter, path, body)
    assert sorted(_keys(parsed)) == sorted([EMAIL, TOKEN])
    for seg in parsed.segments:
        if seg.kind == KEY_KIND:
            assert seg.path[-1] == KEY and seg.path[-2] == seg.text and seg.role == ""
        shown = path_str(seg.path) + " ".join(parsed.skipped)
        assert EMAIL not in shown and TOKEN not in shown


def test_a_key_repeated_in_many_objects_is_one_segment_and_values_under_it_are_still_scanned():
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
            "metadata": {"rows": [{EMAIL: "note one"}, {EMAIL: "note two"}]}}  # fmt: skip
    parsed = _parse("openai", "/v1/chat/completions", body)
    assert _keys(parsed) == [EMAIL]
    assert {"note one", "note two"} <= {s.text for s in parsed.segments}


def test_a_part_skipped_under_an_odd_key_is_named_without_the_key():
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo="}
    body = {"model": "gpt-4.1", "prompt": {"id": "p", "variables": {EMAIL: image, "Jane Doe": {"note": "call me"}}}}
    parsed = _parse("openai", "/v1/responses", body)
    assert parsed.skipped == ("prompt.variables." + key_label(EMAIL) + ": image not scanned",)
    assert "call me" in [s.text for s in parsed.segments]


def test_a_skip_under_one_odd_key_does_not_cover_a_sibling_odd_key():
    body = {"x": {EMAIL: "skipped text", "Jane Doe": "left over"}}
    skipped = [f"{path_str(('x', EMAIL))}: image not scanned"]
    assert [(s.text, s.path) for s in leftover_segments(body, [], skipped)] == [("left over", ("x", "Jane Doe"))]


def test_a_websocket_message_with_data_in_keys_has_key_segments():
    segs = segments_of(json.dumps({"type": "session.update", "session": {EMAIL: "x"}}))
    assert [(s.text, s.kind) for s in segs if s.kind == KEY_KIND] == [(EMAIL, KEY_KIND)]


def test_keys_of_every_captured_payload_are_plain():
    bodies = [(a, p, json.loads((DATA / rel).read_bytes())) for a, p, rel, *_ in CASES]
    for f in sorted((DATA / "evasion").glob("*.json")):
        doc = json.loads(f.read_text())
        bodies.append((doc["adapter"], doc["path"], doc["body"]))
    assert len(bodies) > 30
    for adapter, path, body in bodies:
        assert key_segments(body) == [], path
        assert _keys(_parse(adapter, path, body)) == []
