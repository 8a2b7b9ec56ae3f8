"""Anthropic Messages and Gemini <-> OpenAI chat translation: requests, replies, errors, SSE streams."""

from __future__ import annotations

import json

import pytest

from guard.routing import anthropic, gemini
from guard.routing.sse import SseReader

OPENAI_REPLY = json.dumps({
    "id": "chatcmpl-9", "object": "chat.completion", "model": "llama3",
    "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "Hello there"}}],
    "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13},
}).encode()  # fmt: skip


def _openai_stream(texts: list[str], tool: bool = False) -> bytes:
    chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
    chunks += [{"choices": [{"index": 0, "delta": {"content": t}}]} for t in texts]
    if tool:
        chunks.append({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                       "function": {"name": "lookup", "arguments": '{"q": '}}]}}]})  # fmt: skip
        chunks.append(
            {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '"x"}'}}]}}]}
        )
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls" if tool else "stop"}]})
    chunks.append({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}})
    return b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in chunks) + b"data: [DONE]\r\n\r\n"


def _feed(translate, data: bytes, step: int) -> bytes:
    out = b"".join(translate(data[i : i + step]) for i in range(0, len(data), step))
    return out + translate(b"")


def _events(raw: bytes) -> list[dict]:
    return [json.loads(d) for d in SseReader().feed(raw + b"\n\n")]


