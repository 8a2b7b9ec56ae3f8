"""Strings an adapter did not read: scanned anyway, so an odd JSON field never carries text out unseen.

An adapter reads the fields its wire format defines (messages, system, tools...). A client can put
text anywhere else in the body — `metadata`, `user`, a key no provider defines — and the provider may
log or even use it. Every such string becomes a segment of kind `other`, except identifiers the
formats themselves define (model names, roles, ids, opaque signatures: redacting them would break
the request; guard.identifiers scans them and blocks on a finding) and parts an adapter deliberately
skipped (images, tool schemas; they are in `skipped`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from guard.core import Segment
from guard.providers._wire import MAX_STRINGS, Path, iter_strings, path_str, strings_error

# Keys whose string values are identifiers or enum values in the OpenAI, Anthropic, Gemini, Ollama and
# ChatGPT web formats (from their API references), never free text.
STRUCTURAL = frozenset({
    "model", "role", "type", "id", "object", "tool_call_id", "tool_use_id", "call_id", "detail", "media_type",
    "mime_type", "mimeType", "encoding_format", "tool_choice", "service_tier", "reasoning_effort", "format",
    "keep_alive", "voice", "modalities", "include", "truncation", "previous_response_id", "parent_message_id",
    "conversation_id", "message_id", "action", "status", "signature", "encrypted_content", "cache_control",
    "response_mime_type", "finish_reason", "stop_reason", "effort", "version", "api_version",
})  # fmt: skip


def leftover_segments(body: Any, segments: Sequence[Segment], skipped: Sequence[str]) -> list[Segment]:
    """Return a segment for every non-empty string in body that no adapter segment or skip covers."""
    if not isinstance(body, dict | list):
        return []
    covered = {s.path for s in segments}
    # "messages[1].content[1]: image not scanned" -> the rendered path before the reason.
    skip_prefixes = tuple(s.rsplit(": ", 1)[0] for s in skipped)
    out: list[Segment] = []
    for n, (p, s) in enumerate(iter_strings(body)):
        if n >= MAX_STRINGS:
            raise strings_error()
        if not s or p in covered or _structural(p) or _under(path_str(p), skip_prefixes):
            continue
        out.append(Segment(s, p, "", "other"))
    return out


def _structural(path: Path) -> bool:
    return bool(path) and isinstance(path[-1], str) and path[-1] in STRUCTURAL


def _under(rendered: str, prefixes: tuple[str, ...]) -> bool:
    for pre in prefixes:
        if rendered == pre or rendered.startswith(pre + ".") or rendered.startswith(pre + "["):
            return True
    return False
