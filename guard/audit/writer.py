"""AuditWriter: takes events from the proxy without blocking it and makes them durable in batches.

Acknowledged, precisely: an event is acknowledged when `flush()` returns True after the
`submit()` of that event returned (or `close()` returned). At that point it is either committed
to the database (SQLite with synchronous=FULL, or PostgreSQL) or appended and fsync'd to the spool
file. An acknowledged event survives kill -9 and is stored exactly once after restart: the spool
drains in order before newer events, and event_id is unique (duplicates are skipped on drain).
Events submitted but not yet acknowledged live only in memory and may be lost on kill -9.

Retention: with GUARD_AUDIT_RETENTION set (or `retention=`), the writer purges older events once a
day while idle, as `guard audit purge` would. If the database is unreachable, batches go to the spool instead, and the writer retries with
exponential backoff; when the database answers again the spool drains first, then new events.

Poison events: an event the database refuses while it answers, or one in a batch that failed
MAX_ATTEMPTS times in a row and still fails alone, goes to spool_dir/rejected.jsonl (logged with its
id and the error class), so the events after it are stored.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from guard.audit import chain
from guard.audit.purge import parse_age, purge
from guard.audit.spool import Spool
from guard.audit.store import Store, open_store, redact_url
from guard.config import settings
from guard.events import AuditEvent

log = logging.getLogger(__name__)
_STOP = object()
# After the first event of a batch, the writer lets others gather this long before it writes: one
# thread wake-up and one transaction per batch rather than per request under load (each wake-up takes
# the GIL and a core slice from the proxy's event loop while it relays replies).
LINGER_S = 0.05
MAX_ATTEMPTS = 5  # a batch failing this many times in a row is retried one event at a time; failures set aside


class AuditWriter:
    """Batch audit events from a queue into the store on a background thread, spooling on outage."""

    def __init__(
        self,
        db_url: str,
        spool_dir: Path,
        *,
        batch_size: int = 500,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
        connect_timeout: float = 3.0,
        retention: timedelta | None | str = "setting",
    ) -> None:
        self.db_url = db_url
        self.spool_dir = Path(spool_dir)
        self.batch_size = batch_size
        self.retry_initial, self.retry_max = retry_initial, retry_max
        self.connect_timeout = connect_timeout
        if retention == "setting":
            age = settings().audit_retention
            retention = parse_age(age) if age else None
        self.retention: timedelta | None = retention  # type: ignore[assignment]
        self._next_purge = 0.0
        self._q: queue.SimpleQueue[tuple[int, AuditEvent] | object] = queue.SimpleQueue()
        self._count_lock = threading.Lock()
        self._submitted = 0  # number given to the last submitted event
        self._durable = 0  # every event numbered <= this is acknowledged
        self._cond = threading.Condition()
        self._store: Store | None = None
        self._spool: Spool | None = None
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self._backoff = retry_initial
        self.written = 0  # events committed to the database by this writer
        self.spooled = 0  # events that went through the spool
        self.db_errors = 0
        self.rejected = 0  # events the database refused (kept in spool_dir/rejected.jsonl)

    # -- the proxy's side: cheap and never raising --------------------------------------------------

    def submit(self, event: AuditEvent) -> None:
        """Queue an event for writing; never blocks on I/O and never raises."""
        try:
            with self._count_lock:
                self._submitted += 1
                self._q.put((self._submitted, event))
        except Exception:  # noqa: BLE001  (auditing must never break the request path)
            log.exception("audit submit failed")

    @property
    def queue_depth(self) -> int:
        return max(0, self._submitted - self._durable)

    @property
    def spool_size(self) -> int:
        """Events waiting in the spool file for the database."""
        return self._spool.count if self._spool else 0

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every event submitted before this call is acknowledged; False on timeout."""
        target = self._submitted
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._durable < target:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                if self._thread is None or not self._thread.is_alive():
                    return False
                self._cond.wait(0.5 if left is None else min(left, 0.5))
        return True

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> AuditWriter:
        """Open the spool (raises SpoolLocked if another process owns it) and start the thread."""
        self._spool = Spool(self.spool_dir)
        self._thread = threading.Thread(target=self._run, name="guard-audit-writer", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 30.0) -> bool:
        """Flush, stop the thread and release the spool; True if everything was acknowledged."""
        ok = self.flush(timeout)
        self._q.put(_STOP)
        if self._thread is not None:
            self._thread.join(timeout)
        if self._spool is not None:
            self._spool.close()
        if self._store is not None:
            self._store.close()
        return ok

    # -- the background thread ---------------------------------------------------------------------

    def _run(self) -> None:
        pending: list[tuple[int, AuditEvent]] = []
        stopping = False
        failures = 0  # attempts in a row that raised
        while True:
            stopping = self._take(pending) or stopping
            try:
                self._process([e for _, e in pending])
            except Exception as exc:  # noqa: BLE001  (e.g. disk full with the database down: keep, retry)
                # The class only: messages can quote event values.
                log.error("audit writer could not store %d events (%s); retrying", len(pending), type(exc).__name__)
                failures += 1
                if failures >= MAX_ATTEMPTS:  # maybe one event no store can take: find it, keep the others moving
                    pending, failures = self._one_by_one(pending), 0
                if not stopping:
                    time.sleep(0.5)
                    continue
            else:
                failures = 0
                if pending:
                    self._acknowledge(pending[-1][0])
                    pending = []
            if stopping:
                break
            if not pending and self.retention is not None:
                self._maybe_purge()

    def _acknowledge(self, number: int) -> None:
        with self._cond:
            self._durable = number
            self._cond.notify_all()

    def _one_by_one(self, pending: list[tuple[int, AuditEvent]]) -> list[tuple[int, AuditEvent]]:
        """Store events singly; one that still fails goes to rejected.jsonl. Return what is left to retry."""
        for i, (n, e) in enumerate(pending):
            try:
                self._process([e])
            except Exception as exc:  # noqa: BLE001
                try:
                    self._reject(e, exc, f"after {MAX_ATTEMPTS} failed attempts")
                except Exception as exc2:  # noqa: BLE001  (no disk either: an outage, not this event; keep all)
                    log.error("audit event %s could not be set aside either (%s)", e.event_id, type(exc2).__name__)
                    return pending[i:]
            self._acknowledge(n)
        return []

    def _maybe_purge(self) -> None:
        """Apply GUARD_AUDIT_RETENTION once a day while idle (recorded only when it deleted something)."""
        if time.monotonic() < self._next_purge or (self._spool and self._spool.count) or not self._db_ready():
            return
        self._next_purge = time.monotonic() + 24 * 3600
        try:
            res = purge(self._store, self.retention, actor="guard retention", record_empty=False)  # type: ignore[arg-type]
            if res.deleted:
                log.info("audit retention: purged %d events older than %s", res.deleted, res.cutoff.isoformat())
        except Exception as exc:  # noqa: BLE001
            log.warning("audit retention purge failed (%s); retrying in an hour", type(exc).__name__)
            self._next_purge = time.monotonic() + 3600

    def _take(self, pending: list[tuple[int, AuditEvent]]) -> bool:
        """Fill `pending` up to a batch from the queue; True once the stop marker was seen."""
        wait = 0.0 if pending else self._idle_wait()
        while len(pending) < self.batch_size:
            try:
                item = self._q.get(timeout=wait) if wait else self._q.get_nowait()
            except queue.Empty:
                return False
            if item is _STOP:
                return True
            pending.append(item)  # type: ignore[arg-type]
            if wait:  # woken by the first event of a batch: let the others gather (one wake-up per batch)
                time.sleep(LINGER_S)
            wait = 0.0
        return False

    def _idle_wait(self) -> float:
        if self._spool and self._spool.count:
            return max(0.05, min(1.0, self._retry_at - time.monotonic()))
        return 1.0

    def _process(self, events: list[AuditEvent]) -> None:
        assert self._spool is not None
        if self._spool.count and not self._drain():
            self._to_spool(events)
            return
        if not events:
            return
        if not self._db_ready() or not self._write(events):
            self._to_spool(events)

    def _to_spool(self, events: list[AuditEvent]) -> None:
        assert self._spool is not None
        if events:
            self._spool.append(events)
            self.spooled += len(events)

    def _db_ready(self) -> bool:
        if time.monotonic() < self._retry_at:
            return False
        if self._store is None:
            try:
                self._store = open_store(self.db_url, connect_timeout=self.connect_timeout)
            except Exception as exc:  # noqa: BLE001
                self._failed(exc)
                return False
        return True

    def _write(self, events: list[AuditEvent]) -> bool:
        assert self._store is not None
        stored = len(events)
        try:
            chain.append(self._store, events)
        except Exception as exc:  # noqa: BLE001
            if not self._answers():
                self._failed(exc)
                return False
            # The database is up but refused the batch: store what it accepts one event at a time
            # and set the rest aside, so one malformed event never holds up the others.
            for e in events:
                try:
                    chain.append(self._store, [e])
                except Exception as exc2:  # noqa: BLE001
                    if not self._answers():
                        self._failed(exc2)
                        return False  # the batch is spooled; events already stored are skipped on drain
                    self._reject(e, exc2)
                    stored -= 1
        self.written += stored
        self._backoff = self.retry_initial
        return True

    def _answers(self) -> bool:
        try:
            with self._store.engine.connect() as c:  # type: ignore[union-attr]
                c.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001
            return False

    def _reject(self, event: AuditEvent, exc: Exception, when: str = "") -> None:
        """Keep an event the database refuses in rejected.jsonl (spool format) and say so."""
        assert self._spool is not None
        self._spool.append_rejected(event)
        self.rejected += 1
        log.error("audit event %s refused by the store (%s)%s; kept in %s", event.event_id, type(exc).__name__,
                  f" {when}" if when else "", self._spool.dir / "rejected.jsonl")  # fmt: skip

    def _failed(self, exc: Exception) -> None:
        # The class only: driver messages can quote SQL parameters, and parameters are audit data.
        self.db_errors += 1
        log.warning(
            "audit store %s unavailable (%s); spooling, retry in %.1fs",
            redact_url(self.db_url),
            type(exc).__name__,
            self._backoff,
        )
        self._retry_at = time.monotonic() + self._backoff
        self._backoff = min(self.retry_max, self._backoff * 2)

    def _drain(self) -> bool:
        """Move every spooled event into the database in order; False if it is still unreachable."""
        assert self._spool is not None
        if not self._db_ready():
            return False
        for events in self._spool.read(self.batch_size):
            if not self._write(events):
                return False
        self._spool.clear()
        log.info("audit spool drained into %s", redact_url(self.db_url))
        return True

    def ping(self) -> bool:
        """True if the database answers now (for a health endpoint)."""
        store = self._store or open_store(self.db_url, migrate_schema=False, connect_timeout=self.connect_timeout)
        try:
            with store.engine.connect() as c:
                c.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001
            return False
        finally:
            if store is not self._store:
                store.close()
