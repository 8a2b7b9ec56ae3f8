"""Review UI allow-list entries (rules/allowlist.yaml, keyed fingerprints) take effect in the policy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audit_ui import allowlist
from guard.core import Action
from guard.detect.rules import RuleError
from guard.events import fingerprint
from guard.policy import RequestContext, load_policy
from guard.policy.loader import PolicyHolder
from tests.policy.conftest import hit

CTX = RequestContext(destination="openai", destination_kind="public")
KEY = "review-test-key"
VALUE = "support@vendor-helpdesk.net"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUARD_FINGERPRINT_KEY", KEY)


def _review(rules_dir: Path, value: str, rule_id: str = "email-address") -> None:
    assert allowlist.add(rules_dir, rule_id=rule_id, category="email", fingerprint=fingerprint(value, KEY.encode()),
                         preview="su…et (27)", note="vendor helpdesk", added_by="rita", event_id="e1")  # fmt: skip


def test_reviewed_false_positive_is_no_longer_redacted(rules_dir: Path, edm_dir: Path) -> None:
    text = f"write to {VALUE} or bob@corp.com"
    hits = [hit(text, VALUE, "email", rule="email-address"), hit(text, "bob@corp.com", "email", rule="email-address")]
    holder = PolicyHolder(rules_dir, edm_dir=edm_dir, interval_s=0)
    assert len(holder.applicable(CTX, hits)) == 2
    _review(rules_dir, VALUE)
    os.utime(rules_dir / "allowlist.yaml", ns=(0, os.stat(rules_dir / "allowlist.yaml").st_mtime_ns + 2_000_000_000))
    kept = holder.applicable(CTX, hits)
    assert [seg.text[f.start : f.end] for seg, f in kept] == ["bob@corp.com"]
    ev = holder.get().evaluate(CTX, hits)
    assert ev.dropped[0][1].startswith("ui-") and ev.decision.action == Action.REDACT
    assert VALUE not in (rules_dir / "allowlist.yaml").read_text()


def test_reviewed_entry_applies_only_to_its_detector(rules_dir: Path, edm_dir: Path) -> None:
    _review(rules_dir, VALUE, rule_id="email-address")
    pol = load_policy(rules_dir, edm_dir=edm_dir)
    other = [hit(f"x {VALUE}", VALUE, "email", rule="some-other-rule")]
    assert len(pol.applicable(CTX, other)) == 1


def test_bad_allowlist_file_is_a_rule_error(rules_dir: Path, edm_dir: Path) -> None:
    (rules_dir / "allowlist.yaml").write_text("allowlists:\n  - id: x\n    category: email\n    fingerprints: [abc]\n")
    with pytest.raises(RuleError, match=r"allowlist.yaml:2: field 'fingerprints'"):
        load_policy(rules_dir, edm_dir=edm_dir)
