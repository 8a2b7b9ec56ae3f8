"""Aggregates for the dashboard and the rule-tuning page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal_column
from sqlmodel import Session, col, select

from audit_ui.queries import OPEN_STATUSES
from guard.audit.models import AuditEventRow, FindingRow

E = AuditEventRow
QUEUE_CAP = 10_000


def _day(session: Session) -> Any:
    # One bucket per UTC day, as text 'YYYY-MM-DD' on both databases.
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", E.time), literal_column("'YYYY-MM-DD'"))
    return func.strftime("%Y-%m-%d", E.time)


@dataclass
class Dashboard:
    days: list[str]
    by_day: dict[str, dict[str, int]]  # day -> action -> count
    total: int
    by_action: dict[str, int]
    categories: list[tuple[str, int]]  # prompts with at least one finding of the category
    destinations: list[tuple[str, int]]
    models: list[tuple[str, int]]
    top_users: list[tuple[str, int, int]]  # identity, blocked, redacted
    routes: dict[str, int]  # private | public | other -> count
    open_queue: int
    open_queue_more: bool = False  # more than QUEUE_CAP


def dashboard(session: Session, days: int, now: datetime | None = None) -> Dashboard:
    """Compute every dashboard figure over the last `days` days of request events."""
    now = now or datetime.now(UTC)
    since = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    window = (col(E.time) >= since, col(E.kind) == "request")
    day = _day(session)
    by_day: dict[str, dict[str, int]] = {}
    by_action: dict[str, int] = {}
    for d, action, n in session.exec(select(day, E.action, func.count()).where(*window).group_by(day, E.action)):
        by_day.setdefault(str(d), {})[action] = n
        by_action[action] = by_action.get(action, 0) + n
    start = since.date()
    day_list = [(start + timedelta(days=i)).isoformat() for i in range(days)]

    def top(column: Any, limit: int = 8) -> list[tuple[str, int]]:
        n = func.count().label("n")
        stmt = select(column, n).where(*window, column != "").group_by(column).order_by(n.desc(), column).limit(limit)
        return [(str(k), int(v)) for k, v in session.exec(stmt)]

    # Prompts per finding category, from the denormalised `categories` column (sorted, comma-joined):
    # one GROUP BY over the window's few distinct combinations instead of a join with every finding
    # (the join was half the dashboard's time at a million events).
    cat_counts: dict[str, int] = {}
    combos = select(E.categories, func.count()).where(*window, col(E.categories) != "").group_by(E.categories)
    for combo, n in session.exec(combos):
        for cat in str(combo).split(","):
            cat_counts[cat] = cat_counts.get(cat, 0) + int(n)
    blocked = func.sum(case((col(E.action) == "block", 1), else_=0)).label("b")
    redacted = func.sum(case((col(E.action) == "redact", 1), else_=0)).label("r")
    users = session.exec(
        select(E.identity, blocked, redacted)
        .where(*window, col(E.action).in_(("block", "redact")), col(E.identity) != "")
        .group_by(E.identity)
        .order_by((blocked + redacted).desc(), E.identity)
        .limit(8)
    )
    routes: dict[str, int] = {}
    for route, n in session.exec(select(E.route, func.count()).where(*window).group_by(E.route)):
        key = route if route in ("private", "public") else "other"
        routes[key] = routes.get(key, 0) + n
    # Counting a queue of hundreds of thousands costs a full index scan: count up to a cap instead.
    queue = (
        select(E.seq)
        .where(
            col(E.kind) == "request",
            col(E.review_status).in_(OPEN_STATUSES),
            (col(E.action) != "allow") | (col(E.finding_count) > 0),
        )
        .limit(QUEUE_CAP + 1)
        .subquery()
    )
    open_queue = int(session.exec(select(func.count()).select_from(queue)).one())
    return Dashboard(
        days=day_list,
        by_day=by_day,
        total=sum(by_action.values()),
        by_action=by_action,
        categories=sorted(cat_counts.items(), key=lambda kv: (-kv[1], kv[0])),
        destinations=top(E.destination),
        models=top(E.model),
        top_users=[(str(u), int(b or 0), int(r or 0)) for u, b, r in users],
        routes=routes,
        open_queue=min(open_queue, QUEUE_CAP),
        open_queue_more=open_queue > QUEUE_CAP,
    )


@dataclass
class RuleStat:
    rule_id: str
    category: str
    fired: int
    reviewed: int
    false_positive: int

    @property
    def fp_share(self) -> float | None:
        return self.false_positive / self.reviewed if self.reviewed else None


def rule_stats(session: Session) -> list[RuleStat]:
    """Per detector rule: findings, findings on reviewed events, and those reviewed as false positive."""
    reviewed = func.sum(case((col(E.review_status).in_(("true_positive", "false_positive")), 1), else_=0))
    fp = func.sum(case((col(E.review_status) == "false_positive", 1), else_=0))
    n = func.count().label("n")
    stmt = (
        select(FindingRow.rule_id, func.min(FindingRow.category), n, reviewed, fp)
        .join(E, col(E.seq) == col(FindingRow.event_seq))
        .group_by(FindingRow.rule_id)
        .order_by(n.desc(), FindingRow.rule_id)
    )
    return [RuleStat(str(r), str(c), int(k), int(rv or 0), int(f or 0)) for r, c, k, rv, f in session.exec(stmt)]
