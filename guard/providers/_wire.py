"""Shared wire plumbing for the adapters: body decoding, bounded JSON parsing, segment collection."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import re
import secrets
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import brotli
import zstandard

from guard.core import Segment

MAX_DEPTH = 64  # deepest JSON nesting accepted; real chat bodies stay under ~12
MAX_MESSAGES = 10_000  # messages / contents / input items per request
MAX_STRINGS = 200_000  # strings visited by a deep scan

Path = tuple[str | int, ...]


class RequestError(ValueError):
    """A request guard cannot inspect; the message is safe to show and log (never prompt text)."""


class LimitError(RequestError):
    """A request over one of guard's limits: `limit` names it, `advice` tells the employee what to change."""

    def __init__(self, limit: str, message: str, advice: str) -> None:
        super().__init__(message)
        self.limit = limit  # "body size", "JSON depth", ...: shown to the user and audited as a slug
        self.advice = advice

    @property
    def slug(self) -> str:
        return self.limit.lower().replace(" ", "-")


SHORTEN = "Shorten the prompt or start a new conversation, and send large documents in smaller parts"
TOOLING = "Chat tools do not send this; check the tool or script that sent it, or ask your IT team"


def decode_body(headers: Mapping[str, str], body: bytes, max_bytes: int) -> bytes:
    """Undo Content-Encoding (gzip, deflate, br, zstd), refusing output larger than max_bytes."""
    if len(body) > max_bytes:
        raise LimitError("body size", f"request body is {len(body)} bytes, over the {max_bytes}-byte limit", SHORTEN)
    encoding = next((v for k, v in headers.items() if k.lower() == "content-encoding"), "")
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip()]
    for coding in reversed(codings):  # listed in the order they were applied
        body = _decompress(coding, body, max_bytes)
    return body


def _decompress(coding: str, data: bytes, max_bytes: int) -> bytes:
    try:
        if coding == "identity":
            out = data
        elif coding in ("gzip", "x-gzip"):
            out = _zlib(data, 16 + zlib.MAX_WBITS, max_bytes)
        elif coding == "deflate":
            # RFC 9110 says zlib-wrapped, but some clients send raw deflate.
            try:
                out = _zlib(data, zlib.MAX_WBITS, max_bytes)
            except zlib.error:
                out = _zlib(data, -zlib.MAX_WBITS, max_bytes)
        elif coding == "br":
            dec = brotli.Decompressor()
            out = dec.process(data, output_buffer_limit=max_bytes + 1)
            if not dec.is_finished() and len(out) <= max_bytes:
                raise RequestError("request body is a truncated br stream")
        elif coding == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
            out = reader.read(max_bytes + 1)
        else:
            raise RequestError(f"request body has an unsupported Content-Encoding {coding!r}")
    except (zlib.error, brotli.error, zstandard.ZstdError) as exc:
        raise RequestError(f"request body could not be decoded as {coding}: {type(exc).__name__}") from None
    if len(out) > max_bytes:
        raise LimitError("body size", f"decoded request body is over the {max_bytes}-byte limit", SHORTEN)
    return out


def _zlib(data: bytes, wbits: int, max_bytes: int) -> bytes:
    dec = zlib.decompressobj(wbits)
    out = dec.decompress(data, max_bytes + 1)
    if len(out) <= max_bytes and not dec.eof:
        raise zlib.error("truncated stream")
    return out


def parse_json(body: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """Parse a UTF-8 JSON body, refusing bad encoding, bad syntax and nesting deeper than max_depth."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RequestError(f"request body is not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise depth_error(max_depth) from None
    except json.JSONDecodeError as exc:
        # exc.msg is a fixed phrase and the position is a number: no prompt text leaks.
        raise RequestError(
            f"request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int) -> None:
    """Raise RequestError when containers nest deeper than max_depth."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            raise depth_error(max_depth)
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))


def depth_error(max_depth: int) -> LimitError:
    return LimitError("JSON depth", f"request JSON is nested deeper than {max_depth} levels", TOOLING)


def strings_error() -> LimitError:
    return LimitError("strings", f"request has more than {MAX_STRINGS} strings", "Send less data in one request")


# A key that reads as a field name: `max_tokens`, `userId`, `$schema`, a token id in `logit_bias`. No digits
# (card, national id, IBAN, most tokens hold some), at most 32 characters and no run of 8 capitals (AKIA...).
_PLAIN_KEY = re.compile(r"\$?[A-Za-z_][A-Za-z_.-]{0,31}|\d{1,6}")
_CAPITALS = re.compile(r"[A-Z]{8}")
# Path elements guard adds itself (attachments.EXTRACTED, leftover.KEY, identifiers.PATH_MODEL): not JSON keys.
MARKERS = frozenset({"#extracted", "#key", "<url>"})
_PATH_KEY = secrets.token_bytes(16)  # per process: a key's digest in a path cannot be looked up offline
_PLAIN_SEEN: set[str] = set()  # keys already found plain (field names repeat in every request)


