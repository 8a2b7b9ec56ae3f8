"""rules/policy.yaml: actions per category and classification, thresholds, allow-lists, overrides.

policy:
  id: default
  monitor: false                  # true: decide and record, never enforce
  private_target: ""              # private destination for route_private ('' = the first one)
  on_private_unavailable: block   # private model down or slow: block | redact (and send public)
  thresholds: {person: 0.6}       # findings scored below are ignored
  categories: {secret: redact, "*": redact}      # action per finding category ('*' = others)
  classifications: {confidential: route_private} # action per classification label
  allowlists:                     # findings whose value is listed are ignored
    - {id: company-email, category: email, domains: [example.com]}
    - {id: test-cards, category: payment_card, values: ["4111 1111 1111 1111"], sha256: [...]}
  overrides:                      # later entries win; every `when` key given must match
    - id: finance-iban-internal
      when: {groups: [finance], destinations: [internal-llm], destination_kind: private, users: ["a*"]}
      categories: {bank_account: allow}
      classifications: {...}
      thresholds: {...}
      action: allow               # optional: the whole request, whatever was found
      monitor: true               # optional: monitor only for these requests
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guard.core import CATEGORIES, EXTRA_CATEGORIES, Action
from guard.detect.rules import RuleError, load_yaml
from guard.policy.edm import normalise

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_POLICY_FIELDS = {
    "id", "description", "monitor", "private_target", "on_private_unavailable", "thresholds", "categories",
    "classifications", "allowlists", "overrides",
}  # fmt: skip
_OVERRIDE_FIELDS = {"id", "description", "when", "categories", "classifications", "thresholds", "action", "monitor"}
_WHEN_FIELDS = {"users", "groups", "destinations", "destination_kind"}
_ALLOW_FIELDS = {"id", "description", "category", "domains", "values", "sha256"}
_ACTIONS = tuple(a.value for a in Action)


def _hmac(key: bytes, value: str) -> str:
    # The same keyed fingerprint the audit store records for a finding (guard.events.fingerprint).
    return hmac.new(key, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def value_key(category: str, value: str) -> str:
    """The sha256 an allow-list compares: of the normalised value (e-mails: lowercased)."""
    norm = value.strip().lower() if category == "email" else normalise(value)
    return hashlib.sha256(norm.encode()).hexdigest()


@dataclass(frozen=True)
class AllowList:
    """Values of one category that are never treated as sensitive; only hashes are kept."""

    id: str
    category: str
    domains: tuple[str, ...] = ()
    hashes: frozenset[str] = frozenset()
    fingerprints: frozenset[str] = frozenset()  # keyed HMAC of the raw value (review UI entries)
    fingerprint_key: bytes = field(default=b"", repr=False)
    rule_id: str = ""  # only findings of this detector (review UI entries name the rule that fired)

    def allows(self, category: str, value: str, rule_id: str = "") -> bool:
        if category != self.category or (self.rule_id and rule_id and rule_id != self.rule_id):
            return False
        if self.fingerprints:
            return _hmac(self.fingerprint_key, value) in self.fingerprints
        if self.domains and category == "email":
            dom = value.strip().lower().rpartition("@")[2]
            if any(dom == d or dom.endswith("." + d) for d in self.domains):
                return True
        return value_key(category, value) in self.hashes


@dataclass(frozen=True)
class Override:
    """Actions that replace the base policy's for requests matching `when`."""

    id: str
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    destinations: tuple[str, ...] = ()
    destination_kind: str = ""
    categories: dict[str, Action] = field(default_factory=dict)
    classifications: dict[str, Action] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    action: Action | None = None
    monitor: bool | None = None


@dataclass(frozen=True)
class PolicySpec:
    """The validated content of rules/policy.yaml."""

    id: str = "default"
    monitor: bool = False
    private_target: str = ""
    on_private_unavailable: str = "block"
    thresholds: dict[str, float] = field(default_factory=dict)
    categories: dict[str, Action] = field(default_factory=dict)
    classifications: dict[str, Action] = field(default_factory=dict)
    allowlists: tuple[AllowList, ...] = ()
    overrides: tuple[Override, ...] = ()
    source: str = ""


class _Ctx:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, line: int, fld: str, msg: str, who: str = "") -> RuleError:
        return RuleError(f"{self.path}:{line}: field '{fld}'{f' ({who})' if who else ''}: {msg}")


def _actions(c: _Ctx, raw: Any, fld: str, line: int, who: str, cats: bool) -> dict[str, Action]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise c.fail(line, fld, "must be a mapping of name: action", who)
    line = raw.get("__line__", line)
    out = {}
    for key, act in raw.items():
        if key == "__line__":
            continue
        if cats and key != "*" and key not in CATEGORIES + EXTRA_CATEGORIES:
            raise c.fail(line, f"{fld}.{key}", f"unknown category; known: {', '.join(CATEGORIES)}", who)
        if act not in _ACTIONS:
            raise c.fail(line, f"{fld}.{key}", f"unknown action {act!r}; one of {', '.join(_ACTIONS)}", who)
        out[str(key)] = Action(act)
    return out


def _thresholds(c: _Ctx, raw: Any, fld: str, line: int, who: str) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise c.fail(line, fld, "must be a mapping of category: minimum score", who)
    line = raw.get("__line__", line)
    out = {}
    for key, val in raw.items():
        if key == "__line__":
            continue
        if key not in CATEGORIES + EXTRA_CATEGORIES:
            raise c.fail(line, f"{fld}.{key}", "unknown category", who)
        if not isinstance(val, int | float) or isinstance(val, bool) or not 0 <= val <= 1:
            raise c.fail(line, f"{fld}.{key}", "must be a score in [0, 1]", who)
        out[key] = float(val)
    return out


