"""parse_request / rebuild_body on the recorded payloads of every adapter."""

from __future__ import annotations

import json

import pytest

from guard.providers import ParsedRequest, adapter_for_path, parse_request, rebuild_body
from guard.providers._wire import iter_strings, path_str
from guard.vault import Vault
from tests.providers.payloads import VALUES, findings_for, load_bytes

# adapter, path, payload file, endpoint, model, stream, conversation hint
CASES = [
    (
        "openai",
        "/v1/chat/completions",
        "openai/chat_request_tools.json",
        "chat.completions",
        "gpt-4o-2024-08-06",
        True,
        "",
    ),
    ("openai", "/v1/chat/completions", "openai/chat_request_plain.json", "chat.completions", "gpt-4o-mini", False, ""),
    ("openai", "/v1/responses", "openai/responses_request.json", "responses", "gpt-4.1", True, "conv_68a1f0c2"),
    ("openai", "/v1/responses", "openai/responses_request_string.json", "responses", "gpt-4.1", False, ""),
    (
        "openai",
        "/v1/completions",
        "openai/completions_request.json",
        "completions",
        "gpt-3.5-turbo-instruct",
        False,
        "",
    ),
    ("openai", "/v1/embeddings", "openai/embeddings_request.json", "embeddings", "text-embedding-3-small", False, ""),
    (
        "azure_openai",
        "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21",
        "azure_openai/chat_request.json",
        "chat.completions",
        "gpt4o-prod",
        False,
        "",
    ),
    ("ollama", "/api/chat", "ollama/chat_request.json", "ollama.chat", "llama3.2", True, ""),
    ("ollama", "/api/generate", "ollama/generate_request.json", "ollama.generate", "llama3.2", False, ""),
    ("anthropic", "/v1/messages", "anthropic/messages_request.json", "messages", "claude-sonnet-4-20250514", True, ""),
    (
        "anthropic",
        "/v1/messages",
        "anthropic/messages_request_string.json",
        "messages",
        "claude-3-5-haiku-latest",
        False,
        "",
    ),
    (
        "gemini",
        "/v1beta/models/gemini-2.0-flash:generateContent",
        "gemini/generate_request.json",
        "generateContent",
        "gemini-2.0-flash",
        False,
        "",
    ),
    (
        "gemini",
        "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse",
        "gemini/generate_request_snake.json",
        "streamGenerateContent",
        "gemini-2.0-flash",
        True,
        "",
    ),
    (
        "chatgpt_web",
        "/backend-api/conversation",
        "chatgpt_web/conversation_request.json",
        "conversation",
        "auto",
        True,
        "6802f1a2-7c1e-8000-9a1b-0c2d3e4f5a6b",
    ),
    ("generic", "/v2/anything", "generic/unknown_request.json", "generic", "", False, ""),
]
IDS = [c[2] for c in CASES]


def parse(adapter: str, path: str, rel: str) -> ParsedRequest:
    return parse_request(adapter, "POST", path, {"content-type": "application/json"}, load_bytes(rel))


@pytest.mark.parametrize(("adapter", "path", "rel", "endpoint", "model", "stream", "hint"), CASES, ids=IDS)
def test_when_recorded_request_is_parsed_then_endpoint_model_stream_and_hint_are_read(
    adapter, path, rel, endpoint, model, stream, hint
):
    parsed = parse(adapter, path, rel)
    assert (parsed.adapter, parsed.endpoint, parsed.model, parsed.stream, parsed.conversation_hint) == (
        adapter,
        endpoint,
        model,
        stream,
        hint,
    )


@pytest.mark.parametrize(("adapter", "path", "rel"), [c[:3] for c in CASES], ids=IDS)
def test_when_request_carries_sensitive_values_then_every_occurrence_is_in_a_segment(adapter, path, rel):
    parsed = parse(adapter, path, rel)
    for value in VALUES:
        in_body = sum(s.count(value) for _, s in iter_strings(parsed.body))
        in_segments = sum(seg.text.count(value) for seg in parsed.segments)
        assert in_segments == in_body, value


