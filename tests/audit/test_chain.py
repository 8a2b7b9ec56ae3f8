"""Tamper evidence: `guard audit verify` names the first broken link for edited and deleted rows."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from guard.audit import chain
from guard.audit.models import AuditEventRow, FindingRow
from guard.audit.records import chain_hash
from guard.audit.store import open_store
from guard.cli import app
from tests.audit.factories import make_event

runner = CliRunner()


@pytest.fixture
def filled(store):
    chain.append(store, [make_event(i) for i in range(3)])
    chain.append(store, [make_event(i) for i in range(3, 6)])  # two batches: the chain spans transactions
    return store


def _sql(store, sql: str) -> None:
    with store.engine.begin() as c:
        c.execute(text(sql))


def test_intact_chain_verifies_and_cli_exits_0(filled, db_url):
    assert chain.verify(filled).ok
    r = runner.invoke(app, ["audit", "verify", "--db", db_url])
    assert r.exit_code == 0, r.output
    assert "chain intact: 6 events verified (seq 1..6)" in r.output


@pytest.mark.parametrize(
    ("attack", "broken", "words"),
    [
        ("UPDATE audit_event SET identity = 'mallory' WHERE seq = 3", 3, "content does not match"),
        ("UPDATE audit_event SET action = 'allow' WHERE seq = 1", 1, "content does not match"),
        ("UPDATE audit_finding SET preview = 'xx' WHERE event_seq = 2 AND ordinal = 1", 2, "findings edited"),
        ("DELETE FROM audit_finding WHERE event_seq = 4 AND ordinal = 0", 4, "findings edited"),
        ("DELETE FROM audit_event WHERE seq = 3", 3, "missing (deleted row)"),
        ("DELETE FROM audit_event WHERE seq = 6", 6, "events after seq 5 are missing"),
        ("DELETE FROM audit_event WHERE seq <= 2", 3, "events before seq 3 are missing"),
    ],
)
def test_when_row_tampered_then_verify_reports_first_broken_link(filled, db_url, attack, broken, words):
    if "DELETE FROM audit_event" in attack:
        cond = attack.split("WHERE", 1)[1].replace("seq", "event_seq")
        _sql(filled, f"DELETE FROM audit_finding WHERE {cond}")
    _sql(filled, attack)
    res = chain.verify(filled)
    assert not res.ok
    assert res.broken_seq == broken
    assert words in res.problem
    r = runner.invoke(app, ["audit", "verify", "--db", db_url])
    assert r.exit_code == 1
    assert f"chain broken at seq {broken}" in r.output


def test_when_edited_row_is_rehashed_then_the_next_link_breaks(filled):
    # An attacker who recomputes the edited row's hash still breaks its successor's prev_hash.
    with filled.transaction() as s:
        row = s.execute(select(AuditEventRow.__table__).where(AuditEventRow.seq == 2)).mappings().one()
        fs = s.execute(select(FindingRow.__table__).where(FindingRow.event_seq == 2)).mappings().all()
        forged = dict(row)
        forged["identity"] = "mallory"
        s.execute(
            text("UPDATE audit_event SET identity = 'mallory', hash = :h WHERE seq = 2"), {"h": chain_hash(forged, fs)}
        )
    res = chain.verify(filled)
    assert not res.ok and res.broken_seq == 3
    assert "prev_hash" in res.problem


def test_chain_continues_across_writers(filled):
    chain.append(filled, [make_event(99)])
    res = chain.verify(filled)
    assert res.ok and res.checked == 7


def test_concurrent_writers_on_separate_connections_keep_one_gapless_chain(db_url):
    # The proxy's writer and the UI's admin events append from different processes: each thread
    # here has its own engine, so they contend through the database exactly as processes would.
    stores = [open_store(db_url) for _ in range(3)]
    errors = []

    def work(s, k):
        try:
            for i in range(15):
                chain.append(s, [make_event(k * 100 + i), make_event(k * 100 + 50 + i)])
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(s, k)) for k, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    res = chain.verify(stores[0])
    assert res.ok and res.checked == 90 and res.last_seq == 90
    for s in stores:
        s.close()
