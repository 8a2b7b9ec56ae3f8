"""HTTP/1 trailers: a chunked message that ends with trailer fields gets a clear answer, not a crash.

mitmproxy 12.2 raises NotImplementedError when a chunked HTTP/1 message ends with trailer fields
(`_http1.Http1Connection.read_body`). The connection's handler logs a traceback and drops the
connection without a word: nothing is forwarded, but the client never learns why. `install()` wraps
`read_body` so that trailers become an HTTP/1 protocol error, which mitmproxy already handles: a
request gets a 400 naming the reason and its connection is closed (the request never leaves); a
response from upstream with trailers is a response protocol error (the client gets a 502, and the
error is recorded by guard's `error` hook). HTTP/2 trailers are unaffected (mitmproxy supports them).

mitmproxy is pinned to 12.2.x (pyproject.toml); `install()` checks the method it wraps.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from mitmproxy.proxy import commands
from mitmproxy.proxy.layers.http import _http1
from mitmproxy.proxy.layers.http._base import ReceiveHttp

TRAILERS = "HTTP trailers are not implemented yet"  # mitmproxy 12.2's message
REASON = (
    "HTTP/1 protocol error: guard does not accept trailer fields after a chunked body; send the request without them"
)


def install() -> None:
    """Make mitmproxy's HTTP/1 reader answer trailers with a protocol error (idempotent)."""
    conn = _http1.Http1Connection
    original = getattr(conn, "read_body", None)
    if original is None:
        raise RuntimeError("mitmproxy's Http1Connection lacks read_body: guard.http1_trailers needs mitmproxy 12.2")
    if getattr(original, "_guard_trailers", False):
        return

    def read_body(self: Any, event: Any) -> Generator[Any, Any, None]:
        try:
            yield from original(self, event)
        except NotImplementedError as exc:
            if TRAILERS not in str(exc):
                raise
            if isinstance(self, _http1.Http1Server):  # the employee's request: say why, then hang up
                yield commands.SendData(self.conn, _http1.make_error_response(400, REASON))
            yield commands.CloseConnection(self.conn)
            yield ReceiveHttp(self.ReceiveProtocolError(self.stream_id, REASON, code=self.ReceiveProtocolError.code))

    read_body._guard_trailers = True  # type: ignore[attr-defined]
    conn.read_body = read_body  # type: ignore[method-assign]
