"""Translate Gemini generateContent <-> OpenAI chat completions (requests, JSON replies, streams).

Format reference: https://ai.google.dev/api/generate-content. A streamed Gemini reply is SSE when the
client asked `?alt=sse` (what the SDKs do), else one JSON array written element by element.
"""

from __future__ import annotations

import json
from typing import Any

from guard.routing.chat import chat_message
from guard.routing.sse import ChunkTranslator, sse_event

_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY", "tool_calls": "STOP"}


def _parts_text(parts: Any) -> str:
    return "".join(p.get("text", "") for p in parts or [] if isinstance(p, dict))


def _content(c: dict[str, Any]) -> list[dict[str, Any]]:
    role = "assistant" if c.get("role") == "model" else "user"
    parts: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    calls = []
    for p in c.get("parts") or []:
        if not isinstance(p, dict):
            continue
        if "text" in p:
            parts.append({"type": "text", "text": p["text"]})
        elif "inlineData" in p or "inline_data" in p:
            d = p.get("inlineData") or p.get("inline_data") or {}
            mime = d.get("mimeType") or d.get("mime_type")
            parts.append({"type": "image_url", "image_url": {"url": f"data:{mime};base64,{d.get('data', '')}"}})
        elif "functionCall" in p:
            fc = p["functionCall"]
            calls.append({"id": fc.get("name", ""), "type": "function",
                          "function": {"name": fc.get("name", ""), "arguments": json.dumps(fc.get("args") or {})}})  # fmt: skip
        elif "functionResponse" in p:
            fr = p["functionResponse"]
            out.append({"role": "tool", "tool_call_id": fr.get("name", ""), "content": json.dumps(fr.get("response"))})
    msg = chat_message(role, parts, calls)
    if msg is not None:
        out.append(msg)
    return out


def request_to_openai(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any]:
    """A Gemini generateContent body as an OpenAI chat completions body for `model`."""
    msgs: list[dict[str, Any]] = []
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, dict) and _parts_text(system.get("parts")):
        msgs.append({"role": "system", "content": _parts_text(system.get("parts"))})
    for c in body.get("contents") or []:
        if isinstance(c, dict):
            msgs.extend(_content(c))
    out: dict[str, Any] = {"model": model, "messages": msgs}
    cfg = body.get("generationConfig") or body.get("generation_config") or {}
    for src, dst in (("temperature", "temperature"), ("topP", "top_p"), ("maxOutputTokens", "max_tokens"),
                     ("stopSequences", "stop")):  # fmt: skip
        if cfg.get(src) is not None:
            out[dst] = cfg[src]
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def error_body(message: str, code: int = 502, status: str = "UNAVAILABLE") -> bytes:
    """A Gemini-format error body."""
    return json.dumps({"error": {"code": code, "message": message, "status": status}}).encode()


def _usage(u: dict[str, Any]) -> dict[str, int]:
    return {"promptTokenCount": u.get("prompt_tokens", 0), "candidatesTokenCount": u.get("completion_tokens", 0),
            "totalTokenCount": u.get("total_tokens", 0)}  # fmt: skip


def response_from_openai(raw: bytes, client_model: str) -> bytes:
    """An OpenAI chat completion (or error) body as a Gemini GenerateContentResponse (or error)."""
    try:
        r = json.loads(raw)
    except ValueError:
        return error_body("the private model returned a reply that is not JSON")
    if not isinstance(r, dict) or not r.get("choices"):
        err = r.get("error") if isinstance(r, dict) else None
        msg = err.get("message") if isinstance(err, dict) else str(err or "the private model returned no answer")
        return error_body(f"private model: {msg}", 400, "INVALID_ARGUMENT")
    cands = []
    for i, choice in enumerate(r["choices"]):
        msg = choice.get("message") or {}
        parts: list[dict[str, Any]] = [{"text": msg.get("content") or ""}]
        for tc in msg.get("tool_calls") or []:
            fn = tc.get("function") or {}
            try:
                args = json.loads(fn.get("arguments") or "{}")
            except ValueError:
                args = {}
            parts.append({"functionCall": {"name": fn.get("name", ""), "args": args}})
        cands.append({"content": {"parts": parts, "role": "model"}, "index": i,
                      "finishReason": _FINISH.get(choice.get("finish_reason") or "stop", "OTHER")})  # fmt: skip
    out = {"candidates": cands, "usageMetadata": _usage(r.get("usage") or {}), "modelVersion": client_model}
    return json.dumps(out, ensure_ascii=False).encode()


class StreamToGemini:
    """OpenAI chat SSE -> Gemini streamGenerateContent (SSE with alt=sse, else a streamed JSON array)."""

    def __init__(self, client_model: str, sse: bool = True) -> None:
        self.model, self.sse = client_model, sse
        self.sent = 0
        self.finish = ""
        self.usage: dict[str, Any] = {}
        self.translate = ChunkTranslator(self._chunk, self._end)

    def _emit(self, obj: dict[str, Any]) -> bytes:
        obj["modelVersion"] = self.model
        self.sent += 1
        if self.sse:
            return sse_event(obj, crlf=True)
        return ("[" if self.sent == 1 else ",\r\n").encode() + json.dumps(obj, ensure_ascii=False).encode()

    def _chunk(self, obj: dict[str, Any]) -> bytes:
        if obj.get("usage"):
            self.usage = obj["usage"]
        out = b""
        for choice in obj.get("choices") or []:
            text = (choice.get("delta") or {}).get("content")
            if choice.get("finish_reason"):
                self.finish = _FINISH.get(choice["finish_reason"], "OTHER")
            if text:
                out += self._emit(
                    {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}]}
                )
        return out

    def _end(self) -> bytes:
        last = {"candidates": [{"content": {"parts": [{"text": ""}], "role": "model"},
                                "finishReason": self.finish or "STOP", "index": 0}],
                "usageMetadata": _usage(self.usage)}  # fmt: skip
        out = self._emit(last)
        return out if self.sse else out + b"]"
