"""The event list (filters, keyset pages, CSV export), the event page and its review form."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from sqlmodel import Session

from audit_ui import detail, queries
from audit_ui.deps import Auditor, Reviewer, SessionDep
from audit_ui.templating import neutralise, templates
from guard.audit.models import DISPOSITIONS, AuditEventRow
from guard.audit.store import get_event, record_review
from guard.core import CATEGORIES, EXTRA_CATEGORIES

router = APIRouter()
CSV_COLUMNS = (
    "time", "event_id", "identity", "groups", "action", "provider", "endpoint", "model", "destination", "route",
    "categories", "finding_count", "review_status", "policy_rules", "classifications", "reason", "conversation_id",
)  # fmt: skip


@router.get("/events", response_class=HTMLResponse)
def event_list(request: Request, db: SessionDep, user: Auditor, after: str = "") -> Response:
    """List events matching the filters, newest first, one keyset page at a time."""
    f = queries.EventFilter.from_query(request.query_params)
    size = request.app.state.settings.page_size
    rows, next_cursor = queries.list_events(db, f, after=after, limit=size)
    ctx = {
        "user": user,
        "f": f,
        "rows": rows,
        "next_cursor": next_cursor,
        "first_page": not after,
        "actions": queries.ACTIONS,
        "categories": CATEGORIES + EXTRA_CATEGORIES,
        "reviews": queries.REVIEW_FILTERS,
        "query": f.query_items(),
    }
    return templates.TemplateResponse(request, "events.html", ctx)


def _cell(value: object) -> str:
    text = neutralise(", ".join(map(str, value)) if isinstance(value, list) else "" if value is None else str(value))
    # A cell starting with = + - @ (or tab/CR) is a formula in spreadsheets: CSV injection (OWASP).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_lines(db: Session, f: queries.EventFilter) -> Iterator[str]:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    for row in queries.stream_events(db, f):
        t = row.time if row.time.tzinfo else row.time.replace(tzinfo=UTC)
        w.writerow([t.isoformat() if c == "time" else _cell(getattr(row, c)) for c in CSV_COLUMNS])
        if buf.tell() > 64_000:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()
    db.close()


@router.get("/events.csv")
def event_csv(request: Request, db: SessionDep, user: Auditor) -> Response:
    """Download the filtered event list as CSV (every page, up to 100,000 rows)."""
    f = queries.EventFilter.from_query(request.query_params)
    return StreamingResponse(
        _csv_lines(db, f),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="guard-events.csv"'},
    )


def load_event(db: Session, event_id: str) -> AuditEventRow:
    """The event with this id, or 404."""
    ev = get_event(db, event_id)
    if ev is None:
        raise HTTPException(404, "No such event.")
    return ev


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(request: Request, db: SessionDep, user: Auditor, event_id: str) -> Response:
    """Show one event: decision, findings, conversation, reviews, chain status."""
    ev = load_event(db, event_id)
    ctx = {
        "user": user,
        "ev": ev,
        "findings": detail.findings(db, ev.seq),
        "reviews": detail.reviews(db, ev.seq),
        "conversation": detail.conversation(db, ev),
        "chain": detail.chain_status(db, ev.seq),
        "dispositions": DISPOSITIONS,
        "saved": request.query_params.get("saved") == "1",
    }
    return templates.TemplateResponse(request, "event.html", ctx)


@router.post("/events/{event_id}/review")
def review_event(
    request: Request,
    db: SessionDep,
    user: Reviewer,
    event_id: str,
    disposition: Annotated[str, Form()] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    assignee: Annotated[str, Form(max_length=255)] = "",
) -> Response:
    """Record a disposition, note and assignee for the event."""
    if disposition not in DISPOSITIONS:
        raise HTTPException(400, "Choose true positive, false positive or needs follow-up.")
    ev = load_event(db, event_id)
    record_review(db, ev.seq, disposition, user.name, note=note.strip(), assignee=assignee.strip())
    db.commit()
    return RedirectResponse(f"/events/{quote(event_id, safe='')}?saved=1#review", status_code=303)
