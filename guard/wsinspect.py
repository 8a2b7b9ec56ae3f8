"""WebSocket messages to guarded hosts (ChatGPT web, OpenAI Realtime), checked one by one.

Used by the addon when `--websocket inspect` is set (the default, `block`, refuses the upgrade).
Each text message the client sends is scanned like a request — every JSON string in it, or the
text itself — and decided by the policy. Anything the policy would not simply allow (redact,
route_private, block) blocks the message: a WebSocket conversation has no reply to restore
placeholders in, nor a request to re-target. Binary messages cannot be read and are blocked too.
Every blocked message gets its own audit event.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from guard.core import Action, Decision, Segment
from guard.pipeline import FlowState, Pipeline, _path_str
from guard.policy import RequestContext
from guard.providers._wire import MAX_DEPTH, iter_strings
from guard.providers.leftover import key_segments

ENDPOINT = "websocket"
MAX_MESSAGE_CHARS = 1024 * 1024  # longer messages are blocked (a Realtime text event is a few KB)


def message_state(base: FlowState) -> FlowState:
    """A fresh per-message state for the audit event, inheriting who and where from the connection."""
    return FlowState(base.destination, base.identity, base.client_address, base.adapter, endpoint=ENDPOINT,
                     model=base.model, conversation_id=base.conversation_id)  # fmt: skip


def segments_of(text: str) -> list[Segment]:
    """Every string of a JSON message (paths as in the message), or the whole text if it is not JSON."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return [Segment(text, ("message",), "user")]
    if isinstance(doc, str):
        return [Segment(doc, ("message",), "user")]
    out = [Segment(s, p, "user") for p, s in iter_strings(doc) if s] + key_segments(doc)  # keys hold text too
    if len(out) > 100_000 or _too_deep(doc):
        raise ValueError("message structure is too large to inspect")
    return out


async def inspect(pipeline: Pipeline, base: FlowState, text: str | None) -> FlowState:
    """Check one client message; the returned state's decision is ALLOW (forward) or BLOCK (drop)."""
    st = message_state(base)
    try:
        if text is None:
            return _block(st, ("websocket-binary",), "binary WebSocket messages cannot be inspected")
        st.request_bytes = len(text.encode("utf-8", "surrogatepass"))
        if len(text) > MAX_MESSAGE_CHARS:  # a limit like the request limits: named, with what to change
            st.error = f"limit websocket-message: over {MAX_MESSAGE_CHARS} characters"
            return _block(st, ("guard-limit-websocket-message",),
                          f"the WebSocket message is longer than guard's limit of {MAX_MESSAGE_CHARS} characters "
                          "(websocket-message limit). Send it in shorter messages")  # fmt: skip
        segments = segments_of(text)
        st.scanned = tuple(_path_str(s.path) for s in segments)[:200]
        found = await pipeline.pool.scan([s.text for s in segments]) if segments else []
        pairs = [(s, f) for s, fs in zip(segments, found, strict=True) for f in fs]
        st.findings = tuple(pipeline._record(s, f) for s, f in pairs)
        who = base.identity
        ctx = RequestContext(user=who.user, groups=who.groups, destination=base.destination.name,
                             destination_kind=base.destination.kind, provider=base.adapter, endpoint=ENDPOINT,
                             model=base.model)  # fmt: skip
        policy = pipeline.policy
        classes = policy.classify(segments)
        st.classifications = tuple(c.label for c in classes)
        pairs = policy.applicable(ctx, pairs)
        decision = policy.decide(ctx, pairs, classes)
    except Exception as exc:  # fail closed; the class name never holds message text
        st.error = f"websocket: {type(exc).__name__}"
        return _block(st, ("guard-fail-closed",), "guard could not check this WebSocket message")
    if decision.monitor or decision.action is Action.ALLOW:
        st.decision = decision
        return st
    cats = sorted({f.category for f in st.findings})
    what = ", ".join(c.replace("_", " ") for c in cats) if cats else "data the policy forbids"
    return _block(st, (*decision.rules, "websocket-message"), f"the WebSocket message contains {what}")


def error_event(st: FlowState) -> str:
    """The text message sent to the client instead: an OpenAI Realtime style `error` event."""
    reason = st.decision.reason if st.decision else "blocked"
    msg = f"guard blocked this message: {reason}. It was not sent (guard reference {st.event_id[:12]})."
    return json.dumps({"type": "error", "error": {"type": "invalid_request_error", "code": "guard_blocked",
                                                  "message": msg}})  # fmt: skip


def _block(st: FlowState, rules: Sequence[str], reason: str) -> FlowState:
    st.decision = Decision(Action.BLOCK, tuple(rules), reason)
    st.blocked_by_guard = True
    return st


def _too_deep(doc: object) -> bool:
    stack = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False
