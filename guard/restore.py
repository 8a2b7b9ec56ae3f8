"""Put real values back into replies: whole JSON bodies, and SSE / NDJSON streams event by event.

A streamed placeholder can be split across events ("Hi [PER" + "SON_1]"). Each *text channel*
(the JSON path of a delta string, e.g. choices[0].delta.content, with list positions replaced by
the element's own `index`) holds back only a trailing incomplete placeholder the vault actually
issued; everything else is emitted as soon as its event is complete. Held text is prepended to the
channel's next delta, or, when an event that is not a delta arrives (finish chunk,
content_block_stop, [DONE], end of stream), emitted first as a minimal delta event of its own.

Malformed input: an event whose data is not JSON is passed through byte for byte, except that
complete issued placeholders in it are restored (so nothing that cannot hold a placeholder changes).
An event that never terminates is passed through the same way once it exceeds MAX_EVENT_BYTES.
Errors inside `feed` propagate: the caller ends the stream instead of emitting half-restored text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from guard.vault import Vault

MAX_EVENT_BYTES = 4 * 1024 * 1024

_ANY = -1  # matches any list position in a delta pattern
# Delta strings, by JSON path, with whether they carry JSON source (tool-call arguments).
_DELTAS: tuple[tuple[tuple[str | int, ...], bool], ...] = (
    (("choices", _ANY, "delta", "content"), False),  # OpenAI chat chunk
    (("choices", _ANY, "delta", "refusal"), False),
    (("choices", _ANY, "delta", "reasoning_content"), False),
    (("choices", _ANY, "delta", "tool_calls", _ANY, "function", "arguments"), True),
    (("choices", _ANY, "delta", "function_call", "arguments"), True),
    (("choices", _ANY, "text"), False),  # OpenAI legacy completions chunk
    (("delta", "text"), False),  # Anthropic content_block_delta
    (("delta", "thinking"), False),
    (("delta", "partial_json"), True),
    (("delta",), False),  # OpenAI Responses *.delta events (JSON when about arguments)
    (("candidates", _ANY, "content", "parts", _ANY, "text"), False),  # Gemini
    (("message", "content"), False),  # Ollama /api/chat NDJSON
    (("message", "thinking"), False),
    (("response",), False),  # Ollama /api/generate NDJSON
    (("v",), False),  # ChatGPT web delta encoding
    (("v", _ANY, "v"), False),
)
_JSON_KEYS = ("arguments", "partial_json")
_EVENT_END = re.compile(rb"(?>\r\n|\r|\n)(?>\r\n|\r|\n)")  # SSE: an event ends at a blank line
_LINE = re.compile(r"\r\n|\r|\n")
# Could this event text hold a placeholder or the start of one? "[" then a capital, or "[" ending a string
# (JSON: `["`), or an escape. Without any, and with nothing held, an event passes untouched.
_MAYBE = re.compile(rb'\[[A-Z"\\]')


_BY_SHAPE: dict[tuple[int, str | int], list[tuple[tuple[str | int, ...], bool]]] = {}
for _pattern, _is_json in _DELTAS:
    _BY_SHAPE.setdefault((len(_pattern), _pattern[-1]), []).append((_pattern, _is_json))


def _match(path: tuple[str | int, ...]) -> bool | None:
    """None if path is not a delta string, else whether it holds JSON source."""
    last = _ANY if isinstance(path[-1], int) else path[-1]
    for pattern, is_json in _BY_SHAPE.get((len(path), last), ()):
        if all(p == q or (p == _ANY and isinstance(q, int)) for p, q in zip(pattern, path, strict=True)):
            return is_json
    return None


def _strings(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[Any, str | int, tuple[str | int, ...]]]:
    """(container, key, path) of every string in a JSON value."""
    out = []
    stack = [(node, path)]
    while stack:
        n, p = stack.pop()
        items = n.items() if isinstance(n, dict) else enumerate(n) if isinstance(n, list) else ()
        for k, v in items:
            if isinstance(v, str):
                out.append((n, k, p + (k,)))
            elif isinstance(v, dict | list):
                stack.append((v, p + (k,)))
    return out


def restore_json(body: bytes, vault: Vault) -> bytes:
    """Restore every string of a JSON reply (tool-call arguments JSON-escaped).

    A buffered NDJSON or SSE reply is restored like a stream (split placeholders join up); any other
    non-JSON body as plain text.
    """
    if not len(vault):
        return body
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        head = body.lstrip()[:1]
        if head == b"{" or body.startswith((b"data:", b"event:", b":")) or b"\ndata:" in body:
            # A whole NDJSON or SSE reply: run it as a stream so placeholders split across lines join up.
            restorer = StreamRestorer(vault)
            return restorer.feed(body) + restorer.close()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return body
        restored = vault.restore(text)
        return body if restored == text else restored.encode()
    changed = False
    for container, key, _ in _strings(doc):
        s = container[key]
        r = vault.restore(s, json_escape=key in _JSON_KEYS)
        if r != s:
            container[key] = r
            changed = True
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode() if changed else body


class StreamRestorer:
    """Restore one streamed reply (SSE, or NDJSON as Ollama streams), chunk by chunk, in O(n)."""

    def __init__(self, vault: Vault) -> None:
        self._vault = vault
        self._passthrough = len(vault) == 0  # nothing issued: no reply can hold a placeholder of ours
        self._buf = bytearray()
        self._scan = 0
        self._ndjson: bool | None = None
        # channel -> (held text, event name, template event, path, is_json)
        self._held: dict[tuple[Any, ...], tuple[str, str | None, Any, tuple[str | int, ...], bool]] = {}

    def feed(self, chunk: bytes) -> bytes:
        """Take the next bytes of the reply; return what can be sent to the client now."""
        if self._passthrough:
            return chunk
        self._buf += chunk
        if (
            self._ndjson is not None
            and b"\n" not in chunk
            and b"\r" not in chunk
            and self._buf[-len(chunk) - 1 : -len(chunk)] != b"\r"
        ):
            return b""  # no line end arrived: no event can have completed (keeps tiny chunks cheap)
        if self._ndjson is None:
            head = bytes(self._buf).lstrip()
            if not head:
                return b""
            self._ndjson = head[:1] == b"{"
        out: list[bytes] = []
        start = 0
        while True:
            end, sep_end = self._next_end(start)
            if end < 0:
                break
            out.append(self._event(bytes(self._buf[start:end]), bytes(self._buf[end:sep_end])))
            start = sep_end
        del self._buf[:start]
        self._scan = max(0, len(self._buf) - 3)
        if len(self._buf) > MAX_EVENT_BYTES:
            out.append(self._raw(bytes(self._buf)))
            self._buf.clear()
            self._scan = 0
        return b"".join(out)

    def close(self) -> bytes:
        """End of the reply: emit any unterminated last event and everything held back."""
        if self._passthrough:
            return b""
        out = []
        if self._buf:
            out.append(self._event(bytes(self._buf), b""))
            self._buf.clear()
        out.append(self._flush())
        return b"".join(out)

    def _next_end(self, start: int) -> tuple[int, int]:
        if self._ndjson:
            end = self._buf.find(b"\n", max(start, self._scan))
            return (end, end + 1) if end >= 0 else (-1, -1)
        m = _EVENT_END.search(self._buf, max(start, self._scan))
        if m is None or (m.end() == len(self._buf) and self._buf[-1:] == b"\r"):
            return -1, -1  # a lone CR at the end may be the first half of CRLF
        return m.start(), m.end()

    def _event(self, raw: bytes, sep: bytes) -> bytes:
        if not self._held and _MAYBE.search(raw) is None:
            return raw + sep
        if self._ndjson:
            return self._ndjson_line(raw, sep)
        text = raw.decode("utf-8", "replace")
        lines = _LINE.split(text)
        data = [ln[5:].removeprefix(" ") for ln in lines if ln.startswith("data:")]
        name = next((ln[6:].strip() for ln in lines if ln.startswith("event:")), None)
        if not data:
            return raw + sep  # comment or keep-alive
        try:
            doc = json.loads("\n".join(data))
        except ValueError:
            return self._flush() + self._raw(raw + sep)  # [DONE] or malformed: nothing to hold
        if isinstance(doc, dict) and doc.get("type") == "ping":
            return raw + sep
        before, changed = self._restore_doc(doc, name)
        if not changed:
            return before + raw + sep
        nl = "\r\n" if sep.startswith(b"\r\n") else "\n"
        kept = [ln for ln in lines if ln and not ln.startswith("data:")]
        body = nl.join([*kept, "data: " + json.dumps(doc, ensure_ascii=False, separators=(",", ":"))])
        return before + body.encode() + (sep or (nl * 2).encode())

    def _ndjson_line(self, raw: bytes, sep: bytes) -> bytes:
        try:
            doc = json.loads(raw)
        except ValueError:
            return self._flush() + self._raw(raw + sep)
        before, changed = self._restore_doc(doc, None)
        if not changed:
            return before + raw + sep
        return before + json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode() + (sep or b"\n")

    def _restore_doc(self, doc: Any, name: str | None) -> tuple[bytes, bool]:
        """Restore one parsed event in place; return (bytes to emit before it, whether it changed)."""
        if self._held:
            deltas = [(c, k, p, _match(p)) for c, k, p in _strings(doc)]
            before = b"" if any(d[3] is not None for d in deltas) else self._flush()
        else:  # nothing held: only strings with a "[" can change
            deltas = [(c, k, p, _match(p)) for c, k, p in _strings(doc) if "[" in c[k]]
            before = b""
        changed = False
        root_type = doc.get("type") if isinstance(doc, dict) else None
        for container, key, path, is_json in deltas:
            s = container[key]
            if is_json is None:
                r = self._vault.restore(s, json_escape=key in _JSON_KEYS)
            else:
                is_json = is_json or (isinstance(root_type, str) and "arguments" in root_type)
                channel = _channel(doc, path)
                held = self._held.pop(channel, None)
                combined = held[0] + s if held else s
                cut = len(combined) if _terminal(doc, path) else self._vault.partial_start(combined)
                if cut < len(combined):
                    self._held[channel] = (combined[cut:], name, doc, path, is_json)
                r = self._vault.restore(combined[:cut], json_escape=is_json)
            if r != s:
                container[key] = r
                changed = True
        return before, changed

    def _flush(self) -> bytes:
        """Emit every held tail as a minimal delta event of its own channel."""
        out = []
        for text, name, template, path, is_json in self._held.values():
            doc = _skeleton(template, path, self._vault.restore(text, json_escape=is_json), bool(self._ndjson))
            line = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
            if self._ndjson:
                out.append(line + "\n")
            else:
                out.append((f"event: {name}\n" if name else "") + f"data: {line}\n\n")
        self._held.clear()
        return "".join(out).encode()

    def _raw(self, raw: bytes) -> bytes:
        text = raw.decode("utf-8", "surrogateescape")
        restored = self._vault.restore(text)
        return raw if restored == text else restored.encode("utf-8", "surrogateescape")


def _channel(doc: Any, path: tuple[str | int, ...]) -> tuple[Any, ...]:
    """A delta string's channel: its path with list positions replaced by the element's own index."""
    key: list[Any] = []
    if isinstance(doc, dict):
        key += [doc.get(k) for k in ("type", "index", "output_index", "content_index", "summary_index")]
    node = doc
    for part in path:
        node = node[part]
        if isinstance(part, int) and isinstance(node, dict) and isinstance(node.get("index"), int):
            key.append(("index", node["index"]))
        else:
            key.append(part)
    return tuple(key)


def _terminal(doc: Any, path: tuple[str | int, ...]) -> bool:
    """Whether this event also ends its channel (finish_reason / finishReason / done in it)."""
    node = doc
    for part in path[:-1]:
        if isinstance(node, dict) and (
            node.get("finish_reason") or node.get("finishReason") or node.get("done") is True
        ):
            return True
        node = node[part]
    return isinstance(node, dict) and bool(node.get("finish_reason") or node.get("finishReason"))


def _skeleton(template: Any, path: tuple[str | int, ...], text: str, keep_role: bool, root: bool = True) -> Any:
    """A copy of template reduced to the path to one delta string, which is set to text.

    The root keeps its scalars (ids, model, event type); below it only `index` and `type` are kept
    on the way, since SDKs that concatenate delta strings (openai-python does so for every string
    field of a tool-call delta) must see nothing twice. NDJSON (Ollama) keeps `role`, which its
    message type requires.
    """
    if not path:
        return text
    head, rest = path[0], path[1:]
    if isinstance(template, list):
        return [_skeleton(template[head], rest, text, keep_role, False)]  # type: ignore[index]
    if root:
        out = {k: v for k, v in template.items() if not isinstance(v, dict | list) or not v}
    else:
        keep = ("index", "type", "role") if keep_role else ("index", "type")
        out = {k: v for k, v in template.items() if k in keep and not isinstance(v, dict | list)}
    out[head] = _skeleton(template[head], rest, text, keep_role, False)
    return out
