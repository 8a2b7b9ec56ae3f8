"""Fixtures for the proxy's unit tests: one real detection pool (pattern rules, one worker process)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from guard.detect.pool import DetectionPool


@pytest.fixture(scope="session")
def pool() -> Iterator[DetectionPool]:
    p = DetectionPool(1, models=False, factory="tests.e2e.faulty:build_engine", timeout_s=20)
    p.start()
    yield p
    p.close()
