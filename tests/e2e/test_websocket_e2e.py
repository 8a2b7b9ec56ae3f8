"""WebSocket traffic to a guarded host through `guard proxy`, with a real client (`websockets`).

Default (`--websocket block`): the upgrade is refused, the upstream never sees a connection, and
the audit store records a block. `--websocket inspect` (a second proxy): clean messages pass both
ways; a message holding a secret is dropped, the client gets an error event, nothing after it goes
out, and the block is audited.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect
from websockets.sync.server import serve

from tests.e2e.conftest import GuardProcess, audit_rows, start_guard, write_rules

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TOKEN = "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"


class WsUpstream:
    """A TLS WebSocket echo server on 127.0.0.1; `connections` and `received` record what reached it."""

    def __init__(self, cert: Path, key: Path) -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.connections = 0
        self.received: list[str | bytes] = []

        def handler(ws) -> None:
            self.connections += 1
            for message in ws:
                self.received.append(message)
                ws.send(json.dumps({"type": "echo", "got": message if isinstance(message, str) else "<binary>"}))

        self.server = serve(handler, "127.0.0.1", 0, ssl=ctx)
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture(scope="module")
def ws_upstream(tls) -> Iterator[WsUpstream]:
    server = WsUpstream(tls[1], tls[2])
    yield server
    server.stop()


def open_ws(proxy: GuardProcess, ca: Path, port: int, path: str = "/v1/realtime?model=gpt-realtime"):
    """A `websockets` client tunnelled through the proxy (HTTP CONNECT), trusting guard's CA."""
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=30)
    sock.sendall(f"CONNECT localhost:{port} HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)
    assert head.split(b" ", 2)[1] == b"200", head
    ctx = ssl.create_default_context(cafile=str(ca))
    return connect(f"wss://localhost:{port}{path}", sock=sock, ssl=ctx, server_hostname="localhost",
                   open_timeout=30, proxy=None)  # fmt: skip


def websocket_rows(home: Path, timeout: float = 20.0) -> list[dict]:
    """Audit events of WebSocket upgrades/messages (no model name), waiting for the asynchronous writer."""
    deadline = time.monotonic() + timeout
    while True:
        rows = [r for r in audit_rows(home, "", timeout=1) if r["endpoint"] == "websocket"]
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(0.3)


def test_when_websocket_is_blocked_by_default_then_the_upgrade_is_refused_and_audited(
    guard, guard_ca, guard_home, ws_upstream
):
    model = f"ws-{uuid.uuid4().hex[:8]}"
    with pytest.raises(InvalidStatus) as exc:
        open_ws(guard, guard_ca, ws_upstream.port, f"/v1/realtime?model={model}")
    assert exc.value.response.status_code >= 400 and b"WebSocket" in exc.value.response.body
    assert ws_upstream.connections == 0
    rows = websocket_rows(guard_home)
    assert rows and rows[-1]["action"] == "block", "the refused upgrade has an audit event"


@pytest.fixture(scope="module")
def ws_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guard-ws")


@pytest.fixture(scope="module")
def inspect_guard(ws_home: Path, tls, ws_upstream) -> Iterator[GuardProcess]:
    proc = start_guard(ws_home, write_rules(ws_home / "rules"), tls[0], "--no-models", "--websocket", "inspect")
    yield proc
    proc.stop()


def test_when_websocket_is_inspected_then_clean_messages_pass_and_a_secret_cuts_the_conversation(
    inspect_guard, ws_home, ws_upstream
):
    ca = ws_home / "ca" / "mitmproxy-ca-cert.pem"
    before = len(ws_upstream.received)
    with open_ws(inspect_guard, ca, ws_upstream.port) as ws:
        hello = json.dumps({"type": "conversation.item.create", "item": {"content": [{"text": "hello there"}]}})
        ws.send(hello)
        assert json.loads(ws.recv(timeout=30)) == {"type": "echo", "got": hello}
        ws.send(json.dumps({"type": "conversation.item.create", "item": {"content": [{"text": f"key {TOKEN}"}]}}))
        err = json.loads(ws.recv(timeout=30))
        assert err["type"] == "error" and "secret" in err["error"]["message"] and TOKEN not in err["error"]["message"]
        ws.send(b"\x00binary")
        ws.send(json.dumps({"type": "response.create"}))
    assert ws_upstream.received[before:] == [hello]  # nothing after the blocked message reached the upstream
    rows = websocket_rows(ws_home)
    assert rows and rows[0]["action"] == "block" and {f["category"] for f in rows[0]["findings"]} == {"secret"}


def test_when_a_websocket_message_is_over_the_limit_then_it_is_dropped_with_the_limit_named(
    inspect_guard, ws_home, ws_upstream
):
    from guard.wsinspect import MAX_MESSAGE_CHARS

    ca = ws_home / "ca" / "mitmproxy-ca-cert.pem"
    before = len(ws_upstream.received)
    big = json.dumps({"type": "conversation.item.create", "item": {"content": [{"text": "a " * MAX_MESSAGE_CHARS}]}})
    with open_ws(inspect_guard, ca, ws_upstream.port) as ws:
        ws.send(big)
        err = json.loads(ws.recv(timeout=30))
    assert err["type"] == "error" and "websocket-message limit" in err["error"]["message"]
    assert "shorter messages" in err["error"]["message"]
    assert ws_upstream.received[before:] == []
    deadline = time.monotonic() + 20  # the audit writer is asynchronous; earlier tests' rows are there already
    while not (rows := [r for r in websocket_rows(ws_home) if r["error"].startswith("limit websocket-message")]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert rows and rows[-1]["action"] == "block"
