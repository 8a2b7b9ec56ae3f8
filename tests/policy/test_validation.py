"""Invalid policy data fails at load with file, line and field; `guard rules check` reports it."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from guard.cli import app
from guard.detect.rules import RuleError
from guard.policy import load_policy
from guard.policy.destinations import load_destinations


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    "file,old,new,where",
    [
        ("policy.yaml", "    secret: redact", "    secret: redcat", "policy.yaml:11: field 'categories.secret'"),
        ("policy.yaml", "    secret: redact", "    secrets: redact", "field 'categories.secrets': unknown category"),
        ("policy.yaml", "    person: 0.5", "    person: 5", "policy.yaml:9: field 'thresholds.person'"),
        ("policy.yaml", "on_private_unavailable: block", "on_private_unavailable: retry", "field 'on_private_unavailable'"),
        ("policy.yaml", "      when: {groups: [pentest]}", "      when: {group: [pentest]}", "(override pentest-credentials)"),
        ("policy.yaml", "    - id: known-test-cards", "    - id: Known Test Cards", "field 'id'"),
        ("policy.yaml", "  private_target: \"\"", "  private_target: nowhere", "field 'private_target'"),
        ("classifiers.yaml", "    kind: source_code", "    kind: sourcecode", "field 'kind' (classifier source-code-large)"),
        ("classifiers.yaml", "    label: codename", "    label: Code Name", "field 'label' (classifier codenames)"),
        ("groups.yaml", "  pentest: []", "  pentest: mallory", "field 'groups.pentest'"),
        ("destinations.yaml", "private: []", "private:\n  - name: llm\n    url: ftp://x/v1", "field 'url' (destination llm)"),
        ("tests/policy_cases.yaml", "expect: {action: redact, categories: [secret]", "expect: {action: redakt, categories: [secret]",
         "field 'expect.action'"),
    ],
)  # fmt: skip
def test_when_rules_invalid_then_error_names_file_line_field(
    rules_dir: Path, file: str, old: str, new: str, where: str
) -> None:
    _replace(rules_dir / file, old, new)
    with pytest.raises(RuleError) as err:
        from guard.rulestool import check_policy

        check_policy(rules_dir)
    assert where in str(err.value)
    assert str(rules_dir / file) in str(err.value)
    r = CliRunner().invoke(app, ["rules", "check", "--rules", str(rules_dir)])
    assert r.exit_code == 1
    assert where in r.output


def test_rules_check_summarises_policy(rules_dir: Path) -> None:
    r = CliRunner().invoke(app, ["rules", "check", "--rules", str(rules_dir)])
    assert r.exit_code == 0, r.output
    assert "policy default (2 overrides, 3 allow-lists)" in r.output
    assert "6 classifiers" in r.output and "13 policy cases" in r.output


def test_yaml_syntax_error_names_line(rules_dir: Path) -> None:
    (rules_dir / "policy.yaml").write_text("policy:\n  id: x\n  categories: {secret: [redact\n")
    with pytest.raises(RuleError, match=r"policy.yaml:\d+: invalid YAML"):
        load_policy(rules_dir)


def test_private_destination_fields(rules_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _replace(
        rules_dir / "destinations.yaml",
        "private: []",
        """private:
  - name: internal-llm
    url: https://llm.corp.example/v1/
    auth: {header: Authorization, env: INTERNAL_LLM_KEY, scheme: Bearer}
    models: {"gpt-4o*": llama3.1-70b, "claude-*": qwen2.5-72b}
    default_model: mistral-small
    ca_file: /etc/guard/internal-ca.pem
    timeout_s: 12
    connect_timeout_s: 2""",
    )
    monkeypatch.setenv("INTERNAL_LLM_KEY", "s3cr3t-value")
    monkeypatch.delenv("GUARD_PRIVATE_MODEL_URL", raising=False)
    d = load_destinations(rules_dir)
    p = d.private_named("internal-llm")
    assert p is not None and d.private_named("") == p
    assert p.url == "https://llm.corp.example/v1" and p.host == "llm.corp.example"
    assert p.auth_headers() == {"Authorization": "Bearer s3cr3t-value"}
    assert (p.map_model("gpt-4o-mini"), p.map_model("claude-3-5-sonnet"), p.map_model("gemini-pro")) == (
        "llama3.1-70b", "qwen2.5-72b", "mistral-small")  # fmt: skip
    assert (p.ca_file, p.timeout_s, p.connect_timeout_s) == ("/etc/guard/internal-ca.pem", 12.0, 2.0)
    assert d.lookup("llm.corp.example") == ("internal-llm", "private", "openai")
    assert d.lookup("API.OpenAI.com") == ("openai", "public", "openai")
    assert d.lookup("myres.openai.azure.com")[0] == "azure-openai"
    assert d.lookup("example.org") == ("", "", "")


def test_private_model_url_from_env(rules_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARD_PRIVATE_MODEL_URL", "http://127.0.0.1:8000/v1")
    monkeypatch.setenv("GUARD_PRIVATE_MODEL", "llama3.2")
    monkeypatch.setenv("GUARD_PRIVATE_MODEL_API_KEY", "k-123")
    p = load_destinations(rules_dir).private_named("")
    assert p is not None and p.name == "private" and p.url == "http://127.0.0.1:8000/v1"
    assert p.map_model("gpt-4o") == "llama3.2" and p.auth_headers() == {"Authorization": "Bearer k-123"}
    with pytest.raises(RuleError, match="GUARD_PRIVATE_MODEL_URL"):
        load_destinations(rules_dir, private_model_url="llama.local:8000")
