"""Gemini API (generativelanguage.googleapis.com and Vertex AI publisher-model paths).

Understood: `:generateContent`, `:streamGenerateContent`, `:countTokens`, `:embedContent`,
`:batchEmbedContents`; `contents[].parts[]` text, functionCall args, functionResponse,
executableCode, codeExecutionResult; `systemInstruction` (or `system_instruction`); tool
descriptions. inlineData / fileData parts are skipped. camelCase and snake_case keys both work,
as the REST API accepts both.
"""

from __future__ import annotations

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
from guard.providers.generic import extract as generic_extract

# /v1beta/models/{model}:{method} and /v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}
# (ai.google.dev/api/generate-content, cloud.google.com/vertex-ai/docs/reference/rest)
_METHOD = re.compile(r"/(?:models|tunedModels)/([^/:]+):([A-Za-z]+)$")
_KNOWN = ("generateContent", "streamGenerateContent", "countTokens", "embedContent", "batchEmbedContents")


def _get(d: dict[str, Any], camel: str) -> tuple[str, Any]:
    """Return (key actually used, value) for a camelCase field that may arrive in snake_case."""
    if camel in d:
        return camel, d[camel]
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return snake, d.get(snake)


def endpoint(path: str) -> str | None:
    """Map a request path (query already removed) to an endpoint name."""
    m = _METHOD.search(path.rstrip("/"))
    return m.group(2) if m and m.group(2) in _KNOWN else None


def extract(endpoint: str, path: str, body: Any) -> Extraction:
    """Read the segments of a Gemini request body."""
    if not isinstance(body, dict):
        raise RequestError(f"{endpoint} request body must be a JSON object")
    if endpoint not in _KNOWN:
        return generic_extract(endpoint, path, body)
    c = Collector()
    if endpoint == "countTokens":
        key, inner = _get(body, "generateContentRequest")
        _request(c.dict_or_scan(inner, (key,), "user"), (key,), c)
    if endpoint == "embedContent":
        _content(body.get("content"), ("content",), "user", c)
    elif endpoint == "batchEmbedContents":
        for i, req in enumerate(as_list(body.get("requests", []), "requests")):
            req = c.dict_or_scan(req, ("requests", i), "user")
            _content(req.get("content"), ("requests", i, "content"), "user", c)
    else:
        _request(body, (), c)
    m = _METHOD.search(path.rstrip("/"))
    model = m.group(1) if m else ""
    stream = endpoint == "streamGenerateContent"
    return Extraction(endpoint, model, stream, tuple(c.segments), tuple(c.skipped))


def _request(body: dict[str, Any], base: Path, c: Collector) -> None:
    key, system = _get(body, "systemInstruction")
    if system is not None:
        _content(system, base + (key,), "system", c)
    for i, content in enumerate(as_list(body.get("contents", []), "contents")):
        role = content.get("role", "user") if isinstance(content, dict) else "user"
        _content(content, base + ("contents", i), "assistant" if role == "model" else str(role), c)
    for i, tool in c.each(body.get("tools"), base + ("tools",), "system"):
        tool = c.dict_or_scan(tool, base + ("tools", i), "system")
        key, decls = _get(tool, "functionDeclarations")
        for j, decl in c.each(decls, base + ("tools", i, key), "system"):
            decl = c.dict_or_scan(decl, base + ("tools", i, key, j), "system")
            c.text(decl.get("description"), base + ("tools", i, key, j, "description"), "system", "other")
            if decl.get("parameters") is not None:
                c.skip(base + ("tools", i, key, j, "parameters"), "tool schema not scanned")


def _content(content: Any, path: Path, role: str, c: Collector) -> None:
    """A Content object ({role, parts}); a bare string is tolerated as one text part."""
    if isinstance(content, str):
        c.text(content, path, role)
        return
    if not isinstance(content, dict):
        if content is not None:
            c.deep(content, path, role)
        return
    for j, part in enumerate(as_list(content.get("parts", []), "parts")):
        p = path + ("parts", j)
        if not isinstance(part, dict):
            c.text(part, p, role)
            continue
        _part(part, p, role, c)


def _part(part: dict[str, Any], p: Path, role: str, c: Collector) -> None:
    if "text" in part:
        c.text(part["text"], p + ("text",), role)
        return
    for camel, reason in (("inlineData", "inline data not scanned"), ("fileData", "file reference not scanned")):
        key, value = _get(part, camel)
        if value is not None:
            c.skip(p + (key,), reason)
            return
    for camel, field, kind in (
        ("functionCall", "args", "tool_args"),
        ("functionResponse", "response", "tool_result"),
        ("executableCode", "code", "text"),
        ("codeExecutionResult", "output", "tool_result"),
    ):
        key, value = _get(part, camel)
        if isinstance(value, dict):
            c.deep(value.get(field), p + (key, field), role, kind)
            return
    # Unknown part: every string in it, so nothing slips through.
    c.deep({k: v for k, v in part.items() if k not in ("thought", "thoughtSignature", "thought_signature")}, p, role)


def block(endpoint: str, message: str, stream: bool) -> tuple[int, dict[str, str], bytes]:
    """Google's 400 error object (google.rpc.Status JSON), streamed or not.

    Gemini reports request errors with an HTTP status before any SSE event, so a streamed request is
    answered the same way; Google's SDKs raise their ClientError from the status and this body.
    """
    return json_response(400, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})


def error_event(endpoint: str, message: str) -> bytes:
    """A `data:` event carrying the same google.rpc.Status error, for a stream already under way."""
    return sse_event(None, {"error": {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}})


def upstream_error(endpoint: str, message: str, status: int) -> tuple[int, dict[str, str], bytes]:
    """A google.rpc.Status error with the HTTP status as its code (502 is UNAVAILABLE in gRPC's HTTP mapping)."""
    state = "DEADLINE_EXCEEDED" if status == 504 else "UNAVAILABLE" if status >= 500 else "FAILED_PRECONDITION"
    return json_response(status, {"error": {"code": status, "message": message, "status": state}})


GEMINI = Adapter("gemini", endpoint, extract, block, error_event, upstream_error)
