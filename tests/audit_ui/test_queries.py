"""Event list queries on SQLite and PostgreSQL: every filter, keyset pages, sort, CSV rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from audit_ui.queries import EventFilter, list_events, stream_events
from guard.audit.store import record_review
from tests.audit_ui.conftest import event, finding, seed, standard_events

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def ids(rows) -> list[str]:  # noqa: ANN001
    return [r.event_id for r in rows]


def q(store, **kw: str) -> list[str]:  # noqa: ANN001
    with Session(store.engine) as db:
        rows, _ = list_events(db, EventFilter(**kw), limit=100)
        return ids(rows)


def test_each_filter_selects_exactly_the_matching_events(any_store) -> None:
    seed(any_store, standard_events(NOW))
    with Session(any_store.engine) as db:
        record_review(db, 3, "false_positive", "rev")  # e03
        record_review(db, 2, "true_positive", "rev")  # e02
        db.commit()
    assert q(any_store) == ["e05", "e04", "e03", "e02", "e01"]
    assert q(any_store, sort="oldest") == ["e01", "e02", "e03", "e04", "e05"]
    assert q(any_store, user="alice") == ["e04", "e02"]
    assert q(any_store, group="eng") == ["e05", "e01"]
    assert q(any_store, group="fin") == []  # a group matches whole, not as a prefix
    assert q(any_store, action="block") == ["e03"]
    assert q(any_store, category="phone") == ["e05"]
    assert q(any_store, category="email") == ["e05", "e04", "e02"]
    assert q(any_store, provider="anthropic") == ["e03"]
    assert q(any_store, model="llama3") == ["e04"]
    assert q(any_store, review="false_positive") == ["e03"]
    assert q(any_store, review="unreviewed") == ["e05", "e04", "e01"]
    assert q(any_store, review="open") == ["e05", "e04"]  # e01 allowed with no findings: nothing to review
    assert q(any_store, rule="github-token") == ["e03"]
    assert q(any_store, conversation="conv-1") == ["e04", "e02", "e01"]
    assert q(any_store, q="CONFIDENTIAL") == ["e04"]  # case-insensitive search over the event's text
    assert q(any_store, q="100%") == []  # wildcards are literal
    start = (NOW - timedelta(minutes=35)).isoformat()
    end = (NOW - timedelta(minutes=15)).isoformat()
    assert q(any_store, start=start, end=end) == ["e04", "e03"]
    assert q(any_store, end=(NOW - timedelta(days=1)).date().isoformat()) == []
    assert q(any_store, end=NOW.date().isoformat()) == q(any_store)  # a bare date means through that day
    assert q(any_store, start="2026-03-10T12:00:00+02:00") == q(any_store)  # zone honoured: 10:00 UTC
    assert q(any_store, user="alice", category="email", action="redact") == ["e02"]


def test_keyset_pages_cover_every_event_once_in_order(any_store) -> None:
    # Equal timestamps included: the seq tiebreak keeps pages disjoint.
    evs = [event(event_id=f"k{i:03d}", time=NOW - timedelta(seconds=i // 3)) for i in range(125)]
    seed(any_store, evs)
    for sort in ("newest", "oldest"):
        seen: list[str] = []
        after = ""
        with Session(any_store.engine) as db:
            while True:
                rows, after = list_events(db, EventFilter(sort=sort), after=after, limit=50)
                seen += ids(rows)
                if not after:
                    break
        assert len(seen) == 125 and len(set(seen)) == 125
        with Session(any_store.engine) as db:
            assert seen == ids(stream_events(db, EventFilter(sort=sort)))


def test_malformed_cursor_starts_from_the_first_page(any_store) -> None:
    seed(any_store, standard_events(NOW))
    with Session(any_store.engine) as db:
        rows, _ = list_events(db, EventFilter(), after="not-a-cursor!", limit=2)
    assert ids(rows) == ["e05", "e04"]


def test_filters_from_the_query_string_are_bounded_and_sort_is_checked() -> None:
    f = EventFilter.from_query({"user": "  alice  ", "sort": "drop table", "q": "x" * 1000})
    assert f.user == "alice" and f.sort == "newest" and len(f.q) == 200
    assert f.query_items() == [("user", "alice"), ("q", "x" * 200)]


def test_findings_of_many_categories_list_the_event_once(any_store) -> None:
    seed(any_store, [event(event_id="multi", findings=(finding(), finding(), finding("phone")))])
    assert q(any_store, category="email") == ["multi"]


@pytest.mark.postgres
def test_search_and_group_indexes_match_the_queries_on_postgresql(pg_url) -> None:
    from sqlalchemy import text

    from audit_ui.pgindex import ensure_indexes
    from audit_ui.queries import page_query
    from guard.audit.store import open_store

    store = open_store(pg_url)
    try:
        seed(store, standard_events(NOW))
        # Not CONCURRENTLY here: that waits for every older transaction in the shared test database.
        assert ensure_indexes(store.engine, concurrently=False) == ["ix_ui_event_groups", "ix_ui_event_search_trgm"]
        assert ensure_indexes(store.engine, concurrently=False) == ["ix_ui_event_groups", "ix_ui_event_search_trgm"]
        for f, index in (
            (EventFilter(q="confidential"), "ix_ui_event_search_trgm"),
            (EventFilter(group="eng"), "ix_ui_event_groups"),
        ):
            stmt = page_query(f, dialect="postgresql").compile(
                dialect=store.engine.dialect, compile_kwargs={"render_postcompile": True}
            )
            with store.engine.connect() as c:
                # Few rows: forbid the other plans so the test shows the index *can* serve the query.
                c.execute(text("SET enable_seqscan = off"))
                c.execute(text("SET enable_indexscan = off"))
                plan = "\n".join(r[0] for r in c.exec_driver_sql("EXPLAIN " + str(stmt), stmt.params))
            assert index in plan, plan
        assert q(store, q="CONFIDENTIAL") == ["e04"] and q(store, group="eng") == ["e05", "e01"]
    finally:
        store.close()
