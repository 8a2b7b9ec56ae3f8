"""A per-request detection time budget (--detect-budget): over it, the request is blocked and audited.

A second `guard proxy` runs with a 1 s budget and the fault-injecting engine; a prompt holding the
hang trigger keeps its worker busy far past the budget, as a pathological input would.
"""

from __future__ import annotations

import ssl
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from guard.core import mask
from tests.e2e.conftest import GuardProcess, audit_rows, start_guard, write_rules
from tests.e2e.faulty import HANG

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def budget_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guard-budget")


@pytest.fixture(scope="module")
def budget_guard(budget_home: Path, tls, upstream) -> Iterator[GuardProcess]:
    rules = write_rules(budget_home / "rules")
    proc = start_guard(budget_home, rules, tls[0], "--engine-factory", "tests.e2e.faulty:build_engine",
                       "--no-models", "--detect-budget", "1000")  # fmt: skip
    yield proc
    proc.stop()


def test_when_detection_runs_past_the_budget_then_the_request_is_blocked_and_audited(
    budget_guard, budget_home, upstream
):
    ca = budget_home / "ca" / "mitmproxy-ca-cert.pem"
    with httpx.Client(proxy=budget_guard.url, verify=ssl.create_default_context(cafile=str(ca)),
                      trust_env=False, timeout=60) as client:  # fmt: skip
        model = f"budget-{uuid.uuid4().hex[:8]}"
        before = len(upstream.received)
        resp = client.post(f"https://localhost:{upstream.port}/v1/chat/completions",
                           json={"model": model, "messages": [{"role": "user", "content": f"{HANG} a@b.co"}]})  # fmt: skip
        assert resp.status_code == 400 and len(upstream.received) == before
        msg = resp.json()["error"]["message"]
        assert "in time" in msg and "1000 ms budget" in msg and HANG not in msg
        (row,) = audit_rows(budget_home, mask(model))  # never scanned: the event stores the model masked
        assert row["action"] == "block" and "budget" in row["error"]
        # The hung worker is replaced; until the new one is ready, requests are blocked, never forwarded unscanned.
        deadline = time.monotonic() + 60
        while True:
            before = len(upstream.received)
            ok = client.post(f"https://localhost:{upstream.port}/v1/chat/completions",
                             json={"model": model, "messages": [{"role": "user", "content": "mail jo.king@gmail.com"}]})  # fmt: skip
            if ok.status_code == 200 or time.monotonic() > deadline:
                break
            assert len(upstream.received) == before and "guard" in ok.json()["error"]["message"]
            time.sleep(0.5)
        assert ok.status_code == 200 and "jo.king@gmail.com" not in upstream.received[-1].body.decode()
