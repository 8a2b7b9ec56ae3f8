"""Generic adapter: any JSON body on a guarded host, every string scanned; never a silent pass."""

from __future__ import annotations

from typing import Any

from guard.providers._wire import Adapter, Collector, Extraction, json_response, sse_event

UPSTREAM_ERROR = "guard_upstream_error"  # OpenAI-shaped `code` when the upstream failed (not a block)


def endpoint(path: str) -> str | None:
    """Know every path: the generic scan is the fallback for all of them."""
    return "generic"


def extract(endpoint: str, path: str, body: Any) -> Extraction:
    """Every string in the document becomes a segment (kind 'other')."""
    c = Collector()
    c.deep(body, ())
    return generic_extraction(endpoint, body, c)


def generic_extraction(endpoint: str, body: Any, c: Collector) -> Extraction:
    """Build an Extraction from a deep-scanned body, picking up `model` and `stream` if present."""
    model = body.get("model") if isinstance(body, dict) else None
    stream = isinstance(body, dict) and body.get("stream") is True
    return Extraction(endpoint, model if isinstance(model, str) else "", stream, tuple(c.segments), tuple(c.skipped))


def block(endpoint: str, message: str, stream: bool) -> tuple[int, dict[str, str], bytes]:
    """An OpenAI-shaped 400 error: the most widely understood JSON error format."""
    return json_response(400, {"error": {"message": message, "type": "invalid_request_error", "code": "guard_blocked"}})


def error_event(endpoint: str, message: str) -> bytes:
    """An OpenAI-shaped SSE error event, for a stream already under way."""
    return sse_event(None, {"error": {"message": message, "type": "invalid_request_error", "code": "guard_blocked"}})


def upstream_error(endpoint: str, message: str, status: int) -> tuple[int, dict[str, str], bytes]:
    """An OpenAI-shaped server error: the upstream failed, guard blocked nothing."""
    return json_response(status, {"error": {"message": message, "type": "server_error", "code": UPSTREAM_ERROR}})


GENERIC = Adapter("generic", endpoint, extract, block, error_event, upstream_error)
