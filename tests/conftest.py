"""Shared fixtures: one engine per test session (loading spaCy costs a second or two)."""

from __future__ import annotations

import pytest

from guard.detect.engine import Engine, build_engine


@pytest.fixture(scope="session")
def engine() -> Engine:
    return build_engine()


@pytest.fixture(scope="session")
def pattern_engine() -> Engine:
    return build_engine(models=False)
