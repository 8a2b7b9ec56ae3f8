"""The audit event: what the proxy hands to the audit store for every decision. No I/O here.

Never holds a raw value, prompt or credential: findings carry a keyed fingerprint and a masked
preview; original prompts travel only as `evidence`, encrypted, when a site turns it on.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
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

    def __post_init__(self) -> None:
        _clean_strings(self)


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

    def __post_init__(self) -> None:
        _clean_strings(self)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["time"] = self.time.isoformat()
        d["evidence"] = None if self.evidence is None else len(self.evidence)
        return d


def _clean_strings(obj: Any) -> None:
    """Replace lone surrogates (JSON "\\ud800", undecodable header bytes) so every store can encode the event."""
    for f in fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, str) and not v.isascii():
            object.__setattr__(obj, f.name, v.encode("utf-8", "replace").decode("utf-8"))
        elif isinstance(v, tuple) and any(isinstance(x, str) and not x.isascii() for x in v):
            object.__setattr__(obj, f.name, tuple(
                x.encode("utf-8", "replace").decode("utf-8") if isinstance(x, str) else x for x in v))  # fmt: skip


def fingerprint(value: str, key: bytes) -> str:
    """Return the keyed HMAC-SHA256 fingerprint (hex) of a sensitive value."""
    import hashlib
    import hmac

    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def load_fingerprint_key(home: Path | None = None) -> bytes:
    """Return the site's fingerprint key: GUARD_FINGERPRINT_KEY, else HOME/fingerprint.key (created 0600)."""
    import os
    import secrets

    env = os.environ.get("GUARD_FINGERPRINT_KEY", "")
    if env:
        return env.encode("utf-8")
    if home is None:
        from guard.config import default_home

        home = default_home()
    path = Path(home) / "fingerprint.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two processes starting together must not overwrite each other's key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode("utf-8")
