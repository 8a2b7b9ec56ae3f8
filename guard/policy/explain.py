"""`guard explain`: why a prompt would be allowed, redacted, routed or blocked, rule by rule."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from guard.core import Segment, mask
from guard.detect.rules import RuleError
from guard.policy import RequestContext, load_policy
from guard.policy.engine import Evaluation, Policy


def explain(policy: Policy, text: str, ctx: RequestContext, engine: Any) -> Evaluation:
    """Scan the text, classify it and evaluate the policy, keeping every step."""
    seg = Segment(text, ("prompt",), "user")
    hits = [(seg, f) for f in engine.scan(text)]
    return policy.evaluate(ctx, hits, policy.classify([seg]))


def as_dict(ev: Evaluation, ctx: RequestContext) -> dict[str, Any]:
    """The evaluation as JSON-ready data; values appear only as masked previews."""
    d = ev.decision
    dropped = {id(h[1]): rid for h, rid in ev.dropped}
    findings = []
    for seg, f in [*ev.kept, *(h for h, _ in ev.dropped)]:
        act = ev.category_actions.get(f.category)
        findings.append({
            "category": f.category, "rule": f.rule_id, "score": round(f.score, 2),
            "preview": mask(seg.text[f.start : f.end]),
            "effect": f"ignored ({dropped[id(f)]})" if id(f) in dropped else f"{act[0].value} ({act[1]})" if act else "",
        })  # fmt: skip
    return {
        "action": d.action.value,
        "monitor": d.monitor,
        "enforced": not d.monitor,
        "target": d.target,
        "reason": d.reason,
        "rules": list(d.rules),
        "redact_categories": sorted(d.redact_categories),
        "user": ctx.user,
        "groups": list(ev.groups),
        "destination": ctx.destination,
        "destination_kind": ctx.destination_kind,
        "overrides": ev.overrides,
        "findings": findings,
        "classifications": [
            {"label": c.label, "rule": c.rule_id, "detail": c.detail, "effect": f"{a.value} ({rid})"}
            for c, a, rid in ev.classification_actions
        ],
    }


def print_table(data: dict[str, Any]) -> None:
    """Print the explanation for people."""
    mon = "  [monitor mode: recorded, not enforced]" if data["monitor"] else ""
    tgt = f" -> {data['target']}" if data["target"] else ""
    print(f"decision: {data['action']}{tgt}{mon}")
    print(f"reason:   {data['reason']}")
    print(f"rules:    {', '.join(data['rules']) or '-'}")
    print(f"request:  user {data['user'] or '-'} (groups: {', '.join(data['groups']) or '-'}), "
          f"destination {data['destination']} ({data['destination_kind']})")  # fmt: skip
    print(f"overrides matched: {', '.join(data['overrides']) or '-'}")
    print("findings:" if data["findings"] else "findings: none")
    for f in data["findings"]:
        print(f"  {f['category']:13s} {f['rule']:28s} {f['score']:.2f}  {f['preview']:20s} -> {f['effect']}")
    print("classifications:" if data["classifications"] else "classifications: none")
    for c in data["classifications"]:
        print(f"  {c['label']:13s} {c['rule']:28s} {c['detail']}  -> {c['effect']}")


def explain_command(
    text: str, user: str, groups: list[str], destination: str, rules_dir: Path | None,
    private_model: str | None, models: bool, fmt: str,
) -> int:  # fmt: skip
    """Run `guard explain`; return the exit status (0 done, 2 usage or rules error)."""
    try:
        policy = load_policy(rules_dir, private_model_url=private_model)
    except RuleError as exc:
        print(f"invalid rules: {exc}", file=sys.stderr)
        return 2
    if not isinstance(policy, Policy):
        print("no rules/policy.yaml: the built-in default policy redacts every scored category", file=sys.stderr)
        return 2
    kind = policy.destinations.kind_of(destination)
    if not kind:
        names = [d.name for d in policy.destinations.public] + [p.name for p in policy.destinations.private]
        print(f"unknown destination {destination!r}; known: {', '.join(names)}", file=sys.stderr)
        return 2
    from guard.detect.engine import build_engine

    engine = build_engine(rules_dir, models=models)
    ctx = RequestContext(user=user, groups=tuple(groups), destination=destination, destination_kind=kind)
    data = as_dict(explain(policy, text, ctx, engine), ctx)
    if fmt == "json":
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        print_table(data)
    return 0
