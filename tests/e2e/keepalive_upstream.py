"""A test upstream that closes kept-alive connections the way real servers do, for the reuse race.

Real servers close an idle kept-alive connection after a timeout (uvicorn: 5 s; load balancers:
60 s). When the proxy sends its next request on that connection just as the server's timer fires,
the request and the server's FIN cross on the wire: the proxy has written a whole request and gets
the connection closed without one byte of reply. Timing that race for real is luck, so
`crossed_close_after` plays it deterministically: a request that arrives on a connection idle for at
least that long is read (and recorded in `dropped`) and the connection is closed without a reply,
exactly what the proxy sees when it loses the race. `idle_timeout` is the real timer, for measuring.

A request with the header `x-test-break: partial` gets the head and the first bytes of its reply,
then the connection closes: a reply broken after partial bytes, which must never be re-sent. One
with `x-test-break: close` is hung up on every time, on any connection.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from tests.e2e.upstream import Received, Upstream, _Handler


class _KeepAliveHandler(_Handler):
    server: KeepAliveUpstream

    def setup(self) -> None:
        self.timeout = self.server.idle_timeout  # the socket timeout ends an idle connection (real timer)
        super().setup()
        self.idle_since: float | None = None  # end of the last reply on this connection
        with self.server.lock:
            self.server.connections += 1

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:
            self.close_connection = True
        self.idle_since = time.monotonic()

    def do_POST(self) -> None:
        after = self.server.crossed_close_after
        if after is not None and self.idle_since is not None and time.monotonic() - self.idle_since >= after:
            self._record(self.server.dropped)
            self._hang_up()  # the server's idle close crossed this request: no reply at all
            return
        if self.headers.get("x-test-break") == "close":  # this server hangs up on this request every time
            self._record(self.server.dropped)
            self._hang_up()
            return
        if self.headers.get("x-test-break") == "partial":
            self._record(self.server.received)
            self.wfile.write(
                b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n{"id": "chat'
            )
            self.wfile.flush()
            self._hang_up()
            return
        super().do_POST()

    def _record(self, into: list[Received]) -> None:
        into.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, self._read_body()))

    def _hang_up(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class KeepAliveUpstream(Upstream):
    """The e2e upstream, with an idle-connection timeout (`idle_timeout`) and the crossed-close race."""

    def __init__(self, cert: Path, key: Path, *, idle_timeout: float | None = None,
                 crossed_close_after: float | None = None) -> None:  # fmt: skip
        super().__init__(cert, key)
        self.RequestHandlerClass = _KeepAliveHandler
        self.idle_timeout = idle_timeout
        self.crossed_close_after = crossed_close_after
        self.dropped: list[Received] = []  # requests read and then hung up on, without a reply
        self.connections = 0  # TLS connections accepted
        self.lock = threading.Lock()

    def seen(self) -> str:
        """Everything the upstream read (answered or hung up on), for leak checks."""
        return super().seen() + "\n" + "\n".join(f"{r.path} {r.headers} {r.body!r}" for r in self.dropped)
