"""`guard demo`: offline, no API key, four prompts through a real proxy with the official SDKs."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys

import pytest

from guard.demo import EMAIL, NAME, PHONE, TOKEN

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_when_demo_runs_then_all_four_behave_as_described_and_the_audit_links_resolve(tmp_path):
    home = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and not k.endswith("API_KEY")}
    env.update(GUARD_HOME=str(home))
    env.pop("GUARD_DATABASE_URL", None)
    p = subprocess.run([sys.executable, "-m", "guard", "demo", "--ui", "http://127.0.0.1:9"],
                       capture_output=True, text=True, timeout=400, env=env, cwd=tmp_path)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
    out = p.stdout
    assert "4 of 4 scenarios behaved as described." in out, out + p.stderr
    # What each side saw is shown: the public model got placeholders, the app got the values back.
    assert "[PERSON_1]" in out and "[EMAIL_1]" in out
    assert re.search(r"private model: received 'CONFIDENTIAL", out)
    assert "guard blocked this request" in out
    # The UI links name real audit events with the action printed beside them.
    links = re.findall(
        r"^\s+(allow|redact|route_private|block)\s+\S+\s+http://127\.0\.0\.1:9/events/([0-9a-f]+)$", out, re.M
    )
    assert sorted(a for a, _ in links) == ["allow", "block", "redact", "route_private"], out
    con = sqlite3.connect(home / "audit.db")
    try:
        for action, event_id in links:
            assert con.execute("SELECT action FROM audit_event WHERE event_id = ?", (event_id,)).fetchone() == (action,)
    finally:
        con.close()
    # The audit store never holds the values the demo sent (only categories, fingerprints, masked previews).
    stored = b"".join(f.read_bytes() for f in home.glob("audit.db*"))
    for value in (NAME, EMAIL, PHONE, TOKEN):
        assert value.encode() not in stored, value
