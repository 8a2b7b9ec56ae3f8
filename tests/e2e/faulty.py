"""A detection engine with fault triggers, for proving that detection failures block (fail closed).

The proxy loads it with `--engine-factory tests.e2e.faulty:build_engine`: the real engine, except that
a text holding a trigger word makes the worker raise, or kill its own process.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from guard.detect.engine import Engine
from guard.detect.engine import build_engine as real_build_engine

RAISE = "GUARDTEST-DETECTOR-RAISES"
DIE = "GUARDTEST-WORKER-DIES"
HANG = "GUARDTEST-WORKER-HANGS"
SLOW = "GUARDTEST-WORKER-SLOW"  # takes half a second: other batches queue up behind it


class FaultyEngine(Engine):
    """The real engine; raises, hangs or exits the worker process on trigger words."""

    def scan_many(self, texts):
        if any(DIE in t for t in texts):
            os._exit(17)  # a worker dying mid-scan, as a segfault in a native library would
        if any(HANG in t for t in texts):
            time.sleep(3600)  # a worker stuck in a pathological regex or a native call
        if any(SLOW in t for t in texts):
            time.sleep(0.5)
        if any(RAISE in t for t in texts):
            raise RuntimeError("injected detection failure")
        return super().scan_many(texts)


def build_engine(rules_dir: Path | None = None, **kwargs: Any) -> FaultyEngine:
    real = real_build_engine(rules_dir, **kwargs)
    return FaultyEngine(real.rules, real.models)
