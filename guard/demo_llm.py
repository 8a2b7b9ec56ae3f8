"""The stand-in LLM `guard demo` talks to: OpenAI- and Anthropic-compatible, TLS on loopback, offline.

It answers like a model that repeats what it was given, so the demo can show both sides: what
reached the "model" (placeholders, or nothing at all) and what the app got back (real values
restored). Paths: /v1/chat/completions (public OpenAI), /v1/messages (public Anthropic) and
/private/v1/chat/completions (the company's private model). Every request is recorded.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

PIECE = 4  # characters per streamed delta: placeholders arrive split across events, as from real models


@dataclass(frozen=True)
class Received:
    path: str
    body: dict[str, Any]

    @property
    def private(self) -> bool:
        return self.path.startswith("/private/")

    def user_text(self) -> str:
        """The last user message's text, whatever the wire format."""
        msgs = [m for m in self.body.get("messages", []) if m.get("role") == "user"]
        if not msgs:
            return ""
        content = msgs[-1].get("content", "")
        if isinstance(content, list):
            return "".join(part.get("text", "") for part in content if isinstance(part, dict))
        return str(content)


def reply_text(req: Received) -> str:
    who = "the company's private model" if req.private else "a public model"
    return f'(stand-in for {who}) You asked me: "{req.user_text()}"'


def _sse(event: str | None, data: dict[str, Any]) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def openai_reply(req: Received, text: str) -> tuple[bytes, list[bytes] | None]:
    model = req.body.get("model", "stand-in")
    if not req.body.get("stream"):
        return json.dumps({
            "id": "chatcmpl-demo", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(req.user_text()) // 4, "completion_tokens": len(text) // 4,
                      "total_tokens": (len(req.user_text()) + len(text)) // 4},
        }).encode(), None  # fmt: skip
    base = {"id": "chatcmpl-demo", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
    events = [_sse(None, {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})]
    for i in range(0, len(text), PIECE):
        events.append(_sse(None, {**base, "choices": [{"index": 0, "delta": {"content": text[i : i + PIECE]}}]}))
    events.append(_sse(None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    events.append(b"data: [DONE]\n\n")
    return b"", events


def anthropic_reply(req: Received, text: str) -> tuple[bytes, list[bytes] | None]:
    model = req.body.get("model", "stand-in")
    usage = {"input_tokens": len(req.user_text()) // 4, "output_tokens": len(text) // 4}
    msg = {"id": "msg_demo", "type": "message", "role": "assistant", "model": model, "stop_sequence": None}
    if not req.body.get("stream"):
        body = {**msg, "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "usage": usage}
        return json.dumps(body).encode(), None
    events = [
        _sse("message_start", {"type": "message_start", "message": {
            **msg, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}}),
        _sse("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
    ]  # fmt: skip
    for i in range(0, len(text), PIECE):
        delta = {"type": "text_delta", "text": text[i : i + PIECE]}
        events.append(_sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    events += [
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": usage["output_tokens"]}}),
        _sse("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    return b"", events


class StandInLLM:
    """A threaded HTTPS server on 127.0.0.1 with the demo's own certificate."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.received: list[Received] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet: the demo prints its own story
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's hook name
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, b'{"error": {"message": "invalid JSON"}}')
                    return
                req = Received(self.path.split("?")[0], body)
                with outer._lock:
                    outer.received.append(req)
                if req.path.endswith("/chat/completions"):
                    whole, events = openai_reply(req, reply_text(req))
                elif req.path == "/v1/messages":
                    whole, events = anthropic_reply(req, reply_text(req))
                else:
                    self._send(404, b'{"error": {"message": "unknown endpoint"}}')
                    return
                if events is None:
                    self._send(200, whole)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for ev in events:
                    self.wfile.write(f"{len(ev):x}\r\n".encode() + ev + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="stand-in-llm")

    def start(self) -> StandInLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def since(self, n: int) -> list[Received]:
        """Requests received after the first `n`."""
        with self._lock:
            return list(self.received[n:])
