"""Review UI event-list page latency with a million events in PostgreSQL, with query plans.

    .venv/bin/python bench/ui_bench.py [--rows 1000000] [--reps 30] [--out bench/results/ui.json] [--keep]

Fills a schema created for the run (GUARD_TEST_PG_URL, default postgresql://postgres@127.0.0.1:5432/test)
with --rows synthetic events over 180 days (5,000 users, 40 groups, 10 models, 60 % allow / 30 % redact /
7 % block / 3 % route_private, two findings per non-allow event, 3.5 % reviewed) by INSERT ... SELECT
generate_series, migrated by guard's own Alembic schema and indexes. Then times GET /events through the
real app (session check, query, template) for each filter, signed in as an auditor; p50 / p95 over --reps.
Baseline side by side: the same deep page fetched with OFFSET instead of the keyset cursor the UI uses.
EXPLAIN (ANALYZE, BUFFERS) of each filter's query is printed and saved. The chain hashes are placeholders:
the list page never reads them. The schema is dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from audit_ui.app import create_app  # noqa: E402
from audit_ui.core.config import Settings  # noqa: E402
from audit_ui.core.security import hash_password  # noqa: E402
from audit_ui.pgindex import ensure_indexes  # noqa: E402
from audit_ui.queries import EventFilter, page_query  # noqa: E402
from guard.audit.models import User  # noqa: E402
from guard.audit.store import open_store  # noqa: E402

PG_URL = os.environ.get("GUARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "bench password 1234"

FILL_EVENTS = """
INSERT INTO audit_event (seq, event_id, time, kind, action, provider, endpoint, model, destination, route, identity,
  groups, client_address, source, conversation_id, monitor, policy_rules, classifications, reason, scanned, skipped,
  failed, request_bytes, response_bytes, timings_ms, upstream_status, usage, error, categories, finding_count,
  review_status, evidence, prev_hash, hash)
SELECT g, md5(g::text), now() - ((:n - g) * interval '1 second' * (15552000.0 / :n)), 'request',
  CASE WHEN g * 7919 % 100 < 60 THEN 'allow' WHEN g * 7919 % 100 < 90 THEN 'redact'
       WHEN g * 7919 % 100 < 97 THEN 'block' ELSE 'route_private' END,
  (ARRAY['openai','anthropic','gemini','azure_openai','ollama'])[1 + g % 5], 'chat.completions',
  (ARRAY['gpt-4o','gpt-4o-mini','o3','claude-3-5-sonnet','claude-3-haiku','gemini-1.5-pro','gemini-1.5-flash',
         'llama3','mistral','gpt-4.1'])[1 + (g / 3) % 10],
  (ARRAY['api.openai.com','api.anthropic.com','generativelanguage.googleapis.com','corp.openai.azure.com','llm.internal'])[1 + g % 5],
  CASE WHEN g * 7919 % 100 >= 97 THEN 'private' ELSE 'public' END,
  'user' || (g * 104729 % 5000), json_build_array('team' || (g * 31 % 40), 'staff'), '10.1.2.3', 'api',
  'c' || (g / 8), false, '["redact-personal-data"]'::json, '[]'::json,
  CASE WHEN g % 997 = 0 THEN 'marked confidential: project aurora' ELSE 'personal data redacted' END,
  '["messages[0].content"]'::json, '[]'::json, '[]'::json, 1500, 900, '{"detect": 2.5, "total": 6.0}'::json, 200,
  '{"prompt_tokens": 40}'::json, '',
  CASE WHEN g * 7919 % 100 < 60 THEN '' ELSE 'email,person' END,
  CASE WHEN g * 7919 % 100 < 60 THEN 0 ELSE 2 END,
  CASE WHEN g * 7919 % 100 < 60 THEN 'unreviewed' WHEN g % 1000 < 20 THEN 'true_positive'
       WHEN g % 1000 < 30 THEN 'false_positive' WHEN g % 1000 < 35 THEN 'needs_follow_up' ELSE 'unreviewed' END,
  NULL, md5((g - 1)::text) || md5((g - 1)::text), md5(g::text) || md5(g::text)
