"""Strings an adapter did not read: scanned anyway, so an odd JSON field never carries text out unseen.

An adapter reads the fields its wire format defines (messages, system, tools...). A client can put
text anywhere else in the body — `metadata`, `user`, a key no provider defines — and the provider may
log or even use it. Every such string becomes a segment of kind `other`, except identifiers the
formats themselves define (model names, roles, ids, opaque signatures: redacting them would break
the request; guard.identifiers scans them and blocks on a finding) and parts an adapter deliberately
skipped (images, tool schemas; they are in `skipped`).

Object keys are text too: `{"metadata": {"jane.doe@gmail.com": 1}}` sends an address in a key. Every
key that is not a plain field name (guard.providers._wire.plain_key) becomes one segment of kind
`key`, wherever it sits (metadata, tool schemas, function arguments, unknown fields): a key cannot
hold a placeholder, so the pipeline blocks a request whose key holds a finding the policy acts on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from guard.core import Segment
from guard.providers._wire import MAX_STRINGS, Path, iter_strings, path_str, plain_key, strings_error

KEY = "#key"  # last element of a key segment's path: (..., the key, KEY), not a JSON key itself
KEY_KIND = "key"

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
        if not s or p in covered or _structural(p) or (skip_prefixes and _under(path_str(p), skip_prefixes)):
            continue
        out.append(Segment(s, p, "", "other"))
    return out


def key_segments(body: Any, keys: set[str] | None = None) -> list[Segment]:
    """One segment per distinct object key in body that is not a plain field name, in document order.

    `keys`: every object key in body, when the caller has them already (object_keys).
    """
    if not any(k and not plain_key(k) for k in (object_keys(body) if keys is None else keys)):
        return []  # the usual case, found by a walk that builds no paths
    seen: set[str] = set()
    out: list[Segment] = []
    # Paths are built only for the keys that become segments: each container keeps a link to its parent.
    links: list[tuple[int, str | int]] = [(-1, "")]
    stack: list[tuple[Any, int]] = [(body, 0)]
    while stack:
        node, link = stack.pop()
        inner: list[tuple[Any, int]] = []
        if isinstance(node, dict):
            for k, v in node.items():
                if k not in seen:
                    seen.add(k)
                    if k and not plain_key(k):
                        out.append(Segment(k, (*_path(links, link), k, KEY), "", KEY_KIND))
                if isinstance(v, dict | list):
                    links.append((link, k))
                    inner.append((v, len(links) - 1))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                if isinstance(v, dict | list):
                    links.append((link, i))
                    inner.append((v, len(links) - 1))
        stack.extend(reversed(inner))
    if len(out) > MAX_STRINGS:
        raise strings_error()
    return out


def object_keys(body: Any) -> set[str]:
    """Every object key in body (parsed JSON: exact dicts and lists)."""
    seen: set[str] = set()
    if type(body) is not dict and type(body) is not list:
        return seen
    stack = [body]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            seen.update(node)
            values = node.values()
        else:
            values = node
        for v in values:
            if type(v) is dict or type(v) is list:
                stack.append(v)
    return seen


def _path(links: list[tuple[int, str | int]], link: int) -> Path:
    parts: list[str | int] = []
    while link > 0:
        link, part = links[link]
        parts.append(part)
    return tuple(reversed(parts))


def _structural(path: Path) -> bool:
    return bool(path) and isinstance(path[-1], str) and path[-1] in STRUCTURAL


def _under(rendered: str, prefixes: tuple[str, ...]) -> bool:
    for pre in prefixes:
        if rendered == pre or rendered.startswith(pre + ".") or rendered.startswith(pre + "["):
            return True
    return False
