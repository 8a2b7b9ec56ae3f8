"""The official openai and anthropic SDKs, talking to a real local HTTP server that replies with guard's bytes.

Checks that a blocked request surfaces as a readable SDK error (not a crash), and that restored
streams are accumulated correctly by the SDKs' own stream helpers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import anthropic
import openai
import pytest

from guard.providers import block_response, stream_error_event
from guard.restore import StreamRestorer
from tests.providers.payloads import MESSAGE, TEXT, issued_vault, load_bytes, restore_expected
from tests.providers.upstream import Upstream

ARGS = {"to": "maria.lopez@example.com", "body": "Hi Maria Lopez, card 4111 1111 1111 1111 refunded."}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    yield up
    up.close()


@pytest.fixture
def oai(upstream: Upstream) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=upstream.url + "/v1", api_key="sk-test", max_retries=0) as client:
        yield client


@pytest.fixture
def claude(upstream: Upstream) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=upstream.url, api_key="sk-ant-test", max_retries=0) as client:
        yield client


MSGS = [{"role": "user", "content": "hi"}]
OPENAI_CALLS = {
    "chat": ("chat.completions", False, lambda c: c.chat.completions.create(model="m", messages=MSGS)),
    "chat stream": (
        "chat.completions",
        True,
        lambda c: list(c.chat.completions.create(model="m", messages=MSGS, stream=True)),
    ),
    "chat stream helper": (
        "chat.completions",
        True,
        lambda c: c.chat.completions.stream(model="m", messages=MSGS).__enter__().get_final_completion(),
    ),
    "responses": ("responses", False, lambda c: c.responses.create(model="m", input="hi")),
    "responses stream": ("responses", True, lambda c: list(c.responses.create(model="m", input="hi", stream=True))),
    "completions": ("completions", False, lambda c: c.completions.create(model="m", prompt="hi")),
    "embeddings": ("embeddings", False, lambda c: c.embeddings.create(model="m", input="hi")),
}


@pytest.mark.parametrize("call", OPENAI_CALLS, ids=list(OPENAI_CALLS))
def test_when_openai_request_is_blocked_then_the_sdk_raises_bad_request_with_guard_message(upstream, oai, call):
    endpoint, stream, fn = OPENAI_CALLS[call]
    upstream.reply = block_response("openai", endpoint, MESSAGE, stream)
    with pytest.raises(openai.BadRequestError) as info:
        fn(oai)
    assert info.value.status_code == 400
    assert MESSAGE in str(info.value)
    assert info.value.code == "guard_blocked"


def test_when_azure_request_is_blocked_then_the_azure_client_raises_bad_request(upstream):
    upstream.reply = block_response("azure_openai", "chat.completions", MESSAGE, True)
    with openai.AzureOpenAI(azure_endpoint=upstream.url, api_version="2024-10-21", api_key="k", max_retries=0) as az:
        with pytest.raises(openai.BadRequestError, match="guard blocked"):
            list(az.chat.completions.create(model="gpt4o-prod", messages=MSGS, stream=True))


ANTHROPIC_CALLS = {
    "messages": (False, lambda c: c.messages.create(model="m", max_tokens=5, messages=MSGS)),
    "messages stream": (True, lambda c: list(c.messages.create(model="m", max_tokens=5, messages=MSGS, stream=True))),
    "messages stream helper": (
        True,
        lambda c: c.messages.stream(model="m", max_tokens=5, messages=MSGS).__enter__().get_final_message(),
    ),
    "count_tokens": (False, lambda c: c.messages.count_tokens(model="m", messages=MSGS)),
}


@pytest.mark.parametrize("call", ANTHROPIC_CALLS, ids=list(ANTHROPIC_CALLS))
def test_when_anthropic_request_is_blocked_then_the_sdk_raises_bad_request_with_guard_message(upstream, claude, call):
    stream, fn = ANTHROPIC_CALLS[call]
    upstream.reply = block_response("anthropic", "messages", MESSAGE, stream)
    with pytest.raises(anthropic.BadRequestError) as info:
        fn(claude)
    assert info.value.status_code == 400
    assert MESSAGE in str(info.value)
    assert info.value.body["error"]["message"] == MESSAGE


SSE = {"content-type": "text/event-stream"}


def test_when_an_openai_stream_is_cut_by_guard_then_the_sdk_raises_api_error_with_guard_message(upstream, oai):
    first = b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n'
    upstream.reply = (200, SSE, first + stream_error_event("openai", "chat.completions", MESSAGE))
    got = []
    with pytest.raises(openai.APIError) as info:
        for chunk in oai.chat.completions.create(model="m", messages=MSGS, stream=True):
            got.append(chunk.choices[0].delta.content)
    assert got == ["Hel"] and info.value.message == MESSAGE


def test_when_an_anthropic_stream_is_cut_by_guard_then_the_sdk_raises_with_guard_message(upstream, claude):
    first = load_bytes("anthropic/messages_stream.sse").split(b"\n\n")[0] + b"\n\n"
    upstream.reply = (200, SSE, first + stream_error_event("anthropic", "messages", MESSAGE))
    with pytest.raises(anthropic.APIStatusError, match="guard blocked"):
        list(claude.messages.create(model="m", max_tokens=5, messages=MSGS, stream=True))


def restored(rel: str, tail: bytes = b"") -> bytes:
    r = StreamRestorer(issued_vault())
    raw = load_bytes(rel) + tail
    return b"".join(r.feed(raw[i : i + 5]) for i in range(0, len(raw), 5)) + r.close()


def test_when_a_restored_openai_stream_is_accumulated_by_the_sdk_then_text_and_tool_arguments_are_real(upstream, oai):
    upstream.reply = (200, SSE, restored("openai/chat_stream.sse"))
    with oai.chat.completions.stream(model="m", messages=MSGS) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == restore_expected(TEXT)
    assert json.loads(message.tool_calls[0].function.arguments) == ARGS
    assert message.tool_calls[0].function.name == "send_email" and message.tool_calls[0].id == "call_Qx1"


def test_when_a_held_tail_is_flushed_as_its_own_chunk_then_the_sdk_still_accumulates_it(upstream, oai):
    def chunk(delta, finish=None):
        body = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    r = StreamRestorer(issued_vault())
    raw = chunk({"role": "assistant", "content": "mail [EMAIL_1] or ["}) + chunk({}, "stop") + b"data: [DONE]\n\n"
    upstream.reply = (200, SSE, r.feed(raw) + r.close())
    with oai.chat.completions.stream(model="m", messages=MSGS) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "mail maria.lopez@example.com or ["
    assert final.choices[0].message.role == "assistant" and final.choices[0].finish_reason == "stop"


def test_when_a_restored_responses_stream_is_accumulated_by_the_sdk_then_output_is_real(upstream, oai):
    upstream.reply = (200, SSE, restored("openai/responses_stream.sse"))
    with oai.responses.stream(model="m", input="hi") as stream:
        final = stream.get_final_response()
    assert final.output_text == restore_expected(TEXT)
    assert json.loads(final.output[1].arguments) == ARGS


def test_when_a_restored_anthropic_stream_is_accumulated_by_the_sdk_then_text_and_tool_input_are_real(upstream, claude):
    upstream.reply = (200, SSE, restored("anthropic/messages_stream.sse"))
    with claude.messages.stream(model="m", max_tokens=5, messages=MSGS) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == restore_expected(TEXT)
    assert final.content[1].input == ARGS


def test_when_an_anthropic_text_block_ends_in_a_held_bracket_then_the_flushed_delta_reaches_the_sdk(upstream, claude):
    raw = load_bytes("anthropic/messages_stream.sse").replace(b'"text":".\\n"}', b'"text":".\\n ["}')
    r = StreamRestorer(issued_vault())
    upstream.reply = (200, SSE, r.feed(raw) + r.close())
    with claude.messages.stream(model="m", max_tokens=5, messages=MSGS) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == restore_expected(TEXT) + " ["
    assert final.content[1].input == ARGS


def test_when_a_responses_text_ends_in_a_held_bracket_then_the_flushed_delta_event_parses(upstream, oai):
    raw = load_bytes("openai/responses_stream.sse").replace(b'"delta":".\\n"', b'"delta":".\\n ["')
    r = StreamRestorer(issued_vault())
    upstream.reply = (200, SSE, r.feed(raw) + r.close())
    deltas = [
        e.delta
        for e in oai.responses.create(model="m", input="hi", stream=True)
        if e.type == "response.output_text.delta"
    ]
    assert "".join(deltas) == restore_expected(TEXT) + " ["
    assert deltas[-1] == "["  # the held bracket came as its own, well-formed delta event
