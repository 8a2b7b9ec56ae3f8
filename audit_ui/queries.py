"""Event list queries: filters from the query string, keyset pagination, the CSV rows."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, cast, exists, literal, literal_column, or_, tuple_
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Session, col, select

from audit_ui.pgindex import SEARCH_SQL
from guard.audit.models import DISPOSITIONS, AuditEventRow, FindingRow

ACTIONS = ("allow", "redact", "route_private", "block")
REVIEW_FILTERS = ("open", "unreviewed", *DISPOSITIONS)
OPEN_STATUSES = ("unreviewed", "needs_follow_up")
MAX_CSV_ROWS = 100_000


def _like(value: str) -> str:
    # Escape LIKE wildcards so a search for "50%" means the characters, not a pattern.
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def parse_time(value: str) -> datetime | None:
    """Parse a date or datetime from a filter field (treated as UTC); None when empty or invalid."""
    value = value.strip()
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    # SQLite stores naive UTC text; PostgreSQL timestamptz: an aware UTC value suits both.
    return t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)


@dataclass(frozen=True)
class EventFilter:
    """The event list's filters, exactly as they appear in the query string."""

    start: str = ""
    end: str = ""
    user: str = ""
    group: str = ""
    action: str = ""
    category: str = ""
    provider: str = ""
    model: str = ""
    review: str = ""
    rule: str = ""
    conversation: str = ""
    q: str = ""
    sort: str = "newest"

    @classmethod
    def from_query(cls, params: Any) -> EventFilter:
        """Build from request query parameters, trimming and bounding every value."""
        kw = {f.name: str(params.get(f.name, "") or "").strip()[:200] for f in fields(cls)}
        if kw["sort"] not in ("newest", "oldest"):
            kw["sort"] = "newest"
        return cls(**kw)

    def query_items(self, **override: str) -> list[tuple[str, str]]:
        """The non-empty filters as query-string pairs (for links that keep the view)."""
        f = replace(self, **override)
        return [
            (k.name, getattr(f, k.name))
            for k in fields(f)
            if getattr(f, k.name) and (k.name, getattr(f, k.name)) != ("sort", "newest")
        ]

    def active(self) -> bool:
        return any(v for k, v in self.query_items() if k != "sort")


def _group_condition(group: str, dialect: str) -> Any:
    E = AuditEventRow
    if dialect == "postgresql":
        # Containment on jsonb matches the ix_ui_event_groups GIN index (audit_ui/pgindex.py).
        return cast(E.groups, JSONB).op("@>")(cast(literal(json.dumps([group])), JSONB))
    # groups is a JSON list; match the quoted element so "eng" does not match "engineering".
    return cast(E.groups, String).like(f"%{_like(json.dumps(group))}%", escape="\\")


def _search_condition(q: str, dialect: str) -> Any:
    # The audit store keeps no prompt text in clear (evidence is encrypted), so the search covers
    # the event's own text: reason, identity, destination, model, conversation, error, rules, id.
    E = AuditEventRow
    pat = f"%{_like(q)}%"
    if dialect == "postgresql":
        # The same expression as the ix_ui_event_search_trgm trigram index (audit_ui/pgindex.py).
        return or_(literal_column(SEARCH_SQL).ilike(pat, escape="\\"), col(E.event_id) == q)
    columns = (E.reason, E.identity, E.destination, E.model, E.conversation_id, E.error)
    return or_(
        *(col(x).ilike(pat, escape="\\") for x in columns),
        cast(E.policy_rules, String).ilike(pat, escape="\\"),
        cast(E.classifications, String).ilike(pat, escape="\\"),
        col(E.event_id) == q,
    )


def conditions(f: EventFilter, dialect: str = "sqlite") -> list[Any]:
    """SQL conditions for the filter (each one backed by an index of audit_event or audit_finding)."""
    E = AuditEventRow
    c: list[Any] = []
    if (t := parse_time(f.start)) is not None:
        c.append(col(E.time) >= t)
    if (t := parse_time(f.end)) is not None:
        # A bare date as the end means "through that day".
        c.append(col(E.time) < (t + timedelta(days=1) if len(f.end.strip()) == 10 else t))
    for name, column in (("user", E.identity), ("action", E.action), ("provider", E.provider), ("model", E.model)):
        if v := getattr(f, name):
            c.append(col(column) == v)
    if f.conversation:
        c.append(col(E.conversation_id) == f.conversation)
    if f.group:
        c.append(_group_condition(f.group, dialect))
    if f.review == "open":
        c.append(col(E.review_status).in_(OPEN_STATUSES))
        c.append(or_(col(E.action) != "allow", col(E.finding_count) > 0))
    elif f.review:
        c.append(col(E.review_status) == f.review)
    if f.category:
        c.append(exists().where(FindingRow.event_seq == E.seq, FindingRow.category == f.category))
    if f.rule:
        c.append(exists().where(FindingRow.event_seq == E.seq, FindingRow.rule_id == f.rule))
    if f.q:
        c.append(_search_condition(f.q, dialect))
    return c


def encode_cursor(row: AuditEventRow) -> str:
    """An opaque keyset cursor for the row after which the next page starts."""
    t = row.time if row.time.tzinfo else row.time.replace(tzinfo=UTC)
    return base64.urlsafe_b64encode(f"{t.isoformat()}|{row.seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    """Undo encode_cursor; None for anything malformed."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        t, seq = raw.rsplit("|", 1)
        return datetime.fromisoformat(t), int(seq)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def page_query(f: EventFilter, *, after: str = "", limit: int = 50, dialect: str = "sqlite") -> Any:
    """The SELECT for one keyset page (limit + 1 rows, to know whether another page follows)."""
    E = AuditEventRow
    stmt = select(E).where(*conditions(f, dialect))
    key = decode_cursor(after) if after else None
    newest = f.sort != "oldest"
    if key is not None:
        t, seq = key[0].astimezone(UTC), key[1]
        stmt = stmt.where(tuple_(E.time, E.seq) < tuple_(t, seq) if newest else tuple_(E.time, E.seq) > tuple_(t, seq))
    order = (col(E.time).desc(), col(E.seq).desc()) if newest else (col(E.time).asc(), col(E.seq).asc())
    return stmt.order_by(*order).limit(limit + 1)


def list_events(
    session: Session, f: EventFilter, *, after: str = "", limit: int = 50
) -> tuple[list[AuditEventRow], str]:
    """One page of events matching `f`, and the cursor of the next page ('' on the last)."""
    dialect = session.get_bind().dialect.name
    rows = list(session.exec(page_query(f, after=after, limit=limit, dialect=dialect)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, encode_cursor(rows[-1]) if more and rows else ""


def stream_events(session: Session, f: EventFilter) -> Any:
    """Every event matching `f` in list order (capped at MAX_CSV_ROWS), fetched in batches."""
    E = AuditEventRow
    newest = f.sort != "oldest"
    order = (col(E.time).desc(), col(E.seq).desc()) if newest else (col(E.time).asc(), col(E.seq).asc())
    stmt = select(E).where(*conditions(f, session.get_bind().dialect.name)).order_by(*order).limit(MAX_CSV_ROWS)
    return session.exec(stmt.execution_options(yield_per=1000))
