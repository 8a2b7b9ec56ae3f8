"""Upstream connection reuse: re-send a request once when a reused connection closed before replying.

Servers close kept-alive connections that stay idle (uvicorn after 5 s, load balancers after about a
minute). When mitmproxy sends the next request on such a connection at the moment the server closes
it, the request and the server's FIN cross: mitmproxy has written the whole request and reads EOF
without one byte of reply (`Http1Client.read_headers`: "server closed connection"). mitmproxy does not
retry (its issue 3038) and answers the client with a bare HTML `502 Bad Gateway`. On a quiet box the
window is a fraction of a millisecond; under saturation both event loops lag, so a close already sent
is read late and the window grows.

`install()` swaps mitmproxy's per-request `HttpStream` for `GuardHttpStream`, which:

- re-sends the request once on a new connection when, and only when, the connection was opened
  before this request was complete (reused: with `connection_strategy=lazy` a connection opened for
  the request is opened after it), nothing of the reply arrived, the whole request had been sent
  (never a streamed one) and it was not re-sent already. As browsers do on a reused connection, this
  is safe because nothing was received. It re-sends `flow.request` as guard's `request` hook left it,
  so a redacted request goes out redacted again; nothing is re-scanned or audited twice;
- answers in the provider's own error format (status 502; an upstream error, not a block: OpenAI
  shape `server_error` / `guard_upstream_error`, Anthropic `api_error`, Gemini `UNAVAILABLE`) when an
  upstream error cannot be retried and nothing has reached the client yet, e.g. a reply broken
  after its first bytes (never re-sent) or a second close. The `error` hook still records it.

mitmproxy is pinned to 12.2.x (pyproject.toml); `install()` checks the internals it relies on.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from typing import Any

from mitmproxy import flow as mflow
from mitmproxy import http
from mitmproxy.proxy.layers import http as mhttp
from mitmproxy.proxy.layers.http import _events as hev

log = logging.getLogger(__name__)
RETRIED = "guard.upstream_retried"  # flow.metadata: the request was re-sent on a new connection
CLOSED_BEFORE_REPLY = "server closed connection"  # mitmproxy 12.2 _http1.Http1Client.read_headers
GUARD_KEY = "guard"  # flow.metadata key of guard's FlowState (guard.addon.KEY)


class GuardHttpStream(mhttp.HttpStream):
    """mitmproxy's HttpStream, with one re-send after a reused connection closed before replying."""

    def handle_protocol_error(
        self, event: hev.RequestProtocolError | hev.ResponseProtocolError
    ) -> Generator[Any, Any, None]:
        if isinstance(event, hev.ResponseProtocolError):
            if self._may_resend(event):
                yield from self._resend()
                return
            reply = self._guard_reply(event)
            if reply is not None:
                yield from self._answer(event, reply)
                return
        yield from super().handle_protocol_error(event)

    def _may_resend(self, event: hev.ResponseProtocolError) -> bool:
        f = self.flow
        conn = self.context.server
        reused = conn.timestamp_start is not None and conn.timestamp_start < (f.request.timestamp_end or 0)
        return (
            event.message == CLOSED_BEFORE_REPLY
            and reused
            and not f.metadata.get(RETRIED)
            and f.response is None  # not one byte of the reply
            and f.error is None
            and self.server_state == self.state_wait_for_response_headers
            and self.client_state == self.state_done  # the whole request was read, hooked and sent
            and not f.request.stream
            and f.request.raw_content is not None
        )

    def _resend(self) -> Generator[Any, Any, None]:
        """Open a new connection and send the request again, exactly as it was sent (the same code as mitmproxy's)."""
        f = self.flow
        f.metadata[RETRIED] = True
        log.warning("upstream %s:%s closed a reused connection before replying; request re-sent on a new connection",
                    f.request.host, f.request.port)  # fmt: skip
        if not (yield from self.make_server_connection()):
            return  # make_server_connection already answered through handle_protocol_error
        content = f.request.raw_content
        yield mhttp.SendHttp(hev.RequestHeaders(self.stream_id, f.request, not (content or f.request.trailers)),
                             self.context.server)  # fmt: skip
        if content:
            yield mhttp.SendHttp(hev.RequestData(self.stream_id, content), self.context.server)
        if f.request.trailers:
            yield mhttp.SendHttp(hev.RequestTrailers(self.stream_id, f.request.trailers), self.context.server)
        yield mhttp.SendHttp(hev.RequestEndOfMessage(self.stream_id), self.context.server)

    def _guard_reply(self, event: hev.ResponseProtocolError) -> tuple[int, dict[str, str], bytes] | None:
        """Guard's error reply in the provider's format, when nothing of a reply has reached the client yet."""
        st = self.flow.metadata.get(GUARD_KEY)
        status = event.code.http_status_code()
        if (
            st is None
            or status is None
            or self.flow.error is not None
            or self.client_state != self.state_done
            or self.server_state not in (self.state_wait_for_response_headers, self.state_consume_response_body)
        ):
            return None
        from guard import providers

        message = (
            f"guard got no complete answer from {self.flow.request.pretty_host} ({event.message[:160]}). "
            f"Try again; if it keeps happening, contact your IT team "
            f"(guard reference {st.event_id[:12]})."
        )
        try:
            return providers.upstream_error_response(st.adapter, st.endpoint or "generic", message, status)
        except Exception as exc:  # the reply must still be readable: mitmproxy's own 502 then
            log.error("upstream error reply failed (%s)", type(exc).__name__)
            return None

    def _answer(
        self, event: hev.ResponseProtocolError, reply: tuple[int, dict[str, str], bytes]
    ) -> Generator[Any, Any, None]:
        """Run the error hook as mitmproxy does, then reply with guard's message instead of mitmproxy's HTML page."""
        self.flow.error = mflow.Error(event.message)
        yield mhttp.HttpErrorHook(self.flow)
        if (yield from self.check_killed(False)):
            return
        status, headers, body = reply
        response = http.Response.make(status, body, headers)
        yield mhttp.SendHttp(hev.ResponseHeaders(self.stream_id, response, not body), self.context.client)
        if body:
            yield mhttp.SendHttp(hev.ResponseData(self.stream_id, body), self.context.client)
        yield mhttp.SendHttp(hev.ResponseEndOfMessage(self.stream_id), self.context.client)
        self.server_state = self.state_errored
        self.flow.live = False
        yield mhttp.DropStream(self.stream_id)


def install() -> None:
    """Make mitmproxy's HTTP layer use GuardHttpStream for every request (idempotent)."""
    needed = ("handle_protocol_error", "make_server_connection", "check_killed", "state_wait_for_response_headers",
              "state_consume_response_body", "state_done", "state_errored")  # fmt: skip
    missing = [n for n in needed if not hasattr(mhttp.HttpStream, n)]
    if missing:
        raise RuntimeError(f"mitmproxy's HttpStream lacks {missing}: guard.upstream_conn needs mitmproxy 12.2")
    if mhttp.HttpStream is not GuardHttpStream:
        mhttp.HttpStream = GuardHttpStream  # type: ignore[misc]  # HttpLayer.make_stream looks the name up here