def plain_key(key: str) -> bool:
    """True for an object key that reads as a field name, not as data (an e-mail, a token, a sentence)."""
    return _PLAIN_KEY.fullmatch(key) is not None and _CAPITALS.search(key) is None


def key_label(key: str) -> str:
    """The key as paths show it: itself when plain, else `<key:digest>` (keyed, stable within the process)."""
    if key in _PLAIN_SEEN:
        return key
    if key in MARKERS or plain_key(key):
        if len(_PLAIN_SEEN) < 4096:  # plain keys only are remembered: no value is kept past its request
            _PLAIN_SEEN.add(key)
        return key
    digest = hmac.new(_PATH_KEY, key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()[:10]
    return f"<key:{digest}>"


def path_str(path: Path) -> str:
    """Render a JSON path the way people read it: messages[2].content[0].text.

    A key that is not a plain field name shows as `<key:digest>`: paths go to the audit event
    (`scanned`, `skipped`, a finding's field) and error messages, which must never hold a value.
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            label = key_label(part)
            out += f".{label}" if out else label
    return out or "$"


def iter_strings(value: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Yield (path, string) for every string value in a JSON document, depth first, in document order."""
    stack: list[tuple[Path, Any]] = [(path, value)]
    while stack:
        p, node = stack.pop()
        if isinstance(node, str):
            yield p, node
        elif isinstance(node, dict):
            stack.extend((p + (k,), v) for k, v in reversed(list(node.items())))
        elif isinstance(node, list):
            stack.extend((p + (i,), v) for i, v in reversed(list(enumerate(node))))


@dataclass
class Collector:
    """Accumulate the segments an adapter finds and the paths it deliberately left out."""

    segments: list[Segment] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def text(self, value: Any, path: Path, role: str = "", kind: str = "text") -> None:
        """Record value as a segment if it is a non-empty string; anything else is scanned deeply."""
        if isinstance(value, str):
            if value:
                self.segments.append(Segment(value, path, role, kind))
        elif value is not None:
            self.deep(value, path, role, kind)

    def deep(self, value: Any, path: Path, role: str = "", kind: str = "other") -> None:
        """Record every string inside value (a fallback that never lets text pass unscanned)."""
        for n, (p, s) in enumerate(iter_strings(value, path)):
            if n >= MAX_STRINGS:
                raise strings_error()
            if s:
                self.segments.append(Segment(s, p, role, kind))

    def each(self, value: Any, path: Path, role: str = "", kind: str = "other") -> list[tuple[int, Any]]:
        """(index, item) of a list; a value of another type is scanned deeply instead of dropped."""
        if isinstance(value, list):
            return list(enumerate(value))
        if value is not None:
            self.deep(value, path, role, kind)
        return []

    def dict_or_scan(self, value: Any, path: Path, role: str = "", kind: str = "other") -> dict[str, Any]:
        """value if it is an object; anything else is scanned deeply and {} returned."""
        if isinstance(value, dict):
            return value
        if value is not None:
            self.deep(value, path, role, kind)
        return {}

    def skip(self, path: Path, reason: str) -> None:
        """Note a part that is not text (an image, audio, token ids) and why it was not scanned."""
        self.skipped.append(f"{path_str(path)}: {reason}")


def as_list(value: Any, what: str) -> list[Any]:
    """Return value if it is a list within MAX_MESSAGES, else raise a RequestError naming what."""
    if not isinstance(value, list):
        raise RequestError(f"{what} must be a list, got {type(value).__name__}")
    if len(value) > MAX_MESSAGES:
        raise LimitError(
            "messages",
            f"{what} has {len(value)} entries, over the {MAX_MESSAGES} limit",
            "Start a new conversation, or send fewer messages in one request",
        )
    return value


def json_response(status: int, payload: Any) -> tuple[int, dict[str, str], bytes]:
    """A (status, headers, body) triple carrying payload as JSON."""
    return status, {"content-type": "application/json"}, json.dumps(payload).encode()


def sse_event(name: str | None, data: Any) -> bytes:
    """One server-sent event carrying data as JSON."""
    return ((f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n").encode()


@dataclass(frozen=True)
class Extraction:
    """What an adapter read from a body: everything ParsedRequest needs besides the raw inputs."""

    endpoint: str
    model: str
    stream: bool
    segments: tuple[Segment, ...]
    skipped: tuple[str, ...] = ()
    conversation_hint: str = ""


@dataclass(frozen=True)
class Adapter:
    """One wire format: which endpoints it knows, how it reads a body, how it says no."""

    name: str
    # (path without query) -> endpoint name, or None when this format does not know the path
    endpoint: Any
    # (endpoint, path, parsed body) -> Extraction
    extract: Any
    # (endpoint, message, stream) -> (status, headers, body)
    block: Any
    # (endpoint, message) -> bytes: one stream event that ends a reply already under way with an error
    error_event: Any
    # (endpoint, message, status) -> (status, headers, body): the upstream failed and nothing was blocked
    upstream_error: Any
