"""A lone surrogate from a request (JSON "\\ud800" in `model`, an undecodable header byte) cannot jam auditing.

Found by tests/e2e/test_fuzz_proxy_e2e.py: such an event could be encoded neither by the store nor by
the rejected-events file, so the writer retried it forever and no later event was stored.
"""

from __future__ import annotations

from sqlalchemy import select

from guard.audit import chain
from guard.audit.models import AuditEventRow
from guard.audit.writer import AuditWriter
from guard.events import FindingRecord
from tests.audit.factories import make_event


def test_when_an_event_holds_lone_surrogates_then_it_is_stored_replaced_and_later_events_follow(store, tmp_path):
    finding = FindingRecord("email", "EMAIL_ADDRESS", "email-address", "x\udcff", 0, 3, "ab", "a\ud800b")
    w = AuditWriter(store.url, tmp_path / "spool").start()
    w.submit(make_event(model="\ud800gpt", identity="u\udcff", scanned=("k\ud800",), findings=(finding,)))
    w.submit(make_event(model="after"))
    assert w.close(timeout=10)
    with store.session() as s:
        rows = list(s.scalars(select(AuditEventRow).order_by(AuditEventRow.seq)))
    assert [r.model for r in rows] == ["?gpt", "after"] and rows[0].identity == "u?"
    assert w.rejected == 0 and chain.verify(store).ok
