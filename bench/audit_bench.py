"""Audit store and SIEM export speed, each beside its baseline, same run.

    .venv/bin/python bench/audit_bench.py [--events 20000] [--repeat 3] [--ui-rows 1000000]
                                          [--sections write,hotpath,export,ui] [--out bench/results/audit.json]

write:   sustained AuditWriter rate (submit N events, flush) on SQLite and on PostgreSQL, against the
         naive baseline of one chained transaction per event; and the caller's submit() cost.
hotpath: what auditing costs the proxy's request path in-process: pattern-detection latency on a
         2 KB prompt with the writer idle (auditing off) vs absorbing a steady event stream (on).
export:  events/s from the outbox to each sink (JSON lines file, syslog UDP/TCP/TLS, Splunk HEC,
         webhook), receivers on 127.0.0.1 in this process.
ui:      the review UI's event-list query (audit_ui.queries.list_events) on PostgreSQL with
         --ui-rows events: p50/p95 per filter, with guard's indexes vs without secondary indexes.
Medians over --repeat runs. PostgreSQL: GUARD_TEST_PG_URL (default postgresql://postgres@127.0.0.1:5432/test),
in a schema created for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from guard.audit import chain  # noqa: E402
from guard.audit.store import open_store  # noqa: E402
from guard.audit.writer import AuditWriter  # noqa: E402
from guard.core import mask  # noqa: E402
from guard.events import AuditEvent, FindingRecord, fingerprint  # noqa: E402

PG = os.environ.get("GUARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
CATS = ("person", "email", "phone", "payment_card", "national_id", "bank_account", "ip_address", "address", "secret")


def make_events(n: int) -> list[AuditEvent]:
    """N events shaped like the proxy's: two findings each, timings, usage."""
    key = b"bench"
    out = []
    for i in range(n):
        fs = tuple(
            FindingRecord(c, c.upper(), f"{c}-rule", "messages[0].content", 5, 25, fingerprint(f"v{i}{c}", key), mask(f"value-{i}-{c}"), 0.9)
            for c in (CATS[i % 9], CATS[(i + 3) % 9])
        )
        out.append(AuditEvent(action=("allow", "redact", "block")[i % 3], provider="openai", endpoint="chat.completions",
                              model="gpt-4o-mini", destination="api.openai.com", route="public", identity=f"user{i % 50}",
                              groups=("eng",), client_address="10.0.0.7", conversation_id=f"c{i // 5}",
                              policy_rules=("redact-personal-data",), findings=fs, scanned=("messages[0].content",),
                              request_bytes=1200, response_bytes=800, timings_ms={"detect": 2.5, "total": 6.0},
                              upstream_status=200, usage={"prompt_tokens": 40, "completion_tokens": 9}))  # fmt: skip
    return out


