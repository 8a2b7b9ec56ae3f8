"""A local OpenAI-compatible chat server standing in for vLLM / Ollama: records what it receives."""

from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class PrivateModel:
    """Serve /v1/chat/completions on 127.0.0.1 (free port); answer 'echo: <last user text>'."""

    def __init__(self, delay_s: float = 0.0, status: int = 200, tls: tuple[Path, Path] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []  # {"path", "headers", "body"}
        self.delay_s, self.status = delay_s, status
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                body = json.loads(raw or b"{}")
                owner.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                time.sleep(owner.delay_s)
                if owner.status != 200:
                    self._send(owner.status, {"error": {"message": "model overloaded", "type": "server_error"}})
                    return
                text = "echo: " + _last_user_text(body)
                if body.get("stream"):
                    self._stream(body, text)
                else:
                    self._send(200, {
                        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": body.get("model"),
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10},
                    })  # fmt: skip

            def _send(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, body: dict[str, Any], text: str) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                words = [w + " " for w in text.split(" ")]
                words[-1] = words[-1].rstrip()
                chunks = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
                chunks += [{"choices": [{"index": 0, "delta": {"content": w}}]} for w in words]
                chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                chunks.append(
                    {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": len(words), "total_tokens": 9}}
                )
                for c in chunks:
                    c.update({"id": "chatcmpl-2", "object": "chat.completion.chunk", "model": body.get("model")})
                    self._chunk(f"data: {json.dumps(c)}\n\n".encode())
                self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls is not None:  # (certificate chain PEM, key PEM)
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> PrivateModel:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _last_user_text(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages") or []):
        if m.get("role") == "user":
            c = m.get("content")
            return c if isinstance(c, str) else "".join(p.get("text", "") for p in c or [] if isinstance(p, dict))
    return ""
