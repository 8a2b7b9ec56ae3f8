"""`guard rules check` and `guard rules test`: validate rules/ and run the proof each rule carries."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from guard.detect.engine import accept
from guard.detect.rules import BUNDLED_RULES, Rule, RuleError, load_detectors


@dataclass(frozen=True)
class ExampleResult:
    rule_id: str
    kind: str  # match | no_match
    example: str
    passed: bool


def rule_matches(rule: Rule, text: str) -> bool:
    """Does this rule alone (pattern + value checks) find something in the text?"""
    for m in rule.pattern.finditer(text):
        start, end = m.span(rule.group)
        if start >= 0 and end > start and accept(rule, text[start:end]):
            return True
    return False


def run_examples(rules: list[Rule]) -> list[ExampleResult]:
    """Check every rule's match examples match and no_match examples do not."""
    results = []
    for rule in rules:
        for ex in rule.examples_match:
            results.append(ExampleResult(rule.id, "match", ex, rule_matches(rule, ex)))
        for ex in rule.examples_no_match:
            results.append(ExampleResult(rule.id, "no_match", ex, not rule_matches(rule, ex)))
    return results


def check(rules_dir: Path | None) -> int:
    """Validate the rules directory; print what is wrong and return the exit status."""
    try:
        detectors = load_detectors(rules_dir)
    except RuleError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    missing = [r.id for r in detectors if not r.examples_match]
    if missing:
        print(f"invalid: detectors without match examples: {', '.join(missing)}", file=sys.stderr)
        return 1
    try:
        summary = check_policy(rules_dir)
    except RuleError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    print(f"ok: {len(detectors)} detectors{summary}")
    return 0


def check_policy(rules_dir: Path | None) -> str:
    """Validate policy, classifiers, groups, destinations and policy cases; a summary, or RuleError."""
    from guard.policy import load_policy
    from guard.policy.cases import load_cases
    from guard.policy.destinations import load_destinations
    from guard.policy.engine import Policy

    root = Path(rules_dir) if rules_dir else BUNDLED_RULES
    dests = load_destinations(root)
    policy = load_policy(root)
    out = f", {len(dests.public)} public / {len(dests.private)} private destinations"
    for p in dests.private:
        if p.auth_env and not p.auth_headers():
            print(f"warning: private destination {p.name}: ${p.auth_env} is not set here", file=sys.stderr)
    if isinstance(policy, Policy):
        spec = policy.spec
        out += (f", policy {spec.id} ({len(spec.overrides)} overrides, {len(spec.allowlists)} allow-lists)"
                f", {len(policy.classifiers.classifiers)} classifiers, {len(load_cases(root))} policy cases")  # fmt: skip
    return out


def test_examples(rules_dir: Path | None, verbose: bool) -> int:
    """Run detector examples, print a pass/fail table, return 1 if any failed."""
    try:
        detectors = load_detectors(rules_dir)
    except RuleError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    results = run_examples(detectors)
    failed = [r for r in results if not r.passed]
    for r in results if verbose else failed:
        shown = r.example if len(r.example) <= 60 else r.example[:57] + "..."
        print(f"{'PASS' if r.passed else 'FAIL'}  {r.rule_id:32s} {r.kind:9s} {shown!r}")
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    try:
        policy_failed = test_policy_cases(rules_dir, verbose)
    except RuleError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    return 1 if failed or policy_failed else 0


def test_policy_cases(rules_dir: Path | None, verbose: bool, engine: object = None) -> int:
    """Run rules/tests/*.yaml policy cases, print a pass/fail table, return the number that failed."""
    from guard.detect.engine import build_engine
    from guard.policy.cases import load_cases, run_cases, short

    root = Path(rules_dir) if rules_dir else BUNDLED_RULES
    if not (root / "policy.yaml").is_file() or not load_cases(root):
        return 0
    results = run_cases(root, engine or build_engine(rules_dir))
    failed = [r for r in results if not r.passed]
    print("policy cases:")
    for r in results if verbose else failed:
        print(f"{'PASS' if r.passed else 'FAIL'}  {short(r.case.name, 44):44s} {r.case.destination:12s} {r.got}")
        for p in r.problems:
            print(f"      {p}  ({r.case.source})")
    print(f"{len(results) - len(failed)} policy cases passed, {len(failed)} failed")
    return len(failed)
