"""Hot reload: a changed rules/ takes effect; an invalid change is rejected and the last good policy stays."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from guard.core import Action
from guard.policy import RequestContext
from guard.policy.edm import build_store, save_store
from guard.policy.loader import PolicyHolder
from tests.policy.conftest import hit

CTX = RequestContext(destination="openai", destination_kind="public")
EMAIL = [hit("x bob@corp.com", "bob@corp.com", "email")]


def _bump(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))  # coarse-mtime filesystems


def test_valid_change_takes_effect(rules_dir: Path, edm_dir: Path) -> None:
    h = PolicyHolder(rules_dir, edm_dir=edm_dir, interval_s=0)
    assert h.get().decide(CTX, EMAIL).action == Action.REDACT
    p = rules_dir / "policy.yaml"
    _bump(p, p.read_text().replace("    email: redact", "    email: block"))
    assert h.get().decide(CTX, EMAIL).action == Action.BLOCK
    assert h.generation == 1 and h.last_error == ""


def test_invalid_change_is_rejected_and_last_good_policy_stays(
    rules_dir: Path, edm_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = PolicyHolder(rules_dir, edm_dir=edm_dir, interval_s=0)
    good = h.get()
    p = rules_dir / "policy.yaml"
    _bump(p, p.read_text().replace("    email: redact", "    email: shred"))
    with caplog.at_level(logging.ERROR, logger="guard.policy"):
        pol = h.get()
    assert pol is good and pol.decide(CTX, EMAIL).action == Action.REDACT
    assert "policy.yaml:11: field 'categories.email'" in h.last_error
    assert "keeping the previous policy" in caplog.text
    # a broken YAML file, then a fix: the fix takes effect
    _bump(p, "policy: {categories: [\n")
    assert h.get() is good and "invalid YAML" in h.last_error
    _bump(p, (Path(__file__).parents[2] / "rules" / "policy.yaml").read_text().replace("email: redact", "email: allow"))
    assert h.get().decide(CTX, EMAIL).action == Action.ALLOW and h.last_error == ""


def test_bad_classifier_or_groups_file_is_rejected(rules_dir: Path, edm_dir: Path) -> None:
    h = PolicyHolder(rules_dir, edm_dir=edm_dir, interval_s=0)
    good = h.get()
    _bump(rules_dir / "groups.yaml", "groups: [finance]\n")
    assert h.get() is good and "groups.yaml" in h.last_error


def test_new_edm_store_is_picked_up(rules_dir: Path, edm_dir: Path) -> None:
    from guard.core import Segment

    h = PolicyHolder(rules_dir, edm_dir=edm_dir, interval_s=0)
    seg = [Segment("refund CUST-004711")]
    assert h.get().classify(seg) == []
    save_store(build_store("customers", ["id"], ["CUST-004711"]), edm_dir)
    os.utime(edm_dir, ns=(0, os.stat(edm_dir).st_mtime_ns + 2_000_000_000))
    assert [c.rule_id for c in h.get().classify(seg)] == ["edm-customers"]


def test_polling_interval_limits_stat_calls(rules_dir: Path, edm_dir: Path) -> None:
    h = PolicyHolder(rules_dir, edm_dir=edm_dir, interval_s=3600)
    p = rules_dir / "policy.yaml"
    _bump(p, p.read_text().replace("    email: redact", "    email: block"))
    assert h.get().decide(CTX, EMAIL).action == Action.REDACT  # not checked yet
    assert h.check() is True
    assert h.get().decide(CTX, EMAIL).action == Action.BLOCK
