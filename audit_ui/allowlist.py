"""Allow-list entries added from reviewed false positives, written to rules/allowlist.yaml.

The audit store holds no raw value, so an entry names the value by its keyed fingerprint
(HMAC-SHA256 under the site key, guard.events.fingerprint) together with the rule that fired;
the masked preview and the reviewer's note say what it is to a human reading the file.
"""

from __future__ import annotations

import os
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

FILE = "allowlist.yaml"
HEADER = (
    "# Values reviewers marked as false positives in the review UI (guard ui -> Rules).\n"
    "# Each entry suppresses one value for one rule: the value is named by its fingerprint, the\n"
    "# HMAC-SHA256 under this site's fingerprint key (guard.events.fingerprint), never in clear.\n"
)
_lock = threading.Lock()


def load(rules_dir: Path) -> list[dict[str, Any]]:
    """The entries in rules_dir/allowlist.yaml (empty when the file is absent)."""
    path = rules_dir / FILE
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return list(data.get("allow", []) or [])


def add(
    rules_dir: Path,
    *,
    rule_id: str,
    category: str,
    fingerprint: str,
    preview: str,
    note: str,
    added_by: str,
    event_id: str,
) -> bool:
    """Append an entry unless (rule_id, fingerprint) is already listed; return True if added."""
    with _lock:
        entries = load(rules_dir)
        if any(e.get("rule_id") == rule_id and e.get("fingerprint") == fingerprint for e in entries):
            return False
        entries.append(
            {
                "rule_id": rule_id,
                "category": category,
                "fingerprint": fingerprint,
                "preview": preview,
                "note": note,
                "added_by": added_by,
                "added_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "event_id": event_id,
            }
        )
        body = HEADER + yaml.safe_dump({"allow": entries}, sort_keys=False, allow_unicode=True, width=100)
        rules_dir.mkdir(parents=True, exist_ok=True)
        # Write then rename: the proxy reloading rules/ never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=rules_dir, prefix=".allowlist.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        os.replace(tmp, rules_dir / FILE)
        return True
