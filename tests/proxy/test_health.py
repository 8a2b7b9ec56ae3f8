"""guard.health on its own: a hung database never stalls the endpoint, worker and protocol edge cases."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from guard import metrics
from guard.audit.writer import AuditWriter
from guard.audit_jsonl import JsonlAuditSink
from guard.detect.pool import DetectionPool
from guard.events import AuditEvent, FindingRecord
from guard.health import Health, MeteredSink, MetricsServer


async def _serve(pool, sink, ping_timeout: float = 5.0) -> tuple[MetricsServer, str]:
    server = MetricsServer(Health(pool, sink, ping_timeout=ping_timeout), "127.0.0.1", 0)
    host, port = await server.start()
    return server, f"http://{host}:{port}"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=20) as c:
        yield c


async def test_when_the_database_hangs_then_healthz_gives_up_and_metrics_keep_answering(pool, tmp_path, client):
    # A listener that completes the TCP handshake and never says a word: PostgreSQL's startup hangs.
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(16)
        url = f"postgresql://postgres@127.0.0.1:{blackhole.getsockname()[1]}/test"
        writer = AuditWriter(url, tmp_path / "spool", retention=None, connect_timeout=10).start()
        server, base = await _serve(pool, writer, ping_timeout=0.5)
        try:
            health = asyncio.create_task(client.get(base + "/healthz"))
            while server.health._ping is None:
                await asyncio.sleep(0.01)
            page = await client.get(base + "/metrics")
            assert page.status_code == 200 and "guard_requests_total" in page.text
            assert not server.health._ping.done(), "the ping answered: the database did not hang"
            resp = await health
            assert resp.status_code == 503
            doc = resp.json()
            assert doc["audit"]["db_reachable"] is False and doc["workers"] >= 1
            assert any("audit database unreachable" in p for p in doc["problems"])
        finally:
            await server.close()
            writer.close(5)


async def test_when_workers_are_not_up_then_livez_and_healthz_fail_and_say_why(pool, tmp_path, client):
    writer = AuditWriter(f"sqlite:///{tmp_path / 'audit.db'}", tmp_path / "spool", retention=None).start()
    idle = DetectionPool(1, models=False)  # not started yet, as during the proxy's warm-up
    down, down_base = await _serve(idle, writer)
    up, up_base = await _serve(pool, writer)
    try:
        live = await client.get(down_base + "/livez")
        assert live.status_code == 503 and "no detection worker is alive" in live.json()["problems"][0]
        full = await client.get(down_base + "/healthz")
        assert full.status_code == 503 and full.json()["audit"]["db_reachable"] is True
        assert full.json()["workers"] == 0 and full.json()["workers_configured"] == 1
        assert (await client.get(up_base + "/livez")).status_code == 200
        assert (await client.get(up_base + "/healthz")).json()["status"] == "ok"
    finally:
        await down.close()
        await up.close()
        writer.close(5)


async def test_when_clients_misbehave_then_they_get_http_errors_and_the_server_stays_up(pool, tmp_path, client):
    sink = JsonlAuditSink(tmp_path / "audit.jsonl")
    server, base = await _serve(pool, sink)
    try:
        assert (await client.post(base + "/metrics", content=b"x")).status_code == 405
        head = await client.head(base + "/metrics")
        assert head.status_code == 200 and head.content == b"" and int(head.headers["content-length"]) > 0
        assert (await client.get(base + "/metrics?x=1")).status_code == 200
        assert (await client.get(base + "/")).status_code == 404
        host, port = base[len("http://") :].split(":")
        r, w = await asyncio.open_connection(host, int(port))
        w.write(b"\x16\x03\x01 not http at all\r\n\r\n")  # a TLS hello to a plain-HTTP port
        await w.drain()
        assert (await r.read()).startswith(b"HTTP/1.1 405 ")
        w.close()
        r, w = await asyncio.open_connection(host, int(port))
        w.write(b"garbage\r\n\r\n")
        await w.drain()
        assert await r.read() == b""  # no request line: dropped without an answer
        w.close()
        r, w = await asyncio.open_connection(host, int(port))
        w.write(b"GET /healthz HTTP/1.1\r\n")  # and then nothing: cut off, not held forever
        await w.drain()
        w.close()
        doc = (await client.get(base + "/healthz")).json()
        assert doc["status"] == "ok" and "db_reachable" not in doc["audit"]  # JSON lines: no database
    finally:
        await server.close()
        sink.close()


def test_when_an_event_is_submitted_then_it_is_counted_and_still_stored(tmp_path):
    sink = MeteredSink(JsonlAuditSink(tmp_path / "audit.jsonl"))
    finding = FindingRecord("iban", "IBAN", "iban.generic", "messages[0].content", 0, 22, "ab" * 32, "GB…29")
    before = metrics.FINDINGS.value(category="iban"), metrics.ACTIONS.value(action="block")
    sink.submit(AuditEvent(action="block", provider="openai", findings=(finding,),
                           timings_ms={"detect": 3.0, "total": 9.0}))  # fmt: skip
    sink.flush()
    after = metrics.FINDINGS.value(category="iban"), metrics.ACTIONS.value(action="block")
    assert after == (before[0] + 1, before[1] + 1)
    line = json.loads((tmp_path / "audit.jsonl").read_text().splitlines()[-1])
    assert line["action"] == "block" and line["provider"] == "openai"
    sink.close()
