"""The store round-trips events, assigns a gapless seq and never stores a value twice by event id."""

from __future__ import annotations

from sqlalchemy import func, select

from guard.audit import chain
from guard.audit.models import AuditEventRow, FindingRow, Review
from guard.audit.records import event_from_row
from guard.audit.store import get_event, normalize_url, open_store, record_review
from tests.audit.factories import make_event


def test_normalize_url_uses_psycopg3_for_postgres_urls():
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("/tmp/x.db") == "sqlite:////tmp/x.db"


def test_when_events_appended_then_they_read_back_identically(store):
    events = [make_event(i) for i in range(5)]
    seqs = chain.append(store, events)
    assert seqs == [1, 2, 3, 4, 5]
    with store.session() as s:
        row = get_event(s, events[2].event_id)
        assert row is not None and row.seq == 3
        findings = s.execute(select(FindingRow.__table__).where(FindingRow.event_seq == 3)).mappings().all()
        ev_row = s.execute(select(AuditEventRow.__table__).where(AuditEventRow.seq == 3)).mappings().one()
    back = event_from_row(ev_row, findings)
    assert back == events[2]
    assert row.categories == "email,national_id,payment_card,person,secret"
    assert row.finding_count == 5


def test_when_same_event_id_appended_twice_then_stored_once(store):
    e = make_event()
    assert chain.append(store, [e, e]) == [1]
    assert chain.append(store, [e]) == []
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEventRow)) == 1


def test_record_review_sets_event_review_status(store):
    chain.append(store, [make_event()])
    with store.transaction() as s:
        record_review(s, 1, "false_positive", reviewer="bob", note="test data")
    with store.session() as s:
        assert s.get(AuditEventRow, 1).review_status == "false_positive"
        assert s.scalars(select(Review)).one().reviewer == "bob"
    # a review is not part of the hashed content: the chain still verifies
    assert chain.verify(store).ok


def test_open_store_twice_is_idempotent(db_url):
    open_store(db_url).close()
    s = open_store(db_url)
    chain.append(s, [make_event()])
    s.close()
