"""Audit tables (SQLModel): events, findings, reviews, users, export cursors, chain head, purge checkpoints.

Family per entity as in full-stack-fastapi-template: `XBase` (shared fields), `X(table=True)`,
`XCreate` / `XPublic` where a caller needs them. Lists and dicts are JSON columns. Nothing here
holds a raw matched value, a prompt or a credential (evidence is ciphertext, passwords are hashes).

Indexes follow the review UI's filters, each paired with `time` so "newest first, filtered by X"
is an index range scan: time, identity, action, provider, model, review status; findings by
(category, event) for the category filter.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, ForeignKey, Index, LargeBinary
from sqlmodel import Field, SQLModel

GENESIS_HASH = "0" * 64
DISPOSITIONS: tuple[str, ...] = ("true_positive", "false_positive", "needs_follow_up")
REVIEW_STATUSES: tuple[str, ...] = ("unreviewed", *DISPOSITIONS)
ROLES: tuple[str, ...] = ("admin", "reviewer", "auditor")


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(**kw: Any) -> Any:
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kw)  # type: ignore[call-overload]


def _json_list() -> Any:
    return Field(default_factory=list, sa_type=JSON)


def _json_dict() -> Any:
    return Field(default_factory=dict, sa_type=JSON)


class AuditEventBase(SQLModel):
    event_id: str = Field(max_length=64, unique=True)
    time: datetime = _ts()
    kind: str = Field(default="request", max_length=16)  # request | admin
    action: str = Field(max_length=32)  # allow | redact | route_private | block | purge | evidence_read ...
    provider: str = Field(default="", max_length=64)
    endpoint: str = Field(default="", max_length=64)
    model: str = Field(default="", max_length=128)
    destination: str = Field(default="", max_length=255)
    route: str = Field(default="", max_length=32)
    identity: str = Field(default="", max_length=255)
    groups: list[str] = _json_list()
    client_address: str = Field(default="", max_length=64)
    source: str = Field(default="api", max_length=16)
    conversation_id: str = Field(default="", max_length=128, index=True)
    monitor: bool = False
    policy_rules: list[str] = _json_list()
    classifications: list[str] = _json_list()
    reason: str = ""
    scanned: list[str] = _json_list()
    skipped: list[str] = _json_list()
    failed: list[str] = _json_list()
    request_bytes: int = Field(default=0, sa_type=BigInteger)
    response_bytes: int = Field(default=0, sa_type=BigInteger)
    timings_ms: dict[str, float] = _json_dict()
    upstream_status: int | None = None
    usage: dict[str, int] = _json_dict()
    error: str = ""
    # Denormalised for listing without a join: sorted distinct finding categories, comma-joined.
    categories: str = Field(default="", max_length=255)
    finding_count: int = 0
    # Mutable (not hashed): the latest review's disposition, kept in step by store.record_review.
    review_status: str = Field(default="unreviewed", max_length=32)


class AuditEventRow(AuditEventBase, table=True):
    """One audit event; `seq` is gapless and assigned under the chain lock, so it is also commit order."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_time", "time"),
        Index("ix_audit_event_identity_time", "identity", "time"),
        Index("ix_audit_event_action_time", "action", "time"),
        Index("ix_audit_event_provider_time", "provider", "time"),
        Index("ix_audit_event_model_time", "model", "time"),
        Index("ix_audit_event_review_time", "review_status", "time"),
    )

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    evidence: bytes | None = Field(default=None, sa_type=LargeBinary)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditEventPublic(AuditEventBase):
    seq: int
    prev_hash: str
    hash: str
    has_evidence: bool = False


class FindingBase(SQLModel):
    category: str = Field(max_length=32)
    entity_type: str = Field(max_length=64)
    rule_id: str = Field(max_length=128)
    field: str = Field(default="", max_length=255)
    start: int = 0
    end: int = 0
    fingerprint: str = Field(max_length=64)  # HMAC-SHA256 under the site key, hex
    preview: str = Field(max_length=64)  # guard.core.mask(value)
    score: float = 0.0


class FindingRow(FindingBase, table=True):
    __tablename__ = "audit_finding"
    __table_args__ = (
        Index("ix_audit_finding_category_event", "category", "event_seq"),
        Index("ix_audit_finding_event", "event_seq"),
        Index("ix_audit_finding_fingerprint", "fingerprint"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_seq: int = Field(
        sa_column=Column(BigInteger, ForeignKey("audit_event.seq", ondelete="CASCADE"), nullable=False)
    )
    ordinal: int = 0  # position in the event's findings, so the hash sees them in the order recorded


class FindingPublic(FindingBase):
    id: int
    event_seq: int


class ReviewBase(SQLModel):
    disposition: str = Field(max_length=32)  # one of DISPOSITIONS
    note: str = ""
    assignee: str = Field(default="", max_length=255)


class Review(ReviewBase, table=True):
    __tablename__ = "audit_review"
    __table_args__ = (Index("ix_audit_review_event_time", "event_seq", "time"),)

    id: int | None = Field(default=None, primary_key=True)
    event_seq: int = Field(
        sa_column=Column(BigInteger, ForeignKey("audit_event.seq", ondelete="CASCADE"), nullable=False)
    )
    reviewer: str = Field(max_length=255)
    time: datetime = _ts()


class ReviewCreate(ReviewBase):
    pass


class ReviewPublic(ReviewBase):
    id: int
    event_seq: int
    reviewer: str
    time: datetime


class UserBase(SQLModel):
    name: str = Field(max_length=255, unique=True)
    role: str = Field(default="reviewer", max_length=16)  # one of ROLES
    disabled: bool = False
    must_change_password: bool = False


class User(UserBase, table=True):
    __tablename__ = "guard_user"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)  # argon2; the password itself is never stored
    created_at: datetime = _ts()


class UserCreate(UserBase):
    password: str = Field(min_length=8, max_length=128)


class UserPublic(UserBase):
    id: int
    created_at: datetime


class ExportCursor(SQLModel, table=True):
    """The outbox position of one export target: every event with seq <= `seq` has been delivered."""

    __tablename__ = "audit_export_cursor"

    name: str = Field(primary_key=True, max_length=128)
    seq: int = Field(default=0, sa_type=BigInteger)
    delivered: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = _ts()


class ChainHead(SQLModel, table=True):
    """The single row writers lock to append: last seq and hash, so a deleted tail is detected too."""

    __tablename__ = "audit_chain_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(default=0, sa_type=BigInteger)
    hash: str = Field(default=GENESIS_HASH, max_length=64)
    updated_at: datetime = _ts()


class PurgeCheckpoint(SQLModel, table=True):
    """Where the chain legitimately resumes after a purge: the first kept seq and its prev_hash."""

    __tablename__ = "audit_purge_checkpoint"

    id: int | None = Field(default=None, primary_key=True)
    time: datetime = _ts()
    cutoff: datetime = Field(sa_type=DateTime(timezone=True))
    deleted: int = Field(default=0, sa_type=BigInteger)
    resume_seq: int = Field(sa_type=BigInteger)
    resume_prev_hash: str = Field(max_length=64)
    purge_event_id: str = Field(max_length=64)
