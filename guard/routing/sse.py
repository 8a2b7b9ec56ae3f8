"""Incremental Server-Sent Events parsing for OpenAI chat streams, at arbitrary chunk boundaries."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any


class SseReader:
    """Feed bytes as they arrive; get back each complete event's `data:` payload (str)."""

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> Iterator[str]:
        """Yield the data of every event completed by this chunk."""
        self._buf = (self._buf + chunk).replace(b"\r\n", b"\n")
        while b"\n\n" in self._buf:
            raw, self._buf = self._buf.split(b"\n\n", 1)
            data = _data(raw)
            if data is not None:
                yield data

    def close(self) -> Iterator[str]:
        """Yield a last event the stream ended without terminating."""
        raw, self._buf = self._buf, b""
        data = _data(raw.strip(b"\r"))
        if data is not None:
            yield data


def _data(raw: bytes) -> str | None:
    lines = [ln[5:].removeprefix(b" ") for ln in raw.split(b"\n") if ln.startswith(b"data:")]
    return b"\n".join(lines).decode("utf-8", "replace") if lines else None


def sse_event(data: Any, event: str = "", crlf: bool = False) -> bytes:
    """One SSE event with a JSON payload (and an `event:` line when given)."""
    nl = "\r\n" if crlf else "\n"
    head = f"event: {event}{nl}" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}{nl}{nl}".encode()


class ChunkTranslator:
    """Turn an OpenAI chat SSE stream into another format; `__call__(b"")` marks the end (as mitmproxy does)."""

    def __init__(self, on_chunk: Callable[[dict[str, Any]], bytes], on_end: Callable[[], bytes]) -> None:
        self._reader = SseReader()
        self._on_chunk, self._on_end = on_chunk, on_end
        self._ended = False

    def __call__(self, chunk: bytes) -> bytes:
        if self._ended:
            return b""
        out = []
        events = list(self._reader.feed(chunk)) if chunk else list(self._reader.close())
        for data in events:
            if data.strip() == "[DONE]":
                out.append(self._finish())
                break
            try:
                obj = json.loads(data)
            except ValueError:
                continue  # keep-alive comments or junk between events carry nothing to translate
            if isinstance(obj, dict):
                out.append(self._on_chunk(obj))
        if not chunk and not self._ended:
            out.append(self._finish())
        return b"".join(out)

    def _finish(self) -> bytes:
        self._ended = True
        return self._on_end()
