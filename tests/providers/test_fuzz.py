"""Any JSON at all: parse_request either reads it (every segment path leads to its text) or raises RequestError."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guard.providers import RequestError, parse_request, rebuild_body

ROUTES = [
    ("openai", "/v1/chat/completions"),
    ("openai", "/v1/responses"),
    ("openai", "/v1/completions"),
    ("openai", "/v1/embeddings"),
    ("ollama", "/api/chat"),
    ("ollama", "/api/generate"),
    ("anthropic", "/v1/messages"),
    ("gemini", "/v1beta/models/g:generateContent"),
    ("gemini", "/v1beta/models/g:countTokens"),
    ("gemini", "/v1beta/models/g:batchEmbedContents"),
    ("chatgpt_web", "/backend-api/conversation"),
    ("generic", "/x"),
]
KEYS = [
    "messages", "content", "role", "text", "type", "tool_calls", "function", "arguments", "input", "instructions",
    "system", "contents", "parts", "functionCall", "args", "source", "data", "prompt", "variables", "image_url",
    "tools", "description", "parameters", "items", "output", "summary", "requests", "author", "file", "filename",
    "systemInstruction", "generateContentRequest", "document", "tool_result", "tool_use", "images", "model",
]  # fmt: skip
TYPES = ["text", "image", "image_url", "input_text", "input_image", "file", "input_file", "tool_use", "tool_result",
         "document", "thinking", "function_call", "function_call_output", "reasoning", "message", "refusal"]  # fmt: skip

scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(TYPES), st.text(max_size=8))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(route=st.sampled_from(ROUTES), body=st.dictionaries(st.sampled_from(KEYS), values, max_size=6))
def test_when_a_body_has_any_shape_then_parse_reads_it_or_refuses_it_cleanly(route, body):
    try:
        parsed = parse_request(route[0], "POST", route[1], {}, json.dumps(body).encode())
    except RequestError:
        return
    for seg in parsed.segments:
        node = parsed.body
        for key in seg.path:
            node = node[key]
        assert node == seg.text
    rebuilt = json.loads(rebuild_body(parsed, {s.path: "X" for s in parsed.segments}))
    assert all(isinstance(s.text, str) for s in parsed.segments) and isinstance(rebuilt, dict)
