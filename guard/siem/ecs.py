"""Audit event → Elastic Common Schema (ECS 8.11) document, plus guard's own fields under `guard.*`.

Model and token usage use the ECS/OpenTelemetry `gen_ai.*` names. Evidence is never exported,
only whether the event has any.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from typing import Any

from guard.events import AuditEvent

ECS_VERSION = "8.11.0"
_TYPES = {
    "allow": ["allowed"],
    "redact": ["allowed", "change"],
    "route_private": ["allowed", "change"],
    "block": ["denied"],
}


@dataclass(frozen=True, slots=True)
class Exported:
    """An event as the outbox hands it to a sink: with its chain position and hash."""

    seq: int
    hash: str
    prev_hash: str
    event: AuditEvent


def _is_ip(v: str) -> bool:
    try:
        ipaddress.ip_address(v)
        return True
    except ValueError:
        return False


def to_ecs(x: Exported) -> dict[str, Any]:
    """The ECS document for one exported event."""
    e = x.event
    admin = e.kind != "request"
    doc: dict[str, Any] = {
        "@timestamp": e.time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "ecs": {"version": ECS_VERSION},
        "message": e.reason or f"{e.action} {e.provider} {e.endpoint}".strip(),
        "event": {
            "id": e.event_id,
            "kind": "event",
            "category": ["configuration"] if admin else ["web"],
            "type": ["admin"] if admin else _TYPES.get(e.action, ["info"]),
            "action": e.action,
            "outcome": "failure" if e.error else "success",
            "reason": e.reason,
            "module": "guard",
            "dataset": "guard.audit",
            "sequence": x.seq,
            "hash": x.hash,
        },
        "observer": {"vendor": "guard", "product": "guard", "type": "proxy"},
        "user": {"name": e.identity},
        "destination": {"domain": e.destination},
        "rule": {"name": list(e.policy_rules)},
        "guard": {
            "kind": e.kind,
            "route": e.route,
            "endpoint": e.endpoint,
            "source": e.source,
            "conversation_id": e.conversation_id,
            "monitor": e.monitor,
            "groups": list(e.groups),
            "classifications": list(e.classifications),
            "scanned": list(e.scanned),
            "skipped": list(e.skipped),
            "failed": list(e.failed),
            "timings_ms": dict(e.timings_ms),
            "categories": sorted({f.category for f in e.findings}),
            "findings": [asdict(f) for f in e.findings],  # FindingRecord holds no raw value
            "prev_hash": x.prev_hash,
            "has_evidence": e.evidence is not None,
        },
        "gen_ai": {"system": e.provider, "request": {"model": e.model}},
        "http": {"request": {"bytes": e.request_bytes}, "response": {"bytes": e.response_bytes}},
    }
    if e.upstream_status is not None:
        doc["http"]["response"]["status_code"] = e.upstream_status
    if e.client_address:
        doc["source"] = {"ip": e.client_address} if _is_ip(e.client_address) else {"address": e.client_address}
    if "total" in e.timings_ms:
        doc["event"]["duration"] = int(e.timings_ms["total"] * 1_000_000)  # ECS: nanoseconds
    usage = {}
    if "prompt_tokens" in e.usage or "input_tokens" in e.usage:
        usage["input_tokens"] = e.usage.get("prompt_tokens", e.usage.get("input_tokens"))
    if "completion_tokens" in e.usage or "output_tokens" in e.usage:
        usage["output_tokens"] = e.usage.get("completion_tokens", e.usage.get("output_tokens"))
    if usage:
        doc["gen_ai"]["usage"] = usage
    if e.error:
        doc["error"] = {"message": e.error}
    return doc
