"""SIEM sinks. Each takes a batch of exported events and raises SinkError unless all were delivered.

Registered in one explicit tuple, SINKS. Delivery guarantees differ by transport: HTTP sinks
(Splunk HEC, webhook) count a batch delivered on a 2xx reply; syslog over TCP/TLS when the kernel
accepted every byte (syslog has no application-level acknowledgement, RFC 5425/6587); UDP when the
datagrams were sent. Error messages carry no event data, tokens or secrets.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Protocol
from urllib.parse import urlsplit

import httpx

from guard.siem.cef import syslog_5424, to_cef
from guard.siem.ecs import Exported, to_ecs


class SinkError(RuntimeError):
    """A batch was not delivered; the outbox cursor stays where it was."""


class Sink(Protocol):
    kind: ClassVar[str]

    def send(self, batch: Sequence[Exported]) -> None: ...

    def close(self) -> None: ...


def _dumps(d: object) -> str:
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"), default=str)


def _ends_with_newline(path: str) -> bool:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


class JsonLinesSink:
    """ECS documents as JSON lines to a file (appended and fsync'd per batch) or to stdout ('-')."""

    kind: ClassVar[str] = "jsonl"

    def __init__(self, path: str = "-") -> None:
        self.path = path
        self._fh = sys.stdout if path == "-" else open(path, "a", encoding="utf-8")  # noqa: SIM115
        if path != "-" and self._fh.tell() and not _ends_with_newline(path):
            self._fh.write("\n")  # a line torn by a crash must not swallow the first line we append

    def send(self, batch: Sequence[Exported]) -> None:
        try:
            self._fh.write("".join(_dumps(to_ecs(x)) + "\n" for x in batch))
            self._fh.flush()
            if self._fh is not sys.stdout:
                os.fsync(self._fh.fileno())
        except OSError as exc:
            raise SinkError(f"jsonl write failed: {type(exc).__name__}") from None

    def close(self) -> None:
        if self._fh is not sys.stdout:
            self._fh.close()


class SyslogSink:
    """CEF in RFC 5424 syslog over udp://, tcp:// or tls:// (octet-counted framing, RFC 6587 / 5425)."""

    kind: ClassVar[str] = "syslog"

    def __init__(self, target: str, ca: Path | None = None, hostname: str | None = None, timeout: float = 10.0):
        u = urlsplit(target)
        if u.scheme not in ("udp", "tcp", "tls") or not u.hostname:
            raise ValueError("syslog target must look like udp://host:514, tcp://host:514 or tls://host:6514")
        self.scheme, self.host = u.scheme, u.hostname
        self.port = u.port or (6514 if u.scheme == "tls" else 514)
        self.hostname, self.timeout = hostname, timeout
        self._ctx: ssl.SSLContext | None = None
        if self.scheme == "tls":
            self._ctx = ssl.create_default_context(cafile=str(ca) if ca else None)
        self._sock: socket.socket | None = None

    def _connect(self) -> socket.socket:
        if self._sock is None:
            if self.scheme == "udp":
                self._sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_DGRAM)
            else:
                raw = socket.create_connection((self.host, self.port), timeout=self.timeout)
                self._sock = self._ctx.wrap_socket(raw, server_hostname=self.host) if self._ctx else raw
        return self._sock

    def send(self, batch: Sequence[Exported]) -> None:
        msgs = [syslog_5424(x, to_cef(x), self.hostname) for x in batch]
        try:
            sock = self._connect()
            if self.scheme == "udp":
                for m in msgs:
                    sock.sendto(m, (self.host, self.port))
            else:
                sock.sendall(b"".join(b"%d %s" % (len(m), m) for m in msgs))
        except OSError as exc:
            self.close()
            raise SinkError(f"syslog {self.scheme}://{self.host}:{self.port} failed: {type(exc).__name__}") from None

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None


class _HttpSink:
    def __init__(self, url: str, ca: Path | None, timeout: float) -> None:
        self.url = url
        self._client = httpx.Client(verify=ssl.create_default_context(cafile=str(ca)) if ca else True, timeout=timeout)

    def _post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        try:
            r = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SinkError(f"{self.kind} POST failed: {type(exc).__name__}") from None  # type: ignore[attr-defined]
        if not 200 <= r.status_code < 300:
            raise SinkError(f"{self.kind} POST answered HTTP {r.status_code}")  # type: ignore[attr-defined]
        return r

    def close(self) -> None:
        self._client.close()


class SplunkHecSink(_HttpSink):
    """Splunk HTTP Event Collector: batched event objects, `Authorization: Splunk <token>`."""

    kind: ClassVar[str] = "splunk"

    def __init__(
        self,
        url: str,
        token: str,
        index: str = "",
        sourcetype: str = "guard:audit",
        ca: Path | None = None,
        timeout: float = 10.0,
    ):
        if not urlsplit(url).path.strip("/"):
            url = url.rstrip("/") + "/services/collector/event"
        super().__init__(url, ca, timeout)
        self._token, self.index, self.sourcetype = token, index, sourcetype
        self.host = socket.gethostname()

    def send(self, batch: Sequence[Exported]) -> None:
        objs = []
        for x in batch:
            o = {
                "time": round(x.event.time.timestamp(), 3),
                "host": self.host,
                "source": "guard",
                "sourcetype": self.sourcetype,
                "event": to_ecs(x),
            }
            if self.index:
                o["index"] = self.index
            objs.append(_dumps(o))
        r = self._post(
            "\n".join(objs).encode(), {"Authorization": f"Splunk {self._token}", "Content-Type": "application/json"}
        )
        try:
            ok = r.json().get("code", 0) == 0
        except ValueError:
            ok = True  # some collectors answer 200 with an empty body
        if not ok:
            raise SinkError("splunk HEC rejected the batch")


class WebhookSink(_HttpSink):
    """POST {"events": [ECS, ...]} as JSON; optional bearer token and HMAC-SHA256 body signature."""

    kind: ClassVar[str] = "webhook"

    def __init__(self, url: str, token: str = "", secret: str = "", ca: Path | None = None, timeout: float = 10.0):
        super().__init__(url, ca, timeout)
        self._token, self._secret = token, secret

    def send(self, batch: Sequence[Exported]) -> None:
        body = _dumps({"events": [to_ecs(x) for x in batch]}).encode()
        headers = {"Content-Type": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._secret:
            headers["X-Guard-Signature"] = "sha256=" + hmac.new(self._secret.encode(), body, hashlib.sha256).hexdigest()
        self._post(body, headers)


SINKS: tuple[type, ...] = (JsonLinesSink, SyslogSink, SplunkHecSink, WebhookSink)
SINK_KINDS: tuple[str, ...] = tuple(s.kind for s in SINKS)
