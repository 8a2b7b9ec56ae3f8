"""guard explain and guard rules test (policy cases), through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from guard.cli import app

PROMPT = "CONFIDENTIAL: mail alice@example.com and bob@corp.com, key ghp_4f9Kq2LmN8pR3sT6vW1xY5zA7bC0dE2gH4jK"


def test_explain_lists_every_contributing_rule() -> None:
    r = CliRunner().invoke(
        app, ["explain", "--no-models", "--user", "carol", PROMPT], env={"GUARD_PRIVATE_MODEL_URL": ""}
    )
    assert r.exit_code == 0, r.output
    assert "decision: block" in r.output
    assert "no-private-model" in r.output and "marking-en-caps" in r.output
    assert "ignored (company-email-domain)" in r.output
    assert "redact (category-secret)" in r.output
    assert "ghp_4f9K" not in r.output and "bob@corp.com" not in r.output  # values only as masked previews


def test_explain_json_with_private_model_and_group(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["explain", "--no-models", "--format", "json", "--private-model",
                                 "http://127.0.0.1:9/v1", "--group", "pentest", PROMPT])  # fmt: skip
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["action"] == "route_private" and data["target"] == "private"
    assert data["groups"] == ["pentest"] and data["overrides"] == ["pentest-credentials"]
    secret = next(f for f in data["findings"] if f["category"] == "secret")
    assert secret["effect"] == "allow (pentest-credentials)"


def test_explain_reads_stdin_and_rejects_unknown_destination() -> None:
    r = CliRunner().invoke(app, ["explain", "--no-models", "--destination", "private"], input="hello",
                           env={"GUARD_PRIVATE_MODEL_URL": "http://127.0.0.1:9/v1"})  # fmt: skip
    assert r.exit_code == 0 and "decision: allow" in r.output and "destination private (private)" in r.output
    r = CliRunner().invoke(app, ["explain", "--no-models", "--destination", "bard", "hi"])
    assert r.exit_code == 2 and "unknown destination 'bard'" in r.output and "openai" in r.output


@pytest.mark.slow
def test_rules_test_runs_policy_cases_with_table(rules_dir: Path) -> None:
    r = CliRunner().invoke(app, ["rules", "test", "--rules", str(rules_dir), "-v"])
    assert r.exit_code == 0, r.output
    assert "policy cases:" in r.output and "13 policy cases passed, 0 failed" in r.output
    assert "PASS  a confidential memo goes to the private m" in r.output


@pytest.mark.slow
def test_rules_test_fails_on_a_wrong_expectation(rules_dir: Path) -> None:
    cases = rules_dir / "tests" / "policy_cases.yaml"
    cases.write_text(cases.read_text().replace("expect: {action: redact, categories: [payment_card]}",
                                               "expect: {action: allow, categories: []}"))  # fmt: skip
    r = CliRunner().invoke(app, ["rules", "test", "--rules", str(rules_dir)])
    assert r.exit_code == 1
    assert "FAIL  a real-looking card number is redacted" in r.output
    assert "action redact, expected allow" in r.output and "policy_cases.yaml:" in r.output
    assert "12 policy cases passed, 1 failed" in r.output
