"""Every detector in rules/ carries its own proof; run it, and check that bad rules fail at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from guard.detect.rules import RuleError, load_detectors
from guard.rulestool import rule_matches

RULES = load_detectors()


def _cases():
    for rule in RULES:
        for ex in rule.examples_match:
            yield pytest.param(rule, ex, True, id=f"{rule.id}-match")
        for ex in rule.examples_no_match:
            yield pytest.param(rule, ex, False, id=f"{rule.id}-no_match")


@pytest.mark.parametrize(("rule", "example", "expected"), list(_cases()))
def test_when_rule_example_scanned_then_rule_matches_as_declared(rule, example, expected):
    assert rule_matches(rule, example) is expected, f"{rule.source}: {example!r}"


def test_every_detector_has_a_match_example():
    assert all(r.examples_match for r in RULES)


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "detectors").mkdir()
    (tmp_path / "detectors" / "x.yaml").write_text(body, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "detectors:\n  - id: a\n    category: secret\n    entity_type: A\n    regex: '('\n",
            "x.yaml:2: field 'regex'",
        ),
        ("detectors:\n  - id: Bad_Id\n    category: secret\n    entity_type: A\n    regex: a\n", "field 'id'"),
        ("detectors:\n  - id: a\n    category: nope\n    entity_type: A\n    regex: a\n", "field 'category'"),
        (
            "detectors:\n  - id: a\n    category: secret\n    entity_type: A\n    regex: a\n    validate: [nope]\n",
            "field 'validate'",
        ),
        (
            "detectors:\n  - id: a\n    category: secret\n    entity_type: A\n    regex: a\n    colour: red\n",
            "field 'colour'",
        ),
        ("detectors: [\n", "invalid YAML"),
    ],
)
def test_when_rule_file_is_invalid_then_load_names_file_line_and_field(tmp_path, body, message):
    with pytest.raises(RuleError, match=message.replace("(", r"\(")):
        load_detectors(_write(tmp_path, body))


def test_when_two_detectors_share_an_id_then_load_fails(tmp_path):
    one = "  - id: dup\n    category: secret\n    entity_type: A\n    regex: a\n"
    with pytest.raises(RuleError, match="duplicate id 'dup'"):
        load_detectors(_write(tmp_path, "detectors:\n" + one + one))
