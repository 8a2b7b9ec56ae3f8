"""AuditWriter: batches from a queue, never raises into the caller, spools on outage, drains in order."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from guard.audit import chain
from guard.audit.models import AuditEventRow
from guard.audit.store import open_store
from guard.audit.writer import AuditWriter
from tests.audit.factories import make_event


def _stored_ids(url: str) -> list[str]:
    s = open_store(url)
    with s.session() as ses:
        ids = list(ses.scalars(select(AuditEventRow.event_id).order_by(AuditEventRow.seq)))
    s.close()
    return ids


def test_when_events_submitted_from_threads_then_all_stored_once_and_chain_verifies(db_url, tmp_path):
    w = AuditWriter(db_url, tmp_path / "spool").start()
    events = [[make_event(t * 1000 + i) for i in range(250)] for t in range(4)]
    threads = [threading.Thread(target=lambda evs=evs: [w.submit(e) for e in evs]) for evs in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert w.flush(30)
    assert w.queue_depth == 0
    assert w.close()
    ids = _stored_ids(db_url)
    assert sorted(ids) == sorted(e.event_id for evs in events for e in evs)
    # per submitting thread, order is preserved
    pos = {eid: i for i, eid in enumerate(ids)}
    for evs in events:
        assert [pos[e.event_id] for e in evs] == sorted(pos[e.event_id] for e in evs)
    s = open_store(db_url)
    assert chain.verify(s).ok
    s.close()


def test_when_database_unreachable_then_events_spool_and_flush_still_acknowledges(tmp_path):
    dead = "postgresql://postgres@127.0.0.1:1/none"  # nothing listens on port 1
    w = AuditWriter(dead, tmp_path / "spool", connect_timeout=1).start()
    for i in range(20):
        w.submit(make_event(i))
    assert w.flush(20)
    assert w.spool_size == 20
    assert w.close(5) is True


def test_spooled_events_drain_in_order_before_new_ones(db_url, tmp_path):
    dead = "postgresql://postgres@127.0.0.1:1/none"
    first = [make_event(i) for i in range(30)]
    w = AuditWriter(dead, tmp_path / "spool", connect_timeout=1).start()
    for e in first:
        w.submit(e)
    assert w.flush(20) and w.spool_size == 30
    w.close(5)
    # restart against the reachable store: the spool drains first, then new events follow
    w2 = AuditWriter(db_url, tmp_path / "spool").start()
    later = [make_event(100 + i) for i in range(10)]
    for e in later:
        w2.submit(e)
    assert w2.flush(30)
    assert w2.spool_size == 0
    w2.close()
    assert _stored_ids(db_url) == [e.event_id for e in first + later]


def test_submit_never_raises_even_before_start(tmp_path):
    w = AuditWriter("sqlite:///" + str(tmp_path / "a.db"), tmp_path / "spool")
    w.submit(make_event())  # not started: queued, not raised
    assert w.queue_depth == 1
    assert w.flush(0.1) is False  # nothing can acknowledge it without the thread


def test_counts_reported_by_store(store, tmp_path):
    w = AuditWriter(store.url, tmp_path / "spool").start()
    for i in range(1200):  # more than two batches
        w.submit(make_event(i))
    assert w.close()
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEventRow)) == 1200
        assert s.scalar(select(func.max(AuditEventRow.seq))) == 1200


def test_nul_characters_are_stored_replaced_not_refused(store, tmp_path):
    # PostgreSQL text cannot hold NUL; guard replaces it rather than losing the event.
    w = AuditWriter(store.url, tmp_path / "spool").start()
    w.submit(make_event(identity="bad\x00user", reason="r\x00", skipped=("a\x00: b",)))
    assert w.close()
    with store.session() as s:
        row = s.scalars(select(AuditEventRow)).one()
    assert row.identity == "bad\ufffduser" and row.skipped == ["a\ufffd: b"]
    assert chain.verify(store).ok


@pytest.mark.postgres
def test_event_the_database_refuses_is_set_aside_and_the_rest_stored(pg_url, tmp_path):
    good = [make_event(i) for i in range(5)]
    bad = make_event(99, upstream_status=10**10)  # out of range for PostgreSQL's integer column
    w = AuditWriter(pg_url, tmp_path / "spool").start()
    for e in good[:2] + [bad] + good[2:]:
        w.submit(e)
    assert w.close()
    assert w.rejected == 1 and w.spool_size == 0
    assert _stored_ids(pg_url) == [e.event_id for e in good]
    assert bad.event_id in (tmp_path / "spool" / "rejected.jsonl").read_text()
