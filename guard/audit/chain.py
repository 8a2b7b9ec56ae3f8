"""The hash chain: append events under the chain-head lock, and verify every link.

Each event's hash covers its content, its findings and its predecessor's hash; the chain head row
holds the last seq and hash, so a deleted tail is caught as well as an edited or deleted row.
Appending locks the head row first (an UPDATE), which serialises writers on PostgreSQL (row lock)
and SQLite (the write lock), so `seq` is gapless and equals commit order.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Table, select, update
from sqlmodel import Session

from guard.audit.models import GENESIS_HASH, AuditEventRow, ChainHead, FindingRow, PurgeCheckpoint, utcnow
from guard.audit.records import chain_hash, event_row, finding_row, utc
from guard.audit.store import Store
from guard.events import AuditEvent

_EV = AuditEventRow.__table__  # type: ignore[attr-defined]
_FI = FindingRow.__table__  # type: ignore[attr-defined]
_HEAD = ChainHead.__table__  # type: ignore[attr-defined]


def lock_head(session: Session) -> tuple[int, str]:
    """Take the chain lock for this transaction and return (last seq, last hash)."""
    session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(updated_at=utcnow()))
    row = session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).one()
    return int(row.seq), str(row.hash)


def append_in(session: Session, events: Sequence[AuditEvent]) -> list[int]:
    """Append events in the caller's transaction; skip event ids already stored. Return the new seqs."""
    seq, prev = lock_head(session)
    ids = [e.event_id for e in events]
    stored = set(session.scalars(select(_EV.c.event_id).where(_EV.c.event_id.in_(ids)))) if ids else set()
    rows, findings, seqs = [], [], []
    for e in events:
        if e.event_id in stored:
            continue  # already written (a spool drained twice after a crash): at most once per event id
        stored.add(e.event_id)
        seq += 1
        row = event_row(e)
        row["seq"], row["prev_hash"] = seq, prev
        frows = [finding_row(f, i) for i, f in enumerate(e.findings)]
        row["hash"] = prev = chain_hash(row, frows)
        rows.append(row)
        for f in frows:
            f["event_seq"] = seq
        findings.extend(frows)
        seqs.append(seq)
    if rows:
        insert_many(session, _EV, rows)
        if findings:
            insert_many(session, _FI, findings)
        session.execute(update(_HEAD).where(_HEAD.c.id == 1).values(seq=seq, hash=prev, updated_at=utcnow()))
    return seqs


def _converters(table: Table, dialect: str) -> dict[str, Callable[[Any], Any]]:
    conv: dict[str, Callable[[Any], Any]] = {}
    for c in table.columns:
        if isinstance(c.type, JSON):
            conv[c.name] = _json
        elif isinstance(c.type, DateTime) and dialect == "sqlite":
            conv[c.name] = _sqlite_time  # the text format SQLAlchemy's SQLite DateTime reads back
        elif isinstance(c.type, Boolean) and dialect == "sqlite":
            conv[c.name] = int
    return conv


def _json(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def _sqlite_time(t: datetime) -> str:
    return utc(t).strftime("%Y-%m-%d %H:%M:%S.%f")


def insert_many(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows with one DBAPI executemany: SQLAlchemy's per-row bind processing was most of the write cost."""
    conn = session.connection()
    dialect = conn.dialect
    cols = list(rows[0])
    conv = _converters(table, dialect.name)
    q = dialect.identifier_preparer
    ph = "?" if dialect.paramstyle in ("qmark", "numeric") else "%s"
    # Identifiers come from the table metadata, never from input; values travel as parameters.
    sql = f"INSERT INTO {q.format_table(table)} ({', '.join(q.quote(c) for c in cols)}) VALUES ({', '.join([ph] * len(cols))})"  # noqa: S608
    fns = [conv.get(c) for c in cols]
    params = [
        tuple(v if f is None or v is None else f(v) for f, v in zip(fns, (r[c] for c in cols), strict=True))
        for r in rows
    ]
    conn.exec_driver_sql(sql, params)


def append(store: Store, events: Sequence[AuditEvent]) -> list[int]:
    """Append events in one transaction of their own (what admin events and tests use)."""
    with store.transaction() as s:
        return append_in(s, events)


@dataclass
class VerifyResult:
    ok: bool
    checked: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    broken_seq: int | None = None
    problem: str = ""

    def summary(self) -> str:
        if self.ok:
            span = "" if self.first_seq is None else f" (seq {self.first_seq}..{self.last_seq})"
            return f"chain intact: {self.checked} events verified{span}"
        return f"chain broken at seq {self.broken_seq}: {self.problem} ({self.checked} events verified before it)"


def _start(session: Session, first_seq: int) -> str | None:
    """The prev_hash the first kept event must carry: genesis, or a purge checkpoint's."""
    if first_seq == 1:
        return GENESIS_HASH
    cp = session.scalars(
        select(PurgeCheckpoint).where(PurgeCheckpoint.resume_seq == first_seq).order_by(PurgeCheckpoint.id.desc())  # type: ignore[union-attr]
    ).first()
    return None if cp is None else cp.resume_prev_hash


def verify(store: Store, batch: int = 2000) -> VerifyResult:
    """Walk the chain in seq order and report the first broken link, if any."""
    with store.session() as s:
        head_seq, head_hash = (lambda r: (int(r.seq), str(r.hash)))(
            s.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).one()
        )
        res = VerifyResult(ok=True)
        expected_seq: int | None = None
        prev: str | None = None
        last = 0
        while True:
            rows = s.execute(select(_EV).where(_EV.c.seq > last).order_by(_EV.c.seq).limit(batch)).mappings().all()
            if not rows:
                break
            lo, hi = rows[0]["seq"], rows[-1]["seq"]
            fmap: dict[int, list] = defaultdict(list)
            for f in s.execute(select(_FI).where(_FI.c.event_seq >= lo, _FI.c.event_seq <= hi)).mappings():
                fmap[f["event_seq"]].append(f)
            for row in rows:
                seq = row["seq"]
                if expected_seq is None:
                    prev = _start(s, seq)
                    res.first_seq = seq
                    if prev is None:
                        return _broken(
                            res, seq, f"events before seq {seq} are missing and no purge checkpoint explains it"
                        )
                elif seq != expected_seq:
                    return _broken(res, expected_seq, f"event seq {expected_seq} is missing (deleted row)")
                if row["prev_hash"] != prev:
                    return _broken(
                        res, seq, "prev_hash does not match the preceding event (predecessor edited or replaced)"
                    )
                if chain_hash(row, fmap.get(seq, ())) != row["hash"]:
                    return _broken(res, seq, "content does not match its hash (row or its findings edited)")
                prev, expected_seq = row["hash"], seq + 1
                res.checked += 1
                res.last_seq = seq
            last = hi
        if res.last_seq is None:
            if head_seq and _start(s, head_seq + 1) != head_hash:
                return _broken(res, 1, f"all {head_seq} events are missing and no purge checkpoint explains it")
            return res
        if res.last_seq != head_seq or prev != head_hash:
            return _broken(res, res.last_seq + 1, f"events after seq {res.last_seq} are missing (head says {head_seq})")
        return res


def _broken(res: VerifyResult, seq: int, problem: str) -> VerifyResult:
    res.ok, res.broken_seq, res.problem = False, seq, problem
    return res
