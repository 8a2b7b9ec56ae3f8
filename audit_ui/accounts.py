"""User accounts, shared by the Users page and `guard users`: create, list, disable, reset."""

from __future__ import annotations

import re
import secrets

from sqlmodel import Session, col, func, select

from audit_ui.core.security import hash_password
from guard.audit.models import ROLES, User

# Names appear in URLs, audit events and SSO headers: keep them to a plain, unambiguous alphabet.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message is for the user."""


def get(db: Session, name: str) -> User:
    """The user called `name`, or AccountError."""
    user = db.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise AccountError(f"no user named {name!r}")
    return user


def all_users(db: Session) -> list[User]:
    """Every user, by name."""
    return list(db.exec(select(User).order_by(col(User.name))))


def create(db: Session, name: str, role: str, password: str | None = None) -> tuple[User, str]:
    """Create a user; without a password, a one-time one is generated and must be changed at login."""
    if not NAME.match(name):
        raise AccountError("a name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    if db.exec(select(User).where(User.name == name)).first() is not None:
        raise AccountError(f"a user named {name!r} exists")
    one_time = password is None
    password = password if password is not None else secrets.token_urlsafe(12)
    try:
        pw_hash = hash_password(password)
    except ValueError as e:
        raise AccountError(str(e)) from None
    user = User(name=name, role=role, password_hash=pw_hash, must_change_password=one_time)
    db.add(user)
    db.commit()
    db.refresh(user)
    return user, password


def _other_active_admins(db: Session, user: User) -> int:
    admins = (User.role == "admin", col(User.disabled).is_(False), User.id != user.id)
    stmt = select(func.count()).select_from(User).where(*admins)
    return int(db.exec(stmt).one())


def set_disabled(db: Session, name: str, disabled: bool) -> User:
    """Disable (sign out everywhere, refuse logins) or re-enable a user."""
    user = get(db, name)
    if disabled and user.role == "admin" and not _other_active_admins(db, user):
        raise AccountError("refusing to disable the last enabled admin")
    user.disabled = disabled
    db.add(user)
    db.commit()
    return user


def set_role(db: Session, name: str, role: str) -> User:
    """Change a user's role."""
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}")
    user = get(db, name)
    if user.role == "admin" and role != "admin" and not _other_active_admins(db, user):
        raise AccountError("refusing to demote the last enabled admin")
    user.role = role
    db.add(user)
    db.commit()
    return user


def reset_password(db: Session, name: str, password: str | None = None) -> str:
    """Set a new password (one-time and generated when none is given); ends the user's sessions."""
    user = get(db, name)
    one_time = password is None
    password = password if password is not None else secrets.token_urlsafe(12)
    try:
        user.password_hash = hash_password(password)
    except ValueError as e:
        raise AccountError(str(e)) from None
    user.must_change_password = one_time
    db.add(user)
    db.commit()
    return password
