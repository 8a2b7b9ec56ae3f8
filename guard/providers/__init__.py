"""Provider adapters: the only code that knows a wire format. Everything after parse works on segments.

Adapters are registered in ADAPTERS, explicitly (no discovery). A known adapter given a path it
does not understand, or the 'generic' adapter, falls back to a deep scan of every JSON string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from guard.core import Segment
from guard.providers import _wire, anthropic, chatgpt_web, gemini, generic, openai
from guard.providers._wire import (
    MAX_DEPTH,
    MAX_MESSAGES,
    Adapter,
    LimitError,
    RequestError,
    decode_body,
    parse_json,
    path_str,
    plain_key,
)
from guard.providers.leftover import key_segments, leftover_segments, object_keys

__all__ = [
    "ADAPTERS",
    "MAX_BODY_BYTES",
    "MAX_DEPTH",
    "MAX_MESSAGES",
    "LimitError",
    "ParsedRequest",
    "RequestError",
    "adapter_for_path",
    "block_response",
    "body_too_large",
    "parse_request",
    "rebuild_body",
    "stream_error_event",
    "upstream_error_response",
]

MAX_BODY_BYTES = 8 * 1024 * 1024

ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (
        openai.OPENAI,
        openai.AZURE_OPENAI,
        openai.OLLAMA,
        anthropic.ANTHROPIC,
        gemini.GEMINI,
        chatgpt_web.CHATGPT_WEB,
        generic.GENERIC,
    )
}


@dataclass(frozen=True)
class ParsedRequest:
    """A request body read by its adapter: the text to scan and where each piece sits."""

    adapter: str
    endpoint: str
    model: str
    stream: bool
    body: Any
    segments: tuple[Segment, ...]
    conversation_hint: str = ""
    skipped: tuple[str, ...] = ()  # "path: reason" for parts deliberately not scanned (images, token ids)
    # Object keys that read as field names (not scanned: `max_tokens`, `userId`); the pipeline still refuses
    # one that is a value the conversation's vault replaced earlier (a name used as a key).
    plain_keys: frozenset[str] = frozenset()


def _adapter(name: str) -> Adapter:
    try:
        return ADAPTERS[name]
    except KeyError:
        raise RequestError(f"unknown adapter {name!r}") from None


def adapter_for_path(adapter: str, path: str) -> str:
    """Name the endpoint a path addresses under an adapter ('generic' when the adapter does not know it)."""
    bare = urlsplit(path).path
    return _adapter(adapter).endpoint(bare) or "generic"


def parse_request(
    adapter: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    max_bytes: int = MAX_BODY_BYTES,
    max_depth: int = MAX_DEPTH,
) -> ParsedRequest:
    """Decode, parse and read a request body into segments; raise RequestError if it cannot be inspected."""
    impl = _adapter(adapter)
    raw = decode_body(headers, body, max_bytes)
    endpoint = adapter_for_path(adapter, path)
    if not raw.strip():
        # Bodiless requests (GET /v1/models) carry no text; anything else must be JSON.
        return ParsedRequest(adapter, endpoint, "", False, None, ())
    value = parse_json(raw, max_depth)
    if endpoint == "generic":
        ext = generic.extract(endpoint, path, value)
    else:
        ext = impl.extract(endpoint, urlsplit(path).path, value)
    # Text in fields the adapter does not read (metadata, user, unknown keys) is scanned too, and so are
    # object keys that are not plain field names (segments of kind `key`: the pipeline never rewrites them).
    keys = object_keys(value)
    segments = (ext.segments + tuple(leftover_segments(value, ext.segments, ext.skipped))
                + tuple(key_segments(value, keys)))  # fmt: skip
    return ParsedRequest(
        adapter, ext.endpoint, ext.model, ext.stream, value, segments, ext.conversation_hint, ext.skipped,
        frozenset(k for k in keys if k and plain_key(k)),
    )


def rebuild_body(parsed: ParsedRequest, replacements: Mapping[tuple[str | int, ...], str]) -> bytes:
    """Serialize the parsed body with the strings at the given paths replaced (copy on write)."""
    root = parsed.body
    fresh: set[int] = set()  # ids of containers already copied: the original is never mutated

    def copied(node: Any) -> Any:
        if id(node) in fresh:
            return node
        new = dict(node) if isinstance(node, dict) else list(node)
        fresh.add(id(new))
        return new

    if replacements:
        root = copied(root)
    for path, text in replacements.items():
        if not path:
            raise RequestError("cannot replace the whole body")
        node = root
        try:
            for key in path[:-1]:
                child = node[key]
                if not isinstance(child, dict | list):
                    raise TypeError
                node[key] = copied(child)
                node = node[key]
            if not isinstance(node[path[-1]], str):
                raise TypeError
        except (KeyError, IndexError, TypeError):
            raise RequestError(f"no string at {path_str(path)} to replace") from None
        node[path[-1]] = text
    return json.dumps(root, ensure_ascii=False, separators=(",", ":")).encode()


def body_too_large(size: int, limit: int) -> LimitError:
    """The error for a body over the size limit, seen before it is read (Content-Length) or once buffered."""
    return LimitError("body size", f"the request body ({size} bytes) is larger than guard's limit of {limit} bytes",
                      _wire.SHORTEN)  # fmt: skip


def block_response(adapter: str, endpoint: str, message: str, stream: bool) -> tuple[int, dict[str, str], bytes]:
    """Refuse a request in the provider's own error format (status, headers, body)."""
    return _adapter(adapter).block(endpoint, message, stream)


def upstream_error_response(
    adapter: str, endpoint: str, message: str, status: int
) -> tuple[int, dict[str, str], bytes]:
    """Say the upstream failed (nothing was blocked) in the provider's own error format, with `status`."""
    return _adapter(adapter).upstream_error(endpoint, message, status)


def stream_error_event(adapter: str, endpoint: str, message: str) -> bytes:
    """One stream event (SSE, or an NDJSON line for Ollama) that ends a reply under way with an error."""
    return _adapter(adapter).error_event(endpoint, message)
