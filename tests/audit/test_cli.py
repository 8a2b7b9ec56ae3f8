"""`guard audit migrate` and `guard audit tail`; the Alembic migrations match the SQLModel tables."""

from __future__ import annotations

import json

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel
from typer.testing import CliRunner

from guard.audit import chain
from guard.audit.store import make_engine
from guard.cli import app
from tests.audit.factories import SECRETS, make_event

runner = CliRunner()


def test_migrate_creates_every_table_and_matches_the_models(db_url):
    r = runner.invoke(app, ["audit", "migrate", "--db", db_url])
    assert r.exit_code == 0, r.output
    assert "latest schema" in r.output
    engine = make_engine(db_url)
    with engine.connect() as c:
        names = set(inspect(c).get_table_names())
        assert {"audit_event", "audit_finding", "audit_review", "guard_user", "audit_export_cursor",
                "audit_chain_head", "audit_purge_checkpoint", "alembic_version"} <= names  # fmt: skip
        # a model change without a migration shows up here
        assert compare_metadata(MigrationContext.configure(c), SQLModel.metadata) == []
    engine.dispose()
    assert runner.invoke(app, ["audit", "migrate", "--db", db_url]).exit_code == 0  # idempotent


def test_tail_prints_newest_events_as_json_without_values(store, db_url):
    events = [make_event(i, identity=f"user{i}") for i in range(5)]
    chain.append(store, events)
    r = runner.invoke(app, ["audit", "tail", "-n", "3", "--json", "--db", db_url])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in r.output.splitlines()]
    assert [x["event_id"] for x in rows] == [e.event_id for e in events[2:]]
    assert rows[0]["identity"] == "user2" and rows[0]["has_evidence"] is False
    for v in SECRETS.values():
        assert v not in r.output
    table = runner.invoke(app, ["audit", "tail", "-n", "2", "--db", db_url])
    assert table.exit_code == 0 and len(table.output.splitlines()) == 2
    assert "user4" in table.output.splitlines()[-1] and "redact" in table.output
