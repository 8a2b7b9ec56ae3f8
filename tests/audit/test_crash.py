"""kill -9 under load, then restart: no acknowledged event lost, none duplicated, chain intact.

Runs the writer in a real child process (tests/audit/_writer_child.py) and SIGKILLs it; on
PostgreSQL the database connection also goes through a forwarder the test takes down mid-run, so
events spool, drain while new load arrives, and the kill lands wherever it lands.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import select

from guard.audit import chain
from guard.audit.models import AuditEventRow
from guard.audit.store import open_store
from guard.audit.writer import AuditWriter
from tests.audit.tcpproxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class Child:
    def __init__(self, url: str, spool: Path, prefix: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.audit._writer_child", url, str(spool), prefix],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.acked = 0
        self.spool = 0

    def wait_ack(self, at_least: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.acked < at_least:
            assert time.monotonic() < deadline, f"child acknowledged only {self.acked}"
            line = self.proc.stdout.readline()
            assert line, "child died"
            m = re.match(r"ACK (\d+) spool=(\d+)", line)
            if m:
                self.acked, self.spool = int(m.group(1)), int(m.group(2))

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self.proc.stdout.close()


def _check(url: str, spool: Path, prefix: str, acked: int) -> None:
    w = AuditWriter(url, spool).start()  # restart: drains what the killed process spooled
    assert w.close(60)
    store = open_store(url)
    with store.session() as s:
        ids = list(s.scalars(select(AuditEventRow.event_id).order_by(AuditEventRow.seq)))
    res = chain.verify(store)
    store.close()
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert len(ids) >= acked, f"{acked - len(ids)} acknowledged events lost"
    # stored in submission order, and exactly a prefix of what was submitted: nothing missing inside
    assert ids == [f"{prefix}{i:08d}" for i in range(len(ids))]
    assert res.ok, res.summary()


def test_kill9_under_load_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    child = Child(url, tmp_path / "spool", "k")
    child.wait_ack(3000)
    child.kill9()
    _check(url, tmp_path / "spool", "k", child.acked)


@pytest.mark.postgres
def test_kill9_during_outage_and_drain_postgres(pg_url, tmp_path):
    parts = urlsplit(pg_url)
    proxy = TcpProxy((parts.hostname, parts.port or 5432))
    via_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    try:
        child = Child(via_proxy, tmp_path / "spool", "p")
        child.wait_ack(1000)
        proxy.down()  # database unreachable: the child keeps acknowledging from the spool
        child.wait_ack(child.acked + 1500)
        assert child.spool > 0
        proxy.up()  # database back: the spool drains while new events keep coming
        child.wait_ack(child.acked + 1500)
        child.kill9()
        _check(via_proxy, tmp_path / "spool", "p", child.acked)
    finally:
        proxy.close()
