"""The data-driven policy: evaluate findings and classifications for a user and destination."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field

from guard.core import CATEGORIES, Action, Classification, Decision, Finding, Segment
from guard.policy import DefaultPolicy, RequestContext
from guard.policy.classify import ClassifierSet
from guard.policy.destinations import Destinations
from guard.policy.groups import GroupMap
from guard.policy.spec import Override, PolicySpec

Hit = tuple[Segment, Finding]
# How a reason names what was found (never the value itself).
_WORDS = {
    "secret": "a secret (key, token or password)", "person": "a person's name", "email": "an e-mail address",
    "phone": "a phone number", "payment_card": "a payment card number", "national_id": "a national id number",
    "bank_account": "a bank account number", "ip_address": "an IP address", "address": "a postal address",
    "confidential": "a confidentiality marking", "codename": "a project codename", "customer": "a customer name",
    "edm": "values from a protected data list", "source_code": "a large amount of source code",
}  # fmt: skip


@dataclass
class Evaluation:
    """A decision and how it came about: what `guard explain` prints and tests assert on."""

    decision: Decision
    groups: tuple[str, ...] = ()
    overrides: list[str] = field(default_factory=list)
    kept: list[Hit] = field(default_factory=list)
    dropped: list[tuple[Hit, str]] = field(default_factory=list)  # (finding, rule that dropped it)
    filtered_by: list[str] = field(default_factory=list)  # rules that dropped findings in applicable()
    category_actions: dict[str, tuple[Action, str]] = field(default_factory=dict)  # cat -> (action, rule)
    classification_actions: list[tuple[Classification, Action, str]] = field(default_factory=list)


class Policy(DefaultPolicy):
    """A policy loaded from rules/: spec, classifiers, groups and destinations."""

    def __init__(
        self,
        spec: PolicySpec,
        classifiers: ClassifierSet | None = None,
        groups: GroupMap | None = None,
        destinations: Destinations | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.id
        self.classifiers = classifiers or ClassifierSet()
        self.groupmap = groups or GroupMap()
        self.destinations = destinations or Destinations()
        self._allow_by_cat: dict[str, list] = {}
        for a in spec.allowlists:
            self._allow_by_cat.setdefault(a.category, []).append(a)

    @property
    def private_target(self) -> str:
        """The private destination route_private goes to, or '' when none is configured."""
        dest = self.destinations.private_named(self.spec.private_target)
        return dest.name if dest else ""

    @property
    def on_private_unavailable(self) -> str:
        """block | redact: what happens when the private model is down or too slow."""
        return self.spec.on_private_unavailable

    def groups_for(self, ctx: RequestContext) -> tuple[str, ...]:
        """The context's groups plus those groups.yaml gives the user."""
        extra = self.groupmap.groups_for(ctx.user)
        return tuple(dict.fromkeys(ctx.groups + extra))

    def classify(self, segments: Sequence[Segment]) -> list[Classification]:
        """Label the whole prompt: markings, codenames, customers, EDM hits, source code."""
        return self.classifiers.classify(segments)

    def applicable(self, ctx: RequestContext, findings: Sequence[Hit]) -> list[Hit]:
        """The findings that count: above their threshold and not on an allow-list."""
        kept, dropped = self._filter(ctx, self._overrides(ctx, self.groups_for(ctx)), findings)
        return _Applicable(kept, tuple(dict.fromkeys(rid for _, rid in dropped)))

    def decide(
        self, ctx: RequestContext, findings: Sequence[Hit], classifications: Sequence[Classification] = ()
    ) -> Decision:
        """Decide allow / redact / route_private / block; the rules that decided are in Decision.rules."""
        return self.evaluate(ctx, findings, classifications).decision

    # -- evaluation ---------------------------------------------------------------------------

    def _overrides(self, ctx: RequestContext, groups: tuple[str, ...]) -> list[Override]:
        return [o for o in self.spec.overrides if _matches(o, ctx, groups)]

    def _filter(self, ctx: RequestContext, ovs: list[Override], findings: Sequence[Hit]) -> tuple[list[Hit], list]:
        if isinstance(findings, _Applicable):  # already filtered by applicable(): do not hash values twice
            return list(findings), []
        thresholds = dict(self.spec.thresholds)
        for o in ovs:
            thresholds.update(o.thresholds)
        kept, dropped = [], []
        for seg, f in findings:
            if f.score < thresholds.get(f.category, 0.0):
                dropped.append(((seg, f), f"threshold-{f.category}"))
                continue
            value = seg.text[f.start : f.end]
            lists = self._allow_by_cat.get(f.category)
            al = next((a for a in lists if a.allows(f.category, value, f.rule_id)), None) if lists else None
            if al is not None:
                dropped.append(((seg, f), al.id))
            else:
                kept.append((seg, f))
        return kept, dropped

    def evaluate(
        self, ctx: RequestContext, findings: Sequence[Hit], classifications: Sequence[Classification] = ()
    ) -> Evaluation:
        """Evaluate the policy and keep every step, for `guard explain`."""
        groups = self.groups_for(ctx)
        ovs = self._overrides(ctx, groups)
        kept, dropped = self._filter(ctx, ovs, findings)
        ev = Evaluation(Decision(Action.ALLOW), groups, [o.id for o in ovs], kept, dropped)
        if isinstance(findings, _Applicable):
            ev.filtered_by = list(findings.dropped_by)
        monitor = self.spec.monitor
        for o in ovs:
            monitor = o.monitor if o.monitor is not None else monitor
        cat_table = {k: (a, f"category-{k.replace('_', '-')}" if k != "*" else "category-default")
                     for k, a in self.spec.categories.items()}  # fmt: skip
        cls_table = {k: (a, f"classification-{k.replace('_', '-')}") for k, a in self.spec.classifications.items()}
        forced: tuple[Action, str] | None = None
        for o in ovs:
            cat_table.update({k: (a, o.id) for k, a in o.categories.items()})
            cls_table.update({k: (a, o.id) for k, a in o.classifications.items()})
            if o.action is not None:
                forced = (o.action, o.id)
        for _, f in kept:
            if f.category not in ev.category_actions:
                default = (Action.REDACT if f.category in CATEGORIES else Action.ALLOW, "category-default")
                ev.category_actions[f.category] = cat_table.get(f.category, cat_table.get("*", default))
        for c in classifications:
            act, rid = cls_table.get(c.label, cls_table.get("*", (Action.ALLOW, "classification-default")))
            ev.classification_actions.append((c, act, rid))
        ev.decision = self._verdict(ctx, ev, forced, monitor)
        return ev

    def _verdict(
        self, ctx: RequestContext, ev: Evaluation, forced: tuple[Action, str] | None, monitor: bool
    ) -> Decision:
        allow_ids = tuple(dict.fromkeys([rid for _, rid in ev.dropped] + ev.filtered_by))
        if forced is not None:
            act, rid = forced
            return Decision(act, (rid,), f"policy override {rid}", monitor, self._target(act))
        cands: list[tuple[Action, str, str]] = []  # (action, policy rule, what)
        for cat, (act, rid) in ev.category_actions.items():
            cands.append((act, rid, _WORDS.get(cat, cat.replace("_", " "))))
        for c, act, rid in ev.classification_actions:
            cands.append((act, rid, f"{_WORDS.get(c.label, c.label.replace('_', ' '))} (rule {c.rule_id})"))
            if act != Action.ALLOW:
                cands.append((act, c.rule_id, ""))
        final = max((a for a, _, _ in cands), key=lambda a: a.severity, default=Action.ALLOW)
        rules = tuple(dict.fromkeys([rid for a, rid, _ in cands if a == final] + list(allow_ids)))
        what = ", ".join(dict.fromkeys(w for a, _, w in cands if a == final and w))
        redact = frozenset(
            cat for cat, (a, _) in ev.category_actions.items()
            if a in (Action.REDACT, Action.ROUTE_PRIVATE) and final in (Action.REDACT, Action.ROUTE_PRIVATE)
        )  # fmt: skip
        if final == Action.ROUTE_PRIVATE and ctx.destination_kind == "private":
            return Decision(Action.ALLOW, ("already-private",) + rules, "already going to a private model", monitor)
        if final == Action.ROUTE_PRIVATE and not self.private_target:
            reason = (
                f"This prompt contains {what}. Company policy allows it only on the company's private model, "
                "and none is configured, so it was not sent. Remove that content or ask your security team."
            )
            return Decision(Action.BLOCK, ("no-private-model",) + rules, reason, monitor)
        reasons = {
            Action.ALLOW: "nothing the policy acts on" if not rules else "allowed by policy",
            Action.REDACT: f"{what} replaced by placeholders before sending",
            Action.ROUTE_PRIVATE: f"contains {what}: sent to the company's private model instead",
            Action.BLOCK: f"This prompt contains {what}, which company policy does not allow to be sent here.",
        }
        return Decision(final, rules, reasons[final], monitor, self._target(final), redact)

    def _target(self, action: Action) -> str:
        return self.private_target if action == Action.ROUTE_PRIVATE else ""


class _Applicable(list):
    """Findings that already went through Policy.applicable, and the rules that dropped the others."""

    def __init__(self, kept: list[Hit], dropped_by: tuple[str, ...]) -> None:
        super().__init__(kept)
        self.dropped_by = dropped_by


def _matches(o: Override, ctx: RequestContext, groups: tuple[str, ...]) -> bool:
    if o.users and not any(fnmatch.fnmatchcase(ctx.user.lower(), u) for u in o.users):
        return False
    if o.groups and not set(o.groups) & set(groups):
        return False
    if o.destinations and ctx.destination not in o.destinations:
        return False
    return not (o.destination_kind and ctx.destination_kind != o.destination_kind)
