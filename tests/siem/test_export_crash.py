"""`guard export --follow` killed with -9 mid-stream resumes from its cursor: in order, nothing skipped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guard.audit import chain
from guard.cli import app
from tests.audit.factories import make_event

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _seqs(path: Path) -> list[int]:
    # a line cut by the kill is not a delivered event (its batch's cursor never moved)
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line)["event"]["sequence"])
        except ValueError:
            continue
    return out


def test_kill9_during_follow_then_restart_delivers_everything_in_order(store, db_url, tmp_path):
    total = 3000
    for i in range(0, total, 500):
        chain.append(store, [make_event(j) for j in range(i, i + 500)])
    out = tmp_path / "siem.jsonl"
    cmd = [sys.executable, "-m", "guard", "export", "--sink", "jsonl", "--out", str(out), "--follow",
           "--batch-size", "50", "--poll", "0.1", "--db", db_url]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (out.exists() and len(_seqs(out)) >= 600):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    before = len(_seqs(out))
    assert before < total, "the kill should land mid-stream"
    chain.append(store, [make_event(total + i) for i in range(10)])  # more arrive while it is down
    r = CliRunner().invoke(app, ["export", "--sink", "jsonl", "--out", str(out), "--batch-size", "50", "--db", db_url])
    assert r.exit_code == 0, r.output
    seqs = _seqs(out)
    assert set(seqs) == set(range(1, total + 11)), "an event was skipped"
    # at least once, in order: a run of 1..k, then (after the restart) a resend of at most the one
    # batch whose cursor update the kill prevented, continuing to the end
    k = next((i for i in range(1, len(seqs)) if seqs[i] != seqs[i - 1] + 1), len(seqs))
    assert seqs[:k] == list(range(1, k + 1))
    rest = seqs[k:]
    if rest:
        assert k + 1 - 50 <= rest[0] <= k + 1
        assert rest == list(range(rest[0], total + 11))
