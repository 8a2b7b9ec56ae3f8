"""Retention: delete the oldest events, record the purge as an event, keep the chain verifiable."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from guard.audit.chain import append_in, lock_head
from guard.audit.models import AuditEventRow, FindingRow, PurgeCheckpoint, Review, utcnow
from guard.audit.store import Store
from guard.events import AuditEvent

_EV = AuditEventRow.__table__  # type: ignore[attr-defined]
# A number and a unit: d(ays), h(ours), w(eeks), m(inutes); e.g. "180d", "12h".
_AGE = re.compile(r"^\s*(\d+)\s*([dhwm])\s*$")
_UNIT = {"d": "days", "h": "hours", "w": "weeks", "m": "minutes"}


def parse_age(text: str) -> timedelta:
    """Parse an age such as '180d', '12h', '2w' or '30m'."""
    m = _AGE.match(text)
    if not m:
        raise ValueError(f"not an age: {text!r} (use a number and d, h, w or m, e.g. 180d)")
    return timedelta(**{_UNIT[m.group(2)]: int(m.group(1))})


@dataclass
class PurgeResult:
    deleted: int
    cutoff: datetime
    resume_seq: int
    event_id: str


def purge(
    store: Store, older_than: timedelta, actor: str = "", now: datetime | None = None, record_empty: bool = True
) -> PurgeResult:
    """Delete events older than `older_than` and record the purge, in one transaction.

    Only a prefix of the chain is deleted (every seq below the first event newer than the cutoff),
    so what remains still chains from a checkpoint: a late-arriving old event survives until the
    next purge rather than leaving a hole.
    """
    cutoff = (now or utcnow()) - older_than
    with store.transaction() as s:
        head_seq, head_hash = lock_head(s)
        first_new = s.scalar(select(func.min(_EV.c.seq)).where(_EV.c.time >= cutoff))
        last_old = (first_new - 1) if first_new is not None else head_seq
        resume_seq = last_old + 1
        if first_new is not None:
            resume_prev = s.scalar(select(_EV.c.prev_hash).where(_EV.c.seq == first_new))
        else:
            resume_prev = head_hash  # everything goes: the purge event itself continues the chain
        deleted = s.scalar(select(func.count()).select_from(_EV).where(_EV.c.seq <= last_old)) or 0
        if not deleted and not record_empty:
            return PurgeResult(0, cutoff, resume_seq, "")
        s.execute(delete(FindingRow).where(FindingRow.event_seq <= last_old))  # type: ignore[arg-type]
        s.execute(delete(Review).where(Review.event_seq <= last_old))  # type: ignore[arg-type]
        s.execute(delete(AuditEventRow).where(AuditEventRow.seq <= last_old))  # type: ignore[arg-type]
        event = AuditEvent(
            action="purge",
            kind="admin",
            identity=actor,
            reason=(
                f"purged {deleted} events older than {cutoff.isoformat(timespec='seconds')}; "
                f"chain resumes at seq {resume_seq} with prev_hash {resume_prev}"
            ),
            source="cli",
        )
        append_in(s, [event])
        if deleted:
            s.add(
                PurgeCheckpoint(
                    cutoff=cutoff,
                    deleted=deleted,
                    resume_seq=resume_seq,
                    resume_prev_hash=str(resume_prev),
                    purge_event_id=event.event_id,
                )
            )
    return PurgeResult(deleted, cutoff, resume_seq, event.event_id)