@pytest.mark.parametrize(("adapter", "path", "rel"), [c[:3] for c in CASES], ids=IDS)
def test_when_segments_are_redacted_and_rebuilt_then_no_value_leaves_and_the_rest_is_unchanged(adapter, path, rel):
    parsed = parse(adapter, path, rel)
    original = json.loads(load_bytes(rel))
    vault = Vault()
    replacements = {}
    for seg in parsed.segments:
        redacted = vault.redact(seg.text, findings_for(seg.text))
        if redacted != seg.text:
            replacements[seg.path] = redacted
    assert replacements
    out = rebuild_body(parsed, replacements)
    assert not any(v.encode() in out for v in VALUES)
    rebuilt = json.loads(out)
    for p, s in iter_strings(rebuilt):
        if p in replacements:
            assert s == replacements[p]
        else:
            node = original
            for key in p:
                node = node[key]
            assert node == s, path_str(p)
    assert json.loads(load_bytes(rel)) == parsed.body  # the parsed body was not mutated


# payload, JSON path, role, kind of the segment found there
SEGMENT_KINDS = [
    ("openai/chat_request_tools.json", "messages[0].content", "system", "text"),
    ("openai/chat_request_tools.json", "messages[1].content[0].text", "user", "text"),
    ("openai/chat_request_tools.json", "messages[2].tool_calls[0].function.arguments", "assistant", "tool_args"),
    ("openai/chat_request_tools.json", "messages[3].content", "tool", "tool_result"),
    ("openai/chat_request_tools.json", "tools[0].function.description", "system", "other"),
    ("openai/chat_request_tools.json", "user", "", "other"),
    ("openai/responses_request.json", "instructions", "system", "text"),
    ("openai/responses_request.json", "input[0].content[0].text", "user", "text"),
    ("openai/responses_request.json", "input[0].content[2].filename", "user", "attachment"),
    ("openai/responses_request.json", "input[1].arguments", "assistant", "tool_args"),
    ("openai/responses_request.json", "input[2].output", "tool", "tool_result"),
    ("openai/responses_request.json", "input[3].summary[0].text", "assistant", "text"),
    ("openai/responses_request.json", "input[4].content[0].text", "assistant", "text"),
    ("openai/responses_request.json", "input[5].content", "user", "text"),
    ("openai/completions_request.json", "prompt[2]", "user", "text"),
    ("openai/completions_request.json", "suffix", "user", "text"),
    ("openai/embeddings_request.json", "input[1]", "user", "text"),
    ("ollama/chat_request.json", "messages[1].tool_calls[0].function.arguments.to", "assistant", "tool_args"),
    ("ollama/chat_request.json", "messages[2].content", "tool", "tool_result"),
    ("ollama/generate_request.json", "system", "system", "text"),
    ("anthropic/messages_request.json", "system[0].text", "system", "text"),
    ("anthropic/messages_request.json", "messages[0].content[2].source.data", "user", "attachment"),
    ("anthropic/messages_request.json", "messages[1].content[0].thinking", "assistant", "text"),
    ("anthropic/messages_request.json", "messages[1].content[2].input.to", "assistant", "tool_args"),
    ("anthropic/messages_request.json", "messages[2].content[0].content[0].text", "tool", "tool_result"),
    ("anthropic/messages_request_string.json", "system", "system", "text"),
    ("gemini/generate_request.json", "systemInstruction.parts[0].text", "system", "text"),
    ("gemini/generate_request.json", "contents[1].parts[0].functionCall.args.to", "assistant", "tool_args"),
    ("gemini/generate_request.json", "contents[2].parts[0].functionResponse.response.result", "user", "tool_result"),
    ("gemini/generate_request_snake.json", "system_instruction.parts[0].text", "system", "text"),
    ("chatgpt_web/conversation_request.json", "messages[0].content.parts[1]", "user", "text"),
    ("generic/unknown_request.json", "payload.notes[1].contact", "", "other"),
]
ROUTES = {c[2]: c[:2] for c in CASES}


@pytest.mark.parametrize(("rel", "where", "role", "kind"), SEGMENT_KINDS)
def test_when_a_field_holds_text_then_its_segment_has_the_right_role_and_kind(rel, where, role, kind):
    parsed = parse(*ROUTES[rel], rel)
    found = {path_str(s.path): (s.role, s.kind) for s in parsed.segments}
    assert found.get(where) == (role, kind)


