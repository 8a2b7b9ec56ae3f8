"""Policy test cases in rules/tests/*.yaml: prompt + user + destination -> expected action and categories.

cases:
  - name: a confidential memo goes to the private model
    prompt: "CONFIDENTIAL - Q3 forecast"
    user: alice                    # optional; groups come from rules/groups.yaml (and `groups:`)
    groups: [finance]              # optional, as if the proxy's identity carried them
    destination: openai            # a name from destinations.yaml
    private_model: true            # run as if a private model were configured (default false)
    expect:
      action: route_private
      categories: []               # exactly the finding categories the policy acts on
      classifications: [confidential]   # optional: exactly these labels
      rules: [marking-en-caps]     # optional: these ids are among the decision's rules
      monitor: false               # optional
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from guard.core import Action, Segment
from guard.detect.rules import RuleError, load_yaml
from guard.policy import RequestContext, load_policy
from guard.policy.engine import Policy

PLACEHOLDER_PRIVATE_URL = "http://private-model.invalid/v1"  # never contacted: cases only decide
_CASE_FIELDS = {"name", "prompt", "user", "groups", "destination", "private_model", "expect"}
_EXPECT_FIELDS = {"action", "categories", "classifications", "rules", "monitor"}
_ACTIONS = tuple(a.value for a in Action)


@dataclass(frozen=True)
class PolicyCase:
    name: str
    prompt: str
    user: str
    groups: tuple[str, ...]
    destination: str
    private_model: bool
    expect: dict[str, Any]
    source: str


@dataclass(frozen=True)
class CaseResult:
    case: PolicyCase
    passed: bool
    got: str  # action and categories the policy produced
    problems: tuple[str, ...] = ()


def _strs(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def load_cases(rules_dir: Path) -> list[PolicyCase]:
    """Read and validate every rules/tests/*.yaml case file."""
    out = []
    for path in sorted((rules_dir / "tests").glob("*.yaml")):
        doc = load_yaml(path) or {}
        if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
            raise RuleError(f"{path}: top level must be a mapping with a 'cases' list")
        for raw in doc["cases"]:
            line = raw.get("__line__", 0) if isinstance(raw, dict) else 0

            def fail(fld: str, msg: str, line: int = line, path: Path = path) -> RuleError:
                return RuleError(f"{path}:{line}: field '{fld}': {msg}")

            if not isinstance(raw, dict):
                raise RuleError(f"{path}: each case must be a mapping")
            unknown = set(raw) - _CASE_FIELDS - {"__line__"}
            if unknown:
                raise fail(sorted(unknown)[0], "unknown field")
            for req in ("name", "prompt", "destination"):
                if not isinstance(raw.get(req), str) or not raw[req]:
                    raise fail(req, "required string is missing")
            exp = raw.get("expect")
            if not isinstance(exp, dict) or set(exp) - _EXPECT_FIELDS - {"__line__"}:
                raise fail("expect", f"a mapping of {', '.join(sorted(_EXPECT_FIELDS))}")
            if exp.get("action") not in _ACTIONS:
                raise fail("expect.action", f"one of {', '.join(_ACTIONS)}")
            for key in ("categories", "classifications", "rules"):
                if key in exp and not _strs(exp[key]):
                    raise fail(f"expect.{key}", "must be a list of strings")
            if not _strs(raw.get("groups", [])):
                raise fail("groups", "must be a list of strings")
            out.append(PolicyCase(
                raw["name"], raw["prompt"], str(raw.get("user", "")), tuple(raw.get("groups", [])),
                raw["destination"], bool(raw.get("private_model", False)),
                {k: v for k, v in exp.items() if k != "__line__"}, f"{path}:{line}",
            ))  # fmt: skip
    return out


def run_case(case: PolicyCase, policy: Policy, engine: Any) -> CaseResult:
    """Scan, classify and decide one case; compare with what it expects."""
    kind = policy.destinations.kind_of(case.destination)
    if not kind:
        return CaseResult(case, False, "-", (f"unknown destination {case.destination!r}",))
    seg = Segment(case.prompt, ("prompt",), "user")
    ctx = RequestContext(user=case.user, groups=case.groups, destination=case.destination, destination_kind=kind)
    hits = [(seg, f) for f in engine.scan(case.prompt)]
    classes = policy.classify([seg])
    kept = policy.applicable(ctx, hits)
    d = policy.decide(ctx, hits, classes)
    cats = sorted({f.category for _, f in kept})
    labels = sorted({c.label for c in classes})
    exp, problems = case.expect, []
    if d.action.value != exp["action"]:
        problems.append(f"action {d.action.value}, expected {exp['action']}")
    if "categories" in exp and cats != sorted(set(exp["categories"])):
        problems.append(f"categories {cats}, expected {sorted(set(exp['categories']))}")
    if "classifications" in exp and labels != sorted(set(exp["classifications"])):
        problems.append(f"classifications {labels}, expected {sorted(set(exp['classifications']))}")
    missing = [r for r in exp.get("rules", []) if r not in d.rules]
    if missing:
        problems.append(f"rules {list(d.rules)} lack {missing}")
    if "monitor" in exp and d.monitor != bool(exp["monitor"]):
        problems.append(f"monitor {d.monitor}, expected {exp['monitor']}")
    got = f"{d.action.value} {','.join(cats) or '-'}" + (f" [{','.join(labels)}]" if labels else "")
    return CaseResult(case, not problems, got, tuple(problems))


def run_cases(rules_dir: Path, engine: Any, edm_dir: Path | None = None) -> list[CaseResult]:
    """Run every policy case of rules/tests/ (policies with and without a private model loaded once)."""
    cases = load_cases(rules_dir)
    policies: dict[bool, Any] = {}
    results = []
    for case in cases:
        if case.private_model not in policies:
            url = PLACEHOLDER_PRIVATE_URL if case.private_model else ""
            policies[case.private_model] = load_policy(rules_dir, private_model_url=url, edm_dir=edm_dir)
        pol = policies[case.private_model]
        if not isinstance(pol, Policy):
            raise RuleError(f"{rules_dir}: policy cases need rules/policy.yaml")
        results.append(run_case(case, pol, engine))
    return results


def short(text: str, n: int = 48) -> str:
    """One line, at most n characters, for the pass/fail table."""
    text = re.sub(r"\s+", " ", text)
    return text if len(text) <= n else text[: n - 3] + "..."
