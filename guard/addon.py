"""The mitmproxy addon: the only guard module that touches flows. Everything else is in the pipeline.

mitmproxy logs and swallows exceptions raised in addon hooks and then forwards the flow unchanged
(fail open). So every hook here catches its own errors and answers with a block reply in the
provider's format: nothing reaches a guarded host unscanned.
"""

from __future__ import annotations

import logging

from mitmproxy import http

from guard import identity as ident
from guard import wsinspect
from guard.core import Action
from guard.pipeline import FlowState, Outcome, Pipeline, RequestIn
from guard.providers import body_too_large
from guard.streaming import StreamTransform

log = logging.getLogger(__name__)
KEY = "guard"  # flow.metadata key of the FlowState
DEST = "guard.destination"
WHO = "guard.identity"


class GuardAddon:
    """Scan and transform requests to guarded LLM hosts; restore their replies; audit each flow."""

    def __init__(self, pipeline: Pipeline, *, identity_header: str = "", websocket: str = "block") -> None:
        self.pipeline = pipeline
        self.identity_header = identity_header.lower()
        self.websocket = websocket  # 'block': refuse upgrades to guarded hosts; 'inspect': check each message

    # -- request side ------------------------------------------------------------------------

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        """Mark guarded flows: buffer the whole request body and ask upstream for identity encoding."""
        try:
            if flow.response is not None:  # e.g. proxy authentication required
                return
            req = flow.request
            who = ident.resolve(
                flow.metadata, req.headers, identity_header=self.identity_header,
                client_address=_client_ip(flow),
            )  # fmt: skip
            flow.metadata[WHO] = who
            dest = self.pipeline.destinations.match(req.host) or self.pipeline.destinations.match(req.pretty_host)
            if dest is None:
                return
            flow.metadata[DEST] = dest
            # Never stream a guarded request: the whole body must be scanned before any of it leaves.
            req.stream = False
            req.headers["accept-encoding"] = "identity"
            length = req.headers.get("content-length", "")
            if length.isdigit() and int(length) > self.pipeline.body_limit:
                st = self._state(flow)
                self._reply(flow, self.pipeline.over_limit(st, body_too_large(int(length), self.pipeline.body_limit)))
        except Exception as exc:
            self._fail(flow, "requestheaders", exc)

    async def request(self, flow: http.HTTPFlow) -> None:
        """Scan the request, decide, and forward it redacted, re-targeted, unchanged, or not at all."""
        try:
            if KEY in flow.metadata or flow.response is not None:
                return  # already answered (blocked in requestheaders, or proxy auth)
            dest = flow.metadata.get(DEST)
            req = flow.request
            by_conn = self.pipeline.destinations.match(req.host)
            by_host = self.pipeline.destinations.match(req.pretty_host)
            if dest is None and by_conn is None and by_host is None:
                return
            st = self._state(flow)
            if by_conn is not by_host:
                # The Host header names another site than the connection: domain fronting.
                self._reply(flow, self.pipeline.block(
                    st, "the request's Host header does not match the host it was sent to"))  # fmt: skip
                return
            if req.headers.get("upgrade", "").lower() == "websocket" and self.websocket != "inspect":
                out = self.pipeline.block(st, "guard does not allow WebSocket connections to LLM hosts (policy)",
                                          policy=True)  # fmt: skip
                st.endpoint = wsinspect.ENDPOINT  # the audit event names what was refused
                self._reply(flow, out)
                return
            headers = {k.lower(): v for k, v in req.headers.items()}
            body = req.raw_content or b""
            outcome = await self.pipeline.process(
                RequestIn(req.method, req.pretty_host, req.path, headers, body, by_host, st.identity, st.client_address)
            )
            flow.metadata[KEY] = outcome.state
            self._apply(flow, outcome)
        except Exception as exc:
            self._fail(flow, "request", exc)

    def _apply(self, flow: http.HTTPFlow, outcome: Outcome) -> None:
        req = flow.request
        if outcome.action is Action.BLOCK and outcome.response is not None:
            self._reply(flow, outcome)
        elif outcome.action is Action.REDACT and outcome.body is not None:
            req.headers.pop("content-encoding", None)
            req.content = outcome.body
        elif outcome.action is Action.ROUTE_PRIVATE and outcome.response is not None:
            # The private model already answered (pipeline): nothing of this request goes upstream.
            status, headers, body = outcome.response
            flow.response = http.Response.make(status, body, headers)
        elif outcome.action is Action.ROUTE_PRIVATE and outcome.plan is not None:
            plan = outcome.plan
            for name in ("authorization", "x-api-key", "api-key", "x-goog-api-key", "cookie"):
                req.headers.pop(name, None)  # the public provider's credentials never reach the private model
            req.url = plan.url
            for name, value in plan.headers.items():
                req.headers[name] = value
            if plan.body:
                req.headers.pop("content-encoding", None)
                req.content = plan.body
            req.headers["accept-encoding"] = "identity"

    async def websocket_message(self, flow: http.HTTPFlow) -> None:
        """`--websocket inspect`: check each client message; a blocked one is dropped, and so is all that follows."""
        st: FlowState | None = flow.metadata.get(KEY)
        ws = flow.websocket
        if st is None or ws is None or not ws.messages:
            return
        msg = ws.messages[-1]
        if not msg.from_client or msg.injected:
            return
        try:
            if flow.metadata.get("guard.ws_blocked"):
                msg.drop()  # the conversation was cut at a blocked message: nothing after it goes out either
                return
            verdict = await wsinspect.inspect(self.pipeline, st, msg.text if msg.is_text else None)
            if verdict.decision is not None and verdict.decision.action is Action.BLOCK and not verdict.decision.monitor:
                msg.drop()
                flow.metadata["guard.ws_blocked"] = True
                self._ws_tell(flow, wsinspect.error_event(verdict))
                self.pipeline.finish(verdict, upstream_status=None)
        except Exception as exc:
            msg.drop()
            flow.metadata["guard.ws_blocked"] = True
            log.error("guard websocket_message hook failed (%s); message dropped", type(exc).__name__)

    def _ws_tell(self, flow: http.HTTPFlow, text: str) -> None:
        from mitmproxy import ctx

        ctx.master.commands.call("inject.websocket", flow, True, text.encode(), True)

    # -- reply side --------------------------------------------------------------------------

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        """Stream SSE replies through the restorer; leave other replies to `response`."""
        st: FlowState | None = flow.metadata.get(KEY)
        if st is None or st.blocked_by_guard or st.private_reply or flow.response is None:
            return
        try:
            ctype = flow.response.headers.get("content-type", "").lower()
            if "text/event-stream" in ctype or "ndjson" in ctype:
                encoding = flow.response.headers.pop("content-encoding", "")
                flow.response.headers.pop("content-length", None)
                flow.response.stream = _mitm_stream(self.pipeline.stream(st, encoding))
                flow.metadata["guard.stream"] = flow.response.stream
        except Exception as exc:
            # Not streamed: `response` sees the whole reply and replaces it with an error.
            st.error = f"responseheaders: {type(exc).__name__}"
            flow.metadata["guard.reply_failed"] = True
            log.error("guard responseheaders hook failed (%s) [%s]", type(exc).__name__, st.event_id)

    def response(self, flow: http.HTTPFlow) -> None:
        """Restore a complete reply and record the flow's audit event."""
        st: FlowState | None = flow.metadata.get(KEY)
        if st is None or flow.response is None:
            return
        resp = flow.response
        streamed = flow.metadata.get("guard.stream")
        try:
            if flow.metadata.get("guard.reply_failed"):
                raise RuntimeError("reply setup failed")
            if not st.blocked_by_guard and not st.private_reply and streamed is None:
                body = resp.content or b""
                restored = self.pipeline.restore_body(st, resp.headers.get("content-type", ""), body)
                if restored is not body:
                    resp.content = restored
        except Exception as exc:
            # The reply holds placeholders only, never the real values: answer with a clear error.
            st.error = f"restore: {type(exc).__name__}"
            log.error("reply restore failed (%s) [%s]", type(exc).__name__, st.event_id)
            status, headers, body = self.pipeline.block(
                st, "guard could not restore the model's reply (restore failed)").response or (502, {}, b"")  # fmt: skip
            flow.response = http.Response.make(status, body, headers)
        size = streamed.transform.bytes_out if streamed is not None else len(resp.raw_content or b"")
        status = None if st.blocked_by_guard else resp.status_code
        flow.metadata["guard.finished"] = True
        self.pipeline.finish(st, upstream_status=status, response_bytes=size)

    def error(self, flow: http.HTTPFlow) -> None:
        """Record flows that ended in a connection or protocol error."""
        st: FlowState | None = flow.metadata.get(KEY)
        if st is None or flow.metadata.get("guard.finished"):
            return
        msg = flow.error.msg if flow.error else "error"
        flow.metadata["guard.finished"] = True
        self.pipeline.finish(st, upstream_status=None, error=f"connection: {msg[:200]}")

    # -- helpers -----------------------------------------------------------------------------

    def _state(self, flow: http.HTTPFlow) -> FlowState:
        dest = flow.metadata.get(DEST) or self.pipeline.destinations.match(flow.request.pretty_host)
        if dest is None:
            dest = self.pipeline.destinations.match(flow.request.host)
        who = flow.metadata.get(WHO) or ident.Identity()
        st = FlowState(dest, who, _client_ip(flow), dest.adapter if dest else "generic",
                       request_bytes=len(flow.request.raw_content or b""))  # fmt: skip
        flow.metadata[KEY] = st
        return st

    def _reply(self, flow: http.HTTPFlow, outcome: Outcome) -> None:
        flow.metadata[KEY] = outcome.state
        status, headers, body = outcome.response or (403, {}, b"")
        flow.response = http.Response.make(status, body, headers)

    def _fail(self, flow: http.HTTPFlow, hook: str, exc: Exception) -> None:
        log.error("guard %s hook failed (%s); request blocked", hook, type(exc).__name__)
        try:
            st = flow.metadata.get(KEY) or self._state(flow)
            st.error = f"{hook}: {type(exc).__name__}"
            self._reply(flow, self.pipeline.block(st, f"guard could not check this request ({hook} failed)"))
        except Exception:
            flow.response = http.Response.make(
                502, b'{"error": {"message": "guard failed; the request was not sent.", "type": "guard_blocked"}}',
                {"content-type": "application/json"},
            )  # fmt: skip


class _MitmStream:
    """mitmproxy's stream callable around a StreamTransform: [] mid-stream, never b'' (ends HTTP/1.1 chunked)."""

    def __init__(self, transform: StreamTransform) -> None:
        self.transform = transform

    def __call__(self, chunk: bytes) -> bytes | list[bytes]:
        out = self.transform.feed(chunk)
        if chunk == b"":
            return out
        return out if out else []


def _mitm_stream(transform: StreamTransform) -> _MitmStream:
    return _MitmStream(transform)


def _client_ip(flow: http.HTTPFlow) -> str:
    try:
        return str(flow.client_conn.peername[0])
    except (AttributeError, IndexError, TypeError):
        return ""
