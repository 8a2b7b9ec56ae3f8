"""`guard ui` and `guard users`: serve the review UI and manage its accounts from a shell."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

DbOpt = Annotated[
    str,
    typer.Option("--db", envvar="GUARD_DATABASE_URL", help="Audit store URL (default: SQLite file under GUARD_HOME)."),
]
users_app = typer.Typer(help="Manage review UI accounts (roles: admin, reviewer, auditor).", no_args_is_help=True)


def _settings(db: str):  # noqa: ANN202 - audit_ui.core.config.Settings, imported lazily
    from audit_ui.core.config import Settings

    return Settings(database_url=db) if db else Settings()


def ui_command(
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on.")] = 8000,
    host: Annotated[
        str, typer.Option("--host", help="Address to bind (keep loopback unless behind a TLS proxy).")
    ] = "127.0.0.1",
    db: DbOpt = "",
) -> None:
    """Serve the compliance review UI (settings from GUARD_* variables; see README)."""
    import uvicorn

    from audit_ui.app import create_app

    try:
        settings = _settings(db)
    except ValueError as e:
        typer.echo(f"guard ui: {e}", err=True)
        raise typer.Exit(2) from None
    app = create_app(settings)
    # proxy_headers off: request.client must be the real peer, or a forged X-Forwarded-For could
    # pass for the trusted reverse proxy that may send the single sign-on header.
    uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False, log_level="info")


def _db(db: str):  # noqa: ANN202 - a sqlmodel Session
    from sqlmodel import Session

    from guard.audit.store import open_store

    return Session(open_store(_settings(db).db_url).engine)


def _read_password(confirm: bool = True) -> str:
    # From stdin when piped (scripts, tests), else an interactive hidden prompt.
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)


def _fail(e: Exception) -> typer.Exit:
    typer.echo(f"guard users: {e}", err=True)
    return typer.Exit(1)


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name (letters, digits, . _ @ -).")],
    role: Annotated[str, typer.Option("--role", help="admin, reviewer or auditor.")] = "reviewer",
    one_time: Annotated[
        bool, typer.Option("--one-time", help="Generate a one-time password (printed once) instead of asking for one.")
    ] = False,
    db: DbOpt = "",
) -> None:
    """Create a user; the password comes from a hidden prompt, or the first line of stdin."""
    from audit_ui.accounts import AccountError, create

    password = None if one_time else _read_password()
    with _db(db) as s:
        try:
            user, pw = create(s, name, role, password)
        except AccountError as e:
            raise _fail(e) from None
    typer.echo(f"created {user.name} ({user.role})")
    if one_time:
        typer.echo(f"one-time password (must be changed at first sign-in): {pw}")


@users_app.command("list")
def users_list(db: DbOpt = "") -> None:
    """List users: name, role, state, created."""
    from audit_ui.accounts import all_users

    with _db(db) as s:
        for u in all_users(s):
            state = "disabled" if u.disabled else ("must-change-password" if u.must_change_password else "active")
            typer.echo(f"{u.name}\t{u.role}\t{state}\t{u.created_at:%Y-%m-%d}")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument(help="User to disable.")], db: DbOpt = "") -> None:
    """Disable a user: refuses sign-in and ends their sessions at their next request."""
    from audit_ui.accounts import AccountError, set_disabled

    with _db(db) as s:
        try:
            set_disabled(s, name, True)
        except AccountError as e:
            raise _fail(e) from None
    typer.echo(f"disabled {name}")


@users_app.command("enable")
def users_enable(name: Annotated[str, typer.Argument(help="User to enable again.")], db: DbOpt = "") -> None:
    """Enable a disabled user."""
    from audit_ui.accounts import AccountError, set_disabled

    with _db(db) as s:
        try:
            set_disabled(s, name, False)
        except AccountError as e:
            raise _fail(e) from None
    typer.echo(f"enabled {name}")


@users_app.command("reset-password")
def users_reset(
    name: Annotated[str, typer.Argument(help="User whose password to set.")],
    one_time: Annotated[
        bool, typer.Option("--one-time", help="Generate a one-time password (printed once) the user must change.")
    ] = False,
    db: DbOpt = "",
) -> None:
    """Set a user's password (prompt or stdin) and end their sessions."""
    from audit_ui.accounts import AccountError, reset_password

    password = None if one_time else _read_password()
    with _db(db) as s:
        try:
            pw = reset_password(s, name, password)
        except AccountError as e:
            raise _fail(e) from None
    typer.echo(f"password of {name} reset")
    if one_time:
        typer.echo(f"one-time password (must be changed at first sign-in): {pw}")