# payload, skipped entries expected (exactly)
SKIPPED = [
    (
        "openai/chat_request_tools.json",
        {"messages[1].content[1]: image not scanned", "tools[0].function.parameters: tool schema not scanned"},
    ),
    (
        "openai/responses_request.json",
        {
            "input[0].content[1]: image not scanned",
            "input[0].content[2]: file attachment not scanned",
            "input[3].encrypted_content: encrypted by the provider",
            "tools[0].parameters: tool schema not scanned",
        },
    ),
    ("openai/completions_request.json", {"prompt[1]: token ids in prompt not scanned"}),
    ("openai/embeddings_request.json", {"input[2]: token ids in input not scanned"}),
    ("ollama/chat_request.json", {"messages[0].images[0]: image not scanned"}),
    (
        "ollama/generate_request.json",
        {"images[0]: image not scanned", "context: token ids of an earlier reply not scanned"},
    ),
    (
        "anthropic/messages_request.json",
        {
            "messages[0].content[1]: image not scanned",
            "messages[1].content[0].signature: provider signature, opaque",
            "tools[0].input_schema: tool schema not scanned",
        },
    ),
    (
        "gemini/generate_request.json",
        {
            "contents[0].parts[1].inlineData: inline data not scanned",
            "contents[0].parts[2].fileData: file reference not scanned",
            "tools[0].functionDeclarations[0].parameters: tool schema not scanned",
        },
    ),
    ("gemini/generate_request_snake.json", {"contents[0].parts[1].inline_data: inline data not scanned"}),
    (
        "chatgpt_web/conversation_request.json",
        {"messages[0].content.parts[0]: non-text part (image or file pointer) not scanned"},
    ),
]


@pytest.mark.parametrize(("rel", "expected"), SKIPPED, ids=[s[0] for s in SKIPPED])
def test_when_a_part_is_not_text_then_it_is_listed_as_skipped_with_a_reason(rel, expected):
    parsed = parse(*ROUTES[rel], rel)
    assert set(parsed.skipped) == expected
    assert not any(s.text.startswith(("data:", "iVBOR")) for s in parsed.segments)  # no base64 blob scanned


@pytest.mark.parametrize(
    ("adapter", "path", "endpoint"),
    [
        ("openai", "/v1/chat/completions", "chat.completions"),
        ("openai", "/v1/responses", "responses"),
        ("openai", "/v1/completions", "completions"),
        ("openai", "/v1/embeddings", "embeddings"),
        ("openai", "/v1/audio/transcriptions", "generic"),
        ("openai", "/v1beta/openai/chat/completions", "chat.completions"),
        ("azure_openai", "/openai/deployments/d1/chat/completions?api-version=2024-10-21", "chat.completions"),
        ("azure_openai", "/openai/deployments/d1/embeddings?api-version=2024-10-21", "embeddings"),
        ("azure_openai", "/openai/v1/responses", "responses"),
        ("ollama", "/api/chat", "ollama.chat"),
        ("ollama", "/api/generate", "ollama.generate"),
        ("ollama", "/api/embed", "ollama.embed"),
        ("ollama", "/api/embeddings", "ollama.embed"),
        ("ollama", "/v1/chat/completions", "chat.completions"),
        ("anthropic", "/v1/messages", "messages"),
        ("anthropic", "/v1/messages/count_tokens", "messages"),
        ("anthropic", "/v1/complete", "completions"),
        ("anthropic", "/v1/files", "generic"),
        ("gemini", "/v1beta/models/gemini-2.0-flash:generateContent", "generateContent"),
        ("gemini", "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", "streamGenerateContent"),
        ("gemini", "/v1beta/models/text-embedding-004:embedContent", "embedContent"),
        (
            "gemini",
            "/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.0-flash:generateContent",
            "generateContent",
        ),
        ("gemini", "/v1beta/cachedContents", "generic"),
        ("chatgpt_web", "/backend-api/conversation", "conversation"),
        ("chatgpt_web", "/backend-api/f/conversation", "conversation"),
        ("chatgpt_web", "/backend-api/memories", "generic"),
        ("generic", "/v1/chat/completions", "generic"),
    ],
)
def test_when_a_path_is_routed_then_it_names_the_endpoint(adapter, path, endpoint):
    assert adapter_for_path(adapter, path) == endpoint


