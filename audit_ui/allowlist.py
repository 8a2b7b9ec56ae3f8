"""Allow-list entries added from reviewed false positives, written to rules/allowlist.yaml.

Entries mirror rules/policy.yaml's `allowlists` (id, category, ...), but the audit store holds no
raw value and no unkeyed hash, so a value is named by its keyed fingerprint (`fingerprints`:
HMAC-SHA256 under the site key, guard.events.fingerprint) instead of `values` / `sha256`; the
rule that fired, the masked preview and the reviewer's note say what it is to a human reader.
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
    "# Same shape as rules/policy.yaml allowlists, but each value is named by its fingerprint, the\n"
    "# HMAC-SHA256 under this site's fingerprint key (guard.events.fingerprint), never in clear.\n"
)
_lock = threading.Lock()


def load(rules_dir: Path) -> list[dict[str, Any]]:
    """The entries in rules_dir/allowlist.yaml (empty when the file is absent)."""
    path = rules_dir / FILE
    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return list(data.get("allowlists", []) or [])


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
        if any(e.get("rule_id") == rule_id and fingerprint in (e.get("fingerprints") or []) for e in entries):
            return False
        entries.append(
            {
                "id": f"ui-{fingerprint[:12]}-{len(entries) + 1}",
                "category": category,
                "rule_id": rule_id,
                "fingerprints": [fingerprint],
                "preview": preview,
                "note": note,
                "added_by": added_by,
                "added_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
                "event_id": event_id,
            }
        )
        body = HEADER + yaml.safe_dump({"allowlists": entries}, sort_keys=False, allow_unicode=True, width=100)
        rules_dir.mkdir(parents=True, exist_ok=True)
        # Write then rename: the proxy reloading rules/ never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=rules_dir, prefix=".allowlist.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        os.replace(tmp, rules_dir / FILE)
        return True
