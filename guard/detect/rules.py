"""Load detector definitions from rules/ YAML and compile them, failing at load with file:line:field.

A detector file holds `detectors: [ {...}, ... ]`. Fields of one detector:

  id            stable kebab-case id (it ends up in audit rows and SIEM events)
  category      one of guard.core.CATEGORIES (scored) or EXTRA_CATEGORIES
  entity_type   UPPER_SNAKE type, e.g. AWS_ACCESS_KEY
  description   one line for people
  regex         the pattern (Python `re` syntax). The value is the named group `value` if present,
                else group `group` (default 0)
  group         int, see regex
  flags         list of: ignorecase, multiline, dotall
  keywords      lowercase literals; the detector runs only if one occurs in the lowercased text
                (Aho-Corasick prefilter). Empty: runs on every text
  score         0..1
  entropy       minimum Shannon entropy (bits/char) of the value
  validate      list of validator names (guard.detect.validators.VALIDATORS)
  stopwords     lowercase substrings; a value containing one is dropped (placeholders, examples)
  allow         regexes; a value fully matching one is dropped
  examples      {match: [...], no_match: [...]} - proof run by tests and `guard rules test`
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from guard.core import CATEGORIES, EXTRA_CATEGORIES
from guard.detect.anchor import anchor_for
from guard.detect.validators import VALIDATORS

# An installed wheel ships rules/ as guard/_rules (setup.py copies it in); a checkout reads rules/ in place.
_PACKAGED_RULES = Path(__file__).resolve().parent.parent / "_rules"
BUNDLED_RULES = _PACKAGED_RULES if _PACKAGED_RULES.is_dir() else Path(__file__).resolve().parent.parent.parent / "rules"

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_ENTITY_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
_FLAGS = {"ignorecase": re.IGNORECASE, "multiline": re.MULTILINE, "dotall": re.DOTALL}
_KNOWN_FIELDS = {
    "id", "category", "entity_type", "description", "regex", "group", "flags", "keywords", "score",
    "entropy", "validate", "stopwords", "allow", "examples", "context",
}  # fmt: skip


class RuleError(ValueError):
    """A rules file is invalid; the message names file, line and field."""


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the line of each mapping as `__line__` (1-based)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: Path) -> Any:
    """Parse a YAML file with line numbers on mappings; syntax errors become RuleError."""
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise RuleError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise RuleError(f"{path}: not valid UTF-8") from None


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled detector definition."""

    id: str
    category: str
    entity_type: str
    description: str
    pattern: re.Pattern[str]
    group: int | str
    keywords: tuple[str, ...]
    score: float
    entropy: float | None
    validators: tuple[str, ...]
    stopwords: tuple[str, ...]
    allow: tuple[re.Pattern[str], ...]
    examples_match: tuple[str, ...] = ()
    examples_no_match: tuple[str, ...] = ()
    source: str = ""
    context: tuple[str, ...] = field(default=())
    # The characters a match can begin with, searched before the pattern is tried (guard.detect.anchor).
    anchor: re.Pattern[str] | None = None


def _fail(path: Path, line: int, rid: str, fld: str, msg: str) -> RuleError:
    who = f" (detector {rid})" if rid else ""
    return RuleError(f"{path}:{line}: field '{fld}'{who}: {msg}")


def _str_list(raw: dict[str, Any], key: str, path: Path, line: int, rid: str) -> tuple[str, ...]:
    val = raw.get(key, [])
    if val is None:
        return ()
    if not isinstance(val, list) or not all(isinstance(v, str) for v in val):
        raise _fail(path, line, rid, key, "must be a list of strings")
    return tuple(val)


