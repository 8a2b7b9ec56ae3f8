"""Proxy-process helpers for the load bench: the proxy's process tree, its RSS, killing a busy worker (Linux /proc)."""

from __future__ import annotations

import os
import random
import signal
import ssl
import statistics
import threading
import time
from pathlib import Path

from proxy_bench import FILLER


def tree_pids(pid: int) -> dict[int, tuple[int, str]]:
    """Descendants of `pid`: {pid: (parent pid, command line)} (Linux /proc)."""
    procs: dict[int, tuple[int, str]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            procs[int(d.name)] = (int(stat[stat.rindex(")") + 2 :].split()[1]), cmd)
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        for c, (pp, cmd) in procs.items():
            if pp == p and c not in out:
                out[c] = (pp, cmd)
                todo.append(c)
    return out


def workers(pid: int) -> list[int]:
    """Detection worker pids: the children of the proxy's multiprocessing forkserver."""
    tree = tree_pids(pid)
    servers = {p for p, (_, cmd) in tree.items() if "forkserver" in cmd and tree[p][0] == pid}
    return sorted(p for p, (pp, _) in tree.items() if pp in servers)


def probe_messages(seed: int) -> list[dict]:
    """8 never-seen 5 KB messages, each with an e-mail address: 40 KB that the pool splits over its workers."""
    rnd = random.Random(seed)
    msgs = []
    for i in range(8):
        words = " ".join(rnd.choice(FILLER.split()) + str(rnd.randint(0, 999)) for _ in range(800))
        text = f"Probe {seed}.{i}: mail probe.person{seed}{i}@gmail.com about this. {words}"[:5000]
        msgs.append({"role": "assistant" if i % 2 else "user", "content": text})
    return msgs


def kill_busy_worker(pid: int, base: str, proxy: str, ctx: ssl.SSLContext) -> dict:
    """Send a long probe, kill -9 the detection worker scanning it, wait for the replacement.

    Returns the pids, whether the kill landed mid-scan, the probe's outcome (blocked, not forwarded,
    is what fail closed means) and the time until the pool had its full count of workers again.
    """
    import httpx

    before, out = workers(pid), {}
    probe: dict = {}
    if not before:
        return {"error": "no detection workers found"}

    def send() -> None:
        model = f"gpt-4o-probe{os.getpid()}"
        body = {"model": model, "stream": True, "messages": probe_messages(os.getpid())}
        try:
            r = httpx.post(
                base + "/v1/chat/completions", json=body, proxy=proxy, verify=ctx, trust_env=False, timeout=60
            )
            probe.update(model=model, status=r.status_code, message=r.text[:300] if r.status_code != 200 else "")
        except Exception as exc:
            probe.update(model=model, status=type(exc).__name__)

    sender = threading.Thread(target=send)
    sender.start()
    # Every worker gets a share of the probe, a scan many times longer than a turn's: a worker seen
    # running in 3 polls in a row is most likely scanning it.
    victim, streak, give_up = None, dict.fromkeys(before, 0), time.monotonic() + 10
    while victim is None and time.monotonic() < give_up and sender.is_alive():
        for w in before:
            streak[w] = streak[w] + 1 if busy(w) else 0
        victim = next((w for w in before if streak[w] >= 3), None)
        time.sleep(0.001)
    out.update(workers_before=before, killed=victim or before[0], killed_while_scanning=victim is not None)
    victim = victim or before[0]
    t0 = time.perf_counter()
    os.kill(victim, signal.SIGKILL)
    sender.join(90)
    out["probe"] = probe
    while time.perf_counter() - t0 < 120:
        now = workers(pid)
        if len(now) == len(before) and victim not in now:
            return out | {"workers_after": now, "replaced_after_s": round(time.perf_counter() - t0, 1), "t": t0}
        time.sleep(0.2)
    return out | {"t": t0}


def busy(pid: int) -> bool:
    """Whether a process is running on a CPU now (a detection worker is scanning)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] == "R"


def rss_mb(pid: int) -> float:
    """Resident memory of the proxy and all its descendants, MB."""
    total = 0
    for p in [pid, *tree_pids(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Sampler(threading.Thread):
    """Sample the proxy tree's RSS every second, labelled with the current phase."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.phase, self.samples, self.stop = pid, "start", [], threading.Event()

    def run(self) -> None:
        t0 = time.monotonic()
        while not self.stop.wait(1.0):
            self.samples.append((round(time.monotonic() - t0, 1), self.phase, round(rss_mb(self.pid), 1)))


def slope_mb_per_min(samples: list[tuple[float, str, float]]) -> float | None:
    """Least-squares slope of RSS over time."""
    if len(samples) < 3:
        return None
    xs, ys = [s[0] / 60 for s in samples], [s[2] for s in samples]
    return round(statistics.linear_regression(xs, ys).slope, 2)
