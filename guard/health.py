"""The proxy's metrics and health endpoint: GET /metrics, /healthz and /livez on a port of its own.

A small asyncio HTTP/1.1 server on the proxy's event loop (no mitmproxy here). Nothing it does can
block the proxy: the database ping runs on a thread of its own with a deadline, and a slow or
malicious client is cut off after a few seconds. Bodies carry counts and states only, never the
database URL, values or prompt text.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import sys
from typing import Any, Protocol

from guard import metrics

log = logging.getLogger(__name__)
DEFAULT_PORT = 9464  # Prometheus' conventional exporter port range (9464: OpenTelemetry's exporter)
PING_TIMEOUT_S = 2.0  # under the container probe's 4 s, so a hung database reads as a 503, not a timeout
READ_TIMEOUT_S = 5.0
MAX_HEADER_BYTES = 16 * 1024


class _Pool(Protocol):
    workers: int

    def alive(self) -> int: ...


class MeteredSink:
    """An audit sink that counts every event in guard.metrics before handing it on."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def submit(self, event: Any) -> None:
        """Record the event's metrics, then submit it to the wrapped sink."""
        try:
            metrics.record_event(event)
        except Exception as exc:  # noqa: BLE001  (metrics must never break the request path)
            log.error("metrics record failed (%s)", type(exc).__name__)
        self.sink.submit(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sink, name)  # close, flush, ping, queue_depth, spool_size...


class Health:
    """Check the detection pool and the audit path; report as (HTTP status, JSON-able dict)."""

    def __init__(self, pool: _Pool, sink: Any, ping_timeout: float = PING_TIMEOUT_S) -> None:
        self.pool, self.sink, self.ping_timeout = pool, sink, ping_timeout
        # One thread: a hung database ping can never take a thread mitmproxy needs.
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="guard-health")
        self._ping: asyncio.Future[bool] | None = None

    async def _db_reachable(self) -> bool | None:
        ping = getattr(self.sink, "ping", None)
        if ping is None:
            return None  # a JSON-lines sink: no database
        if self._ping is None or self._ping.done():
            # Concurrent probes share one ping rather than queueing behind a slow one.
            self._ping = asyncio.get_running_loop().run_in_executor(self._executor, ping)
        try:
            return bool(await asyncio.wait_for(asyncio.shield(self._ping), self.ping_timeout))
        except Exception:  # noqa: BLE001  (a timeout or a driver error: not reachable)
            return False

    def workers(self) -> int:
        """Detection workers running and ready now."""
        try:
            return int(self.pool.alive())
        except Exception:  # noqa: BLE001
            return 0

    def live(self) -> tuple[int, dict[str, Any]]:
        """Can the proxy serve requests (workers alive)? The database is not consulted."""
        n = self.workers()
        body: dict[str, Any] = {"status": "ok" if n > 0 else "unhealthy", "workers": n}
        if n == 0:
            body["problems"] = ["no detection worker is alive: every guarded request is blocked"]
        return (200 if n > 0 else 503), body

    async def check(self) -> tuple[int, dict[str, Any]]:
        """Full check: detection workers alive and the audit database answering."""
        problems: list[str] = []
        n = self.workers()
        if n == 0:
            problems.append("no detection worker is alive: every guarded request is blocked")
        audit: dict[str, Any] = {}
        for attr in ("queue_depth", "spool_size"):
            try:
                value = getattr(self.sink, attr, None)
            except Exception:  # noqa: BLE001
                value = None
            if value is not None:
                audit[attr] = int(value)
        reachable = await self._db_reachable()
        if reachable is not None:
            audit["db_reachable"] = reachable
            if not reachable:
                problems.append("audit database unreachable: events are spooled locally until it answers")
        body: dict[str, Any] = {"status": "ok" if not problems else "unhealthy", "audit": audit,
                                "workers": n, "workers_configured": getattr(self.pool, "workers", 0)}  # fmt: skip
        if problems:
            body["problems"] = problems
        return (200 if not problems else 503), body

    def close(self) -> None:
        """Stop the ping thread (a hung ping is abandoned, not waited for)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


class MetricsServer:
    """Serve /metrics, /healthz and /livez; start() on the running loop, close() on shutdown."""

    def __init__(self, health: Health, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.health, self.host, self.port = health, host, port
        self._server: asyncio.Server | None = None

    async def start(self) -> tuple[str, int]:
        """Listen (OSError if the port is taken); return the bound address."""
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        addr = self._server.sockets[0].getsockname()
        return addr[0], addr[1]

    async def close(self) -> None:
        """Stop listening and the health checker's thread."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.health.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
            if len(head) > MAX_HEADER_BYTES:
                raise ValueError("headers too large")
            method, target = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[:2]
            status, ctype, body = await self._route(method, target.split("?", 1)[0])
            payload = b"" if method == "HEAD" else body
            reason = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}[status]
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n\r\n".encode("latin-1")
                + payload
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError, ConnectionError):
            pass  # a client that went away or sent garbage: nothing to answer
        except Exception as exc:  # noqa: BLE001  (never let a probe take the proxy down)
            log.error("metrics endpoint failed (%s)", type(exc).__name__)
        finally:
            writer.close()

    async def _route(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain; charset=utf-8", b"use GET\n"
        if path == "/metrics":
            return 200, metrics.CONTENT_TYPE, metrics.render().encode()
        if path in ("/healthz", "/livez"):
            status, body = await self.health.check() if path == "/healthz" else self.health.live()
            return status, "application/json", json.dumps(body).encode() + b"\n"
        return 404, "text/plain; charset=utf-8", b"not found: try /metrics, /healthz or /livez\n"


async def start(pool: _Pool, sink: Any, host: str, port: int) -> MetricsServer | None:
    """Serve metrics and health for this pool and audit sink on host:port (None when port is 0)."""
    if not port:
        return None
    watch = getattr(sink, "queue_depth", None) is not None and getattr(sink, "spool_size", None) is not None
    if watch:
        metrics.watch_writer(sink)
    server = MetricsServer(Health(pool, sink), host or "127.0.0.1", port)
    try:
        bound = await server.start()
    except OSError as exc:
        # Metrics are not a control: a taken port (a second proxy on the host) must not stop guarding.
        server.health.close()
        print(f"guard proxy: metrics and health NOT served: cannot listen on {host}:{port} ({exc.strerror or exc})",
              file=sys.stderr, flush=True)  # fmt: skip
        return None
    print(f"guard metrics on http://{bound[0]}:{bound[1]}/metrics (health: /healthz)", flush=True)
    return server
