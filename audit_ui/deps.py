"""Request dependencies as types: the database session, the signed-in user, role checks, CSRF."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session, select

from audit_ui.core.config import Settings
from audit_ui.core.security import csrf_ok, new_csrf_token, password_stamp
from guard.audit.models import User

ROLES = ("auditor", "reviewer", "admin")  # each role can do everything the one before it can
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class NotAuthenticated(Exception):
    """No valid session: pages redirect to the login form."""


class MustChangePassword(Exception):
    """The user signed in with a one-time password and must choose a new one first."""


def get_settings(request: Request) -> Settings:
    """The app's settings."""
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    """A database session for one request."""
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def find_user(db: Session, name: str) -> User | None:
    """Return the user called `name`, or None."""
    return db.exec(select(User).where(User.name == name)).first()


def start_session(request: Request, user: User) -> None:
    """Bind a fresh session to `user` (new CSRF token: a planted pre-login session is useless)."""
    request.session.clear()
    request.session.update(
        user=user.name, stamp=password_stamp(user.password_hash or ""), iat=int(time.time()), csrf=new_csrf_token()
    )


def _sso_user(request: Request, settings: Settings, db: Session) -> User | None:
    # The header is believed only from the configured reverse proxy; from anyone else it is ignored,
    # otherwise any client could claim to be an admin by sending it.
    if not settings.sso_header or not settings.is_trusted_proxy(request.client.host if request.client else None):
        return None
    name = request.headers.get(settings.sso_header, "").strip()
    if not name:
        return None
    user = find_user(db, name)
    if user is None or user.disabled:
        raise HTTPException(403, "This account is not allowed to use the review UI.")
    if request.session.get("user") != user.name:
        start_session(request, user)
    return user


def current_user(request: Request, db: SessionDep, settings: SettingsDep) -> User:
    """The signed-in, enabled user; otherwise NotAuthenticated."""
    user = _sso_user(request, settings, db)
    if user is not None:
        return user
    sess = request.session
    name = sess.get("user")
    if not name:
        raise NotAuthenticated
    user = find_user(db, name)
    fresh = time.time() - float(sess.get("iat", 0)) < settings.session_max_age
    # A disabled account or a changed password ends every session at once, not at cookie expiry.
    if user is None or user.disabled or not fresh or sess.get("stamp") != password_stamp(user.password_hash or ""):
        sess.clear()
        raise NotAuthenticated
    if user.must_change_password and request.url.path not in ("/account/password", "/logout"):
        raise MustChangePassword
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(role: str):  # noqa: ANN201 - returns a FastAPI dependency
    """Dependency: the current user if their role is at least `role`, else 403."""
    need = ROLES.index(role)

    def check(user: CurrentUser) -> User:
        if user.role not in ROLES or ROLES.index(user.role) < need:
            raise HTTPException(403, f"This needs the {role} role.")
        return user

    return check


Auditor = Annotated[User, Depends(require("auditor"))]
Reviewer = Annotated[User, Depends(require("reviewer"))]
Admin = Annotated[User, Depends(require("admin"))]


async def csrf_protect(request: Request) -> None:
    """Reject a state-changing request without the session's CSRF token or from another origin."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise HTTPException(403, "Cross-origin form submission refused.")
    token = request.headers.get("x-csrf-token")
    if token is None:
        form = await request.form()
        token = form.get("csrf_token")  # type: ignore[assignment]
    if not csrf_ok(request.session.get("csrf"), token if isinstance(token, str) else None):
        raise HTTPException(403, "The form expired or did not come from this site; reload the page and retry.")
