"""End-to-end fixtures: a local TLS upstream, and `guard proxy` as a real subprocess in front of it.

The upstream serves `localhost` (destination adapter openai) and `127.0.0.1` (adapter anthropic) on
the same port (127.0.0.2-6 are guarded too, with the other adapters, for tests that start an upstream
there); a temporary copy of rules/ lists both as guarded destinations. The official SDKs
trust guard's CA and go through the proxy with TLS interception.
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from guard.detect.rules import BUNDLED_RULES
from tests.e2e.upstream import Upstream, make_tls

REPO = Path(__file__).resolve().parents[2]
BODY_LIMIT = 64 * 1024
# More loopback hosts (covered by the upstream certificate), one per remaining wire format.
EXTRA_ADAPTERS = {"127.0.0.2": "azure_openai", "127.0.0.3": "ollama", "127.0.0.4": "gemini",
                  "127.0.0.5": "chatgpt_web", "127.0.0.6": "generic"}  # fmt: skip


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
def upstream(tls: tuple[Path, Path, Path]) -> Iterator[Upstream]:
    server = Upstream(tls[1], tls[2]).start()
    yield server
    server.stop()


def write_rules(dest: Path) -> Path:
    """A copy of rules/ whose destinations.yaml guards the test hosts."""
    shutil.copytree(BUNDLED_RULES, dest)
    doc = yaml.safe_load((dest / "destinations.yaml").read_text())
    doc["public"] = list(doc.get("public") or []) + [
        {"name": "test-openai", "hosts": ["localhost"], "adapter": "openai"},
        {"name": "test-anthropic", "hosts": ["127.0.0.1"], "adapter": "anthropic"},
        *({"name": f"test-{a}", "hosts": [ip], "adapter": a} for ip, a in EXTRA_ADAPTERS.items()),
    ]
    (dest / "destinations.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest


class GuardProcess:
    """`guard proxy` running as a subprocess; `lines` collects its output."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=REPO, text=True
        )
        self.lines: list[str] = []
        self.port = 0
        ready = threading.Event()

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                if "guard proxy listening on" in line and not self.port:
                    self.port = int(line.rsplit(":", 1)[1])
                    ready.set()
            ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(180) or not self.port:
            self.stop()
            raise RuntimeError("guard proxy did not start:\n" + "\n".join(self.lines[-40:]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_guard(home: Path, rules: Path, upstream_ca: Path, *extra: str) -> GuardProcess:
    env = {**os.environ, "GUARD_HOME": str(home), "PYTHONPATH": str(REPO), "GUARD_FINGERPRINT_KEY": "e2e-test-key"}
    for k in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
        env.pop(k, None)
    args = [sys.executable, "-m", "guard", "proxy", "--port", "0", "--host", "127.0.0.1", "--rules", str(rules),
            "--upstream-ca", str(upstream_ca), "--workers", "1", "--body-limit", str(BODY_LIMIT), *extra]  # fmt: skip
    return GuardProcess(args, env)


@pytest.fixture(scope="session")
def guard_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guard-home")


@pytest.fixture(scope="session")
def guard(guard_home: Path, tls: tuple[Path, Path, Path], upstream: Upstream) -> Iterator[GuardProcess]:
    rules = write_rules(guard_home / "rules")
    proc = start_guard(guard_home, rules, tls[0], "--engine-factory", "tests.e2e.faulty:build_engine")
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def guard_ca(guard: GuardProcess, guard_home: Path) -> Path:
    return guard_home / "ca" / "mitmproxy-ca-cert.pem"


@pytest.fixture
def http_client(guard: GuardProcess, guard_ca: Path) -> Iterator[httpx.Client]:
    client = httpx.Client(proxy=guard.url, verify=ssl.create_default_context(cafile=str(guard_ca)),
                          trust_env=False, timeout=60)  # fmt: skip
    yield client
    client.close()


def audit_rows(home: Path, model: str, timeout: float = 15.0) -> list[dict]:
    """Audit events the proxy stored (SQLite audit store in GUARD_HOME) for requests naming `model`."""
    import sqlite3

    deadline = time.time() + timeout
    while True:
        rows: list[dict] = []
        db = home / "audit.db"
        if db.exists():
            con = sqlite3.connect(db)
            con.row_factory = sqlite3.Row
            try:
                rows = [dict(r) for r in con.execute("SELECT * FROM audit_event WHERE model = ? ORDER BY seq", (model,))]
                for r in rows:
                    r["findings"] = [dict(f) for f in con.execute(
                        "SELECT * FROM audit_finding WHERE event_seq = ? ORDER BY ordinal", (r["seq"],))]  # fmt: skip
            except sqlite3.OperationalError:
                rows = []
            finally:
                con.close()
        if rows or time.time() > deadline:
            return rows
        time.sleep(0.2)


def audit_db_bytes(home: Path) -> bytes:
    """The raw bytes of the audit store (database, WAL and spool), for "no raw value stored" checks."""
    out = b""
    for p in [home / "audit.db", home / "audit.db-wal", *sorted((home / "spool").glob("*"))]:
        if p.is_file():
            out += p.read_bytes()
    return out
