"""OpenAI wire formats, and the two that copy them: Azure OpenAI deployments and Ollama.

Understood: chat/completions (string or content-part messages, tool calls, tool results, legacy
function calls), responses (`input` string or items, `instructions`), legacy completions,
embeddings, Azure `/openai/deployments/<d>/...?api-version=` paths, Ollama `/api/chat`,
`/api/generate`, `/api/embed` and `/api/embeddings`. Tool JSON schemas (`parameters`) are not
scanned (listed in `skipped`); tool descriptions are.
"""

from __future__ import annotations

import json
import re
from typing import Any

from guard.providers._wire import (
    Adapter,
    Collector,
    Extraction,
    Path,
    RequestError,
    as_list,
    json_response,
    sse_event,
)
from guard.providers.generic import UPSTREAM_ERROR
from guard.providers.generic import extract as generic_extract

# Azure OpenAI: /openai/deployments/{deployment-id}/chat/completions?api-version=...
# (learn.microsoft.com/azure/ai-services/openai/reference)
_AZURE_DEPLOYMENT = re.compile(r"/openai/deployments/([^/]+)/")

_SUFFIXES = (  # first match wins: Ollama's native paths before the OpenAI suffixes they share
    ("/api/chat", "ollama.chat"),
    ("/api/generate", "ollama.generate"),
    ("/api/embed", "ollama.embed"),
    ("/api/embeddings", "ollama.embed"),
    ("/chat/completions", "chat.completions"),
    ("/responses", "responses"),
    ("/completions", "completions"),
    ("/embeddings", "embeddings"),
)

# Content-part types that carry no text: (type, reason shown in `skipped`).
_BINARY_PARTS = {
    "image_url": "image not scanned",
    "input_image": "image not scanned",
    "input_audio": "audio not scanned",
    "audio": "audio not scanned",
}


def endpoint(path: str) -> str | None:
    """Map a request path (query already removed) to an endpoint name."""
    path = path.rstrip("/")
    for suffix, name in _SUFFIXES:
        if path.endswith(suffix):
            return name
    return None


def extract(endpoint: str, path: str, body: Any) -> Extraction:
    """Read the segments of an OpenAI-family request body."""
    if not isinstance(body, dict):
        raise RequestError(f"{endpoint} request body must be a JSON object")
    reader = _READERS.get(endpoint)
    if reader is None:
        return generic_extract(endpoint, path, body)
    c = Collector()
    reader(body, c)
    _tools(body, c)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        m = _AZURE_DEPLOYMENT.search(path)
        model = m.group(1) if m else ""
    # Ollama streams unless told not to; OpenAI only when asked.
    default_stream = endpoint in ("ollama.chat", "ollama.generate")
    stream = body.get("stream", default_stream) is True
    return Extraction(endpoint, model, stream, tuple(c.segments), tuple(c.skipped), _conversation(body))


def _conversation(body: dict[str, Any]) -> str:
    conv = body.get("conversation")  # Responses API conversation object or id
    if isinstance(conv, dict):
        conv = conv.get("id")
    return conv if isinstance(conv, str) else ""


def _chat(body: dict[str, Any], c: Collector) -> None:
    for i, msg in enumerate(as_list(body.get("messages", []), "messages")):
        base: Path = ("messages", i)
        if not isinstance(msg, dict):
            c.deep(msg, base)
            continue
        role = msg.get("role") if isinstance(msg.get("role"), str) else ""
        kind = "tool_result" if role in ("tool", "function") else "text"
        _content(msg.get("content"), base + ("content",), role, kind, c)
        for key in ("name", "refusal", "thinking", "reasoning_content"):
            c.text(msg.get(key), base + (key,), role, "other" if key == "name" else "text")
        for j, call in c.each(msg.get("tool_calls"), base + ("tool_calls",), role, "tool_args"):
            fn = call.get("function") if isinstance(call, dict) else None
            if isinstance(fn, dict):
                # OpenAI sends arguments as a JSON string; Ollama as an object.
                c.text(fn.get("arguments"), base + ("tool_calls", j, "function", "arguments"), role, "tool_args")
            elif call is not None:
                c.deep(call, base + ("tool_calls", j), role, "tool_args")
        fc = c.dict_or_scan(msg.get("function_call"), base + ("function_call",), role, "tool_args")
        c.text(fc.get("arguments"), base + ("function_call", "arguments"), role, "tool_args")
        for j, _ in c.each(msg.get("images"), base + ("images",), role):  # Ollama: base64 images
            c.skip(base + ("images", j), "image not scanned")
    prediction = c.dict_or_scan(body.get("prediction"), ("prediction",), "assistant")
    _content(prediction.get("content"), ("prediction", "content"), "assistant", "text", c)
    _common(body, c)


