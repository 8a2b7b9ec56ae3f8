"""Interim audit sink: append-only JSONL, written by a background thread so the proxy never waits.

Same `.submit(event)` interface as guard.audit.writer.AuditWriter; the proxy uses that one when it
exists. Events carry no raw values (see guard.events), so the file holds nothing sensitive.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from pathlib import Path

from guard.events import AuditEvent

log = logging.getLogger(__name__)
_STOP = object()
# After the first event of a batch, the writer lets others gather this long before it drains the
# queue: one thread wake-up per batch rather than per request. Each wake-up takes the GIL and a core
# slice from the proxy's event loop at the moment it is relaying a reply.
LINGER_S = 0.05


class JsonlAuditSink:
    """Queue audit events and append them, one JSON object per line, from a writer thread."""

    def __init__(self, path: Path, max_queue: int = 100_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.dropped = 0
        self.written = 0
        self._queue: queue.Queue[object] = queue.Queue(max_queue)
        self._thread = threading.Thread(target=self._run, name="guard-audit-jsonl", daemon=True)
        self._thread.start()

    def submit(self, event: AuditEvent) -> None:
        """Queue an event; never blocks (a full queue drops the event and counts it)."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            log.error("audit queue full: event dropped (%d dropped so far)", self.dropped)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until every queued event is on disk (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def close(self) -> None:
        """Write what is queued and stop the writer thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            while True:
                batch = [self._queue.get()]
                time.sleep(LINGER_S)
                while True:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                for item in batch:
                    if item is _STOP:
                        fh.flush()
                        return
                    if isinstance(item, threading.Event):
                        fh.flush()
                        item.set()
                        continue
                    try:
                        fh.write(json.dumps(item.to_dict(), default=str, ensure_ascii=False) + "\n")  # type: ignore[attr-defined]
                        self.written += 1
                    except Exception as exc:  # one bad event must not stop the writer
                        log.error("audit event not written: %s", type(exc).__name__)
                fh.flush()
