"""Encrypted evidence (admin only): each reading is recorded as an audit event before decrypting."""

from __future__ import annotations

from typing import Annotated

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from audit_ui.deps import Admin, SessionDep
from audit_ui.routes.events import load_event
from audit_ui.templating import templates
from guard.audit.evidence import EvidenceError, read_evidence

router = APIRouter()


def _load_key(pem: str, passphrase: str) -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.strip().encode(), password=passphrase.encode() or None)
    except (ValueError, TypeError) as e:
        raise EvidenceError("not a readable PEM private key (or wrong passphrase)") from e
    if not isinstance(key, X25519PrivateKey):
        raise EvidenceError("the evidence key is an X25519 key (made by `guard audit keygen`)")
    return key


@router.get("/events/{event_id}/evidence", response_class=HTMLResponse)
def evidence_form(request: Request, db: SessionDep, user: Admin, event_id: str) -> Response:
    """Ask for the evidence private key; the reading will be recorded."""
    ev = load_event(db, event_id)
    return templates.TemplateResponse(request, "evidence.html", {"user": user, "ev": ev, "result": None, "error": ""})


@router.post("/events/{event_id}/evidence", response_class=HTMLResponse)
def evidence_read(
    request: Request,
    db: SessionDep,
    user: Admin,
    event_id: str,
    private_key: Annotated[str, Form(max_length=20_000)] = "",
    passphrase: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Record the reading, then decrypt the event's evidence with the key given (never stored)."""
    ev = load_event(db, event_id)
    if ev.evidence is None:
        raise HTTPException(404, "This event has no stored evidence.")
    try:
        key = _load_key(private_key, passphrase)
        # read_evidence records the reading in the audit chain first (fail closed), then decrypts.
        result = read_evidence(request.app.state.store, ev.event_id, key, user.name, via="ui")
    except EvidenceError as e:
        ctx = {"user": user, "ev": ev, "result": None, "error": f"The evidence could not be opened: {e}."}
        return templates.TemplateResponse(request, "evidence.html", ctx, status_code=400)
    return templates.TemplateResponse(request, "evidence.html", {"user": user, "ev": ev, "result": result, "error": ""})
