"""User administration (admin only): create, change role, disable, reset password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from audit_ui import accounts
from audit_ui.deps import Admin, SessionDep
from audit_ui.templating import templates
from guard.audit.models import ROLES

router = APIRouter()


def _page(request: Request, db: SessionDep, user: Admin, status: int = 200, **extra: object) -> Response:
    ctx = {"user": user, "users": accounts.all_users(db), "roles": ROLES, "message": "", "error": "", "secret": None}
    ctx.update(extra)
    return templates.TemplateResponse(request, "users.html", ctx, status_code=status)


@router.get("/users", response_class=HTMLResponse)
def user_list(request: Request, db: SessionDep, user: Admin) -> Response:
    """List users with their roles and state."""
    return _page(request, db, user)


@router.post("/users", response_class=HTMLResponse)
def user_create(
    request: Request,
    db: SessionDep,
    user: Admin,
    name: Annotated[str, Form(max_length=64)] = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    """Create a user with a one-time password shown once."""
    try:
        new, password = accounts.create(db, name.strip(), role)
    except accounts.AccountError as e:
        return _page(request, db, user, 400, error=str(e))
    return _page(request, db, user, message=f"Created {new.name} ({new.role}).", secret=(new.name, password))


@router.post("/users/{name}/{change}", response_class=HTMLResponse)
def user_change(
    request: Request,
    db: SessionDep,
    user: Admin,
    name: str,
    change: str,
    role: Annotated[str, Form()] = "",
) -> Response:
    """Disable, enable, change the role of, or reset the password of a user."""
    try:
        if change == "disable":
            if name == user.name:
                raise accounts.AccountError("you cannot disable your own account")
            accounts.set_disabled(db, name, True)
            return _page(request, db, user, message=f"Disabled {name}; their sessions have ended.")
        if change == "enable":
            accounts.set_disabled(db, name, False)
            return _page(request, db, user, message=f"Enabled {name}.")
        if change == "role":
            accounts.set_role(db, name, role)
            return _page(request, db, user, message=f"{name} is now {role}.")
        if change == "reset-password":
            password = accounts.reset_password(db, name)
            return _page(request, db, user, message=f"Reset the password of {name}.", secret=(name, password))
    except accounts.AccountError as e:
        return _page(request, db, user, 400, error=str(e))
    raise HTTPException(404, "No such action.")
