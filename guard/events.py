"""The audit event: what the proxy hands to the audit store for every decision. No I/O here.

Never holds a raw value, prompt or credential: findings carry a keyed fingerprint and a masked
preview; original prompts travel only as `evidence`, encrypted, when a site turns it on.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class FindingRecord:
    category: str
    entity_type: str
    rule_id: str
    field: str  # JSON path of the segment, e.g. "messages[2].content"
    start: int
    end: int
    fingerprint: str  # HMAC-SHA256 of the value under the site's key, hex
    preview: str  # guard.core.mask(value)
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class AuditEvent:
    action: str  # allow | redact | route_private | block
    provider: str = ""
    endpoint: str = ""
    model: str = ""
    destination: str = ""
    route: str = ""  # public | private | none
    identity: str = ""
    groups: tuple[str, ...] = ()
    client_address: str = ""
    source: str = "api"  # api | webapp
    conversation_id: str = ""
    monitor: bool = False
    policy_rules: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()
    reason: str = ""
    findings: tuple[FindingRecord, ...] = ()
    scanned: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # "field: why"
    failed: tuple[str, ...] = ()  # "field: error class"
    request_bytes: int = 0
    response_bytes: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    upstream_status: int | None = None
    usage: dict[str, int] = field(default_factory=dict)
    error: str = ""  # error class and a message that never contains prompt text
    kind: str = "request"  # request | admin (purge, evidence read, ...)
    evidence: bytes | None = None  # encrypted original + redacted prompt, only when enabled
    event_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["time"] = self.time.isoformat()
        d["evidence"] = None if self.evidence is None else len(self.evidence)
        return d
