"""Core types shared by every layer: segments, findings, decisions. No I/O here."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# Scored categories (../shared/eval/README.md). Other categories may be emitted, never scored.
CATEGORIES: tuple[str, ...] = (
    "person",
    "email",
    "phone",
    "payment_card",
    "national_id",
    "bank_account",
    "ip_address",
    "address",
    "secret",
)
EXTRA_CATEGORIES: tuple[str, ...] = ("organization", "location", "date", "url")


class Action(enum.StrEnum):
    """What the policy does with a request."""

    ALLOW = "allow"
    REDACT = "redact"
    ROUTE_PRIVATE = "route_private"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Action.ALLOW: 0, Action.REDACT: 1, Action.ROUTE_PRIVATE: 2, Action.BLOCK: 3}


@dataclass(frozen=True, slots=True)
class Finding:
    """One sensitive value found in a text: where, what, by which rule, how sure."""

    category: str
    entity_type: str
    rule_id: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "entity_type": self.entity_type,
            "rule_id": self.rule_id,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 3),
        }

    def shifted(self, offset: int) -> Finding:
        return Finding(
            self.category, self.entity_type, self.rule_id, self.start + offset, self.end + offset, self.score
        )


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of text from a request, with where it sits in the body and who wrote it.

    `path` is a tuple of JSON keys / list indexes leading to the string in the parsed body;
    `role` is the chat role (user, system, assistant, tool) when the wire format has one.
    """

    text: str
    path: tuple[str | int, ...] = ()
    role: str = ""
    kind: str = "text"  # text | tool_args | tool_result | attachment | other | key (an object key)


@dataclass(frozen=True, slots=True)
class Classification:
    """A label on the whole prompt (marking, codename, EDM hit, source code), and the rule that fired."""

    label: str
    rule_id: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's verdict for one request and the rules that produced it."""

    action: Action
    rules: tuple[str, ...] = ()
    reason: str = ""
    monitor: bool = False  # decided and recorded, not enforced
    target: str = ""  # private destination name when action is route_private
    redact_categories: frozenset[str] = field(default_factory=frozenset)


def mask(value: str) -> str:
    """A preview that shows the shape of a value but not the value: `gh…mP (40)`."""
    n = len(value)
    if n <= 6:
        return f"*** ({n})"
    keep = 2 if n < 16 else 3
    return f"{value[:keep]}…{value[-keep:]} ({n})"
