"""The request pipeline, free of mitmproxy: parse → detect → policy → apply, and the audit event.

The addon turns a flow into a `RequestIn`, awaits `Pipeline.process`, applies the `Outcome` to the
flow, and later hands the reply to `restore_body` / `stream` and calls `finish`. `process` never
raises: any error in parsing, detection, policy or redaction becomes a BLOCK outcome whose message
names the failing stage (fail closed: nothing is forwarded unscanned).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from guard import attachments, crossscan, identifiers, providers
from guard.core import Action, Classification, Decision, Finding, Segment
from guard.detect.pool import DetectionPool, DetectionTimeout
from guard.events import AuditEvent, FindingRecord, fingerprint
from guard.hosts import Destination, Destinations
from guard.identity import Identity
from guard.policy import RequestContext
from guard.restore import StreamRestorer, restore_json
from guard.routing import RoutePlan
from guard.streaming import StreamTransform, usage_from
from guard.vault import Vault, VaultStore

log = logging.getLogger(__name__)
MAX_FIELDS = 200  # scanned/skipped field names kept per audit event
KNOWN_VALUE_RULE = "conversation-known-value"  # the rule of a REDACT forced by a value the vault knows


class AuditSink(Protocol):
    def submit(self, event: AuditEvent) -> None: ...


class Policy(Protocol):
    def classify(self, segments: Sequence[Segment]) -> list[Classification]: ...

    def applicable(
        self, ctx: RequestContext, findings: Sequence[tuple[Segment, Finding]]
    ) -> list[tuple[Segment, Finding]]: ...

    def decide(
        self, ctx: RequestContext, findings: Sequence[tuple[Segment, Finding]], classifications: Sequence[Classification]
    ) -> Decision: ...


@dataclass
class RequestIn:
    """What the pipeline needs from one HTTP request; header names are lower-case."""

    method: str
    host: str
    path: str
    headers: dict[str, str]
    body: bytes
    destination: Destination
    identity: Identity = field(default_factory=Identity)
    client_address: str = ""


@dataclass
class FlowState:
    """Everything about one guarded flow that the reply side and the audit event need."""

    destination: Destination
    identity: Identity
    client_address: str
    adapter: str
    endpoint: str = ""
    model: str = ""
    stream: bool = False
    conversation_id: str = ""
    vault: Vault | None = None
    decision: Decision | None = None
    plan: RoutePlan | None = None
    private_reply: bool = False  # the reply came from the private model, already in the client's format
    findings: tuple[FindingRecord, ...] = ()
    classifications: tuple[str, ...] = ()
    scanned: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    error: str = ""
    blocked_by_guard: bool = False
    request_bytes: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    redactions: dict[tuple[str | int, ...], str] = field(default_factory=dict)  # path -> redacted text
    evidence: bytes | None = None  # sealed original + redacted prompt, only when evidence is on
    event_id: str = field(default_factory=lambda: AuditEvent(action="").event_id)
    started: float = field(default_factory=time.perf_counter)


@dataclass
class Outcome:
    """What the addon does with the flow: forward (maybe a new body), reply itself, or re-target."""

    state: FlowState
    action: Action
    body: bytes | None = None  # new request body (redacted); None: unchanged
    response: tuple[int, dict[str, str], bytes] | None = None  # guard's own reply (block)
    plan: RoutePlan | None = None


# (parsed request, decision, context, client path) -> the plan; raises ValueError with a user-safe message.
Router = Callable[[providers.ParsedRequest, Decision, RequestContext, str], RoutePlan]


class Pipeline:
    """Scan, decide and transform requests to guarded destinations; build their audit events."""

    def __init__(
        self,
        destinations: Destinations,
        pool: DetectionPool,
        policy: Policy,
        audit: AuditSink,
        key: bytes,
        *,
        vaults: VaultStore | None = None,
        body_limit: int = 8 * 1024 * 1024,
        router: Router | None = None,
        evidence_key: Any = None,
        unreadable_attachments: str = "block",
        ocr: Any = None,
    ) -> None:
        self.destinations = destinations
        self.pool = pool
        self.policy = policy
        self.audit = audit
        self.key = key
        self.vaults = vaults or VaultStore()
        self.body_limit = body_limit
        self.router = router
        self.evidence_key = evidence_key  # X25519 public key (GUARD_EVIDENCE_PUBLIC_KEY) or None: off
        self.unreadable_attachments = unreadable_attachments  # 'block' | 'skip' (guard.attachments)
        self.ocr = ocr  # guard.ocr.Ocr when --ocr is on: images' text is read and scanned; None: off

    async def process(self, req: RequestIn) -> Outcome:
        """Return what to do with a request; never raises (errors become a BLOCK)."""
        dest = req.destination
        st = FlowState(dest, req.identity, req.client_address, dest.adapter, request_bytes=len(req.body))
        stage = "parse"
        try:
            st.endpoint = providers.adapter_for_path(dest.adapter, req.path)
            if len(req.body) > self.body_limit:
                return self.over_limit(st, providers.body_too_large(len(req.body), self.body_limit))
            t = time.perf_counter()
            parsed = attachments.parse_upload(dest.adapter, req.headers, req.body, self.body_limit)  # file uploads
            parsed = parsed or providers.parse_request(dest.adapter, req.method, req.path, req.headers, req.body,
                                                       max_bytes=self.body_limit)  # fmt: skip
            st.endpoint, st.model, st.stream = parsed.endpoint, identifiers.unchecked(parsed.model), parsed.stream
            parsed, _, unreadable = await attachments.expand_async(parsed, self.unreadable_attachments, self.ocr)
            if unreadable and self.unreadable_attachments != "skip":
                st.skipped = tuple(unreadable)[:MAX_FIELDS]
                why = unreadable[0].split(": ", 1)[-1].removeprefix("attachment ")
                return self.block(st, f"guard blocked this request: it has an attachment guard cannot read ({why}). "
                                  "Send the content as text, or ask your IT team", policy=True)  # fmt: skip
            st.adapter = parsed.adapter
            st.scanned = tuple(_path_str(s.path) for s in parsed.segments)[:MAX_FIELDS]
            st.skipped = tuple(getattr(parsed, "skipped", ()))[:MAX_FIELDS]
            st.timings_ms["parse"] = _ms(t)
            stage = "detection"
            t = time.perf_counter()
            segments = parsed.segments
            cross = crossscan.probes(segments)  # values spread over several user messages
            # Model names, roles, ids and the URL (path and query): scanned in the same batch, never rewritten.
            idents = identifiers.segments(parsed)
            named = {s.text for s in idents}
            in_url = next((s.text for s in idents if s.path == identifiers.PATH_MODEL), None)
            idents += [s for s in identifiers.url_segments(req.path)  # a model named in the URL is scanned once
                       if s.text not in named and not (in_url and in_url in s.text)]  # fmt: skip
            texts = [s.text for s in segments] + [p.text for p in cross] + [s.text for s in idents]
            # The workers get the texts now; the classifiers (markings, codenames, EDM, source code) run
            # here meanwhile, so their time hides behind the workers' instead of adding to it.
            scanning = asyncio.ensure_future(self.pool.scan(texts)) if texts else None
            try:
                stage = "policy"
                tc = time.perf_counter()
                classes = self.policy.classify(segments)
                classify_ms = _ms(tc)
                stage = "detection"
                found = await scanning if scanning is not None else []
            finally:
                if scanning is not None and not scanning.done():
                    scanning.cancel()  # classification failed: the request is blocked, the scan is moot
            found, id_hits = identifiers.split(idents, found)
            if cross:
                found = crossscan.merge(segments, found[: len(segments)], cross, found[len(segments) :])
            st.timings_ms["detect"] = _ms(t)
            stage = "policy"
            t = time.perf_counter() - classify_ms / 1000
            pairs = [(s, f) for s, fs in zip(segments, found, strict=True) for f in fs]
            st.findings = tuple(self._record(s, f) for s, f in [*pairs, *id_hits])
            st.model = identifiers.audit_model(parsed.model, [*pairs, *id_hits])
            if id_hits:  # an identifier cannot hold a placeholder: block, whatever the policy says
                st.decision = identifiers.decision(id_hits)
                return self.block(st, st.decision.reason, policy=True)
            ctx = RequestContext(
                user=req.identity.user,
                groups=req.identity.groups,
                destination=dest.name,
                destination_kind=dest.kind,
                provider=parsed.adapter,
                endpoint=parsed.endpoint,
                model=parsed.model,
            )
            st.classifications = tuple(c.label for c in classes)
            applicable = getattr(self.policy, "applicable", None)
            if applicable is not None:
                pairs = applicable(ctx, pairs)  # thresholds and allow-lists
            decision = self.policy.decide(ctx, pairs, classes)
            st.decision = decision
            st.timings_ms["policy"] = _ms(t)
            stage = "redaction"
            t = time.perf_counter()
            acted: dict[int, list[Finding]] = {}
            for seg, f in pairs:
                acted.setdefault(id(seg), []).append(f)
            chosen = [acted.get(id(s), []) for s in segments]
            outcome = self._apply(st, parsed, segments, chosen, decision, ctx, req.path)
            st.timings_ms["apply"] = _ms(t)
            if self.evidence_key is not None and st.findings:
                self._seal_evidence(st, segments)
            if outcome.plan is not None:
                stage = "routing"
                redact = lambda d: self._apply(st, parsed, segments, chosen, d, ctx, req.path)  # noqa: E731
                outcome = await self._send_private(st, outcome, redact)
            return outcome
        except providers.LimitError as exc:
            return self.over_limit(st, exc)
        except providers.RequestError as exc:
            st.error = f"RequestError: {exc}"
            return self.block(st, f"guard could not read this request ({exc}), so it was not sent")
        except Exception as exc:
            st.error = f"{stage}: {type(exc).__name__}"
            if stage == "detection":
                st.error += f": {exc}"  # DetectionError messages never hold prompt text
            log.error("guard %s failed (%s), request blocked [%s]", stage, type(exc).__name__, st.event_id)
            if isinstance(exc, DetectionTimeout):
                return self.block(st, f"guard could not finish checking this request in time ({exc}), so it was not sent")
            return self.block(st, f"guard could not check this request ({stage} failed), so it was not sent")

    def over_limit(self, st: FlowState, exc: providers.LimitError) -> Outcome:
        """Block a request over one of guard's limits: say which and what to change (retrying cannot help)."""
        message = f"guard blocked this request: {exc} ({exc.limit} limit). {exc.advice}"
        st.error = f"limit {exc.slug}: {exc}"
        st.decision = Decision(Action.BLOCK, (f"guard-limit-{exc.slug}",), message)
        return self.block(st, message, policy=True)

    def block(self, st: FlowState, message: str, *, policy: bool = False) -> Outcome:
        """Build guard's own reply in the provider's format, telling the user what to do."""
        if not policy:
            message += ". Try again; if it keeps happening, contact your IT team"
        message += f" (guard reference {st.event_id[:12]})."
        st.blocked_by_guard = True
        if st.decision is None or st.decision.action is not Action.BLOCK:
            st.decision = Decision(Action.BLOCK, ("guard-fail-closed",) if not policy else (), message)
        endpoint = st.endpoint or "generic"
        try:
            response = providers.block_response(st.adapter, endpoint, message, st.stream)
        except Exception as exc:  # the block must still happen, in the plainest format
            log.error("block_response failed (%s)", type(exc).__name__)
            response = (403, {"content-type": "application/json"},
                        json.dumps({"error": {"message": message, "type": "guard_blocked"}}).encode())  # fmt: skip
        return Outcome(st, Action.BLOCK, response=response)

    async def _send_private(self, st: FlowState, outcome: Outcome, redact: Callable[[Decision], Outcome]) -> Outcome:
        """Ask the private model now (own CA, timeouts); when it is down or slow, block or redact as the policy says."""
        from dataclasses import replace

        from guard.routing.client import PrivateModelUnavailable, send

        plan = outcome.plan
        assert plan is not None
        d = st.decision or Decision(Action.ROUTE_PRIVATE)
        t = time.perf_counter()
        try:
            reply = await send(plan)
        except PrivateModelUnavailable as exc:  # its message names the model and the failure, never the prompt
            st.error, st.plan = f"routing: {exc}", None
            if plan.on_unavailable == "redact":
                st.decision = replace(d, action=Action.REDACT, rules=(*d.rules, "private-unavailable-redact"), target="")
                return redact(st.decision)
            st.decision = Decision(Action.BLOCK, (*d.rules, "private-model-unavailable"), plan.unavailable_message)
            return self.block(st, plan.unavailable_message, policy=True)
        finally:
            st.timings_ms["private"] = _ms(t)
        st.private_reply = True
        outcome.response = (reply.status, reply.headers, reply.body)
        return outcome

    def _apply(
        self,
        st: FlowState,
        parsed: providers.ParsedRequest,
        segments: Sequence[Segment],
        found: Sequence[Sequence[Finding]],
        decision: Decision,
        ctx: RequestContext,
        path: str,
    ) -> Outcome:
        if decision.action is Action.ALLOW and not decision.monitor and self._recurs(st, parsed, segments):
            # Nothing found this time, but a value replaced earlier in this conversation is back (ChatGPT web
            # sends only the new message; "zhang wei" in lower case is no finding on its own): replace it again.
            decision = st.decision = Decision(Action.REDACT, (KNOWN_VALUE_RULE,), "a value replaced earlier in "
                                              "this conversation")  # fmt: skip
        if decision.monitor or decision.action is Action.ALLOW:
            return Outcome(st, Action.ALLOW if not decision.monitor else decision.action)
        if (refusal := identifiers.key_refusal(segments, found, decision)) is not None:
            st.decision = refusal  # an object key holds data: it cannot hold a placeholder
            return self.block(st, refusal.reason, policy=True)
        if decision.action is Action.BLOCK:
            cats = sorted({f.category for f in st.findings})
            what = f"it contains {', '.join(c.replace('_', ' ') for c in cats)}" if cats else "policy forbids it"
            reason = f" ({decision.reason})" if decision.reason else ""
            msg = f"guard blocked this request: {what}{reason}. Remove that data and send it again, or ask your IT team"
            return self.block(st, msg, policy=True)
        if decision.action is Action.ROUTE_PRIVATE:
            if self.router is None:
                raise RuntimeError("no private route configured")
            try:
                plan = self.router(parsed, decision, ctx, path)
            except ValueError as exc:  # RouteError: user-safe text
                return self.block(st, f"guard could not send this request to the private model: {exc}", policy=True)
            st.plan = plan
            return Outcome(st, Action.ROUTE_PRIVATE, plan=plan)
        # REDACT: every segment in order, so a fresh vault fed a resent history numbers values alike.
        st.conversation_id = self.conversation_id(parsed, st.identity)
        vault = self.vaults.get(st.conversation_id)
        st.vault = vault
        replacements: dict[tuple[str | int, ...], str] = {}
        for seg, fs in zip(segments, found, strict=True):
            chosen = [f for f in fs if f.category in decision.redact_categories]
            if seg.kind == identifiers.KEY_KIND:  # an object key: never rewritten (key_refusal blocked above)
                if vault.known_in(seg.text):  # ...nor allowed to carry a value replaced elsewhere
                    st.decision = identifiers.known_key_refusal(decision)
                    return self.block(st, st.decision.reason, policy=True)
                continue
            if seg.path and seg.path[-1] == attachments.EXTRACTED:
                if chosen:  # placeholders cannot be written into a PDF or spreadsheet
                    cats = ", ".join(sorted({f.category.replace("_", " ") for f in chosen}))
                    return self.block(st, f"guard blocked this request: an attached document contains {cats}, "
                                      "which guard cannot redact inside a file. Remove that data and send it again",
                                      policy=True)  # fmt: skip
                continue
            # Also without findings: values this conversation's vault knows are replaced wherever they recur.
            new = vault.redact(seg.text, chosen)
            if new != seg.text:
                replacements[seg.path] = new
        # A field-name key is not scanned, but one that is a value replaced in this conversation (this
        # turn included) carries it out as surely as text would, and cannot take a placeholder.
        if any(vault.known_in(k) for k in parsed.plain_keys):
            st.decision = identifiers.known_key_refusal(decision)
            return self.block(st, st.decision.reason, policy=True)
        st.redactions = replacements
        body = providers.rebuild_body(parsed, replacements) if replacements else None
        return Outcome(st, Action.REDACT, body=body)

    def _recurs(self, st: FlowState, parsed: providers.ParsedRequest, segments: Sequence[Segment]) -> bool:
        """Does any segment hold a value this conversation's vault (if it has one yet) replaced before?"""
        if st.destination.kind == "private":  # the company's own model may see the values
            return False
        vault = self.vaults.peek(self.conversation_id(parsed, st.identity))
        return vault is not None and (
            any(vault.known_in(s.text) for s in segments) or any(vault.known_in(k) for k in parsed.plain_keys)
        )

    def _seal_evidence(self, st: FlowState, segments: Sequence[Segment]) -> None:
        from guard.audit.evidence import seal

        original = "\n\n".join(s.text for s in segments)
        redacted = "\n\n".join(st.redactions.get(s.path, s.text) for s in segments) if st.redactions else ""
        st.evidence = seal(self.evidence_key, st.event_id, original, redacted)

    def conversation_id(self, parsed: providers.ParsedRequest, identity: Identity) -> str:
        """Provider conversation id if the wire format has one, else a hash of who, where and the first user message."""
        first = next((s.text for s in parsed.segments if s.role == "user"), "")
        basis = parsed.conversation_hint or first
        raw = "\x1f".join((identity.user, parsed.adapter, basis))
        return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:32]

    def _record(self, seg: Segment, f: Finding) -> FindingRecord:
        from guard.core import mask

        value = seg.text[f.start : f.end]
        return FindingRecord(
            f.category, f.entity_type, f.rule_id, _path_str(seg.path), f.start, f.end,
            fingerprint(value, self.key), mask(value), f.score,
        )  # fmt: skip

    # -- reply side --------------------------------------------------------------------------

    def restore_body(self, st: FlowState, content_type: str, body: bytes) -> bytes:
        """Translate (routed) and restore a complete reply body; record token usage."""
        if st.plan is not None and st.plan.translate_response is not None:
            body = st.plan.translate_response(body)
        ctype = content_type.split(";")[0].strip().lower()
        if "json" in ctype:
            st.usage = usage_from(body) or st.usage
        if st.vault is None or not len(st.vault):
            return body
        if "ndjson" in ctype:  # Ollama streams, buffered: restored whole, so placeholders split across lines join
            return restore_json(body, st.vault)
        if "json" in ctype:
            return restore_json(body, st.vault)
        if ctype.startswith("text/") or not ctype:
            return st.vault.restore(body.decode("utf-8", "replace")).encode("utf-8")
        return body

    def stream(self, st: FlowState, encoding: str) -> StreamTransform:
        """A transformer for a streamed (SSE) reply: decompress, translate, restore, watch usage."""
        translate = st.plan.stream_translator() if st.plan and st.plan.stream_translator else None
        restorer = StreamRestorer(st.vault) if st.vault is not None and len(st.vault) else None
        return StreamTransform(st, encoding, translate, restorer)

    def finish(
        self, st: FlowState, *, upstream_status: int | None, response_bytes: int = 0, error: str = ""
    ) -> AuditEvent:
        """Build the flow's audit event and hand it to the sink without waiting."""
        d = st.decision or Decision(Action.BLOCK, ("guard-fail-closed",), "no decision")
        st.timings_ms.setdefault("total", _ms(st.started))
        route = "none" if d.action is Action.BLOCK and not d.monitor else ("private" if st.plan else "public")
        if st.destination.kind == "private":
            route = "private"
        event = AuditEvent(
            action=str(d.action),
            provider=st.adapter,
            endpoint=st.endpoint,
            model=st.model,
            destination=st.destination.name,
            route=route,
            identity=st.identity.user,
            groups=st.identity.groups,
            client_address=st.client_address,
            source=st.destination.source,
            conversation_id=st.conversation_id,
            monitor=d.monitor,
            policy_rules=d.rules,
            classifications=st.classifications,
            reason=d.reason[:500],
            findings=st.findings,
            scanned=st.scanned,
            skipped=st.skipped,
            failed=(st.error,) if st.error else (),
            request_bytes=st.request_bytes,
            response_bytes=response_bytes,
            timings_ms={k: round(v, 3) for k, v in st.timings_ms.items()},
            upstream_status=upstream_status,
            usage=st.usage,
            error=st.error or error,
            evidence=st.evidence,
            event_id=st.event_id,
        )
        try:
            self.audit.submit(event)
        except Exception as exc:  # the audit sink must never break the proxy
            log.error("audit submit failed (%s)", type(exc).__name__)
        return event


def _path_str(path: Sequence[str | int]) -> str:
    return providers.path_str(tuple(path)) if path else ""  # a key that is not a plain name shows as <key:digest>


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


