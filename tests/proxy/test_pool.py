"""DetectionPool: real worker processes, a findings cache per text, and failures that raise."""

from __future__ import annotations

import asyncio

import pytest

from guard.detect.pool import DetectionError, DetectionPool, _split
from tests.e2e.faulty import DIE, HANG, RAISE, SLOW

pytestmark = pytest.mark.slow


async def test_when_texts_hold_values_then_workers_find_them(pool: DetectionPool):
    found = await pool.scan(["mail bob.martin@gmail.com now", "nothing here"])
    assert [f.category for f in found[0]] == ["email"]
    assert found[0][0].start == 5 and found[1] == []


async def test_when_history_is_resent_then_only_new_texts_reach_workers(pool: DetectionPool):
    turn1 = ["first message carol@gmail.com"]
    await pool.scan(turn1)
    misses = pool.misses
    await pool.scan([*turn1, "assistant reply", "second message dave@gmail.com"])
    assert pool.misses - misses == 2, "the resent first message comes from the cache"


async def test_when_detector_raises_then_scan_raises_without_text(pool: DetectionPool):
    with pytest.raises(DetectionError) as err:
        await pool.scan([f"{RAISE} secret text erin@gmail.com"])
    assert "erin" not in str(err.value)


async def test_when_worker_dies_then_scan_raises_and_pool_recovers(pool: DetectionPool):
    restarts = pool.restarts
    with pytest.raises(DetectionError, match="died"):
        await pool.scan([f"{DIE} frank@gmail.com"])
    assert pool.restarts == restarts + 1
    found = await pool.scan(["then grace@gmail.com"])
    assert found[0][0].category == "email"


def test_when_batch_is_large_then_it_is_split_across_workers():
    texts = ["a" * 10_000] * 6
    batches = _split(texts, 3)
    assert len(batches) == 3 and sum(len(b) for b in batches) == 6
    assert _split(["short"], 4) == [["short"]]


async def test_when_worker_hangs_then_scan_times_out_and_worker_is_replaced():
    pool = DetectionPool(1, models=False, factory="tests.e2e.faulty:build_engine", timeout_s=2)
    pool.start()
    try:
        hung = pool._pool[0].proc
        with pytest.raises(DetectionError, match="took longer than"):
            await pool.scan([f"{HANG} judy@gmail.com"])
        hung.join(5)
        assert not hung.is_alive(), "the hung worker is killed, not left burning a core"
        pool.timeout_s = 60
        found = await pool.scan(["and kim@gmail.com"])
        assert found[0][0].category == "email"
    finally:
        pool.close()


@pytest.fixture
def one_worker():
    pool = DetectionPool(1, models=False, factory="tests.e2e.faulty:build_engine")
    pool.start()
    yield pool
    pool.close()


async def _behind_busy_worker(pool: DetectionPool, batches: list[list[str]]) -> list:
    """Scan `batches` while the only worker is busy for half a second, so they queue up together."""
    slow = asyncio.ensure_future(pool.scan([f"{SLOW} first"]))
    await asyncio.sleep(0.1)
    results = await asyncio.gather(*(pool.scan(b) for b in batches), return_exceptions=True)
    await slow
    return results


async def test_when_batches_queue_behind_a_busy_worker_then_they_share_a_job_and_keep_their_own_findings(one_worker):
    # Each text puts its address at another offset, so a finding handed to the wrong request shows.
    results = await _behind_busy_worker(one_worker, [[" " * k + f"user{k}@gmail.com", "no address"] for k in range(5)])
    assert one_worker.coalesced >= 4, "the five queued batches went to the worker as one job"
    for k, found in enumerate(results):
        assert [(f.category, f.start) for f in found[0]] == [("email", k)]
        assert found[1] == []


async def test_when_a_coalesced_job_fails_then_every_batch_in_it_fails(one_worker):
    results = await _behind_busy_worker(one_worker, [[f"{RAISE} one"], ["two ivan@gmail.com"]])
    assert all(isinstance(r, DetectionError) for r in results), "nothing of a failed job counts as scanned"
    found = await one_worker.scan(["three ivan@gmail.com"])
    assert found[0][0].category == "email"
