"""An event no store can take is set aside in rejected.jsonl, so the events after it are still stored.

A poison event used to jam the writer: it retried the same batch forever and nothing submitted after
it was ever stored (tests/e2e/test_fuzz_proxy_e2e.py found one; its cause is fixed). Here the poison is
an event holding a value JSON cannot encode, which fails the store, the spool and the rejected file's
usual format alike.
"""

from __future__ import annotations

import json
import logging

from sqlalchemy import select

from guard.audit import chain
from guard.audit.models import AuditEventRow
from guard.audit.store import open_store
from guard.audit.writer import MAX_ATTEMPTS, AuditWriter
from tests.audit.factories import make_event


def _poison():
    return make_event(99, usage={"total_tokens": object()})  # what a bug upstream of the writer could leave


def _stored(url: str) -> list[str]:
    s = open_store(url)
    try:
        with s.session() as ses:
            return list(ses.scalars(select(AuditEventRow.event_id).order_by(AuditEventRow.seq)))
    finally:
        assert chain.verify(s).ok
        s.close()


def _rejected(spool) -> list[dict]:
    return [json.loads(line[9:]) for line in (spool / "rejected.jsonl").read_text().splitlines()]


def test_when_the_store_refuses_an_unserializable_event_then_it_is_set_aside_and_later_ones_stored(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    good, bad = [make_event(i) for i in range(4)], _poison()
    w = AuditWriter(url, tmp_path / "spool").start()
    for e in [*good[:2], bad, *good[2:]]:
        w.submit(e)
    assert w.close(timeout=20)
    assert _stored(url) == [e.event_id for e in good]
    assert w.rejected == 1 and _rejected(tmp_path / "spool") == [
        {"event_id": bad.event_id, "unserializable": "TypeError"}
    ]


def test_when_an_event_fails_to_store_five_times_then_it_is_rejected_and_the_others_drain_in_order(tmp_path, caplog):
    # The SQLite file's directory is a file for now: the store cannot open, so events go to the spool,
    # which cannot take the poison either; the whole batch fails until the writer tries its events singly.
    db_dir = tmp_path / "later"
    db_dir.write_text("not a directory yet")
    url = f"sqlite:///{db_dir / 'audit.db'}"
    good, bad = [make_event(i) for i in range(3)], _poison()
    w = AuditWriter(url, tmp_path / "spool", retry_initial=0.2, retry_max=0.2).start()
    caplog.set_level(logging.ERROR, logger="guard.audit.writer")
    for e in [good[0], bad, *good[1:]]:
        w.submit(e)
    assert w.flush(timeout=20)  # acknowledged: spooled, or set aside
    assert w.rejected == 1 and w.spool_size == 3
    tries = [r for r in caplog.records if "could not store" in r.getMessage()]
    assert len(tries) == MAX_ATTEMPTS and all("(TypeError)" in r.getMessage() for r in tries)
    assert (
        f"audit event {bad.event_id} refused by the store (TypeError) after {MAX_ATTEMPTS} failed attempts"
        in caplog.text
    )
    db_dir.unlink()  # the store comes back: the spool drains into it, then the new event
    db_dir.mkdir()
    w.submit(after := make_event(7))
    assert w.close(timeout=20)
    assert _stored(url) == [e.event_id for e in [*good, after]]
    assert [r["event_id"] for r in _rejected(tmp_path / "spool")] == [bad.event_id]
