"""`guard audit`: migrate, verify, purge, tail, keygen and evidence commands for the audit store."""

from __future__ import annotations

import getpass
import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer

audit_app = typer.Typer(
    help="Manage the audit store: migrate, verify the hash chain, purge, tail.", no_args_is_help=True
)

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="GUARD_DATABASE_URL",
        help="Audit store URL (sqlite:///path or postgresql://...). Default: a SQLite file under GUARD_HOME.",
    ),
]


def _url(db: str | None) -> str:
    from guard.config import settings

    return db or settings().db_url


def _open(db: str | None):  # noqa: ANN202
    from guard.audit.store import open_store

    return open_store(_url(db))


@audit_app.command("migrate")
def migrate_cmd(db: DbOpt = None) -> None:
    """Create or upgrade the audit tables to the latest schema (guard also does this at start)."""
    from guard.audit.store import redact_url

    _open(db).close()
    typer.echo(f"audit store at {redact_url(_url(db))} is at the latest schema")


@audit_app.command("verify")
def verify_cmd(db: DbOpt = None) -> None:
    """Check every link of the hash chain; exit 1 and name the first broken one (edited or deleted rows)."""
    from guard.audit.chain import verify

    store = _open(db)
    res = verify(store)
    store.close()
    typer.echo(res.summary())
    raise typer.Exit(0 if res.ok else 1)


@audit_app.command("purge")
def purge_cmd(
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            envvar="GUARD_AUDIT_RETENTION",
            help="Delete events older than this age, e.g. 180d, 12h, 2w (default: GUARD_AUDIT_RETENTION).",
        ),
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who runs the purge (recorded; default: OS user).")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Delete old events and their findings and reviews; the purge is itself recorded in the chain."""
    from guard.audit.purge import parse_age, purge

    if not older_than:
        typer.echo("error: give --older-than or set GUARD_AUDIT_RETENTION", err=True)
        raise typer.Exit(2)
    try:
        age = parse_age(older_than)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    store = _open(db)
    res = purge(store, age, actor=actor or getpass.getuser())
    store.close()
    typer.echo(
        f"purged {res.deleted} events older than {res.cutoff.isoformat(timespec='seconds')} (event {res.event_id})"
    )


@audit_app.command("tail")
def tail_cmd(
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many of the newest events to show.")] = 20,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events as they arrive.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table row.")] = False,
    db: DbOpt = None,
) -> None:
    """Print the newest audit events (never raw values: findings show masked previews only)."""
    from sqlalchemy import select

    from guard.audit.models import AuditEventRow

    ev = AuditEventRow.__table__  # type: ignore[attr-defined]
    store = _open(db)
    with store.session() as s:
        rows = s.execute(select(ev).order_by(ev.c.seq.desc()).limit(lines)).mappings().all()
    last = 0
    for row in reversed(rows):
        typer.echo(_line(row, as_json))
        last = row["seq"]
    try:
        while follow:
            time.sleep(1.0)
            with store.session() as s:
                rows = s.execute(select(ev).where(ev.c.seq > last).order_by(ev.c.seq).limit(1000)).mappings().all()
            for row in rows:
                typer.echo(_line(row, as_json))
                last = row["seq"]
    except KeyboardInterrupt:
        pass
    store.close()


def _line(row, as_json: bool) -> str:  # noqa: ANN001
    if as_json:
        d = {k: v for k, v in row.items() if k != "evidence"}
        d["has_evidence"] = row["evidence"] is not None
        return json.dumps(d, default=str)
    t = row["time"].isoformat(timespec="seconds")
    return (
        f"{row['seq']:>8} {t} {row['action']:<13} {row['identity'][:24]:<24} {row['provider']:<10} "
        f"{row['model'][:24]:<24} {row['categories'] or '-'}"
    )


@audit_app.command("keygen")
def keygen_cmd(
    out: Annotated[Path, typer.Option("--out", help="Directory for evidence.key (private) and evidence.pub.")],
    passphrase_env: Annotated[
        str | None,
        typer.Option("--passphrase-env", help="Encrypt the private key with the passphrase in this env var."),
    ] = None,
) -> None:
    """Make an X25519 key pair for encrypted evidence; give the proxy only evidence.pub."""
    from guard.audit.evidence import generate_keypair

    pw = os.environ[passphrase_env].encode() if passphrase_env else None
    priv, pub = generate_keypair(out, pw)
    typer.echo(f"private key: {priv} (keep offline)\npublic key:  {pub} (set GUARD_EVIDENCE_PUBLIC_KEY to this path)")


@audit_app.command("evidence")
def evidence_cmd(
    event_id: Annotated[str, typer.Argument(help="The event whose evidence to decrypt.")],
    key: Annotated[Path, typer.Option("--key", help="The evidence private key (PEM).")],
    reader: Annotated[str | None, typer.Option("--reader", help="Who reads it (recorded; default: OS user).")] = None,
    passphrase_env: Annotated[
        str | None, typer.Option("--passphrase-env", help="Env var holding the private key's passphrase.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Decrypt an event's evidence (original and redacted prompt); the reading is recorded first."""
    from guard.audit.evidence import EvidenceError, load_private_key, read_evidence

    pw = os.environ[passphrase_env].encode() if passphrase_env else None
    store = _open(db)
    try:
        data = read_evidence(store, event_id, load_private_key(key, pw), reader or getpass.getuser())
    except EvidenceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
