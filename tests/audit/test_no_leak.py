"""Nothing sensitive at rest or in exports: grep the database bytes, a PostgreSQL dump and every export.

The first tests push events shaped like the proxy's through the writer; the end-to-end test sends
real traffic with the official openai SDK through `guard proxy` into PostgreSQL and greps the dump
and the `guard export` output for every value it sent, and the API key.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import openai
import pytest

from guard.audit.writer import AuditWriter
from guard.siem.cef import syslog_5424, to_cef
from guard.siem.outbox import Exporter
from guard.siem.sinks import JsonLinesSink
from tests.audit.factories import PROMPT, SECRETS, make_event
from tests.e2e.conftest import start_guard, write_rules
from tests.e2e.upstream import Upstream, make_tls

SENSITIVE = [*SECRETS.values(), PROMPT, "Okonkwo", "0343 6467", "R8xK2mQ9vL4nT7pW1zY5"]


def pg_dump(url: str) -> bytes:
    """A plain-SQL dump of the test schema the URL's search_path points at."""
    u = urlsplit(url)
    schema = unquote(parse_qs(u.query)["options"][0]).split("=", 1)[1]
    return subprocess.run(
        ["pg_dump", "-h", u.hostname, "-p", str(u.port or 5432), "-U", u.username, "-n", schema, u.path.lstrip("/")],
        check=True, capture_output=True,
    ).stdout  # fmt: skip


def store_bytes(url: str, home: Path) -> bytes:
    if url.startswith("sqlite"):
        db = Path(url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())
    return pg_dump(url)


def assert_clean(blob: bytes, values: list[str], where: str) -> None:
    for v in values:
        assert v.encode() not in blob, f"{where} holds a sensitive value"


def test_store_spool_and_exports_hold_no_sensitive_value(store, db_url, tmp_path):
    # half the events go through the spool (database down), half straight to the store
    w = AuditWriter("postgresql://postgres@127.0.0.1:1/none", tmp_path / "spool", connect_timeout=1).start()
    for i in range(20):
        w.submit(make_event(i))
    assert w.flush(20)
    assert_clean((tmp_path / "spool" / "audit-spool.jsonl").read_bytes(), SENSITIVE, "the spool")
    w.close(5)
    w = AuditWriter(db_url, tmp_path / "spool").start()
    for i in range(20, 40):
        w.submit(make_event(i))
    assert w.close()
    blob = store_bytes(db_url, tmp_path)
    assert b"marguerite" not in blob.lower()
    assert_clean(blob, SENSITIVE, "the audit store")
    # the fingerprints and previews are there: the check above is not vacuous
    assert make_event().findings[0].fingerprint.encode() in blob
    out = tmp_path / "export.jsonl"
    ex = Exporter(store, JsonLinesSink(str(out)), "leak-check")
    assert ex.run() == 40
    assert_clean(out.read_bytes(), SENSITIVE, "the JSON lines export")
    cef = b"\n".join(syslog_5424(x, to_cef(x)) for x in ex.fetch(0))
    assert_clean(cef, SENSITIVE, "the CEF export")


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.postgres
def test_real_traffic_through_the_proxy_leaves_no_value_in_postgres_or_exports(pg_url, tmp_path):
    ca, cert, key = make_tls(tmp_path / "tls")
    upstream = Upstream(cert, key).start()
    home = tmp_path / "home"
    guard = start_guard(home, write_rules(tmp_path / "rules"), ca, "--db", pg_url)
    name, email = "Alice Johnson", "alice.johnson@gmail.com"
    token, api_key = "ghp_R8xK2mPq9vLw3nZt7YbC4dFh6jGs1aE5uQ0o", f"sk-proj-{uuid.uuid4().hex}"
    prompt = f"Please email {name} at {email} about the invoice; my token is {token}."
    try:
        client = httpx.Client(proxy=guard.url, verify=ssl.create_default_context(cafile=str(home / "ca" / "mitmproxy-ca-cert.pem")),
                              trust_env=False, timeout=60)  # fmt: skip
        oai = openai.OpenAI(
            base_url=f"https://localhost:{upstream.port}/v1", api_key=api_key, http_client=client, max_retries=0
        )
        model = f"leak-{uuid.uuid4().hex[:8]}"
        for _ in range(3):
            try:
                oai.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])
            except openai.APIError as exc:
                raise AssertionError(f"{exc}; upstream TLS errors {upstream.handshake_errors}; proxy said:\n"
                                     + "\n".join(guard.lines[-30:])) from None  # fmt: skip
        client.close()
    finally:
        guard.stop()  # terminate: the writer flushes on shutdown
        upstream.stop()
    dump = pg_dump(pg_url)
    assert model.encode() in dump and dump.count(b"chat.completions") >= 3  # the events are there
    values = [name, email, token, prompt, api_key, "Johnson"]
    assert_clean(dump, values, "the PostgreSQL dump")
    out = tmp_path / "export.jsonl"
    r = subprocess.run([sys.executable, "-m", "guard", "export", "--sink", "jsonl", "--out", str(out), "--db", pg_url],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert out.read_text().count(model) == 3
    assert_clean(out.read_bytes(), values, "the export")
