"""Every detector pattern in rules/ stays fast on catastrophic-backtracking shaped 64 KB inputs.

tests/detect/regex_probe.py times each pattern in a subprocess; a pattern that does not finish in
HANG_S is killed and reported as hung (the probe restarts after it), one slower than SLOW_S is
reported as slow. Linear patterns take well under 0.3 s on 64 KB here (measured on this 2-core CI
machine under load); a quadratic or exponential one takes seconds to forever, so the bar is far
from both.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SLOW_S = 2.0
HANG_S = 30.0


def probe(
    rules_dir: Path | None = None, *, size: int = 64 * 1024, hang_s: float = HANG_S, engine: bool = False
) -> dict[str, float]:
    """Worst time per rule id; float('inf') for a rule that hung (killed after hang_s)."""
    results: dict[str, float] = {}
    hung: set[str] = set()
    while True:
        args = [sys.executable, "-m", "tests.detect.regex_probe", "--size", str(size)]
        if rules_dir is not None:
            args.append(str(rules_dir))
        if engine:
            args.append("--engine")
        if results:
            args += ["--skip", ",".join(results)]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                                env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
        current = ""
        lines: list[str] = []
        assert proc.stdout is not None
        while True:
            got = threading.Event()

            def read() -> None:
                lines.append(proc.stdout.readline())
                got.set()

            threading.Thread(target=read, daemon=True).start()
            if not got.wait(hang_s):
                proc.kill()
                proc.wait()
                results[current] = float("inf")
                hung.add(current)
                break
            line = lines[-1]
            if not line:
                proc.wait()
                assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
                return results
            rec = json.loads(line)
            if rec.get("start"):
                current = rec["id"]
            else:
                results[rec["id"]] = rec["worst_s"]


@pytest.mark.slow
def test_every_bundled_pattern_is_fast_on_backtracking_inputs():
    results = probe()
    assert len(results) >= 100  # every bundled rule was probed
    bad = {rid: t for rid, t in results.items() if t > SLOW_S}
    assert not bad, f"slow or hanging detector patterns (s; inf = killed after {HANG_S:g} s): {bad}"


@pytest.mark.slow
def test_the_whole_engine_is_fast_on_backtracking_and_encoded_inputs():
    """Folding, decoding (base64/hex/percent/entities/escapes) and checks too, not only the patterns."""
    results = probe(engine=True)
    assert len(results) >= 40
    bad = {name: t for name, t in results.items() if t > SLOW_S}
    assert not bad, f"slow engine inputs (s; inf = killed after {HANG_S:g} s): {bad}"


@pytest.mark.slow
def test_when_a_pattern_backtracks_catastrophically_then_the_probe_names_it(tmp_path):
    det = tmp_path / "detectors"
    det.mkdir()
    (det / "bad.yaml").write_text(
        "detectors:\n"
        "  - id: nested-quantifier\n    category: secret\n    entity_type: X\n    description: demo\n"
        "    regex: '(?:a+)+b'\n"
        "  - id: linear\n    category: secret\n    entity_type: Y\n    description: demo\n"
        "    regex: 'ab{2,8}c'\n"
    )
    results = probe(tmp_path, size=4096, hang_s=5)
    assert results["nested-quantifier"] == float("inf")
    assert results["linear"] < SLOW_S
