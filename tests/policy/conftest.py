"""Fixtures: a writable copy of the bundled rules/, and helpers to build findings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from guard.core import Finding, Segment
from guard.detect.rules import BUNDLED_RULES


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    dst = tmp_path / "rules"
    shutil.copytree(BUNDLED_RULES, dst)
    return dst


@pytest.fixture
def edm_dir(tmp_path: Path) -> Path:
    d = tmp_path / "edm"
    d.mkdir()
    return d


def hit(text: str, value: str, category: str, score: float = 0.9, rule: str = "test-rule") -> tuple[Segment, Finding]:
    """A (segment, finding) pair for `value` inside `text`."""
    start = text.index(value)
    return Segment(text, ("messages", 0, "content"), "user"), Finding(
        category, category.upper(), rule, start, start + len(value), score
    )
