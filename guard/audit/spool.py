"""The local append-only spool that holds audit events while the database is unreachable.

Format: one record per line, `<crc32 of the JSON, 8 hex digits> <JSON event>\\n`, appended and
fsync'd per batch. A torn last line (the process died mid-write, so that batch was never
acknowledged) fails its checksum and is cut off when the spool is next opened. One process owns a
spool directory at a time (an flock on `spool.lock`, released by the kernel even after kill -9).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

from guard.audit.records import event_from_json, event_to_json
from guard.events import AuditEvent

log = logging.getLogger(__name__)
SPOOL_NAME = "audit-spool.jsonl"


class SpoolLocked(RuntimeError):
    """Another process already owns this spool directory."""


def _encode(e: AuditEvent) -> bytes:
    body = json.dumps(event_to_json(e), separators=(",", ":"), ensure_ascii=False).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def _decode(line: bytes) -> AuditEvent | None:
    if len(line) < 10 or not line.endswith(b"\n") or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        return event_from_json(json.loads(body))
    except (ValueError, TypeError, KeyError):
        return None


class Spool:
    """Append-only, checksummed, fsync'd event file in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.path = self.dir / SPOOL_NAME
        self._lock = open(self.dir / "spool.lock", "a+b")  # noqa: SIM115  (held for the spool's lifetime)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise SpoolLocked(f"spool {self.dir} is in use by another process") from None
        self.count = self._repair()
        self._fh = open(self.path, "ab")  # noqa: SIM115

    def _repair(self) -> int:
        """Cut the file after its last valid record; return how many valid records it holds."""
        if not self.path.exists():
            return 0
        good_end, n = 0, 0
        with open(self.path, "rb") as fh:
            for line in fh:
                if _decode(line) is None:
                    break
                good_end += len(line)
                n += 1
        if good_end != self.path.stat().st_size:
            log.warning("audit spool: cut %d bytes of a torn record", self.path.stat().st_size - good_end)
            with open(self.path, "r+b") as fh:
                fh.truncate(good_end)
                os.fsync(fh.fileno())
        return n

    @property
    def bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def append(self, events: Sequence[AuditEvent]) -> None:
        """Append events and fsync: when this returns they survive a crash."""
        self._fh.write(b"".join(_encode(e) for e in events))
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.count += len(events)

    def append_rejected(self, event: AuditEvent) -> None:
        """Keep an event the database refuses, in the spool's format, beside the spool.

        Written as ASCII JSON, which any string can take; an event that cannot be serialized at all
        leaves a line with its id and the error class, so setting it aside never fails on content.
        """
        try:
            body = json.dumps(event_to_json(event), separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            body = json.dumps({"event_id": str(event.event_id), "unserializable": type(exc).__name__})
        line = b"%08x %s\n" % (zlib.crc32(body.encode()), body.encode())
        with open(self.dir / "rejected.jsonl", "ab") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def read(self, batch: int = 500) -> Iterator[list[AuditEvent]]:
        """Yield the spooled events in order, `batch` at a time."""
        out: list[AuditEvent] = []
        with open(self.path, "rb") as fh:
            for line in fh:
                e = _decode(line)
                if e is None:
                    break  # _repair guarantees this only happens at a torn end
                out.append(e)
                if len(out) >= batch:
                    yield out
                    out = []
        if out:
            yield out

    def clear(self) -> None:
        """Empty the spool once every record is in the database."""
        self._fh.truncate(0)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.count = 0

    def close(self) -> None:
        self._fh.close()
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()
