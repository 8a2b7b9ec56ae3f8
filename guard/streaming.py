"""Reply-side transforms for one flow: decompress, translate (routed), restore, and watch token usage.

Streamed bytes arrive with arbitrary chunk boundaries and still compressed; a transform error ends
the stream with one provider-format error event rather than half-restored text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from guard import providers
from guard.restore import StreamRestorer

if TYPE_CHECKING:
    from guard.pipeline import FlowState

log = logging.getLogger(__name__)


class StreamTransform:
    """Per-flow SSE transformer. On any error it stops emitting and ends the stream cleanly."""

    def __init__(
        self, st: FlowState, encoding: str, translate: Callable[[bytes], bytes] | None, restorer: StreamRestorer | None
    ) -> None:
        self.st = st
        self._decoder = _decoder(encoding)
        self._translate = translate
        self._restorer = restorer
        self._usage_buf = b""
        self.failed = False
        self.bytes_out = 0

    def feed(self, chunk: bytes) -> bytes:
        """Transform one chunk (arbitrary boundaries); b'' input means end of stream."""
        if self.failed:
            return b""
        try:
            out = self._step(chunk)
        except Exception as exc:
            self.failed = True
            self.st.error = f"stream: {type(exc).__name__}"
            log.error("stream transform failed (%s); stream ended [%s]", type(exc).__name__, self.st.event_id)
            # End cleanly with one error event the SDKs surface, never half-restored text.
            msg = f"guard could not restore the rest of this reply (guard reference {self.st.event_id[:12]})."
            try:
                return providers.stream_error_event(self.st.adapter, self.st.endpoint or "generic", msg)
            except Exception:
                return b""
        self.bytes_out += len(out)
        return out

    def _step(self, chunk: bytes) -> bytes:
        end = chunk == b""
        data = self._decoder(chunk, end) if self._decoder else chunk
        if self._translate is not None:
            data = self._translate(data) + (self._translate(b"") if end else b"")
        self._watch_usage(data)
        if self._restorer is not None:
            data = self._restorer.feed(data) if data else b""
            if end:
                data += self._restorer.close()
        return data

    def _watch_usage(self, data: bytes) -> None:
        # Only complete lines that mention usage are parsed; everything else is skipped cheaply.
        buf = self._usage_buf + data
        lines = buf.split(b"\n")
        self._usage_buf = lines.pop()[-65536:]
        for line in lines:
            if b'sage' in line and line.startswith(b"data:"):
                usage = usage_from(line[5:].strip())
                if usage:
                    self.st.usage = {**self.st.usage, **usage}


def usage_from(body: bytes) -> dict[str, int]:
    """Token counts from an OpenAI / Anthropic / Gemini / Ollama reply object, if it reports them."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(obj, dict):
        return {}
    raw: Any = obj.get("usage") or obj.get("usageMetadata")
    if raw is None and isinstance(obj.get("message"), dict):
        raw = obj["message"].get("usage")  # Anthropic message_start event
    if raw is None and isinstance(obj.get("response"), dict):
        raw = obj["response"].get("usage")  # OpenAI Responses stream events
    out: dict[str, int] = {}
    if isinstance(raw, dict):
        for k, v in raw.items():
            if isinstance(v, int) and not isinstance(v, bool):
                out[k] = v
    for k in ("prompt_eval_count", "eval_count"):  # Ollama
        if isinstance(obj.get(k), int):
            out[k] = obj[k]
    return out


def _decoder(encoding: str) -> Callable[[bytes, bool], bytes] | None:
    """Incremental decompressor for streamed bytes (they arrive still compressed)."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return None
    if enc in ("gzip", "x-gzip", "deflate"):
        import zlib

        d = zlib.decompressobj(zlib.MAX_WBITS | 32 if enc != "deflate" else zlib.MAX_WBITS)
        return lambda b, end: d.decompress(b) + (d.flush() if end else b"")
    if enc == "br":
        import brotli

        br = brotli.Decompressor()
        return lambda b, end: br.process(b) if b else b""
    if enc == "zstd":
        import zstandard

        z = zstandard.ZstdDecompressor().decompressobj()
        return lambda b, end: z.decompress(b) if b else b""
    raise ValueError(f"unsupported content-encoding {enc!r}")