def test_anthropic_request_becomes_openai_chat() -> None:
    body = {
        "model": "claude-3-5-sonnet-latest", "max_tokens": 256, "temperature": 0.2, "stop_sequences": ["END"],
        "system": [{"type": "text", "text": "You are terse."}],
        "messages": [
            {"role": "user", "content": "CONFIDENTIAL: Q3 numbers"},
            {"role": "assistant", "content": [{"type": "text", "text": "Looking"},
                                              {"type": "tool_use", "id": "tu_1", "name": "lookup", "input": {"q": "q3"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": [{"type": "text", "text": "42"}]},
                                         {"type": "text", "text": "and?"},
                                         {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}]},
        ],
        "tools": [{"name": "lookup", "description": "find", "input_schema": {"type": "object", "properties": {}}}],
        "tool_choice": {"type": "any"},
    }  # fmt: skip
    out = anthropic.request_to_openai(body, "llama3", stream=True)
    assert (
        out["model"] == "llama3" and out["max_tokens"] == 256 and out["stop"] == ["END"] and out["temperature"] == 0.2
    )
    assert out["stream"] is True and out["stream_options"] == {"include_usage": True}
    m = out["messages"]
    assert m[0] == {"role": "system", "content": "You are terse."}
    assert m[1] == {"role": "user", "content": "CONFIDENTIAL: Q3 numbers"}
    assert m[2]["content"] == "Looking" and m[2]["tool_calls"][0]["function"] == {
        "name": "lookup",
        "arguments": '{"q": "q3"}',
    }
    assert m[3] == {"role": "tool", "tool_call_id": "tu_1", "content": "42"}
    assert m[4]["content"][0] == {"type": "text", "text": "and?"}
    assert m[4]["content"][1]["image_url"]["url"] == "data:image/png;base64,AAA"
    assert out["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert out["tool_choice"] == "required"


def test_openai_reply_becomes_anthropic_message() -> None:
    msg = json.loads(anthropic.response_from_openai(OPENAI_REPLY, "claude-3-5-sonnet-latest"))
    assert msg["type"] == "message" and msg["role"] == "assistant" and msg["model"] == "claude-3-5-sonnet-latest"
    assert msg["content"] == [{"type": "text", "text": "Hello there"}]
    assert msg["stop_reason"] == "max_tokens" and msg["usage"] == {"input_tokens": 11, "output_tokens": 2}


def test_openai_error_becomes_anthropic_error() -> None:
    err = json.loads(anthropic.response_from_openai(b'{"error": {"message": "model not found"}}', "claude"))
    assert err["type"] == "error" and "model not found" in err["error"]["message"]
    assert json.loads(anthropic.response_from_openai(b"<html>", "c"))["type"] == "error"


@pytest.mark.parametrize("step", [1, 7, 10_000])
def test_openai_stream_becomes_anthropic_stream_at_any_chunking(step: int) -> None:
    raw = _feed(
        anthropic.StreamToAnthropic("claude-x").translate, _openai_stream(["Hel", "lo", " world"], tool=True), step
    )
    text = raw.decode()
    ev = _events(raw)
    kinds = [e["type"] for e in ev]
    assert kinds == ["message_start", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_delta", "content_block_stop", "content_block_start", "content_block_delta",
                     "content_block_delta", "content_block_stop", "message_delta", "message_stop"]  # fmt: skip
    assert "event: message_start\n" in text and "event: content_block_delta\n" in text
    assert ev[0]["message"]["model"] == "claude-x"
    assert "".join(e["delta"]["text"] for e in ev if e.get("delta", {}).get("type") == "text_delta") == "Hello world"
    assert ev[6]["content_block"] == {"type": "tool_use", "id": "call_1", "name": "lookup", "input": {}}
    assert (
        "".join(e["delta"]["partial_json"] for e in ev if e.get("delta", {}).get("type") == "input_json_delta")
        == '{"q": "x"}'
    )
    assert ev[-2]["delta"]["stop_reason"] == "tool_use" and ev[-2]["usage"] == {"output_tokens": 4}


def test_stream_without_done_is_closed_by_end_marker() -> None:
    data = _openai_stream(["ok"]).replace(b"data: [DONE]\r\n\r\n", b"")
    ev = _events(_feed(anthropic.StreamToAnthropic("c").translate, data, 5))
    assert ev[-1]["type"] == "message_stop" and ev[-2]["delta"]["stop_reason"] == "end_turn"


def test_gemini_request_becomes_openai_chat() -> None:
    body = {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [{"role": "user", "parts": [{"text": "内部资料: summarise"}]},
                     {"role": "model", "parts": [{"text": "Sure"}]},
                     {"role": "user", "parts": [{"text": "go"}, {"inlineData": {"mimeType": "image/jpeg", "data": "BBB"}}]}],
        "generationConfig": {"temperature": 0.1, "maxOutputTokens": 64, "topP": 0.9, "stopSequences": ["x"]},
    }  # fmt: skip
    out = gemini.request_to_openai(body, "qwen2.5", stream=False)
    assert out["model"] == "qwen2.5" and "stream" not in out
    assert (out["temperature"], out["max_tokens"], out["top_p"], out["stop"]) == (0.1, 64, 0.9, ["x"])
    assert out["messages"][0] == {"role": "system", "content": "Be brief."}
    assert out["messages"][1] == {"role": "user", "content": "内部资料: summarise"}
    assert out["messages"][2] == {"role": "assistant", "content": "Sure"}
    assert out["messages"][3]["content"][1]["image_url"]["url"] == "data:image/jpeg;base64,BBB"


def test_openai_reply_becomes_gemini_response() -> None:
    r = json.loads(gemini.response_from_openai(OPENAI_REPLY, "gemini-1.5-pro"))
    assert r["candidates"][0]["content"] == {"parts": [{"text": "Hello there"}], "role": "model"}
    assert r["candidates"][0]["finishReason"] == "MAX_TOKENS"
    assert r["usageMetadata"] == {"promptTokenCount": 11, "candidatesTokenCount": 2, "totalTokenCount": 13}
    assert json.loads(gemini.response_from_openai(b'{"error": {"message": "bad"}}', "g"))["error"]["status"]


@pytest.mark.parametrize("step", [1, 13, 10_000])
def test_openai_stream_becomes_gemini_sse(step: int) -> None:
    raw = _feed(gemini.StreamToGemini("gemini-x", sse=True).translate, _openai_stream(["a", "b", "c"]), step)
    ev = _events(raw)
    assert "".join(p["text"] for e in ev for p in e["candidates"][0]["content"]["parts"]) == "abc"
    assert ev[-1]["candidates"][0]["finishReason"] == "STOP" and ev[-1]["usageMetadata"]["totalTokenCount"] == 9


def test_openai_stream_becomes_gemini_json_array() -> None:
    raw = _feed(gemini.StreamToGemini("gemini-x", sse=False).translate, _openai_stream(["a", "b"]), 3)
    arr = json.loads(raw)
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in arr] == ["a", "b", ""]
