"""A pool of detection worker processes, so mitmproxy's event loop never blocks on detection.

Each worker builds its own Engine once (spaCy model, compiled rules). The parent keeps an LRU cache
of findings per segment text: a chat resends its whole history every turn, so turn N sends only the
new segments to a worker and costs about what turn 1 cost. A worker that raises, dies or hangs
makes `scan` raise (the caller blocks the request: fail closed); the pool then replaces its workers.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import multiprocessing
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from guard.core import Finding

DEFAULT_FACTORY = "guard.detect.engine:build_engine"
# Batches above this many characters are split across workers (a first turn with a long history).
SPLIT_CHARS = 16_384

_engine: Any = None  # the worker's Engine, built by _init_worker


class DetectionError(RuntimeError):
    """Detection did not complete; the message never contains prompt text."""


def load_factory(spec: str) -> Callable[..., Any]:
    """Import `module:function`, the callable that builds a detection engine."""
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"engine factory must look like 'module:function', got {spec!r}")
    return getattr(importlib.import_module(module), name)


def _init_worker(factory: str, rules_dir: str | None, models: bool, spacy_model: str | None) -> None:
    global _engine
    import guard.offline  # noqa: F401 - keep Presidio's helpers off the network in the worker too

    kwargs: dict[str, Any] = {"models": models}
    if spacy_model:
        kwargs["spacy_model"] = spacy_model
    _engine = load_factory(factory)(Path(rules_dir) if rules_dir else None, **kwargs)
    if models:  # load lazily-loaded models now, not on the first request
        _engine.scan_many(["Warm up with Jane Smith from Acme", "张伟在北京"])


def _scan(texts: list[str]) -> list[list[tuple[str, str, str, int, int, float]]]:
    # Plain tuples pickle faster than dataclasses across the process boundary.
    return [
        [(f.category, f.entity_type, f.rule_id, f.start, f.end, f.score) for f in found]
        for found in _engine.scan_many(texts)
    ]


def _ping() -> int:
    import time

    time.sleep(0.05)  # hold this worker so the next ping reaches another one
    return os.getpid()


class DetectionPool:
    """Scan segment texts in worker processes, with a findings cache per text in the parent."""

    def __init__(
        self,
        workers: int | None = None,
        rules_dir: Path | None = None,
        *,
        models: bool = True,
        spacy_model: str | None = None,
        factory: str = DEFAULT_FACTORY,
        cache_entries: int = 50_000,
        timeout_s: float = 30.0,
    ) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._initargs = (factory, str(rules_dir) if rules_dir else None, models, spacy_model)
        self.timeout_s = timeout_s
        self._cache: OrderedDict[bytes, tuple[Finding, ...]] = OrderedDict()
        self._cache_entries = cache_entries
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self.restarts = 0
        self.hits = 0
        self.misses = 0

    def start(self) -> None:
        """Start every worker and wait until each has built its engine (raises if one cannot)."""
        ex = self._get_executor()
        seen: set[int] = set()
        for _ in range(4):
            futures = [ex.submit(_ping) for _ in range(self.workers * 2)]
            seen.update(fut.result(timeout=max(self.timeout_s, 300)) for fut in futures)
            if len(seen) >= self.workers:
                return

    def close(self) -> None:
        """Stop the workers."""
        with self._lock:
            ex, self._executor = self._executor, None
        if ex is not None:
            ex.shutdown(wait=True, cancel_futures=True)

    async def scan(self, texts: list[str]) -> list[list[Finding]]:
        """Return findings for each text; raise DetectionError if any worker fails."""
        keys = [_key(t) for t in texts]
        out: list[tuple[Finding, ...] | None] = [self._cached(k) for k in keys]
        todo: dict[bytes, str] = {}
        for k, t, o in zip(keys, texts, out, strict=True):
            if o is None:
                todo.setdefault(k, t)
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            fresh = await self._run(list(todo.values()))
            for k, found in zip(todo, fresh, strict=True):
                self._remember(k, found)
            got = dict(zip(todo, fresh, strict=True))
            out = [o if o is not None else got[k] for k, o in zip(keys, out, strict=True)]
        return [list(o or ()) for o in out]

    async def _run(self, texts: list[str]) -> list[tuple[Finding, ...]]:
        ex = self._get_executor()
        loop = asyncio.get_running_loop()
        batches = _split(texts, self.workers)
        try:
            futs = [asyncio.wrap_future(ex.submit(_scan, b), loop=loop) for b in batches]
            results = await asyncio.wait_for(asyncio.gather(*futs), self.timeout_s)
        except BrokenProcessPool as exc:
            self._reset(ex)
            raise DetectionError("a detection worker died") from exc
        except TimeoutError as exc:
            self._reset(ex)
            raise DetectionError(f"detection took longer than {self.timeout_s:g} s") from exc
        except Exception as exc:
            # The worker's own exception: its message may quote text, so keep only the class.
            raise DetectionError(f"detection failed ({type(exc).__name__})") from None
        flat = [found for batch in results for found in batch]
        return [tuple(Finding(*f) for f in found) for found in flat]

    def _get_executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # forkserver: fork() from a threaded process (mitmproxy, the audit thread) can deadlock.
                ctx = multiprocessing.get_context("forkserver")
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=ctx, initializer=_init_worker, initargs=self._initargs
                )
            return self._executor

    def _reset(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is not broken:
                return
            self._executor = None
            self.restarts += 1
        for proc in list(getattr(broken, "_processes", {}).values()):
            proc.kill()  # a hung worker would otherwise keep its CPU
        broken.shutdown(wait=False, cancel_futures=True)

    def _cached(self, key: bytes) -> tuple[Finding, ...] | None:
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
        return hit

    def _remember(self, key: bytes, findings: tuple[Finding, ...]) -> None:
        self._cache[key] = findings
        if len(self._cache) > self._cache_entries:
            self._cache.popitem(last=False)


def _split(texts: list[str], workers: int) -> list[list[str]]:
    """Split a large batch into up to `workers` contiguous batches of similar total length."""
    total = sum(len(t) for t in texts)
    if workers <= 1 or total <= SPLIT_CHARS or len(texts) == 1:
        return [texts]
    per = total / min(workers, len(texts))
    batches: list[list[str]] = [[]]
    size = 0
    for t in texts:
        if size >= per and len(batches) < workers:
            batches.append([])
            size = 0
        batches[-1].append(t)
        size += len(t)
    return batches


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
