"""Convert audit events to rows and JSON and back, and compute the canonical bytes the chain hashes."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from guard.audit.models import AuditEventBase, FindingBase
from guard.events import AuditEvent, FindingRecord

_LIST_FIELDS = ("groups", "policy_rules", "classifications", "scanned", "skipped", "failed")
# Every event column the hash covers: all of AuditEventBase except the mutable review status.
HASHED_FIELDS: tuple[str, ...] = tuple(n for n in AuditEventBase.model_fields if n != "review_status")
FINDING_FIELDS: tuple[str, ...] = tuple(FindingBase.model_fields)
_EVENT_ATTRS: tuple[str, ...] = tuple(n for n in HASHED_FIELDS if n in AuditEvent.__dataclass_fields__)
_MAXLEN = {
    name: meta.max_length
    for model in (AuditEventBase, FindingBase)
    for name, info in model.model_fields.items()
    for meta in info.metadata
    if getattr(meta, "max_length", None)
}


def utc(t: datetime) -> datetime:
    """The same instant in UTC; a naive time is taken to be UTC (SQLite drops the zone)."""
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def _clip(name: str, value: Any) -> Any:
    # An over-long string would make PostgreSQL reject the whole batch; cut it instead.
    limit = _MAXLEN.get(name)
    return value[:limit] if limit and isinstance(value, str) and len(value) > limit else value


def _clip_all(d: dict[str, Any]) -> None:
    for name, limit in _MAXLEN.items():
        v = d.get(name)
        if isinstance(v, str) and len(v) > limit:
            d[name] = v[:limit]


def _no_nul(v: Any) -> Any:
    # PostgreSQL text cannot hold NUL; one in a header-derived field would poison the whole batch.
    if isinstance(v, str):
        return v.replace("\x00", "\ufffd") if "\x00" in v else v
    if isinstance(v, list):
        return [_no_nul(x) for x in v]
    if isinstance(v, dict):
        return {_no_nul(k): _no_nul(x) for k, x in v.items()}
    return v


def finding_row(f: FindingRecord, ordinal: int) -> dict[str, Any]:
    """Column values for one finding (without its event's seq)."""
    d = {
        "category": f.category,
        "entity_type": f.entity_type,
        "rule_id": f.rule_id,
        "field": f.field,
        "start": f.start,
        "end": f.end,
        "fingerprint": f.fingerprint,
        "preview": f.preview,
        "score": round(float(f.score), 4),
        "ordinal": ordinal,
    }
    for k in ("category", "entity_type", "rule_id", "field", "fingerprint", "preview"):
        d[k] = _no_nul(d[k])
    _clip_all(d)
    return d


def event_row(e: AuditEvent) -> dict[str, Any]:
    """Column values for an event, without seq / prev_hash / hash (the chain assigns those)."""
    d: dict[str, Any] = {name: getattr(e, name) for name in _EVENT_ATTRS}
    for name in _LIST_FIELDS:
        d[name] = [str(x) for x in d[name]]
    d["timings_ms"] = {str(k): float(v) for k, v in e.timings_ms.items()}
    d["usage"] = {str(k): int(v) for k, v in e.usage.items()}
    d["time"] = utc(e.time)
    d["categories"] = ",".join(sorted({f.category for f in e.findings}))
    d["finding_count"] = len(e.findings)
    d["review_status"] = "unreviewed"
    d["evidence"] = e.evidence
    for k, v in d.items():
        if isinstance(v, str | list | dict):
            d[k] = _no_nul(v)
    _clip_all(d)
    return d


def canonical(row: Mapping[str, Any], findings: Sequence[Mapping[str, Any]]) -> bytes:
    """The bytes an event's hash covers: its hashed columns, its evidence digest and its findings."""
    d = {name: row[name] for name in HASHED_FIELDS}
    d["time"] = utc(row["time"]).isoformat(timespec="microseconds")
    d["seq"] = row["seq"]
    d["prev_hash"] = row["prev_hash"]
    ev = row.get("evidence")
    d["evidence"] = hashlib.sha256(ev).hexdigest() if ev is not None else None
    d["findings"] = [[f[n] for n in FINDING_FIELDS] for f in sorted(findings, key=lambda f: f["ordinal"])]
    return json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def chain_hash(row: Mapping[str, Any], findings: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 over the event's canonical bytes, which include its predecessor's hash."""
    return hashlib.sha256(canonical(row, findings)).hexdigest()


def event_to_json(e: AuditEvent) -> dict[str, Any]:
    """A JSON-safe dict that event_from_json turns back into the same event (for the spool)."""
    d = e.to_dict()
    d["evidence"] = None if e.evidence is None else base64.b64encode(e.evidence).decode()
    return d


def event_from_json(d: Mapping[str, Any]) -> AuditEvent:
    """The event event_to_json serialised."""
    kw = dict(d)
    kw["time"] = datetime.fromisoformat(kw["time"])
    kw["evidence"] = None if kw.get("evidence") is None else base64.b64decode(kw["evidence"])
    kw["findings"] = tuple(FindingRecord(**f) for f in kw.get("findings", ()))
    for name in _LIST_FIELDS:
        kw[name] = tuple(kw.get(name, ()))
    known = set(AuditEvent.__dataclass_fields__)
    return AuditEvent(**{k: v for k, v in kw.items() if k in known})


def event_from_row(row: Mapping[str, Any], findings: Sequence[Mapping[str, Any]] = ()) -> AuditEvent:
    """Rebuild the AuditEvent a stored row came from (findings in recorded order)."""
    row = dict(row)  # a plain dict: RowMapping lookups by name are several times slower
    kw = {k: row[k] for k in AuditEvent.__dataclass_fields__ if k in row and k != "findings"}
    kw["time"] = utc(row["time"])
    for name in _LIST_FIELDS:
        kw[name] = tuple(row[name] or ())
    kw["findings"] = tuple(
        FindingRecord(**{n: f[n] for n in FINDING_FIELDS}) for f in sorted(findings, key=lambda f: f["ordinal"])
    )
    return AuditEvent(**kw)