def _content(value: Any, path: Path, role: str, kind: str, c: Collector) -> None:
    """A message content: a string, or a list of typed parts (chat and responses share the shapes)."""
    if value is None or isinstance(value, str):
        c.text(value, path, role, kind)
        return
    if not isinstance(value, list):
        c.deep(value, path, role, kind)
        return
    for j, part in enumerate(value):
        _part(part, path + (j,), role, kind, c)


def _part(part: Any, p: Path, role: str, kind: str, c: Collector) -> None:
    """One typed content part (text, image, audio, file, refusal, or unknown: scanned deeply)."""
    ptype = part.get("type") if isinstance(part, dict) else None
    if isinstance(part, str):
        c.text(part, p, role, kind)
    elif ptype in _BINARY_PARTS:
        c.skip(p, _BINARY_PARTS[ptype])
    elif ptype in ("file", "input_file"):
        f = part.get("file", part) if isinstance(part.get("file", part), dict) else {}
        inner = p + ("file",) if "file" in part else p
        c.text(f.get("filename"), inner + ("filename",), role, "attachment")
        if f.get("file_data") or f.get("file_url") or f.get("file_id"):
            c.skip(inner, "file attachment not scanned")
    elif isinstance(part, dict) and isinstance(part.get("text"), str):
        c.text(part["text"], p + ("text",), role, kind)
        for key, v in part.items():
            if key not in ("type", "text", "annotations", "logprobs"):
                c.text(v, p + (key,), role, "other")
    elif isinstance(part, dict) and isinstance(part.get("refusal"), str):
        c.text(part["refusal"], p + ("refusal",), role, kind)
    else:
        c.deep(part, p, role, kind)


def _responses(body: dict[str, Any], c: Collector) -> None:
    c.text(body.get("instructions"), ("instructions",), "system")
    value = body.get("input")
    if isinstance(value, str):
        c.text(value, ("input",), "user")
    elif value is not None:
        for i, item in enumerate(as_list(value, "input")):
            _response_item(item, ("input", i), c)
    prompt = body.get("prompt")  # a stored prompt template; its variables are user text
    if isinstance(prompt, dict) and isinstance(prompt.get("variables"), dict):
        for name, var in prompt["variables"].items():
            if isinstance(var, dict) and "type" in var:
                _part(var, ("prompt", "variables", name), "user", "text", c)
            else:
                c.text(var, ("prompt", "variables", name), "user")
    _common(body, c)


def _response_item(item: Any, p: Path, c: Collector) -> None:
    if not isinstance(item, dict):
        c.text(item, p, "user")
        return
    itype = item.get("type", "message")
    role = item.get("role") if isinstance(item.get("role"), str) else ""
    if itype == "message" or "role" in item:
        _content(item.get("content"), p + ("content",), role or "user", "text", c)
    elif itype in ("function_call", "custom_tool_call"):
        key = "arguments" if itype == "function_call" else "input"
        c.text(item.get(key), p + (key,), "assistant", "tool_args")
    elif itype in ("function_call_output", "custom_tool_call_output"):
        out = item.get("output")
        if isinstance(out, list):
            _content(out, p + ("output",), "tool", "tool_result", c)
        else:
            c.text(out, p + ("output",), "tool", "tool_result")
    elif itype == "reasoning":
        for j, s in c.each(item.get("summary"), p + ("summary",), "assistant"):
            s = c.dict_or_scan(s, p + ("summary", j), "assistant")
            c.text(s.get("text"), p + ("summary", j, "text"), "assistant")
        if item.get("encrypted_content"):
            c.skip(p + ("encrypted_content",), "encrypted by the provider")
    elif itype == "item_reference":
        return  # an id only
    else:
        c.deep(item, p, role, "other")


def _completions(body: dict[str, Any], c: Collector) -> None:
    _strings_or_tokens(body.get("prompt"), ("prompt",), c)
    c.text(body.get("suffix"), ("suffix",), "user")
    _common(body, c)


def _embeddings(body: dict[str, Any], c: Collector) -> None:
    # OpenAI and Ollama /api/embed use `input`; Ollama's older /api/embeddings uses `prompt`.
    for key in ("input", "prompt"):
        _strings_or_tokens(body.get(key), (key,), c)
    _common(body, c)


