"""Translate Anthropic Messages <-> OpenAI chat completions (requests, JSON replies, SSE streams).

Format references: https://docs.anthropic.com/en/api/messages and /en/api/messages-streaming;
https://platform.openai.com/docs/api-reference/chat.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from guard.routing.chat import chat_message
from guard.routing.sse import ChunkTranslator, sse_event

_STOP = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "function_call": "tool_use",
         "content_filter": "refusal"}  # fmt: skip


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def _image(block: dict[str, Any]) -> dict[str, Any]:
    src = block.get("source") or {}
    url = src.get("url") if src.get("type") == "url" else f"data:{src.get('media_type')};base64,{src.get('data')}"
    return {"type": "image_url", "image_url": {"url": url}}


def _message(m: dict[str, Any]) -> list[dict[str, Any]]:
    role, content = m.get("role", "user"), m.get("content", "")
    if isinstance(content, str):
        return [{"role": role, "content": content}]
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for b in content if isinstance(content, list) else []:
        kind = b.get("type") if isinstance(b, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": b.get("text", "")})
        elif kind == "image":
            parts.append(_image(b))
        elif kind == "tool_use":
            args = json.dumps(b.get("input") or {}, ensure_ascii=False)
            calls.append(
                {"id": b.get("id", ""), "type": "function", "function": {"name": b.get("name", ""), "arguments": args}}
            )
        elif kind == "tool_result":
            out.append(
                {"role": "tool", "tool_call_id": b.get("tool_use_id", ""), "content": _text(b.get("content", ""))}
            )
    msg = chat_message(role, parts, calls)
    if msg is not None:
        out.append(msg)
    return out


def request_to_openai(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """An Anthropic Messages request body as an OpenAI chat completions body for `model`."""
    msgs: list[dict[str, Any]] = []
    system = _text(body.get("system", ""))
    if system:
        msgs.append({"role": "system", "content": system})
    for m in body.get("messages") or []:
        msgs.extend(_message(m))
    out: dict[str, Any] = {"model": model, "messages": msgs}
    if body.get("max_tokens") is not None:
        out["max_tokens"] = body["max_tokens"]
    for src, dst in (("temperature", "temperature"), ("top_p", "top_p"), ("stop_sequences", "stop")):
        if body.get(src) is not None:
            out[dst] = body[src]
    if body.get("tools"):
        out["tools"] = [
            {"type": "function", "function": {"name": t.get("name", ""), "description": t.get("description", ""),
                                              "parameters": t.get("input_schema") or {"type": "object"}}}
            for t in body["tools"] if isinstance(t, dict)
        ]  # fmt: skip
    choice = body.get("tool_choice") or {}
    if choice.get("type") == "any":
        out["tool_choice"] = "required"
    elif choice.get("type") == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name", "")}}
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def error_body(message: str, kind: str = "api_error") -> bytes:
    """An Anthropic-format error body."""
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


def response_from_openai(raw: bytes, client_model: str) -> bytes:
    """An OpenAI chat completion (or error) body as an Anthropic Message (or error) body."""
    try:
        r = json.loads(raw)
    except ValueError:
        return error_body("the private model returned a reply that is not JSON")
    if not isinstance(r, dict) or not r.get("choices"):
        err = r.get("error") if isinstance(r, dict) else None
        msg = err.get("message") if isinstance(err, dict) else str(err or "the private model returned no answer")
        return error_body(f"private model: {msg}")
    choice = r["choices"][0]
    msg = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    if msg.get("content"):
        content.append({"type": "text", "text": msg["content"]})
    for tc in msg.get("tool_calls") or []:
        fn = tc.get("function") or {}
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except ValueError:
            args = {}
        content.append({"type": "tool_use", "id": tc.get("id", ""), "name": fn.get("name", ""), "input": args})
    usage = r.get("usage") or {}
    return json.dumps({
        "id": f"msg_{r.get('id') or uuid.uuid4().hex}",
        "type": "message",
        "role": "assistant",
        "model": client_model,
        "content": content,
        "stop_reason": _STOP.get(choice.get("finish_reason") or "stop", "end_turn"),
        "stop_sequence": None,
        "usage": {"input_tokens": usage.get("prompt_tokens", 0), "output_tokens": usage.get("completion_tokens", 0)},
    }, ensure_ascii=False).encode()  # fmt: skip


class StreamToAnthropic:
    """OpenAI chat SSE -> Anthropic Messages SSE (message_start, content blocks, message_delta, message_stop)."""

    def __init__(self, client_model: str) -> None:
        self.model = client_model
        self.started = False
        self.block = -1  # index of the open content block, -1: none
        self.block_kind = ""
        self.tool_ids: dict[int, int] = {}  # OpenAI tool_call index -> Anthropic block index
        self.stop = "end_turn"
        self.usage = {"input_tokens": 0, "output_tokens": 0}
        self.translate = ChunkTranslator(self._chunk, self._end)

    def _start(self, msg_id: str) -> bytes:
        self.started = True
        message = {"id": f"msg_{msg_id or uuid.uuid4().hex}", "type": "message", "role": "assistant",
                   "model": self.model, "content": [], "stop_reason": None, "stop_sequence": None,
                   "usage": dict(self.usage)}  # fmt: skip
        return sse_event({"type": "message_start", "message": message}, "message_start")

    def _open(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        self.block += 1
        self.block_kind = kind
        return out + sse_event({"type": "content_block_start", "index": self.block, "content_block": block},
                               "content_block_start")  # fmt: skip

    def _close(self) -> bytes:
        if not self.block_kind:
            return b""
        self.block_kind = ""
        return sse_event({"type": "content_block_stop", "index": self.block}, "content_block_stop")

    def _chunk(self, obj: dict[str, Any]) -> bytes:
        out = b"" if self.started else self._start(obj.get("id", ""))
        if obj.get("usage"):
            self.usage = {"input_tokens": obj["usage"].get("prompt_tokens", 0),
                          "output_tokens": obj["usage"].get("completion_tokens", 0)}  # fmt: skip
        if obj.get("error"):
            err = obj["error"] if isinstance(obj["error"], dict) else {"message": str(obj["error"])}
            return out + sse_event(
                {"type": "error", "error": {"type": "api_error", "message": err.get("message", "")}}, "error"
            )
        for choice in obj.get("choices") or []:
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self.block_kind != "text":
                    out += self._open("text", {"type": "text", "text": ""})
                out += sse_event({"type": "content_block_delta", "index": self.block,
                                  "delta": {"type": "text_delta", "text": delta["content"]}}, "content_block_delta")  # fmt: skip
            for tc in delta.get("tool_calls") or []:
                i = tc.get("index", 0)
                fn = tc.get("function") or {}
                if i not in self.tool_ids:
                    out += self._open(
                        "tool", {"type": "tool_use", "id": tc.get("id", ""), "name": fn.get("name", ""), "input": {}}
                    )
                    self.tool_ids[i] = self.block
                if fn.get("arguments"):
                    out += sse_event({"type": "content_block_delta", "index": self.tool_ids[i],
                                      "delta": {"type": "input_json_delta", "partial_json": fn["arguments"]}},
                                     "content_block_delta")  # fmt: skip
            if choice.get("finish_reason"):
                self.stop = _STOP.get(choice["finish_reason"], "end_turn")
        return out

    def _end(self) -> bytes:
        out = b"" if self.started else self._start("")
        out += self._close()
        out += sse_event({"type": "message_delta", "delta": {"stop_reason": self.stop, "stop_sequence": None},
                          "usage": {"output_tokens": self.usage["output_tokens"]}}, "message_delta")  # fmt: skip
        return out + sse_event({"type": "message_stop"}, "message_stop")