def compile_rule(raw: Any, path: Path) -> Rule:
    """Validate one detector mapping and compile it."""
    if not isinstance(raw, dict):
        raise RuleError(f"{path}: each detector must be a mapping")
    line = raw.get("__line__", 0)
    rid = raw.get("id", "")
    unknown = set(raw) - _KNOWN_FIELDS - {"__line__"}
    if unknown:
        raise _fail(path, line, rid, sorted(unknown)[0], "unknown field")
    for req in ("id", "category", "entity_type", "regex"):
        if not isinstance(raw.get(req), str) or not raw[req]:
            raise _fail(path, line, rid, req, "required string is missing")
    if not _ID_RE.match(rid):
        raise _fail(path, line, rid, "id", "must be kebab-case (a-z, 0-9, '-')")
    if raw["category"] not in CATEGORIES + EXTRA_CATEGORIES:
        raise _fail(path, line, rid, "category", f"unknown category {raw['category']!r}")
    if not _ENTITY_RE.match(raw["entity_type"]):
        raise _fail(path, line, rid, "entity_type", "must be UPPER_SNAKE")
    flags = 0
    for name in _str_list(raw, "flags", path, line, rid):
        if name not in _FLAGS:
            raise _fail(path, line, rid, "flags", f"unknown flag {name!r}")
        flags |= _FLAGS[name]
    try:
        pattern = re.compile(raw["regex"], flags)
    except re.error as exc:
        raise _fail(path, line, rid, "regex", f"does not compile: {exc}") from None
    group: int | str = "value" if "value" in pattern.groupindex else raw.get("group", 0)
    if isinstance(group, int) and not 0 <= group <= pattern.groups:
        raise _fail(path, line, rid, "group", f"pattern has {pattern.groups} groups")
    keywords = _str_list(raw, "keywords", path, line, rid)
    if any(k != k.lower() or not k for k in keywords):
        raise _fail(path, line, rid, "keywords", "keywords must be non-empty and lowercase")
    score = raw.get("score", 0.8)
    if not isinstance(score, int | float) or not 0 < score <= 1:
        raise _fail(path, line, rid, "score", "must be a number in (0, 1]")
    entropy = raw.get("entropy")
    if entropy is not None and not isinstance(entropy, int | float):
        raise _fail(path, line, rid, "entropy", "must be a number")
    validators = _str_list(raw, "validate", path, line, rid)
    for v in validators:
        if v not in VALIDATORS:
            raise _fail(path, line, rid, "validate", f"unknown validator {v!r}; known: {sorted(VALIDATORS)}")
    allow = []
    for a in _str_list(raw, "allow", path, line, rid):
        try:
            allow.append(re.compile(a))
        except re.error as exc:
            raise _fail(path, line, rid, "allow", f"{a!r} does not compile: {exc}") from None
    examples = raw.get("examples") or {}
    if not isinstance(examples, dict):
        raise _fail(path, line, rid, "examples", "must be a mapping with match / no_match lists")
    ex_match = _str_list(examples, "match", path, line, rid)
    ex_no = _str_list(examples, "no_match", path, line, rid)
    return Rule(
        id=rid,
        category=raw["category"],
        entity_type=raw["entity_type"],
        description=str(raw.get("description", "")),
        pattern=pattern,
        group=group,
        keywords=keywords,
        score=float(score),
        entropy=float(entropy) if entropy is not None else None,
        validators=validators,
        stopwords=tuple(s.lower() for s in _str_list(raw, "stopwords", path, line, rid)),
        allow=tuple(allow),
        examples_match=ex_match,
        examples_no_match=ex_no,
        source=f"{path}:{line}",
        context=tuple(c.lower() for c in _str_list(raw, "context", path, line, rid)),
        anchor=anchor_for(pattern),
    )


def load_detectors(rules_dir: Path | None = None) -> list[Rule]:
    """Load and compile every detector under `rules_dir/detectors/**.yaml`, ids unique."""
    root = Path(rules_dir) if rules_dir else BUNDLED_RULES
    det_dir = root / "detectors"
    if not det_dir.is_dir():
        raise RuleError(f"{root}: no detectors/ directory")
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for path in sorted(det_dir.rglob("*.yaml")):
        doc = load_yaml(path)
        if doc is None:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("detectors"), list):
            raise RuleError(f"{path}: top level must be a mapping with a 'detectors' list")
        for raw in doc["detectors"]:
            rule = compile_rule(raw, path)
            if rule.id in seen:
                raise RuleError(f"{rule.source}: field 'id': duplicate id {rule.id!r}, first at {seen[rule.id]}")
            seen[rule.id] = rule.source
            rules.append(rule)
    return rules
