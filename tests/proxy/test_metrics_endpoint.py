"""`guard proxy --metrics-port`: Prometheus /metrics and /healthz of the real proxy, driven by the openai SDK."""

from __future__ import annotations

import json
import socket
import ssl
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import GuardProcess, start_guard, tls, upstream, write_rules  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EMAIL = "dora.metrics@example.org"
TOKEN = "ghp_M3tr1csN0tInLab3lsXq7YbC4dFh6jGs1aE5"
PROMPT = f"Mail {EMAIL} the deploy key {TOKEN} before lunch, quietly."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Metered:
    def __init__(self, proc: GuardProcess, metrics_port: int, home: Path) -> None:
        self.proc, self.metrics_port, self.home = proc, metrics_port, home

    def get(self, path: str) -> tuple[int, str, str]:
        """(status, content type, body) of GET path on the metrics port."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=20) as r:
                return r.status, r.headers["content-type"], r.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers["content-type"], exc.read().decode()

    def samples(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        status, ctype, text = self.get("/metrics")
        assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(text) for s in fam.samples}  # fmt: skip

    def ask(self, upstream_port: int, model: str) -> str:
        """Send PROMPT through the proxy with the openai SDK; return the reply text."""
        with self.client(upstream_port) as oai:
            reply = oai.chat.completions.create(model=model, messages=[{"role": "user", "content": PROMPT}])
        return reply.choices[0].message.content or ""

    def client(self, upstream_port: int) -> openai.OpenAI:
        ca = self.home / "ca" / "mitmproxy-ca-cert.pem"
        http = httpx.Client(proxy=self.proc.url, verify=ssl.create_default_context(cafile=str(ca)),
                            trust_env=False, timeout=60)  # fmt: skip
        return openai.OpenAI(base_url=f"https://localhost:{upstream_port}/v1", api_key="sk-test-not-a-secret",
                             http_client=http, max_retries=0)  # fmt: skip


def _start(home: Path, upstream_ca: Path, *extra: str) -> Metered:
    port = free_port()
    rules = write_rules(home / "rules")
    proc = start_guard(home, rules, upstream_ca, "--no-models", "--metrics-port", str(port), *extra)
    return Metered(proc, port, home)


@pytest.fixture(scope="module")
def metered(tmp_path_factory: pytest.TempPathFactory, tls: tuple[Path, Path, Path]) -> Iterator[Metered]:  # noqa: F811
    m = _start(tmp_path_factory.mktemp("metered"), tls[0])
    yield m
    m.proc.stop()


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_when_a_secret_goes_through_then_metrics_count_it_without_any_value(metered, upstream):  # noqa: F811
    model = f"gpt-metrics-{uuid.uuid4().hex[:8]}"
    before = metered.samples()
    assert metered.ask(upstream.port, model) == "Echo: " + PROMPT  # restored for the client
    deadline = time.time() + 10
    while True:
        after = metered.samples()
        if (
            _value(after, "guard_requests_total", provider="openai", source="api")
            > _value(before, "guard_requests_total", provider="openai", source="api")
            or time.time() > deadline
        ):
            break
        time.sleep(0.2)

    def delta(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert delta("guard_requests_total", provider="openai", source="api") == 1
    assert delta("guard_actions_total", action="redact") == 1
    assert delta("guard_findings_total", category="secret") >= 1
    assert delta("guard_findings_total", category="email") >= 1
    for hist in ("guard_detection_seconds", "guard_request_seconds"):
        assert delta(f"{hist}_count") == 1
        assert _value(after, f"{hist}_bucket", le="+Inf") == _value(after, f"{hist}_count")
        assert _value(after, f"{hist}_sum") > 0
    assert "guard_audit_queue_depth" in {n for n, _ in after} and "guard_audit_spool_events" in {n for n, _ in after}
    _, _, text = metered.get("/metrics")
    for secret in (EMAIL, TOKEN, "deploy key", "quietly", model, "dora"):
        assert secret not in text, "a value or prompt text reached the metrics"
    label_names = {k for _, labels in after for k, _ in labels}
    assert label_names <= {"provider", "source", "action", "category", "le"}


def test_when_healthy_then_healthz_reports_workers_and_a_reachable_audit_store(metered):
    status, ctype, body = metered.get("/healthz")
    assert status == 200 and ctype == "application/json"
    doc = json.loads(body)
    assert doc["status"] == "ok" and doc["workers"] >= 1 and "problems" not in doc
    assert doc["audit"]["db_reachable"] is True
    assert doc["audit"]["queue_depth"] >= 0 and doc["audit"]["spool_size"] == 0
    status, _, body = metered.get("/livez")
    assert status == 200 and json.loads(body)["workers"] >= 1
    assert metered.get("/nothing")[0] == 404


def test_when_audit_database_is_unreachable_then_healthz_says_so_and_requests_still_flow(
    tmp_path: Path,
    tls: tuple[Path, Path, Path],  # noqa: F811
    upstream,  # noqa: F811
) -> None:
    closed = free_port()  # nothing listens there: connections are refused
    db = f"postgresql://postgres:pw-not-in-health@127.0.0.1:{closed}/test"
    m = _start(tmp_path, tls[0], "--db", db)
    try:
        assert m.ask(upstream.port, "gpt-metrics-outage") == "Echo: " + PROMPT
        deadline = time.time() + 15
        while True:
            status, _, body = m.get("/healthz")
            doc = json.loads(body)
            if doc["audit"].get("spool_size") or time.time() > deadline:
                break
            time.sleep(0.3)
        assert status == 503
        assert doc["status"] == "unhealthy" and doc["audit"]["db_reachable"] is False
        assert any("audit database unreachable" in p for p in doc["problems"])
        assert doc["audit"]["spool_size"] >= 1  # the event waits in the spool, it is not lost
        assert doc["workers"] >= 1
        assert "pw-not-in-health" not in body and str(closed) not in body
        assert m.get("/livez")[0] == 200  # the proxy itself can still serve
    finally:
        m.proc.stop()


def test_when_metrics_port_is_taken_then_the_proxy_still_guards_and_says_so(
    tmp_path: Path,
    tls: tuple[Path, Path, Path],  # noqa: F811
    upstream,  # noqa: F811
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        rules = write_rules(tmp_path / "rules")
        proc = start_guard(tmp_path, rules, tls[0], "--no-models", "--metrics-port", str(port))
        try:
            m = Metered(proc, port, tmp_path)
            assert m.ask(upstream.port, "gpt-metrics-taken") == "Echo: " + PROMPT
            sent = upstream.received[-1].json["messages"][0]["content"]
            assert TOKEN not in sent and EMAIL not in sent  # still guarded
            assert "metrics and health NOT served" in proc.output()
        finally:
            proc.stop()
