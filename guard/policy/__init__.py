"""Policy: decide allow / redact / route_private / block from findings, classification, user, destination.

The interface the pipeline calls. `load_policy(rules_dir)` builds the site's policy from rules/
(policy.yaml, classifiers.yaml, groups.yaml, destinations.yaml; guard.policy.engine.Policy); without a
policy.yaml it returns DefaultPolicy (redact every scored category). `PolicyHolder` (guard.policy.holder)
reloads it when the files change. The pipeline calls, per request:

    ctx = RequestContext(user, groups, destination, destination_kind, provider, endpoint, model)
    classes = policy.classify(segments)
    hits = policy.applicable(ctx, hits)          # thresholds and allow-lists; redact only these
    decision = policy.decide(ctx, hits, classes)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from guard.core import CATEGORIES, Action, Classification, Decision, Finding, Segment


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who sends what where: the facts a policy decides on, besides the content."""

    user: str = ""
    groups: tuple[str, ...] = ()
    destination: str = ""  # name from rules/destinations.yaml
    destination_kind: str = "public"  # public | private
    provider: str = ""  # adapter name: openai, anthropic, gemini, ...
    endpoint: str = ""  # e.g. chat.completions, messages
    model: str = ""


class DefaultPolicy:
    """Redact every scored category on public destinations; allow on private ones."""

    name = "default"

    private_target = ""
    on_private_unavailable = "block"

    def classify(self, segments: Sequence[Segment]) -> list[Classification]:
        """Return whole-prompt labels (markings, codenames, EDM hits); none in the default."""
        return []

    def applicable(
        self, ctx: RequestContext, findings: Sequence[tuple[Segment, Finding]]
    ) -> list[tuple[Segment, Finding]]:
        """Return the findings the policy acts on (all of them in the default)."""
        return list(findings)

    def decide(
        self,
        ctx: RequestContext,
        findings: Sequence[tuple[Segment, Finding]],
        classifications: Sequence[Classification] = (),
    ) -> Decision:
        """Redact scored findings on public destinations, allow everything else."""
        if ctx.destination_kind == "private":
            return Decision(Action.ALLOW, ("default-internal-allow",), "internal destination")
        cats = frozenset(f.category for _, f in findings if f.category in CATEGORIES)
        if not cats:
            return Decision(Action.ALLOW, ("default-allow",))
        return Decision(Action.REDACT, ("default-redact",), "personal data or secrets", redact_categories=cats)


def load_policy(
    rules_dir: Path | None = None, *, private_model_url: str | None = None, edm_dir: Path | None = None
) -> DefaultPolicy:
    """Load the site's policy from rules/ (DefaultPolicy when there is no policy.yaml); RuleError if invalid."""
    from guard.policy.loader import load_site_policy

    return load_site_policy(rules_dir, private_model_url=private_model_url, edm_dir=edm_dir)
