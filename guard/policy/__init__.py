"""Policy: decide allow / redact / route_private / block from findings, classification, user, destination.

The interface the pipeline calls. `load_policy(rules_dir)` builds the site's policy from rules/;
until a rules/policy.yaml exists it returns DefaultPolicy (redact every scored category).
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

    def classify(self, segments: Sequence[Segment]) -> list[Classification]:
        """Return whole-prompt labels (markings, codenames, EDM hits); none in the default."""
        return []

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


def load_policy(rules_dir: Path | None = None) -> DefaultPolicy:
    """Load the site's policy from rules/ (the default policy until rules/policy.yaml exists)."""
    return DefaultPolicy()
