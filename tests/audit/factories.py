"""Build realistic audit events whose sensitive values are known, so tests can grep for them."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime

from guard.core import mask
from guard.events import AuditEvent, FindingRecord

KEY = b"test-fingerprint-key"

# Values a user might paste into a prompt; none of them may reach the store or an export.
SECRETS = {
    "email": "marguerite.okonkwo@example-corp.com",
    "payment_card": "4539 1488 0343 6467",
    "secret": "ghp_R8xK2mQ9vL4nT7pW1zY5bC3dF6hJ0sA2eG8u",
    "national_id": "123-45-6789",
    "person": "Marguerite Okonkwo",
}
PROMPT = "Please email Marguerite Okonkwo about card 4539 1488 0343 6467 today"


def finding(category: str, value: str, field: str = "messages[0].content", start: int = 0) -> FindingRecord:
    """A finding the way the proxy records it: HMAC fingerprint and masked preview, never the value."""
    fp = hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()
    return FindingRecord(
        category, category.upper(), f"{category}-rule", field, start, start + len(value), fp, mask(value), 0.9
    )


def make_event(i: int = 0, *, action: str = "redact", identity: str = "alice", **kw) -> AuditEvent:
    """An event with one finding per sensitive value, timings, usage and everything else filled in."""
    base = dict(
        action=action,
        provider="openai",
        endpoint="chat.completions",
        model="gpt-4o-mini",
        destination="api.openai.com",
        route="public",
        identity=identity,
        groups=("eng", "staff"),
        client_address="10.0.0.7",
        source="api",
        conversation_id=f"conv-{i % 7}",
        policy_rules=("redact-personal-data",),
        classifications=(),
        reason="personal data redacted",
        findings=tuple(finding(c, v, start=i % 5) for c, v in SECRETS.items()),
        scanned=("messages[0].content",),
        skipped=("messages[1].content: image",),
        request_bytes=1234 + i,
        response_bytes=4321,
        timings_ms={"detect": 3.25, "total": 9.5},
        upstream_status=200,
        usage={"prompt_tokens": 42, "completion_tokens": 7},
        event_id=uuid.uuid4().hex,
        time=datetime.now(UTC),
    )
    base.update(kw)
    return AuditEvent(**base)
