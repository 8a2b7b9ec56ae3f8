"""What the event page shows beyond the row: findings, reviews, conversation, chain status."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from guard.audit.models import GENESIS_HASH, AuditEventRow, FindingRow, PurgeCheckpoint, Review
from guard.audit.records import chain_hash

_EV = AuditEventRow.__table__  # type: ignore[attr-defined]
_FI = FindingRow.__table__  # type: ignore[attr-defined]


@dataclass
class ChainStatus:
    ok: bool
    message: str


def findings(db: Session, seq: int) -> list[FindingRow]:
    """The event's findings in recorded order."""
    return list(db.exec(select(FindingRow).where(FindingRow.event_seq == seq).order_by(col(FindingRow.ordinal))))


def reviews(db: Session, seq: int) -> list[Review]:
    """The event's reviews, newest first."""
    return list(
        db.exec(select(Review).where(Review.event_seq == seq).order_by(col(Review.time).desc(), col(Review.id).desc()))
    )


def conversation(db: Session, ev: AuditEventRow, limit: int = 50) -> list[AuditEventRow]:
    """Other events of the same conversation, in time order."""
    if not ev.conversation_id:
        return []
    stmt = (
        select(AuditEventRow)
        .where(AuditEventRow.conversation_id == ev.conversation_id, AuditEventRow.seq != ev.seq)
        .order_by(col(AuditEventRow.time), col(AuditEventRow.seq))
        .limit(limit)
    )
    return list(db.exec(stmt))


def chain_status(db: Session, seq: int) -> ChainStatus:
    """Check this event's link: its content matches its hash and it follows its predecessor's hash."""
    row = db.execute(sa_select(_EV).where(_EV.c.seq == seq)).mappings().one()
    frows = list(db.execute(sa_select(_FI).where(_FI.c.event_seq == seq)).mappings())
    if chain_hash(row, frows) != row["hash"]:
        return ChainStatus(False, "Content does not match its hash: this event or its findings were edited.")
    prev = db.execute(sa_select(_EV.c.hash).where(_EV.c.seq == seq - 1)).scalar_one_or_none()
    if prev is None:
        expected = GENESIS_HASH if seq == 1 else _checkpoint(db, seq)
        if expected is None:
            return ChainStatus(False, f"The preceding event (seq {seq - 1}) is missing and no purge explains it.")
        prev = expected
    if row["prev_hash"] != prev:
        return ChainStatus(False, "The link to the preceding event is broken (it was edited or replaced).")
    return ChainStatus(True, "Intact: content matches its hash and links to the preceding event.")


def _checkpoint(db: Session, seq: int) -> str | None:
    stmt = select(PurgeCheckpoint).where(PurgeCheckpoint.resume_seq == seq).order_by(col(PurgeCheckpoint.id).desc())
    cp = db.exec(stmt).first()
    return None if cp is None else cp.resume_prev_hash
