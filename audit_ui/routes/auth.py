"""Sign in, sign out, change password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from audit_ui.core.security import MIN_PASSWORD, hash_password, verify_password
from audit_ui.deps import CurrentUser, SessionDep, find_user, start_session
from audit_ui.templating import templates

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only same-site paths may follow a login (no open redirect to //evil or https://evil)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:  # noqa: A002 - the query parameter's name
    """Show the sign-in form."""
    return templates.TemplateResponse(request, "login.html", {"user": None, "next": safe_next(next), "error": ""})


@router.post("/login")
def login(
    request: Request,
    db: SessionDep,
    username: Annotated[str, Form(max_length=255)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form()] = "/",  # noqa: A002
) -> Response:
    """Check the credentials and start a session; failures are rate limited per name and address."""
    limiter = request.app.state.limiter
    addr = request.client.host if request.client else "-"
    keys = [f"u:{username.lower()}|{addr}", f"a:{addr}"]
    wait = limiter.retry_after(keys, [limiter.attempts, limiter.attempts * 4])
    if wait:
        raise HTTPException(429, "Too many failed sign-ins; wait a few minutes.", headers={"Retry-After": str(wait)})
    user = find_user(db, username)
    # Verify the password even when the user does not exist, to prevent timing attacks.
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or user.disabled:
        limiter.fail(keys)
        ctx = {"user": None, "next": safe_next(next), "error": "Wrong name or password, or the account is disabled."}
        return templates.TemplateResponse(request, "login.html", ctx, status_code=401)
    limiter.clear(keys[0])
    start_session(request, user)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, user: CurrentUser) -> Response:
    """End the session."""
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/account/password", response_class=HTMLResponse)
def password_form(request: Request, user: CurrentUser) -> Response:
    """Show the change-password form."""
    return templates.TemplateResponse(request, "password.html", {"user": user, "error": "", "min": MIN_PASSWORD})


@router.post("/account/password")
def change_password(
    request: Request,
    db: SessionDep,
    user: CurrentUser,
    current: Annotated[str, Form(max_length=1024)] = "",
    new: Annotated[str, Form(max_length=1024)] = "",
    repeat: Annotated[str, Form(max_length=1024)] = "",
) -> Response:
    """Change the signed-in user's password (ends their other sessions)."""
    error = ""
    if not verify_password(user.password_hash, current):
        error = "The current password is wrong."
    elif new != repeat:
        error = "The two new passwords differ."
    elif len(new) < MIN_PASSWORD:
        error = f"Choose at least {MIN_PASSWORD} characters."
    elif new == current:
        error = "Choose a password different from the current one."
    if error:
        ctx = {"user": user, "error": error, "min": MIN_PASSWORD}
        return templates.TemplateResponse(request, "password.html", ctx, status_code=400)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    db.add(user)
    db.commit()
    db.refresh(user)
    start_session(request, user)
    return RedirectResponse("/", status_code=303)
