"""Rule tuning: how often each rule fires and how often reviewers call it wrong; allow-list entries."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from audit_ui import allowlist, detail, stats
from audit_ui.deps import Admin, Auditor, SessionDep
from audit_ui.routes.events import load_event
from audit_ui.templating import templates
from guard.audit.models import FindingRow

router = APIRouter()


@router.get("/rules", response_class=HTMLResponse)
def rule_tuning(request: Request, db: SessionDep, user: Auditor) -> Response:
    """Show per-rule fired counts, false-positive shares and the allow-list."""
    rules_dir = request.app.state.settings.rules_dir
    ctx = {
        "user": user,
        "rules": stats.rule_stats(db),
        "allow": allowlist.load(rules_dir),
        "file": rules_dir / allowlist.FILE,
    }
    return templates.TemplateResponse(request, "rules.html", ctx)


@router.post("/events/{event_id}/allowlist")
def add_allow(
    request: Request,
    db: SessionDep,
    user: Admin,
    event_id: str,
    finding_id: Annotated[int, Form()] = 0,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Allow-list a finding's value for its rule, from an event reviewed as a false positive."""
    ev = load_event(db, event_id)
    if ev.review_status != "false_positive":
        raise HTTPException(409, "Only a finding on an event reviewed as a false positive can be allow-listed.")
    finding = db.exec(select(FindingRow).where(FindingRow.id == finding_id, FindingRow.event_seq == ev.seq)).first()
    if finding is None:
        raise HTTPException(404, "No such finding on this event.")
    note = note.strip() or next(
        (r.note for r in detail.reviews(db, ev.seq) if r.disposition == "false_positive" and r.note), ""
    )
    allowlist.add(
        request.app.state.settings.rules_dir,
        rule_id=finding.rule_id,
        category=finding.category,
        fingerprint=finding.fingerprint,
        preview=finding.preview,
        note=note,
        added_by=user.name,
        event_id=ev.event_id,
    )
    return RedirectResponse(f"/events/{quote(event_id, safe='')}?allowed=1#findings", status_code=303)