@pytest.mark.parametrize(
    ("adapter", "path", "body"),
    [
        (
            "openai",
            "/v1/assistants",
            {"name": "bot", "instructions": "Help Maria Lopez", "tools": [{"x": "maria.lopez@example.com"}]},
        ),
        ("anthropic", "/v1/messages/batches", {"requests": [{"params": {"messages": [{"content": "Maria Lopez"}]}}]}),
        ("gemini", "/v1beta/cachedContents", {"contents": [{"parts": [{"text": "maria.lopez@example.com"}]}]}),
        ("chatgpt_web", "/backend-api/memories", {"memory": "Maria Lopez lives here", "n": 3}),
    ],
)
def test_when_a_guarded_adapter_meets_an_unknown_endpoint_then_every_string_is_scanned(adapter, path, body):
    parsed = parse_request(adapter, "POST", path, {}, json.dumps(body).encode())
    assert parsed.endpoint == "generic"
    assert {s.text for s in parsed.segments} == {s for _, s in iter_strings(body)}


@pytest.mark.parametrize(("method", "body"), [("GET", b""), ("POST", b"  \n")])
def test_when_the_body_is_empty_then_there_is_nothing_to_scan(method, body):
    parsed = parse_request("openai", method, "/v1/models", {}, body)
    assert parsed.segments == () and parsed.body is None


@pytest.mark.parametrize(("adapter", "path", "rel"), [c[:3] for c in CASES], ids=IDS)
def test_when_a_segment_is_reported_then_its_path_leads_to_exactly_its_text(adapter, path, rel):
    parsed = parse(adapter, path, rel)
    assert parsed.segments
    for seg in parsed.segments:
        node = parsed.body
        for key in seg.path:
            node = node[key]
        assert node == seg.text


def test_when_a_stored_prompt_has_variables_then_they_are_scanned_and_images_skipped():
    body = {
        "model": "gpt-4.1",
        "prompt": {
            "id": "pmpt_68a1",
            "variables": {
                "customer": "Maria Lopez",
                "note": {"type": "input_text", "text": "mail maria.lopez@example.com"},
                "photo": {"type": "input_image", "image_url": "https://example.com/p.png"},
            },
        },
    }
    parsed = parse_request("openai", "POST", "/v1/responses", {}, json.dumps(body).encode())
    assert {path_str(s.path): s.text for s in parsed.segments} == {
        "prompt.variables.customer": "Maria Lopez",
        "prompt.variables.note.text": "mail maria.lopez@example.com",
    }
    assert parsed.skipped == ("prompt.variables.photo: image not scanned",)


# Fields of an unexpected type still leave the company: their text is scanned, never dropped.
ODD_SHAPES = [
    ("openai", "/v1/chat/completions", {"messages": [{"role": "assistant", "tool_calls": "Maria Lopez"}]}),
    ("openai", "/v1/chat/completions", {"messages": [{"role": "assistant", "function_call": "Maria Lopez"}]}),
    ("openai", "/v1/chat/completions", {"messages": [], "prediction": "Maria Lopez"}),
    ("openai", "/v1/chat/completions", {"messages": [], "metadata": "Maria Lopez"}),
    ("openai", "/v1/chat/completions", {"messages": [], "tools": ["Maria Lopez"]}),
    ("openai", "/v1/responses", {"input": [{"type": "reasoning", "summary": "Maria Lopez"}]}),
    ("anthropic", "/v1/messages", {"messages": [], "tools": "Maria Lopez"}),
    (
        "anthropic",
        "/v1/messages",
        {"messages": [{"role": "user", "content": [{"type": "document", "source": "Maria Lopez"}]}]},
    ),
    (
        "gemini",
        "/v1beta/models/g:generateContent",
        {"contents": [], "tools": [{"functionDeclarations": "Maria Lopez"}]},
    ),
    ("gemini", "/v1beta/models/g:batchEmbedContents", {"requests": ["Maria Lopez"]}),
    (
        "chatgpt_web",
        "/backend-api/conversation",
        {"messages": [{"author": {"role": "user"}, "content": "Maria Lopez"}]},
    ),
    ("chatgpt_web", "/backend-api/conversation", {"messages": [{"content": {"parts": "Maria Lopez"}}]}),
]


@pytest.mark.parametrize(("adapter", "path", "body"), ODD_SHAPES)
def test_when_a_field_has_an_unexpected_type_then_its_text_is_still_scanned(adapter, path, body):
    parsed = parse_request(adapter, "POST", path, {}, json.dumps(body).encode())
    assert [s.text for s in parsed.segments] == ["Maria Lopez"]
    replaced = json.loads(rebuild_body(parsed, {parsed.segments[0].path: "[PERSON_1]"}))
    assert "Maria Lopez" not in json.dumps(replaced)
