"""The durable outbox: ship events after a per-target cursor, in seq order, at least once.

The cursor (audit_export_cursor, one row per target name) moves only after the sink reported a
batch delivered, in its own transaction. A crash between delivery and the cursor update resends
that batch on restart (at-least-once); a sink that is down holds the cursor and is retried with
exponential backoff, so nothing is skipped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict

from sqlalchemy import select

from guard.audit.models import AuditEventRow, ExportCursor, FindingRow, utcnow
from guard.audit.records import event_from_row
from guard.audit.store import Store
from guard.siem.ecs import Exported
from guard.siem.sinks import Sink, SinkError

log = logging.getLogger(__name__)
_EV = AuditEventRow.__table__  # type: ignore[attr-defined]
_FI = FindingRow.__table__  # type: ignore[attr-defined]


class Exporter:
    """Move events from the store to one sink, tracking progress under `name`."""

    def __init__(
        self,
        store: Store,
        sink: Sink,
        name: str,
        batch_size: int = 500,
        retry_initial: float = 1.0,
        retry_max: float = 60.0,
    ) -> None:
        self.store, self.sink, self.name = store, sink, name
        self.batch_size = batch_size
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.delivered = 0
        self.failures = 0

    def cursor(self) -> int:
        """The last seq delivered to this target (0 before the first)."""
        with self.store.session() as s:
            c = s.get(ExportCursor, self.name)
            return c.seq if c else 0

    def fetch(self, after: int) -> list[Exported]:
        """The next batch of events with seq > `after`, in order, with their findings."""
        with self.store.session() as s:
            rows = (
                s.execute(select(_EV).where(_EV.c.seq > after).order_by(_EV.c.seq).limit(self.batch_size))
                .mappings()
                .all()
            )
            if not rows:
                return []
            fmap: dict[int, list] = defaultdict(list)
            lo, hi = rows[0]["seq"], rows[-1]["seq"]
            for f in s.execute(select(_FI).where(_FI.c.event_seq >= lo, _FI.c.event_seq <= hi)).mappings():
                fmap[f["event_seq"]].append(f)
        return [Exported(r["seq"], r["hash"], r["prev_hash"], event_from_row(r, fmap.get(r["seq"], ()))) for r in rows]

    def _advance(self, seq: int, n: int) -> None:
        with self.store.transaction() as s:
            c = s.get(ExportCursor, self.name)
            if c is None:
                s.add(ExportCursor(name=self.name, seq=seq, delivered=n, updated_at=utcnow()))
            else:
                c.seq, c.delivered, c.updated_at = seq, c.delivered + n, utcnow()

    def run_once(self) -> int:
        """Deliver one batch and advance the cursor; return how many events went out (0: none new)."""
        batch = self.fetch(self.cursor())
        if not batch:
            return 0
        self.sink.send(batch)  # raises SinkError: cursor untouched
        self._advance(batch[-1].seq, len(batch))
        self.delivered += len(batch)
        return len(batch)

    def run(
        self, follow: bool = False, poll: float = 1.0, max_failures: int = 5, stop: threading.Event | None = None
    ) -> int:
        """Deliver until caught up (or forever with `follow`); return events delivered by this call.

        Retries a failing sink with backoff; without `follow`, gives up after `max_failures`
        consecutive failures by raising SinkError (the cursor still marks the last good batch).
        """
        stop = stop or threading.Event()
        backoff, streak, start = self.retry_initial, 0, self.delivered
        while not stop.is_set():
            try:
                n = self.run_once()
            except SinkError as exc:
                self.failures += 1
                streak += 1
                log.warning("export %s: %s; retrying in %.1fs", self.name, exc, backoff)
                if not follow and streak >= max_failures:
                    raise
                stop.wait(backoff)
                backoff = min(self.retry_max, backoff * 2)
                continue
            backoff, streak = self.retry_initial, 0
            if n == 0:
                if not follow:
                    break
                stop.wait(poll)
        return self.delivered - start


def wait_caught_up(exporter: Exporter, timeout: float = 30.0) -> bool:
    """True once the exporter's cursor reaches the newest event (for tests and benchmarks)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with exporter.store.session() as s:
            last = s.scalar(select(_EV.c.seq).order_by(_EV.c.seq.desc()).limit(1)) or 0
        if exporter.cursor() >= last:
            return True
        time.sleep(0.05)
    return False