FROM generate_series(1::bigint, CAST(:n AS bigint)) g
"""
# Two findings per non-allow event; bank_account is the rare category (about 1 % of findings).
FILL_FINDINGS = """
INSERT INTO audit_finding (category, entity_type, rule_id, field, start, "end", fingerprint, preview, score, event_seq, ordinal)
SELECT CASE WHEN o = 0 THEN (ARRAY['person','email','phone','payment_card','national_id','ip_address','address','secret'])[1 + g % 8]
            WHEN g % 100 = 0 THEN 'bank_account' ELSE 'email' END,
       'X', CASE WHEN o = 0 THEN 'rule-' || (g % 8) ELSE 'email-address' END, 'messages[0].content', 0, 10,
       md5(g::text || o::text) || md5(o::text), 'ab…yz (10)', 0.9, g, o
FROM generate_series(1::bigint, CAST(:n AS bigint)) g, generate_series(0, 1) o WHERE g * 7919 % 100 >= 60
"""

SCENARIOS: dict[str, dict[str, str]] = {
    "newest, no filter": {},
    "oldest first": {"sort": "oldest"},
    "user": {"user": "user42"},
    "group": {"group": "team7"},
    "action=block": {"action": "block"},
    "category=payment_card": {"category": "payment_card"},
    "category=bank_account (rare)": {"category": "bank_account"},
    "provider + model": {"provider": "gemini", "model": "gemini-1.5-pro"},
    "review=open (queue)": {"review": "open"},
    "review=false_positive": {"review": "false_positive"},
    "rule=rule-3": {"rule": "rule-3"},
    "last 24 h + action=redact": {"action": "redact", "start": "__24h__"},
    "user + action=block": {"user": "user42", "action": "block"},
    "search 'aurora' (0.1 %)": {"q": "aurora"},
    "search, no match": {"q": "no-such-text-anywhere"},
}


def _pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))], 1)


def _timed_get(client: TestClient, url: str, reps: int) -> tuple[float, float]:
    client.get(url)  # warm the plan and the cache once
    out = []
    for _ in range(reps):
        a = time.perf_counter()
        r = client.get(url)
        out.append((time.perf_counter() - a) * 1000)
        assert r.status_code == 200, r.status_code
    return round(statistics.median(out), 1), _pct(out, 0.95)


def _explain(engine, stmt) -> str:  # noqa: ANN001
    compiled = stmt.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    with engine.connect() as c:
        rows = c.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + str(compiled), compiled.params).all()
    return "\n".join(r[0] for r in rows)


def _sql_ms(engine, sql: str, reps: int) -> tuple[float, float]:  # noqa: ANN001
    out = []
    with engine.connect() as c:
        c.execute(text(sql)).all()
        for _ in range(reps):
            a = time.perf_counter()
            c.execute(text(sql)).all()
            out.append((time.perf_counter() - a) * 1000)
    return round(statistics.median(out), 1), _pct(out, 0.95)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="events to insert")
    ap.add_argument("--reps", type=int, default=30, help="timed requests per scenario")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ui.json")
    ap.add_argument("--keep", action="store_true", help="keep the schema (name printed) instead of dropping it")
    a = ap.parse_args()

    schema = f"guard_ui_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options={quote(f'-csearch_path={schema}')}"
    try:
        store = open_store(url)
        t0 = time.perf_counter()
        with store.engine.begin() as c:
            c.execute(text(FILL_EVENTS), {"n": a.rows})
            c.execute(text(FILL_FINDINGS), {"n": a.rows})
        with store.engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        fill_s = time.perf_counter() - t0
        print(f"filled {a.rows} events in {fill_s:.0f} s (schema {schema})", flush=True)
        with Session(store.engine) as s:
            s.add(User(name="bench", role="auditor", password_hash=hash_password(PASSWORD)))
            s.commit()
        app = create_app(Settings(database_url=url, search_indexes=False))
        client = TestClient(app)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token})

        with store.engine.connect() as c:
            newest = c.execute(text("SELECT max(time) FROM audit_event")).scalar_one()
        since = (newest.replace(microsecond=0) - __import__("datetime").timedelta(hours=24)).isoformat()
        results: dict[str, dict] = {}
        # Baseline for the expression indexes the UI adds on PostgreSQL: the same filters before them.
        for name in ("group", "search 'aurora' (0.1 %)", "search, no match"):
            params = SCENARIOS[name]
            p50, p95 = _timed_get(client, "/events?" + "&".join(f"{k}={quote(v)}" for k, v in params.items()), 5)
            results[f"{name} WITHOUT ui indexes"] = {"params": params, "p50_ms": p50, "p95_ms": p95}
            print(f"{name + ' WITHOUT ui indexes':<44} p50 {p50:>7} ms  p95 {p95:>7} ms", flush=True)
        t1 = time.perf_counter()
        built = ensure_indexes(store.engine)
        print(f"built {built} in {time.perf_counter() - t1:.0f} s", flush=True)
        for name, params in SCENARIOS.items():
            params = {k: (since if v == "__24h__" else v) for k, v in params.items()}
            p50, p95 = _timed_get(client, "/events?" + "&".join(f"{k}={quote(v)}" for k, v in params.items()), a.reps)
            plan = _explain(store.engine, page_query(EventFilter(**params), dialect="postgresql"))
            results[name] = {"params": params, "p50_ms": p50, "p95_ms": p95, "plan": plan}
            print(f"{name:<44} p50 {p50:>7} ms  p95 {p95:>7} ms", flush=True)

        # Deep paging: follow "Next page" 20 times (1,000 rows in), then time that page; the
        # baseline is the same rows fetched with OFFSET, as a page-number pager would.
        link = "/events"
        for _ in range(20):
            html = client.get(link).text
            link = re.search(r'rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
        p50, p95 = _timed_get(client, link, a.reps)
        results["page 21 by keyset (UI)"] = {"p50_ms": p50, "p95_ms": p95}
        print(f"{'page 21 by keyset (UI)':<44} p50 {p50:>7} ms  p95 {p95:>7} ms", flush=True)
        base = "SELECT * FROM audit_event ORDER BY time DESC, seq DESC"
        for depth in [d for d in (1000, 100_000) if d < a.rows]:
            off = _sql_ms(store.engine, f"{base} OFFSET {depth} LIMIT 51", a.reps)
            last = f"SELECT time, seq FROM audit_event ORDER BY time DESC, seq DESC OFFSET {depth - 1} LIMIT 1"
            with store.engine.connect() as c:
                t, s = c.execute(text(last)).one()
            ks = _sql_ms(
                store.engine,
                f"SELECT * FROM audit_event WHERE (time, seq) < ('{t.isoformat()}', {s}) ORDER BY time DESC, seq DESC LIMIT 51",
                a.reps,
            )
            results[f"SQL at row {depth}: keyset vs OFFSET"] = {
                "keyset_ms": ks,
                "offset_ms": off,
                "ratio_p50": round(off[0] / ks[0], 1),
            }
            print(
                f"SQL at row {depth:>7}: keyset p50 {ks[0]} ms / OFFSET p50 {off[0]} ms (x{off[0] / ks[0]:.1f})",
                flush=True,
            )
        # The dashboard aggregates the whole period (not a page): reported, not part of the list target.
        for days in (1, 7, 30):
            p50, p95 = _timed_get(client, f"/?days={days}", max(5, a.reps // 3))
            results[f"dashboard, last {days} days"] = {"p50_ms": p50, "p95_ms": p95}
            print(f"{f'dashboard, last {days} days':<44} p50 {p50:>7} ms  p95 {p95:>7} ms", flush=True)
        store.close()
        load = os.getloadavg()
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps({"rows": a.rows, "reps": a.reps, "fill_s": round(fill_s), "cpus": os.cpu_count(),
                                     "loadavg": load, "results": results}, indent=2))  # fmt: skip
        print(f"load average {load[0]:.1f} on {os.cpu_count()} cpus; plans in {a.out}")
    finally:
        if not a.keep:
            with psycopg.connect(PG_URL, autocommit=True) as c:
                c.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