def _strs(c: _Ctx, raw: dict[str, Any], key: str, line: int, who: str) -> tuple[str, ...]:
    val = raw.get(key) or []
    if isinstance(val, str):
        val = [val]
    if not isinstance(val, list) or not all(isinstance(v, str | int) and str(v) for v in val):
        raise c.fail(line, key, "must be a list of strings", who)
    return tuple(str(v) for v in val)


def _id(c: _Ctx, raw: dict[str, Any], line: int, kind: str, seen: set[str]) -> str:
    rid = raw.get("id", "")
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise c.fail(line, "id", f"every {kind} needs a kebab-case id (a-z, 0-9, '-')")
    if rid in seen:
        raise c.fail(line, "id", f"duplicate id {rid!r}")
    seen.add(rid)
    return rid


def _allowlist(c: _Ctx, raw: Any, seen: set[str]) -> AllowList:
    if not isinstance(raw, dict):
        raise RuleError(f"{c.path}: each allow-list must be a mapping")
    line = raw.get("__line__", 0)
    rid = _id(c, raw, line, "allow-list", seen)
    who = f"allow-list {rid}"
    unknown = set(raw) - _ALLOW_FIELDS - {"__line__"}
    if unknown:
        raise c.fail(line, sorted(unknown)[0], "unknown field", who)
    cat = raw.get("category")
    if cat not in CATEGORIES + EXTRA_CATEGORIES:
        raise c.fail(line, "category", "required: the finding category this list applies to", who)
    domains = tuple(d.lower().lstrip("@") for d in _strs(c, raw, "domains", line, who))
    if domains and cat != "email":
        raise c.fail(line, "domains", "only applies to category email", who)
    hashes = {value_key(cat, v) for v in _strs(c, raw, "values", line, who)}
    for h in _strs(c, raw, "sha256", line, who):
        if not _SHA_RE.match(h):
            raise c.fail(line, "sha256", "each entry is 64 lowercase hex digits (`guard policy hash`)", who)
        hashes.add(h)
    if not domains and not hashes:
        raise c.fail(line, "values", "give domains, values or sha256", who)
    return AllowList(rid, cat, domains, frozenset(hashes))


def _override(c: _Ctx, raw: Any, seen: set[str]) -> Override:
    if not isinstance(raw, dict):
        raise RuleError(f"{c.path}: each override must be a mapping")
    line = raw.get("__line__", 0)
    rid = _id(c, raw, line, "override", seen)
    who = f"override {rid}"
    unknown = set(raw) - _OVERRIDE_FIELDS - {"__line__"}
    if unknown:
        raise c.fail(line, sorted(unknown)[0], "unknown field", who)
    when = raw.get("when") or {}
    if not isinstance(when, dict) or set(when) - _WHEN_FIELDS - {"__line__"}:
        raise c.fail(line, "when", f"a mapping of {', '.join(sorted(_WHEN_FIELDS))}", who)
    kind = when.get("destination_kind", "")
    if kind not in ("", "public", "private"):
        raise c.fail(line, "when.destination_kind", "public or private", who)
    action = raw.get("action")
    if action is not None and action not in _ACTIONS:
        raise c.fail(line, "action", f"one of {', '.join(_ACTIONS)}", who)
    monitor = raw.get("monitor")
    if monitor is not None and not isinstance(monitor, bool):
        raise c.fail(line, "monitor", "true or false", who)
    return Override(
        id=rid,
        users=tuple(u.lower() for u in _strs(c, when, "users", line, who)),
        groups=_strs(c, when, "groups", line, who),
        destinations=_strs(c, when, "destinations", line, who),
        destination_kind=kind,
        categories=_actions(c, raw.get("categories"), "categories", line, who, cats=True),
        classifications=_actions(c, raw.get("classifications"), "classifications", line, who, cats=False),
        thresholds=_thresholds(c, raw.get("thresholds"), "thresholds", line, who),
        action=Action(action) if action else None,
        monitor=monitor,
    )


def load_spec(path: Path) -> PolicySpec:
    """Validate rules/policy.yaml into a PolicySpec; errors name file, line and field."""
    c = _Ctx(path)
    doc = load_yaml(path) or {}
    pol = doc.get("policy") if isinstance(doc, dict) else None
    if not isinstance(pol, dict):
        raise RuleError(f"{path}: top level must be a mapping with a 'policy' mapping")
    line = pol.get("__line__", 0)
    unknown = set(pol) - _POLICY_FIELDS - {"__line__"}
    if unknown:
        raise c.fail(line, sorted(unknown)[0], "unknown field")
    if not isinstance(pol.get("monitor", False), bool):
        raise c.fail(line, "monitor", "true or false")
    if pol.get("on_private_unavailable", "block") not in ("block", "redact"):
        raise c.fail(line, "on_private_unavailable", "block or redact")
    for key in ("allowlists", "overrides"):
        if not isinstance(pol.get(key) or [], list):
            raise c.fail(line, key, "must be a list")
    seen: set[str] = set()
    return PolicySpec(
        id=str(pol.get("id", "default")),
        monitor=bool(pol.get("monitor", False)),
        private_target=str(pol.get("private_target", "") or ""),
        on_private_unavailable=pol.get("on_private_unavailable", "block"),
        thresholds=_thresholds(c, pol.get("thresholds"), "thresholds", line, ""),
        categories=_actions(c, pol.get("categories"), "categories", line, "", cats=True),
        classifications=_actions(c, pol.get("classifications"), "classifications", line, "", cats=False),
        allowlists=tuple(_allowlist(c, a, seen) for a in pol.get("allowlists") or []),
        overrides=tuple(_override(c, o, seen) for o in pol.get("overrides") or []),
        source=str(path),
    )
