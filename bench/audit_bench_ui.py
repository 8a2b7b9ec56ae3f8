"""Review UI list latency on PostgreSQL with many events (part of audit_bench.py).

Fills a fresh schema with `rows` synthetic events (180 days, 5000 users, realistic action and
category mixes, findings on non-allow events) by SQL, then times audit_ui.queries.list_events for
each filter the UI offers: with guard's indexes, and with the secondary indexes dropped (baseline).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session

from guard.audit.store import open_store

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
  'api.openai.com', 'public', 'user' || (g * 104729 % 5000), '["eng", "staff"]'::json, '10.1.2.3', 'api',
  'c' || (g / 8), false, '["redact-personal-data"]'::json, '[]'::json, 'personal data redacted',
  '["messages[0].content"]'::json, '[]'::json, '[]'::json, 1500, 900, '{"detect": 2.5, "total": 6.0}'::json, 200,
  '{"prompt_tokens": 40}'::json, '',
  CASE WHEN g * 7919 % 100 < 60 THEN '' ELSE 'email,person' END,
  CASE WHEN g * 7919 % 100 < 60 THEN 0 ELSE 2 END,
  CASE WHEN g % 1000 < 20 THEN 'true_positive' WHEN g % 1000 < 30 THEN 'false_positive'
       WHEN g % 1000 < 35 THEN 'needs_follow_up' ELSE 'unreviewed' END,
  NULL, md5((g - 1)::text) || md5((g - 1)::text), md5(g::text) || md5(g::text)
FROM generate_series(1::bigint, :n) g
"""
# Two findings per non-allow event; bank_account is the rare category (~1 % of findings).
FILL_FINDINGS = """
INSERT INTO audit_finding (category, entity_type, rule_id, field, start, "end", fingerprint, preview, score, event_seq, ordinal)
SELECT CASE WHEN o = 0 THEN (ARRAY['person','email','phone','payment_card','national_id','ip_address','address','secret'])[1 + g % 8]
            WHEN g % 100 = 0 THEN 'bank_account' ELSE 'email' END,
       'X', 'rule-x', 'messages[0].content', 0, 10, md5(g::text || o::text) || md5(o::text), 'ab…yz (10)', 0.9, g, o
FROM generate_series(1::bigint, :n) g, generate_series(0, 1) o WHERE g * 7919 % 100 >= 60
"""

FILTERS = {
    "newest, no filter": {},
    "user": {"user": "user42"},
    "action=block": {"action": "block"},
    "provider=gemini": {"provider": "gemini"},
    "model=claude-3-haiku": {"model": "claude-3-haiku"},
    "review=false_positive": {"review": "false_positive"},
    "review=open": {"review": "open"},
    "category=payment_card": {"category": "payment_card"},
    "category=bank_account (rare)": {"category": "bank_account"},
    "user + action=block": {"user": "user42", "action": "block"},
    "last 24 h + action=redact": {"action": "redact", "start": "__24h__"},
}


def _time(engine, f, reps: int, pages: int = 1) -> tuple[float, float]:  # noqa: ANN001
    from audit_ui.queries import list_events

    out = []
    for _ in range(reps):
        with Session(engine) as s:
            cursor = ""
            for _ in range(pages - 1):
                _, cursor = list_events(s, f, after=cursor)
            a = time.perf_counter()
            list_events(s, f, after=cursor)
            out.append((time.perf_counter() - a) * 1000)
    out.sort()
    return round(statistics.median(out), 1), round(out[min(len(out) - 1, int(len(out) * 0.95))], 1)


def _run(engine, reps: int) -> dict:  # noqa: ANN001
    from audit_ui.queries import EventFilter

    since = (datetime.now(UTC) - timedelta(hours=24)).isoformat()
    res = {}
    for name, kw in FILTERS.items():
        kw = {k: (since if v == "__24h__" else v) for k, v in kw.items()}
        res[name] = _time(engine, EventFilter(**kw), reps)
    res["page 20, no filter"] = _time(engine, EventFilter(), reps, pages=20)
    res["page 20, action=block"] = _time(engine, EventFilter(action="block"), reps, pages=20)
    return res


def bench_ui(rows: int, pg_schema) -> dict:  # noqa: ANN001
    pg = pg_schema()
    try:
        store = open_store(pg.url)
        t0 = time.perf_counter()
        with store.engine.begin() as c:
            c.execute(text(FILL_EVENTS), {"n": rows})
            c.execute(text(FILL_FINDINGS), {"n": rows})
        with store.engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        print(f"ui: filled {rows} events in {time.perf_counter() - t0:.0f}s", flush=True)
        indexed = _run(store.engine, 30)
        for name, (p50, p95) in indexed.items():
            print(f"ui indexed   {name:<32} p50 {p50:>8} ms  p95 {p95:>8} ms", flush=True)
        with store.engine.begin() as c:
            names = c.execute(text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexname LIKE 'ix_audit_%'"
            )).scalars().all()  # fmt: skip
            for n in names:
                c.execute(text(f'DROP INDEX "{n}"'))
        with store.engine.connect() as c:
            c.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        bare = _run(store.engine, 5)
        for name, (p50, p95) in bare.items():
            print(f"ui no index  {name:<32} p50 {p50:>8} ms  p95 {p95:>8} ms", flush=True)
        store.close()
        return {"rows": rows, "indexed_ms_p50_p95": indexed, "no_secondary_index_ms_p50_p95": bare}
    finally:
        pg.drop()
