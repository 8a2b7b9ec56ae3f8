"""A pool of detection worker processes, so mitmproxy's event loop never blocks on detection.

Each worker builds its own Engine once (spaCy model, compiled rules) and talks to the proxy over its
own pipe, read by the event loop itself (`add_reader`): no helper threads between a request and its
worker, which matters on a busy machine where every thread hop waits for a CPU slice. A worker has
at most one job in flight, so a send never waits on a busy worker; other batches queue in the parent,
and the next free worker takes those waiting together as one job (one spaCy pass for all of them:
a burst drains faster). If a job fails, every batch in it fails (fail closed).

The parent keeps an LRU cache of findings per segment text: a chat resends its whole history every
turn, so turn N sends only the new segments to a worker and costs about what turn 1 cost. A worker
that raises, dies or hangs makes `scan` raise (the caller blocks the request: fail closed); a dead
or hung worker is replaced.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib
import itertools
import multiprocessing
import os
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from guard.core import Finding

DEFAULT_FACTORY = "guard.detect.engine:build_engine"
# Batches above this many characters are split across workers (a first turn with a long history).
SPLIT_CHARS = 16_384
# Batches waiting for a busy worker are sent to the next free one together, up to this many
# characters: spaCy then runs their name windows in one pass, which costs about half as much as
# one pass each (its per-call overhead dominates short windows), so a burst drains faster.
COALESCE_CHARS = 32_768
COALESCE_BATCHES = 8
START_TIMEOUT_S = 300.0  # loading spaCy on a busy machine can take a while

_engine: Any = None  # the worker's Engine, built by _init_worker


def default_workers() -> int:
    """One detection worker per core this process may use, but one: the proxy's event loop needs that core.

    The loop (TLS, HTTP, hooks, restore) spends more CPU per request than a worker does, so one worker per
    core oversubscribes the machine by a process. Measured on 2 cores (bench/proxy_bench.py): 1 worker
    added less to the time to first token than 2 in five of six runs (e.g. +8.9 against +10.5 ms).
    """
    try:
        cores = len(os.sched_getaffinity(0))  # a container's CPU set, not the host's core count
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


class DetectionError(RuntimeError):
    """Detection did not complete; the message never contains prompt text."""


class DetectionTimeout(DetectionError):
    """Detection of one request ran past its time budget (the worker was replaced)."""


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
    # The engine (spaCy vocab and weights, jieba's dictionary, compiled rules) lives as long as the
    # worker: keep it out of the collector, whose full passes over it would stall a scan mid-request.
    import gc

    gc.collect()
    gc.freeze()


def _scan(texts: list[str]) -> list[list[tuple[str, str, str, int, int, float]]]:
    # Plain tuples pickle faster than dataclasses across the process boundary.
    return [
        [(f.category, f.entity_type, f.rule_id, f.start, f.end, f.score) for f in found]
        for found in _engine.scan_many(texts)
    ]


def _worker_main(conn: Any, initargs: tuple[Any, ...]) -> None:
    """Worker process: build the engine, then answer (id, texts) with (id, 'ok', findings) or (id, 'err', class)."""
    try:
        _init_worker(*initargs)
    except BaseException as exc:
        conn.send((0, "init", type(exc).__name__))
        return
    conn.send((0, "ready", os.getpid()))
    while True:
        try:
            req_id, texts = conn.recv()
        except (EOFError, OSError):
            return
        try:
            reply = (req_id, "ok", _scan(texts))
        except Exception as exc:  # the message may quote text: only the class crosses over
            reply = (req_id, "err", type(exc).__name__)
        conn.send(reply)


class _Worker:
    def __init__(self, ctx: Any, initargs: tuple[Any, ...]) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_worker_main, args=(child, initargs), daemon=True, name="guard-detect")
        self.proc.start()
        child.close()
        self.conn = parent
        self.ready = False
        # (request id, [(future, number of texts)]): one job may carry several coalesced batches.
        self.job: tuple[int, list[tuple[asyncio.Future[Any], int]]] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None


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
        self.workers = max(1, workers or default_workers())
        self._initargs = (factory, str(rules_dir) if rules_dir else None, models, spacy_model)
        self.timeout_s = timeout_s
        self._cache: OrderedDict[bytes, tuple[Finding, ...]] = OrderedDict()
        self._cache_entries = cache_entries
        self._pool: list[_Worker] = []
        self._queue: deque[tuple[int, list[str], asyncio.Future[Any]]] = deque()
        self._ids = itertools.count(1)
        self._ctx: Any = None
        self.restarts = 0
        self.coalesced = 0  # batches sent in the same job as an earlier one
        self.hits = 0
        self.misses = 0

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start every worker and wait until each has built its engine (DetectionError if one cannot)."""
        if self._ctx is None:
            # A process per core already: BLAS threads inside each worker would only oversubscribe
            # the cores (measured: same CPU time, 2x the wall time under load). Sites may override.
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ.setdefault(var, "1")
            # forkserver: fork() from a threaded process (mitmproxy, the audit thread) can deadlock.
            self._ctx = multiprocessing.get_context("forkserver")
        while len(self._pool) < self.workers:
            self._pool.append(_Worker(self._ctx, self._initargs))
        for w in self._pool:
            if not w.ready:
                self._await_ready(w)

    def _await_ready(self, w: _Worker) -> None:
        if not w.conn.poll(START_TIMEOUT_S):
            raise DetectionError("a detection worker did not start in time")
        try:
            _, kind, detail = w.conn.recv()
        except (EOFError, OSError):
            raise DetectionError("a detection worker died while starting") from None
        if kind != "ready":
            raise DetectionError(f"the detection engine failed to start ({detail})")
        w.ready = True

    def close(self) -> None:
        """Stop the workers."""
        for w in self._pool:
            self._forget(w)
            w.conn.close()
            w.proc.terminate()
        for w in self._pool:
            w.proc.join(5)
        self._pool.clear()

    def alive(self) -> int:
        """Count the workers running and ready to scan now (for the health endpoint)."""
        return sum(1 for w in self._pool if w.ready and w.proc.is_alive())

    # -- scanning -------------------------------------------------------------------------------

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
        loop = asyncio.get_running_loop()
        if self._ctx is None:
            await loop.run_in_executor(None, self.start)
        futs = []
        for batch in _split(texts, self.workers):
            fut: asyncio.Future[Any] = loop.create_future()
            self._queue.append((next(self._ids), batch, fut))
            futs.append(fut)
        self._dispatch(loop)
        try:
            results = await asyncio.wait_for(asyncio.gather(*futs), self.timeout_s)
        except TimeoutError:
            self._kill_jobs(set(map(id, futs)), loop)
            raise DetectionTimeout(f"detection took longer than its {self.timeout_s * 1000:g} ms budget") from None
        flat = [found for batch in results for found in batch]
        return [tuple(Finding(*f) for f in found) for found in flat]

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        for w in self._pool:
            self._attach(w, loop)  # a worker still loading must be heard saying "ready" on this loop
        for w in self._pool:
            if not self._queue:
                return
            if w.job is not None or not w.ready:
                continue
            req_id, texts, parts = self._take()
            if not parts:
                return
            w.job = (req_id, parts)
            try:
                w.conn.send((req_id, texts))
            except (OSError, ValueError):
                self._replace(w, loop, "a detection worker died")

    def _take(self) -> tuple[int, list[str], list[tuple[asyncio.Future[Any], int]]]:
        """Pop the next queued batch and those waiting behind it, up to the coalescing limits."""
        req_id, texts, parts, size = 0, [], [], 0
        while self._queue and len(parts) < COALESCE_BATCHES:
            rid, batch, fut = self._queue[0]
            if fut.done():  # cancelled or timed out while queued
                self._queue.popleft()
                continue
            n = sum(len(t) for t in batch)
            if parts and size + n > COALESCE_CHARS:
                break
            self._queue.popleft()
            req_id = req_id or rid
            texts += batch
            parts.append((fut, len(batch)))
            size += n
        self.coalesced += max(0, len(parts) - 1)
        return req_id, texts, parts

    def _attach(self, w: _Worker, loop: asyncio.AbstractEventLoop) -> None:
        if w.loop is not loop:
            self._forget(w)
            loop.add_reader(w.conn.fileno(), self._on_reply, w, loop)
            w.loop = loop

    def _forget(self, w: _Worker) -> None:
        if w.loop is not None and not w.loop.is_closed():
            w.loop.remove_reader(w.conn.fileno())
        w.loop = None

    def _on_reply(self, w: _Worker, loop: asyncio.AbstractEventLoop) -> None:
        try:
            req_id, kind, detail = w.conn.recv()
        except (EOFError, OSError):
            self._replace(w, loop, "a detection worker died")
            return
        if kind == "ready":  # a replacement finished loading
            w.ready = True
        elif kind == "init":
            self._replace(w, loop, f"the detection engine failed to start ({detail})")
            return
        elif w.job is not None and w.job[0] == req_id:
            parts = w.job[1]
            w.job = None
            at = 0
            for fut, n in parts:
                if not fut.done():
                    if kind == "ok":
                        fut.set_result(detail[at : at + n])
                    else:
                        fut.set_exception(DetectionError(f"detection failed ({detail})"))
                at += n
        self._dispatch(loop)

    def _kill_jobs(self, fut_ids: set[int], loop: asyncio.AbstractEventLoop) -> None:
        for w in list(self._pool):
            if w.job is not None and any(id(fut) in fut_ids for fut, _ in w.job[1]):
                self._replace(w, loop, "a detection worker hung")  # it keeps its CPU otherwise

    def _replace(self, w: _Worker, loop: asyncio.AbstractEventLoop, why: str) -> None:
        """Fail the dead worker's batch, start a new worker in its place (ready when it says so)."""
        for fut, _ in w.job[1] if w.job is not None else ():
            if not fut.done():
                fut.set_exception(DetectionError(why))
        w.job = None
        self._forget(w)
        w.conn.close()
        w.proc.kill()
        self.restarts += 1
        fresh = _Worker(self._ctx, self._initargs)
        self._pool[self._pool.index(w)] = fresh
        self._attach(fresh, loop)
        if not any(x.ready for x in self._pool):
            # Nobody left to take queued batches for a while: fail them now rather than let them wait.
            while self._queue:
                _, _, fut = self._queue.popleft()
                if not fut.done():
                    fut.set_exception(DetectionError(why))

    # -- cache ----------------------------------------------------------------------------------

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
