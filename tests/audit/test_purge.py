"""Retention: purge deletes old events, records itself, and the chain still verifies afterwards."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from guard.audit import chain
from guard.audit.models import AuditEventRow, FindingRow, PurgeCheckpoint
from guard.audit.purge import parse_age, purge
from guard.audit.store import record_review
from guard.cli import app
from tests.audit.factories import make_event

runner = CliRunner()
NOW = datetime.now(UTC)


def _fill(store, old: int, new: int) -> None:
    chain.append(store, [make_event(i, time=NOW - timedelta(days=200, minutes=i)) for i in range(old)])
    chain.append(store, [make_event(i, time=NOW - timedelta(days=1)) for i in range(new)])


def _count(store, model) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_parse_age():
    assert parse_age("180d") == timedelta(days=180)
    assert parse_age("12h") == timedelta(hours=12)
    assert parse_age("2w") == timedelta(weeks=2)
    with pytest.raises(ValueError):
        parse_age("180 days")


def test_when_purged_then_old_events_gone_purge_recorded_and_chain_verifies(store):
    _fill(store, 4, 3)
    with store.transaction() as s:
        record_review(s, 2, "true_positive", reviewer="bob")
    res = purge(store, timedelta(days=180), actor="carol")
    assert res.deleted == 4 and res.resume_seq == 5
    assert _count(store, AuditEventRow) == 4  # 3 kept + the purge event
    assert _count(store, FindingRow) == 3 * 5
    with store.session() as s:
        ev = s.scalars(select(AuditEventRow).where(AuditEventRow.action == "purge")).one()
        assert ev.kind == "admin" and ev.identity == "carol"
        assert "purged 4 events" in ev.reason
    v = chain.verify(store)
    assert v.ok and v.first_seq == 5 and v.checked == 4


def test_when_everything_is_old_then_the_purge_event_alone_continues_the_chain(store):
    _fill(store, 5, 0)
    assert purge(store, timedelta(days=180)).deleted == 5
    assert chain.verify(store).ok
    # a second purge with nothing old deletes nothing and leaves the chain intact
    assert purge(store, timedelta(days=180)).deleted == 0
    assert chain.verify(store).ok


def test_when_rows_deleted_behind_a_purge_then_verify_still_catches_it(store):
    _fill(store, 3, 3)
    purge(store, timedelta(days=180))
    with store.engine.begin() as c:
        c.execute(text("DELETE FROM audit_finding WHERE event_seq = 4"))
        c.execute(text("DELETE FROM audit_event WHERE seq = 4"))
    res = chain.verify(store)
    assert not res.ok and res.broken_seq == 5
    with store.session() as s:
        assert s.scalars(select(PurgeCheckpoint)).one().resume_seq == 4


def test_cli_purge_uses_retention_setting(store, db_url, monkeypatch):
    _fill(store, 2, 1)
    monkeypatch.setenv("GUARD_AUDIT_RETENTION", "180d")
    r = runner.invoke(app, ["audit", "purge", "--db", db_url, "--actor", "ops"])
    assert r.exit_code == 0, r.output
    assert "purged 2 events" in r.output
    assert runner.invoke(app, ["audit", "verify", "--db", db_url]).exit_code == 0


def test_cli_purge_without_age_is_a_usage_error(db_url, monkeypatch):
    monkeypatch.delenv("GUARD_AUDIT_RETENTION", raising=False)
    r = runner.invoke(app, ["audit", "purge", "--db", db_url])
    assert r.exit_code == 2


def test_writer_applies_the_retention_setting_while_idle(store, db_url, tmp_path, monkeypatch):
    from guard.audit.writer import AuditWriter

    _fill(store, 3, 2)
    monkeypatch.setenv("GUARD_AUDIT_RETENTION", "180d")
    w = AuditWriter(db_url, tmp_path / "spool").start()
    w.submit(make_event(50))
    assert w.flush(20)
    deadline = time.monotonic() + 20
    while _count(store, PurgeCheckpoint) == 0:
        assert time.monotonic() < deadline, "retention purge did not run"
        time.sleep(0.1)
    w.close()
    with store.session() as s:
        actions = list(s.scalars(select(AuditEventRow.action).order_by(AuditEventRow.seq)))
    assert actions == ["redact", "redact", "redact", "purge"]  # 2 kept + the new one + the purge record
    assert chain.verify(store).ok


def test_writer_rejects_a_malformed_retention_setting(tmp_path, monkeypatch):
    from guard.audit.writer import AuditWriter

    monkeypatch.setenv("GUARD_AUDIT_RETENTION", "half a year")
    with pytest.raises(ValueError, match="not an age"):
        AuditWriter("sqlite:///" + str(tmp_path / "a.db"), tmp_path / "spool")