class PgSchema:
    """A schema for one run; `url` points search_path at it."""

    def __init__(self) -> None:
        import psycopg

        self.name = f"guard_bench_{uuid.uuid4().hex[:10]}"
        self._pg = psycopg
        with psycopg.connect(PG, autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{self.name}"')
        self.url = f"{PG}{'&' if '?' in PG else '?'}options={quote(f'-csearch_path={self.name}')}"

    def drop(self) -> None:
        with self._pg.connect(PG, autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{self.name}" CASCADE')


def writer_rate(url: str, events: list[AuditEvent]) -> tuple[float, list[int]]:
    """Events/s from first submit to flush returning, and each submit() call's ns."""
    with tempfile.TemporaryDirectory() as spool:
        open_store(url).close()  # schema ready before timing
        w = AuditWriter(url, Path(spool)).start()
        costs = []
        t0 = time.perf_counter()
        for e in events:
            a = time.perf_counter_ns()
            w.submit(e)
            costs.append(time.perf_counter_ns() - a)
        assert w.flush(600)
        dt = time.perf_counter() - t0
        assert w.spooled == 0, "database was unreachable: the bench measured the spool"
        w.close()
    return len(events) / dt, costs


def naive_rate(url: str, events: list[AuditEvent]) -> float:
    """Baseline: one chained transaction per event, on the caller's thread."""
    store = open_store(url)
    t0 = time.perf_counter()
    for e in events:
        chain.append(store, [e])
    dt = time.perf_counter() - t0
    store.close()
    return len(events) / dt


def bench_write(n: int, repeat: int) -> dict:
    res: dict = {}
    for backend in ("sqlite", "postgresql"):
        rates, naive, costs = [], [], []
        for _ in range(repeat):
            tmp = tempfile.mkdtemp()
            pg = PgSchema() if backend == "postgresql" else None
            url = pg.url if pg else f"sqlite:///{tmp}/audit.db"
            try:
                r, c = writer_rate(url, make_events(n))
                rates.append(r)
                costs += c
                naive.append(naive_rate(url, make_events(max(200, n // 20))))
            finally:
                if pg:
                    pg.drop()
        costs.sort()
        res[backend] = {
            "writer_events_per_s": round(statistics.median(rates)),
            "naive_events_per_s": round(statistics.median(naive)),
            "ratio": round(statistics.median(rates) / statistics.median(naive), 1),
            "submit_us_p50": round(costs[len(costs) // 2] / 1000, 2),
            "submit_us_p99": round(costs[int(len(costs) * 0.99)] / 1000, 2),
        }
        print(f"write {backend}: {res[backend]}", flush=True)
    return res


def bench_hotpath(seconds: float, rate: int) -> dict:
    """Detection latency on the request path with the audit writer idle vs under a steady stream."""
    from guard.detect.engine import build_engine

    engine = build_engine(models=False)
    base = ("Please review the contract for Jane Roe, card 4539 1488 0343 6467, mail jane.roe@example.com. " * 22)[:2048]

    def measure(tag: str) -> list[float]:
        out, i, end = [], 0, time.monotonic() + seconds
        while time.monotonic() < end:
            text = f"{tag}{i} {base}"  # unique: the engine's per-text cache must not answer
            a = time.perf_counter()
            engine.scan(text)
            out.append((time.perf_counter() - a) * 1000)
            i += 1
        return sorted(out)

    with tempfile.TemporaryDirectory() as tmp:
        w = AuditWriter(f"sqlite:///{tmp}/audit.db", Path(tmp) / "spool").start()
        w.submit(make_events(1)[0])
        w.flush(30)
        off = measure("off")
        stop = threading.Event()
        events = make_events(rate)

        def feed() -> None:
            while not stop.is_set():
                t = time.monotonic()
                for e in events:
                    w.submit(dataclasses.replace(e, event_id=uuid.uuid4().hex))
                stop.wait(max(0.0, 1.0 - (time.monotonic() - t)))

        th = threading.Thread(target=feed, daemon=True)
        th.start()
        on = measure("on")
        stop.set()
        th.join()
        w.close()
    p = lambda xs, q: round(xs[int(len(xs) * q)], 3)  # noqa: E731
    res = {"audit_events_per_s": rate, "off_ms_p50": p(off, 0.5), "off_ms_p99": p(off, 0.99),
           "on_ms_p50": p(on, 0.5), "on_ms_p99": p(on, 0.99), "ratio_p50": round(p(on, 0.5) / p(off, 0.5), 2)}  # fmt: skip
    print(f"hotpath: {res}", flush=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--ui-rows", type=int, default=1_000_000)
    ap.add_argument("--sections", default="write,hotpath,export,ui")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "audit.json")
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    out: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "events": args.events, "cpus": os.cpu_count()}
    if "write" in sections:
        out["write"] = bench_write(args.events, args.repeat)
    if "hotpath" in sections:
        # 200/s is a busy single proxy; 2000/s is more than this writer sustains on a loaded box (saturated).
        out["hotpath"] = [bench_hotpath(5.0, rate) for rate in (200, 2000)]
    if "export" in sections:
        from audit_bench_export import bench_export

        out["export"] = bench_export(args.events, args.repeat, make_events)
    if "ui" in sections:
        from audit_bench_ui import bench_ui

        out["ui"] = bench_ui(args.ui_rows, PgSchema)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
