"""The official google-genai and ollama clients against a real local HTTP server replying with guard's bytes."""

from __future__ import annotations

from collections.abc import Iterator

import ollama
import pytest
from google import genai
from google.genai import errors, types

from guard.providers import block_response, stream_error_event
from guard.restore import StreamRestorer
from tests.providers.payloads import MESSAGE, TEXT, issued_vault, load_bytes, restore_expected
from tests.providers.upstream import Upstream


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    yield up
    up.close()


@pytest.fixture
def gem(upstream: Upstream) -> genai.Client:
    options = types.HttpOptions(base_url=upstream.url, retry_options=types.HttpRetryOptions(attempts=1))
    return genai.Client(api_key="test-key", http_options=options)


@pytest.fixture
def olla(upstream: Upstream) -> ollama.Client:
    return ollama.Client(host=upstream.url)


GEMINI_CALLS = {
    "generate": (
        "generateContent",
        False,
        lambda c: c.models.generate_content(model="gemini-2.0-flash", contents="hi"),
    ),
    "stream": (
        "streamGenerateContent",
        True,
        lambda c: list(c.models.generate_content_stream(model="gemini-2.0-flash", contents="hi")),
    ),
    "count tokens": ("countTokens", False, lambda c: c.models.count_tokens(model="gemini-2.0-flash", contents="hi")),
}


@pytest.mark.parametrize("call", GEMINI_CALLS, ids=list(GEMINI_CALLS))
def test_when_gemini_request_is_blocked_then_google_genai_raises_client_error_with_guard_message(upstream, gem, call):
    endpoint, stream, fn = GEMINI_CALLS[call]
    upstream.reply = block_response("gemini", endpoint, MESSAGE, stream)
    with pytest.raises(errors.ClientError) as info:
        fn(gem)
    assert info.value.code == 400 and info.value.message == MESSAGE


def test_when_a_gemini_stream_is_cut_by_guard_then_google_genai_raises_with_guard_message(upstream, gem):
    first = load_bytes("gemini/stream_reply.sse").split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    upstream.reply = (
        200,
        {"content-type": "text/event-stream"},
        first + stream_error_event("gemini", "streamGenerateContent", MESSAGE),
    )
    with pytest.raises(errors.APIError) as info:
        list(gem.models.generate_content_stream(model="gemini-2.0-flash", contents="hi"))
    assert info.value.message == MESSAGE


def test_when_a_restored_gemini_stream_is_read_by_google_genai_then_text_and_call_args_are_real(upstream, gem):
    r = StreamRestorer(issued_vault())
    raw = load_bytes("gemini/stream_reply.sse")
    upstream.reply = (
        200,
        {"content-type": "text/event-stream"},
        b"".join(r.feed(raw[i : i + 9]) for i in range(0, len(raw), 9)) + r.close(),
    )
    chunks = list(gem.models.generate_content_stream(model="gemini-2.0-flash", contents="hi"))
    text = "".join(p.text for ch in chunks for p in ch.candidates[0].content.parts if p.text)
    call = next(p.function_call for ch in chunks for p in ch.candidates[0].content.parts if p.function_call)
    assert text == restore_expected(TEXT)
    assert call.args == {"to": "maria.lopez@example.com", "body": "Hi Maria Lopez"}


OLLAMA_CALLS = {
    "chat": ("ollama.chat", False, lambda c: c.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}])),
    "chat stream": (
        "ollama.chat",
        True,
        lambda c: list(c.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=True)),
    ),
    "generate": ("ollama.generate", False, lambda c: c.generate(model="llama3.2", prompt="hi")),
    "embed": ("ollama.embed", False, lambda c: c.embed(model="nomic-embed-text", input="hi")),
}


@pytest.mark.parametrize("call", OLLAMA_CALLS, ids=list(OLLAMA_CALLS))
def test_when_ollama_request_is_blocked_then_the_ollama_client_raises_response_error_with_guard_message(
    upstream, olla, call
):
    endpoint, stream, fn = OLLAMA_CALLS[call]
    upstream.reply = block_response("ollama", endpoint, MESSAGE, stream)
    with pytest.raises(ollama.ResponseError) as info:
        fn(olla)
    assert info.value.status_code == 400 and info.value.error == MESSAGE


def test_when_an_ollama_stream_is_cut_by_guard_then_the_client_raises_with_guard_message(upstream, olla):
    first = load_bytes("ollama/chat_stream.ndjson").split(b"\n")[0] + b"\n"
    upstream.reply = (
        200,
        {"content-type": "application/x-ndjson"},
        first + stream_error_event("ollama", "ollama.chat", MESSAGE),
    )
    with pytest.raises(ollama.ResponseError) as info:
        list(olla.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert info.value.error == MESSAGE


def test_when_a_restored_ollama_stream_is_read_by_the_client_then_the_text_is_real(upstream, olla):
    r = StreamRestorer(issued_vault())
    lines = load_bytes("ollama/chat_stream.ndjson").splitlines(keepends=True)
    extra = b'{"model":"llama3.2","created_at":"x","message":{"role":"assistant","content":" ["},"done":false}\n'
    raw = b"".join(lines[:-1]) + extra + lines[-1]  # a held "[" right before the final done line
    upstream.reply = (
        200,
        {"content-type": "application/x-ndjson"},
        b"".join(r.feed(raw[i : i + 7]) for i in range(0, len(raw), 7)) + r.close(),
    )
    parts = list(olla.chat(model="llama3.2", messages=[{"role": "user", "content": "hi"}], stream=True))
    assert "".join(p.message.content for p in parts) == restore_expected(TEXT) + " ["
