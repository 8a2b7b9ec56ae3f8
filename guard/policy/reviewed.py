"""rules/allowlist.yaml: values reviewers marked as false positives in the review UI (audit_ui/allowlist.py).

Entries have the shape of policy.yaml's allow-lists, but name each value by its keyed fingerprint
(HMAC-SHA256 under the site's fingerprint key, as the audit store records findings) and the detector
that fired (`rule_id`): the policy ignores a finding of that detector whose value has that fingerprint.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from guard.core import CATEGORIES, EXTRA_CATEGORIES
from guard.detect.rules import RuleError, load_yaml
from guard.policy.spec import AllowList

FILE = "allowlist.yaml"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_FIELDS = {"id", "category", "rule_id", "fingerprints", "preview", "note", "added_by", "added_at", "event_id"}


def load_reviewed(rules_dir: Path, key: Callable[[], bytes]) -> tuple[list[AllowList], tuple[Path, ...]]:
    """Allow-lists from rules/allowlist.yaml (none when absent); `key` gives the fingerprint key."""
    path = rules_dir / FILE
    if not path.is_file():
        return [], ()
    doc = load_yaml(path) or {}
    entries = doc.get("allowlists") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise RuleError(f"{path}: top level must be a mapping with an 'allowlists' list")
    out: list[AllowList] = []
    secret = b""
    for raw in entries:
        if not isinstance(raw, dict):
            raise RuleError(f"{path}: each allow-list entry must be a mapping")
        line, rid = raw.get("__line__", 0), raw.get("id", "")

        def fail(fld: str, msg: str, line: int = line, rid: object = rid) -> RuleError:
            return RuleError(f"{path}:{line}: field '{fld}' (allow-list {rid}): {msg}")

        if not isinstance(rid, str) or not rid:
            raise fail("id", "required")
        unknown = set(raw) - _FIELDS - {"__line__"}
        if unknown:
            raise fail(sorted(unknown)[0], "unknown field")
        if raw.get("category") not in CATEGORIES + EXTRA_CATEGORIES:
            raise fail("category", "unknown category")
        fps = raw.get("fingerprints") or []
        if not isinstance(fps, list) or not fps or not all(isinstance(f, str) and _HEX64.match(f) for f in fps):
            raise fail("fingerprints", "a list of 64-hex-digit HMAC-SHA256 fingerprints")
        secret = secret or key()
        out.append(AllowList(rid, raw["category"], fingerprints=frozenset(fps), fingerprint_key=secret,
                             rule_id=str(raw.get("rule_id") or "")))  # fmt: skip
    return out, (path,)
