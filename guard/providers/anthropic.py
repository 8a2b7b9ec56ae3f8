"""Anthropic Messages API: `system` string or text blocks, messages of text / tool_use / tool_result blocks.

Also `/v1/messages/count_tokens` (same body, it still leaves the company) and the legacy
`/v1/complete` (`prompt`). Images and base64 / URL documents are skipped; plain-text documents
(`source.type == "text"`) are scanned; `redacted_thinking` is opaque and skipped.
"""

from __future__ import annotations

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
from guard.providers.generic import extract as generic_extract


def endpoint(path: str) -> str | None:
    """Map a request path (query already removed) to an endpoint name."""
    path = path.rstrip("/")
    if path.endswith("/messages") or path.endswith("/messages/count_tokens"):
        return "messages"
    if path.endswith("/complete"):
        return "completions"
    return None


def extract(endpoint: str, path: str, body: Any) -> Extraction:
    """Read the segments of an Anthropic request body."""
    if not isinstance(body, dict):
        raise RequestError(f"{endpoint} request body must be a JSON object")
    if endpoint not in ("messages", "completions"):
        return generic_extract(endpoint, path, body)
    c = Collector()
    if endpoint == "completions":
        c.text(body.get("prompt"), ("prompt",), "user")
    else:
        _blocks(body.get("system"), ("system",), "system", "text", c)
        for i, msg in enumerate(as_list(body.get("messages", []), "messages")):
            if not isinstance(msg, dict):
                c.deep(msg, ("messages", i))
                continue
            role = msg.get("role") if isinstance(msg.get("role"), str) else ""
            _blocks(msg.get("content"), ("messages", i, "content"), role, "text", c)
    for i, tool in c.each(body.get("tools"), ("tools",), "system"):
        tool = c.dict_or_scan(tool, ("tools", i), "system")
        c.text(tool.get("description"), ("tools", i, "description"), "system", "other")
        if tool.get("input_schema") is not None:
            c.skip(("tools", i, "input_schema"), "tool schema not scanned")
    c.text(body.get("metadata"), ("metadata",), "", "other")
    model = body.get("model") if isinstance(body.get("model"), str) else ""
    return Extraction(endpoint, model, body.get("stream") is True, tuple(c.segments), tuple(c.skipped))


def _blocks(value: Any, path: Path, role: str, kind: str, c: Collector) -> None:
    """A content value: a string or a list of typed blocks."""
    if value is None or isinstance(value, str):
        c.text(value, path, role, kind)
        return
    if not isinstance(value, list):
        c.deep(value, path, role, kind)
        return
    for j, block in enumerate(value):
        p = path + (j,)
        btype = block.get("type") if isinstance(block, dict) else None
        if not isinstance(block, dict):
            c.text(block, p, role, kind)
        elif btype == "text":
            c.text(block.get("text"), p + ("text",), role, kind)
        elif btype == "thinking":
            # Re-redacted with the same vault, resent thinking matches what the model wrote.
            c.text(block.get("thinking"), p + ("thinking",), role, "text")
            if block.get("signature"):
                c.skip(p + ("signature",), "provider signature, opaque")
        elif btype == "redacted_thinking":
            c.skip(p, "redacted_thinking is encrypted by the provider")
        elif btype == "image":
            c.skip(p, "image not scanned")
        elif btype == "document":
            _document(block, p, role, c)
        elif btype in ("tool_use", "server_tool_use"):
            c.deep(block.get("input"), p + ("input",), role, "tool_args")
        elif btype == "tool_result":
            _blocks(block.get("content"), p + ("content",), "tool", "tool_result", c)
        else:
            # Unknown block: scan every string in it rather than let text through unscanned.
            c.deep({k: v for k, v in block.items() if k not in ("type", "id", "tool_use_id")}, p, role, "other")


def _document(block: dict[str, Any], p: Path, role: str, c: Collector) -> None:
    source = c.dict_or_scan(block.get("source"), p + ("source",), role, "attachment")
    if source.get("type") == "text":
        c.text(source.get("data"), p + ("source", "data"), role, "attachment")
    elif source.get("type") == "content":
        _blocks(source.get("content"), p + ("source", "content"), role, "attachment", c)
    elif source:
        kind = source.get("type") if source.get("type") in ("base64", "url", "file") else "unknown"
        c.skip(p + ("source",), f"{kind} document not scanned")  # a fixed word: skipped lines reach the audit
    for key in ("title", "context"):
        c.text(block.get(key), p + (key,), role, "attachment")


def _error(message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "invalid_request_error", "message": message}}


def block(endpoint: str, message: str, stream: bool) -> tuple[int, dict[str, str], bytes]:
    """Anthropic's 400 error object, for streamed requests too (as Anthropic refuses a bad request)."""
    # anthropic-python raises BadRequestError("Error code: 400 - {...message...}") for both.
    return json_response(400, _error(message))


def error_event(endpoint: str, message: str) -> bytes:
    """An `event: error` SSE event, which anthropic-python raises as APIStatusError mid-stream."""
    return sse_event("error", _error(message))


def upstream_error(endpoint: str, message: str, status: int) -> tuple[int, dict[str, str], bytes]:
    """Anthropic's error object with type `api_error` (its type for a server-side failure), not a refusal."""
    # anthropic-python raises InternalServerError (5xx) with this object as .body.
    return json_response(status, {"type": "error", "error": {"type": "api_error", "message": message}})


ANTHROPIC = Adapter("anthropic", endpoint, extract, block, error_event, upstream_error)
