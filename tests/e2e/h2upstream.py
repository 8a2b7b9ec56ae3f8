"""An HTTP/2-capable local TLS "LLM provider" for end-to-end tests (hypercorn, ALPN h2 + http/1.1).

It answers like tests/e2e/upstream.py (OpenAI and Anthropic JSON and SSE replies that echo the prompt,
every SSE event split in two DATA frames) and records, per request, the HTTP version it was spoken in,
and the upstream connection it came on.

A request carrying `x-test-barrier: GROUP:N` is not answered until N requests of GROUP are in flight
at once (at most BARRIER_WAIT seconds): a test can prove that concurrent h2 streams really overlapped.
One carrying `x-test-trailer: VALUE` (and `te: trailers`) is answered without content-length and ends
with the trailer `x-upstream-trailer: VALUE`, as gRPC-style h2 servers do.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.upstream import (
    Received,
    _has_tool_result,
    anthropic_events,
    anthropic_reply,
    last_user_text,
    openai_events,
    openai_reply,
)

START_TIMEOUT = 10.0  # seconds start() waits for hypercorn to listen before giving up
BARRIER_WAIT = 10.0  # seconds a barrier request waits for its group before answering anyway
PACE = 0.002  # seconds between SSE frames, so concurrent streams interleave on the connection


@dataclass
class H2Received(Received):
    http_version: str = ""  # ASGI scope value: "2" or "1.1"
    connection: int = 0  # the client port of the connection the request came on (guard's side)
    barrier_met: bool = False  # all of its barrier group were in flight together


class H2Upstream:
    """hypercorn on 127.0.0.1 with a free port in a thread of its own; `received` lists every request."""

    def __init__(self, cert: Path, key: Path, alpn: tuple[str, ...] = ("h2", "http/1.1")) -> None:
        from hypercorn.config import Config

        self.received: list[H2Received] = []
        self._groups: dict[str, tuple[int, asyncio.Event]] = {}
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.config = Config()
        self.config.bind = [f"fd://{sock.detach()}"]  # hypercorn owns the bound socket from here on
        self.config.certfile, self.config.keyfile = str(cert), str(key)
        self.config.alpn_protocols = list(alpn)
        self.config.accesslog = self.config.errorlog = None
        self.config.graceful_timeout = 1.0
        self._loop = asyncio.new_event_loop()
        self._stopped = asyncio.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from hypercorn.asyncio import serve

        self._loop.run_until_complete(serve(self._app, self.config, shutdown_trigger=self._stopped.wait))  # type: ignore[arg-type]
        self._loop.close()

    def start(self) -> H2Upstream:
        """Run the server and return once its port accepts connections (RuntimeError after START_TIMEOUT)."""
        self._thread.start()
        # The socket is bound here but hypercorn calls listen() only once its loop runs: before that a
        # connect is refused, so a test's first request could fail.
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1.0).close()
                return self
            except OSError as e:
                error = e
            if not self._thread.is_alive():
                raise RuntimeError(f"h2 test upstream on port {self.port} exited before listening")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"h2 test upstream not listening on 127.0.0.1:{self.port} after {START_TIMEOUT:.0f} s: {error!r}"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10)

    def seen(self) -> str:
        """Everything the upstream received (paths, headers, bodies) as one string, for leak checks."""
        return "\n".join(f"{r.path} {r.headers} {r.body.decode('utf-8', 'replace')}" for r in self.received)

    async def _barrier(self, spec: str) -> bool:
        group, _, n = spec.rpartition(":")
        count, event = self._groups.get(group) or (0, asyncio.Event())
        self._groups[group] = (count + 1, event)
        if count + 1 >= int(n):
            event.set()
        try:
            await asyncio.wait_for(event.wait(), BARRIER_WAIT)
        except TimeoutError:
            return False
        return True

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            return await send({"type": "lifespan.shutdown.complete"})
        parts = []
        while True:
            msg = await receive()
            parts.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        path = scope["path"] + ("?" + scope["query_string"].decode() if scope["query_string"] else "")
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        rec = H2Received(path, headers, b"".join(parts), scope["http_version"], scope["client"][1])
        self.received.append(rec)
        if "x-test-barrier" in headers:
            rec.barrier_met = await self._barrier(headers["x-test-barrier"])
        out = _Reply(send, headers.get("x-test-trailer", ""))
        try:
            req = json.loads(rec.body)
        except ValueError:
            return await out.json(400, {"error": {"message": "upstream: bad json"}})
        echo = "Echo: " + last_user_text(req)
        model = req.get("model", "")
        if path.startswith("/v1/chat/completions"):
            tool = bool(req.get("tools")) and not any(m.get("role") == "tool" for m in req.get("messages", []))
            if req.get("stream"):
                return await out.sse(openai_events(model, echo, tool, bool(req.get("stream_options"))))
            return await out.json(200, openai_reply(model, echo, tool))
        if path.startswith("/v1/messages"):
            tool = bool(req.get("tools")) and not _has_tool_result(req)
            if req.get("stream"):
                return await out.sse(anthropic_events(model, echo, tool))
            return await out.json(200, anthropic_reply(model, echo, tool))
        return await out.json(404, {"error": {"message": "upstream: unknown path"}})


@dataclass
class _Reply:
    send: Any
    trailer: str  # '': a plain reply; else no content-length, and this value in a trailer

    async def _start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        await self.send({"type": "http.response.start", "status": status, "headers": headers,
                         "trailers": bool(self.trailer)})  # fmt: skip

    async def _end(self) -> None:
        await self.send({"type": "http.response.body", "body": b""})
        if self.trailer:
            await self.send(
                {"type": "http.response.trailers", "headers": [(b"x-upstream-trailer", self.trailer.encode())]}
            )

    async def json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        headers = [(b"content-type", b"application/json")]
        if not self.trailer:
            headers.append((b"content-length", str(len(data)).encode()))
        await self._start(status, headers)
        await self.send({"type": "http.response.body", "body": data, "more_body": True})
        await self._end()

    async def sse(self, events: list[bytes]) -> None:
        await self._start(200, [(b"content-type", b"text/event-stream")])
        for ev in events:
            half = len(ev) // 2  # split every event mid-JSON: arbitrary frame boundaries
            for part in (ev[:half], ev[half:]):
                await self.send({"type": "http.response.body", "body": part, "more_body": True})
                await asyncio.sleep(PACE)
        await self._end()