def _strings_or_tokens(value: Any, path: Path, c: Collector) -> None:
    """A prompt / input: a string, a list of strings, or token ids (which carry no readable text)."""
    if isinstance(value, str):
        c.text(value, path, "user")
    elif isinstance(value, list):
        for i, v in enumerate(as_list(value, path_name := str(path[0]))):
            if isinstance(v, str):
                c.text(v, path + (i,), "user")
            elif isinstance(v, int | list):
                c.skip(path + (i,), f"token ids in {path_name} not scanned")
            else:
                c.deep(v, path + (i,), "user")
    elif value is not None:
        c.deep(value, path, "user")


def _ollama_generate(body: dict[str, Any], c: Collector) -> None:
    c.text(body.get("system"), ("system",), "system")
    c.text(body.get("prompt"), ("prompt",), "user")
    c.text(body.get("suffix"), ("suffix",), "user")
    c.text(body.get("template"), ("template",), "system", "other")
    for j, _ in c.each(body.get("images"), ("images",)):
        c.skip(("images", j), "image not scanned")
    if body.get("context"):
        c.skip(("context",), "token ids of an earlier reply not scanned")


def _common(body: dict[str, Any], c: Collector) -> None:
    """Fields every OpenAI request may carry that still leave the company with user text in them."""
    c.text(body.get("user"), ("user",), "", "other")
    c.text(body.get("metadata"), ("metadata",), "", "other")


def _tools(body: dict[str, Any], c: Collector) -> None:
    """Scan tool descriptions; list tool JSON schemas as skipped (structure, not prose)."""
    for i, tool in c.each(body.get("tools"), ("tools",), "system"):
        tool = c.dict_or_scan(tool, ("tools", i), "system")
        fn = tool.get("function") if isinstance(tool.get("function"), dict) else tool
        base: Path = ("tools", i, "function") if fn is not tool else ("tools", i)
        c.text(fn.get("description"), base + ("description",), "system", "other")
        for key in ("parameters", "input_schema", "format"):
            if fn.get(key) is not None:
                c.skip(base + (key,), "tool schema not scanned")


_READERS = {
    "chat.completions": _chat,
    "ollama.chat": _chat,
    "responses": _responses,
    "completions": _completions,
    "embeddings": _embeddings,
    "ollama.embed": _embeddings,
    "ollama.generate": _ollama_generate,
}


def _error(message: str) -> dict[str, Any]:
    return {"message": message, "type": "invalid_request_error", "param": None, "code": "guard_blocked"}


def block(endpoint: str, message: str, stream: bool) -> tuple[int, dict[str, str], bytes]:
    """OpenAI's 400 error object, for streamed requests too (as OpenAI refuses a bad request)."""
    # openai-python raises BadRequestError("Error code: 400 - <message>") for both; see PROXY_CONTRACT.
    return json_response(400, {"error": _error(message)})


def error_event(endpoint: str, message: str) -> bytes:
    """An SSE event openai-python turns into APIError(message) in a stream already under way."""
    return sse_event(None, {"error": _error(message)})


def block_ollama(endpoint: str, message: str, stream: bool) -> tuple[int, dict[str, str], bytes]:
    """Ollama's native error shape ({"error": "..."}) on its own paths, OpenAI's elsewhere."""
    if endpoint.startswith("ollama."):
        return json_response(400, {"error": message})
    return block(endpoint, message, stream)


def error_event_ollama(endpoint: str, message: str) -> bytes:
    """Ollama ends a failing NDJSON stream with an {"error": ...} line."""
    if endpoint.startswith("ollama."):
        return json.dumps({"error": message}).encode() + b"\n"
    return error_event(endpoint, message)


def upstream_error(endpoint: str, message: str, status: int) -> tuple[int, dict[str, str], bytes]:
    """OpenAI's server error object (type `server_error`, as OpenAI's 5xx replies), code guard_upstream_error."""
    # openai-python raises InternalServerError (5xx) with .code and .type read from this object.
    return json_response(status, {"error": {"message": message, "type": "server_error", "param": None,
                                            "code": UPSTREAM_ERROR}})  # fmt: skip


def upstream_error_ollama(endpoint: str, message: str, status: int) -> tuple[int, dict[str, str], bytes]:
    """Ollama's native error shape on its own paths, OpenAI's elsewhere."""
    if endpoint.startswith("ollama."):
        return json_response(status, {"error": message})
    return upstream_error(endpoint, message, status)


OPENAI = Adapter("openai", endpoint, extract, block, error_event, upstream_error)
AZURE_OPENAI = Adapter("azure_openai", endpoint, extract, block, error_event, upstream_error)
OLLAMA = Adapter("ollama", endpoint, extract, block_ollama, error_event_ollama, upstream_error_ollama)
