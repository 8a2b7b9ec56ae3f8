"""Child process for the kill -9 tests: submit events forever, print `ACK n` after each flush.

`ACK n` means events 0..n-1 are acknowledged (flush returned True), the definition the test holds
the writer to after kill -9.
"""

from __future__ import annotations

import sys
from pathlib import Path

from guard.audit.writer import AuditWriter
from tests.audit.factories import make_event


def main() -> None:
    url, spool, prefix = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    w = AuditWriter(url, spool, retry_initial=0.1, retry_max=0.5, connect_timeout=1).start()
    n = 0
    while True:
        for _ in range(50):
            w.submit(make_event(n, event_id=f"{prefix}{n:08d}"))
            n += 1
        if w.flush(30):
            print(f"ACK {n} spool={w.spool_size}", flush=True)


if __name__ == "__main__":
    main()
