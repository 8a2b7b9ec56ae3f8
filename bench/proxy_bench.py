"""Proxy overhead: requests through `guard proxy` against direct requests to the same local upstream.

    .venv/bin/python bench/proxy_bench.py [--clients 20] [--requests 600] [--workers 1,2] [--out bench/results/proxy.json]
    .venv/bin/python bench/proxy_bench.py --proxy-cpus 0,1          # proxy on CPUs 0-1, the rig on the others
    .venv/bin/python bench/proxy_bench.py --workers 1 --baseline /tmp/base   # before/after: another source tree

One local TLS upstream (uvicorn, its own process) answers OpenAI chat/completions: JSON at once, or
an SSE stream of 20 events 2 ms apart. `--clients` concurrent clients (httpx, keep-alive) send
distinct ~2 KB prompts that each hold a name, an e-mail and a phone number (so guard detects and
redacts every one). Per configuration, same run: latency phase (each client pauses 0..2*--think s
before and between requests, as people do: the steady state, no herd at t=0), stream phase (TTFT:
time to the first SSE byte), flood phase (closed loop, no pause: throughput), solo phase (one
client alone: the added latency without any queueing), burst phase (all clients at the same
instant, 5 times: the thundering herd). Each client's connection is opened before a block's clock
starts. All configurations (direct, and a `guard proxy` per --workers value) are up for the whole
run and measured interleaved: each phase is cut into --rounds blocks and the configurations take
turns block by block, so a shared machine that slows down or speeds up during the run shifts direct
and guard alike (the same code measured an hour apart on this VM differed by 35 %). Also reported: the proxy's
CPU time per request (proxy process + detection workers, from /proc), which does not depend on how
busy the rest of the machine is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIRST = ["Alice", "Bruno", "Chen", "Dara", "Emeka", "Fatima", "Gustav", "Hana", "Ivan", "Julia", "Kofi", "Lena"]
LAST = ["Johnson", "Silva", "Wang", "Okafor", "Nielsen", "Haddad", "Keller", "Sato", "Petrov", "Moreau"]
FILLER = (
    "We reviewed the quarterly onboarding plan, the migration checklist and the open questions from the last "
    "workshop. The team agreed to keep the rollout small, measure the support load for two weeks and then decide "
    "whether to widen it. Please summarise the risks, list the owners and propose a short timeline. "
)


def prompt(i: int) -> str:
    """A distinct ~2 KB prompt with one name, one e-mail address and one phone number."""
    rnd = random.Random(i)
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    head = (f"Request {i}: please draft a reply to {first} {last} ({first.lower()}.{last.lower()}{i}@gmail.com, "
            f"+1 415 555 {1000 + i % 9000:04d}) about ticket {rnd.randint(10000, 99999)}. ")  # fmt: skip
    body = head
    while len(body) < 2000:
        body += FILLER[rnd.randint(0, 40) :]
    return body[:2048]


# -- upstream (runs in its own process) --------------------------------------------------------


async def upstream_app(scope, receive, send):  # noqa: ANN201 - ASGI
    """OpenAI-shaped reply: JSON at once, or 20 SSE events 2 ms apart."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    stream = b'"stream":true' in body or b'"stream": true' in body
    if not stream:
        data = json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Done."}, "finish_reason": "stop"}]}).encode()  # fmt: skip
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": data})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    for k in range(20):
        ev = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
              "choices": [{"index": 0, "delta": {"content": f"tok{k} "}, "finish_reason": None}]}  # fmt: skip
        await send({"type": "http.response.body", "body": f"data: {json.dumps(ev)}\n\n".encode(), "more_body": True})
        await asyncio.sleep(0.002)
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


def serve_upstream(cert: str, key: str, portfile: str) -> None:
    import socket

    import uvicorn

    sock = socket.socket()
    # uvicorn leaves Nagle on for sockets handed to it: its separate header and body writes then
    # wait ~40 ms for a delayed ACK on every reused connection (measured: 44 ms -> 0.5 ms a request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
    sock.bind(("127.0.0.1", 0))
    Path(portfile).write_text(str(sock.getsockname()[1]))
    config = uvicorn.Config(upstream_app, ssl_certfile=cert, ssl_keyfile=key, log_level="error", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


# -- load generation ----------------------------------------------------------------------------


async def load(base: str, proxy: str | None, verify: ssl.SSLContext, clients: int, total: int, stream: bool,
               offset: int, think_s: float = 0.0, burst_rounds: int = 0) -> dict:  # fmt: skip
    """Run `total` requests from `clients` concurrent clients; return latencies / TTFTs and wall time.

    think_s > 0: each client pauses a random 0..2*think_s between requests (people, not a flood);
    think_s = 0: closed loop, as fast as the system answers (throughput).
    burst_rounds > 0: instead, all clients send at the same instant, that many times, 1 s apart.
    """
    import httpx

    lat: list[float] = []
    ttft: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    connect: list[float] = []
    async with httpx.AsyncClient(proxy=proxy, verify=verify, trust_env=False, timeout=60, limits=limits) as c:
        counter = iter(range(total))
        rnd = random.Random(offset)

        async def open_connection(k: int) -> None:
            # Each client's connection is opened (CONNECT, TLS to guard, TLS upstream) before the clock
            # starts: the phases measure requests on open connections, as employees' clients keep
            # them. The first request's latency is reported on its own ("connect").
            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": f"hello {k}"}]}
            t0 = time.perf_counter()
            try:
                await c.post(base + "/v1/chat/completions", json=body)
            finally:
                connect.append((time.perf_counter() - t0) * 1000)

        await asyncio.gather(*(open_connection(k) for k in range(clients)))

        async def one_request(i: int) -> None:
            nonlocal errors
            body = {"model": "gpt-4o", "stream": stream,
                    "messages": [{"role": "user", "content": prompt(offset + i)}]}  # fmt: skip
            t0 = time.perf_counter()
            try:
                if stream:
                    async with c.stream("POST", base + "/v1/chat/completions", json=body) as r:
                        first = None
                        async for chunk in r.aiter_raw():
                            if first is None and chunk:
                                first = time.perf_counter() - t0
                        ok, why = r.status_code == 200, f"HTTP {r.status_code}"
                    ttft.append((first or 0.0) * 1000)
                else:
                    r = await c.post(base + "/v1/chat/completions", json=body)
                    ok, why = r.status_code == 200, f"HTTP {r.status_code}: {r.text[:160]}"
            except Exception as exc:
                ok, why = False, type(exc).__name__
            if not ok:
                errors += 1
                kinds[why] = kinds.get(why, 0) + 1
            lat.append((time.perf_counter() - t0) * 1000)

        async def one_client() -> None:
            if think_s:  # clients arrive at random moments, as in the steady state (no herd at t=0)
                await asyncio.sleep(rnd.uniform(0, 2 * think_s))
            for i in counter:
                await one_request(i)
                if think_s:
                    await asyncio.sleep(rnd.uniform(0, 2 * think_s))

        t0 = time.perf_counter()
        if burst_rounds:  # every client at the same instant, `burst_rounds` times, 1 s apart
            per = max(1, total // burst_rounds)
            for _ in range(burst_rounds):
                group = [one_request(next(counter)) for _ in range(min(per, clients))]
                await asyncio.gather(*group)
                await asyncio.sleep(1.0)
        else:
            await asyncio.gather(*(one_client() for _ in range(clients)))
        wall = time.perf_counter() - t0
    return {"latency_ms": lat, "ttft_ms": ttft, "wall_s": wall, "errors": errors, "n": total, "error_kinds": kinds,
            "connect_ms": connect}  # fmt: skip


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and all its descendants (Linux /proc)."""
    stats: dict[int, tuple[int, float]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        stats[int(d.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"))
    todo, total, seen = [pid], 0.0, set()
    while todo:
        p = todo.pop()
        if p in seen or p not in stats:
            continue
        seen.add(p)
        total += stats[p][1]
        todo += [c for c, (ppid, _) in stats.items() if ppid == p]
    return total


def audit_summary(path: Path) -> dict:
    """Actions, errors and median guard-side timings from the proxy's audit events."""
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    out: dict = {"events": len(rows), "actions": {}, "errors": {}}
    for r in rows:
        out["actions"][r["action"]] = out["actions"].get(r["action"], 0) + 1
        if r.get("error"):
            out["errors"][r["error"]] = out["errors"].get(r["error"], 0) + 1
    for k in ("parse", "detect", "policy", "apply"):
        vals = [r["timings_ms"][k] for r in rows if k in r.get("timings_ms", {})]
        if vals:
            out[f"{k}_ms_p50"] = round(statistics.median(vals), 2)
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def summary(run: dict) -> dict:
    lat, tt = run["latency_ms"], run["ttft_ms"]
    return {"p50_ms": round(pct(lat, 50), 2), "p99_ms": round(pct(lat, 99), 2),
            "ttft_p50_ms": round(pct(tt, 50), 2) if tt else None, "ttft_p99_ms": round(pct(tt, 99), 2) if tt else None,
            "rps": round(run["n"] / run["wall_s"], 1), "errors": run["errors"], "n": run["n"],
            "error_kinds": run["error_kinds"]}  # fmt: skip


def _pin(cpus: set[int] | None):  # noqa: ANN202 - a preexec_fn or None
    return (lambda: os.sched_setaffinity(0, cpus)) if cpus else None


def start_guard(home: Path, rules: Path, upstream_ca: Path, workers: int, models: bool = True,
                tree: Path = ROOT, cpus: set[int] | None = None) -> tuple[subprocess.Popen, int]:  # fmt: skip
    path = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "GUARD_HOME": str(home), "PYTHONPATH": path}
    args = [sys.executable, "-m", "guard", "proxy", "--port", "0", "--host", "127.0.0.1", "--rules", str(rules),
            "--upstream-ca", str(upstream_ca), "--workers", str(workers), "--db", f"jsonl:{home / 'audit.jsonl'}"]  # fmt: skip
    if not models:
        args.append("--no-models")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=tree,
                            preexec_fn=_pin(cpus))  # fmt: skip
    assert proc.stdout is not None
    deadline = time.time() + 240
    for line in proc.stdout:
        if "guard proxy listening on" in line:
            return proc, int(line.rsplit(":", 1)[1])
        if time.time() > deadline:
            break
    proc.kill()
    raise RuntimeError("guard proxy did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=600, help="requests per phase")
    ap.add_argument("--stream-requests", type=int, default=200, help="streamed requests per phase")
    ap.add_argument("--workers", default="1,2,1p",
                    help="detection worker counts to measure, comma-separated; 'Np': N workers, pattern rules only")
    ap.add_argument("--solo", type=int, default=100, help="requests from one client alone (no queueing)")
    ap.add_argument("--rounds", type=int, default=5,
                    help="blocks per phase; configurations take turns block by block (drift hits all alike)")
    ap.add_argument("--think", type=float, default=1.0, help="mean pause between a client's requests, s (latency phases)")
    ap.add_argument("--baseline", type=Path, metavar="TREE",
                    help="also run each --workers configuration from this source tree (e.g. a `git worktree` of an "
                         "earlier commit), as base-wN, interleaved with this tree's: a before/after in one run")
    ap.add_argument("--proxy-cpus", metavar="LIST",
                    help="pin every guard proxy (event loop and workers) to these CPUs, e.g. 0,1 or 0-1, and the rig "
                         "(load generator, upstream) to the others: the proxy measured as deployed, its clients and "
                         "the provider on other machines. Default: all share every CPU")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "proxy.json")
    ap.add_argument("--serve-upstream", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_upstream:
        return serve_upstream(*args.serve_upstream)

    from tests.e2e.upstream import make_tls

    tmp = Path(tempfile.mkdtemp(prefix="guard-bench-"))
    ca, cert, key = make_tls(tmp / "tls")
    portfile = tmp / "port"
    proxy_cpus, rig_cpus = _cpu_split(args.proxy_cpus)
    if rig_cpus:
        os.sched_setaffinity(0, rig_cpus)  # the load generator
    up = subprocess.Popen([sys.executable, __file__, "--serve-upstream", str(cert), str(key), str(portfile)],
                          preexec_fn=_pin(rig_cpus))  # fmt: skip
    procs: list[subprocess.Popen] = [up]
    try:
        while not portfile.exists() or not portfile.read_text():
            time.sleep(0.05)
        time.sleep(0.5)
        base = f"https://localhost:{portfile.read_text()}"
        rules = tmp / "rules"
        from guard.detect.rules import BUNDLED_RULES

        shutil.copytree(BUNDLED_RULES, rules)
        (rules / "destinations.yaml").write_text(
            "public:\n  - name: bench\n    hosts: [localhost]\n    adapter: openai\nprivate: []\n")
        direct_ctx = ssl.create_default_context(cafile=str(ca))
        configs: dict[str, tuple[str | None, ssl.SSLContext, int]] = {"direct": (None, direct_ctx, 0)}
        homes: dict[str, Path] = {}
        trees = [("guard", ROOT)] + ([("base", args.baseline.resolve())] if args.baseline else [])
        for spec in args.workers.split(","):  # every proxy is up for the whole run, idle while others are measured
            n, models = int(spec.rstrip("p")), not spec.endswith("p")
            for label, tree in trees:
                home = tmp / f"home-{label}-{spec}"
                proc, port = start_guard(home, rules, ca, n, models, tree, proxy_cpus)
                procs.append(proc)
                guard_ctx = ssl.create_default_context(cafile=str(home / "ca" / "mitmproxy-ca-cert.pem"))
                configs[f"{label}-w{spec}"] = (f"http://127.0.0.1:{port}", guard_ctx, proc.pid)
                homes[f"{label}-w{spec}"] = home
        phases = measure(base, configs, args, up.pid)
        for name, home in homes.items():
            pid = configs[name][2]
            proc = next(p for p in procs if p.pid == pid)
            proc.terminate()
            proc.wait(30)
            phases[name]["audit"] = audit_summary(home / "audit.jsonl")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)

    result = report(phases, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.out}")


def _cpu_split(spec: str | None) -> tuple[set[int] | None, set[int] | None]:
    """--proxy-cpus: (the proxies' CPUs, the rig's CPUs), or (None, None) when not given."""
    if not spec:
        return None, None
    proxy: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        proxy.update(range(int(lo), int(hi or lo) + 1))
    rest = os.sched_getaffinity(0) - proxy
    if not proxy <= os.sched_getaffinity(0) or not rest:
        raise SystemExit(f"--proxy-cpus {spec}: need CPUs this process may use, and some left for the rig")
    return proxy, rest


def measure(base: str, configs: dict[str, tuple[str | None, ssl.SSLContext, int]], args: argparse.Namespace,
            upstream_pid: int) -> dict:  # fmt: skip
    """Run every phase for every configuration, interleaved: each phase is cut into --rounds blocks and
    the configurations take turns block by block (in a rotating order), so a machine that slows down
    or speeds up during the run (a shared VM does) shifts direct and guard alike."""
    rounds = max(1, args.rounds)
    plan = [  # phase, requests in all, clients, stream, think, burst rounds per block
        ("plain", args.requests, args.clients, False, args.think, 0),
        ("stream", args.stream_requests, args.clients, True, args.think, 0),
        ("flood", args.requests, args.clients, False, 0.0, 0),
        ("solo", args.solo, 1, False, 0.0, 0),
        ("burst", args.clients * 5, args.clients, False, 0.0, max(1, -(-5 // rounds))),
    ]
    names = list(configs)
    offset = 0
    for k, name in enumerate(names):  # warm-up: connections, certificates, caches, lazily built parts
        proxy, ctx, _ = configs[name]
        asyncio.run(load(base, proxy, ctx, args.clients, 40, False, 10_000_000 + 1000 * k))
    blocks: dict[str, dict[str, list[dict]]] = {n: {p[0]: [] for p in plan} for n in names}
    cpu = dict.fromkeys(names, 0.0)
    # The load generator (this process) and the upstream share the cores with the proxy: their CPU per
    # request says how much of the box the rig itself takes (a deployed proxy's clients are elsewhere).
    rig = {name: [0.0, 0.0] for name in names}
    for phase, total, clients, stream, think, burst in plan:
        per = max(1, total // rounds) if not burst else clients * burst
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                proxy, ctx, pid = configs[name]
                cpu0 = tree_cpu_s(pid) if pid else 0.0
                own0, up0 = time.process_time(), tree_cpu_s(upstream_pid)
                got = asyncio.run(load(base, proxy, ctx, clients, per, stream, offset, think, burst_rounds=burst))
                if phase == "plain":
                    cpu[name] += tree_cpu_s(pid) - cpu0 if pid else 0.0
                    rig[name][0] += time.process_time() - own0
                    rig[name][1] += tree_cpu_s(upstream_pid) - up0
                offset += per
                blocks[name][phase].append(got)
        print(phase, "done", flush=True)
    phases: dict[str, dict] = {}
    for name in names:
        merged = {phase: _merge(runs) for phase, runs in blocks[name].items()}
        n_plain = merged["plain"]["n"]
        phases[name] = {phase: summary(run) for phase, run in merged.items()} | {
            "proxy_cpu_ms_per_request": round(cpu[name] * 1000 / n_plain, 2) if configs[name][2] else None,
            "client_cpu_ms_per_request": round(rig[name][0] * 1000 / n_plain, 2),
            "upstream_cpu_ms_per_request": round(rig[name][1] * 1000 / n_plain, 2)}
        print(name, json.dumps(phases[name]), flush=True)
    return phases


def _merge(runs: list[dict]) -> dict:
    kinds: dict[str, int] = {}
    for r in runs:
        for k, v in r["error_kinds"].items():
            kinds[k] = kinds.get(k, 0) + v
    return {"latency_ms": [x for r in runs for x in r["latency_ms"]], "ttft_ms": [x for r in runs for x in r["ttft_ms"]],
            "wall_s": sum(r["wall_s"] for r in runs), "errors": sum(r["errors"] for r in runs),
            "n": sum(r["n"] for r in runs), "error_kinds": kinds}  # fmt: skip


def report(phases: dict[str, dict], args: argparse.Namespace) -> dict:
    """Direct baseline (measured interleaved with guard), added latency / TTFT per worker count, a table."""

    def base(kind: str, key: str) -> float:
        return phases["direct"][kind][key]

    rows = []
    for name, ph in phases.items():
        if name == "direct":
            continue
        rows.append({
            "config": name, "workers": int(name.split("-w")[1].rstrip("p")), "models": not name.endswith("p"),
            "p50_ms": ph["plain"]["p50_ms"], "p99_ms": ph["plain"]["p99_ms"],
            "added_p50_ms": round(ph["plain"]["p50_ms"] - base("plain", "p50_ms"), 2),
            "added_p99_ms": round(ph["plain"]["p99_ms"] - base("plain", "p99_ms"), 2),
            "latency_ratio_p50": round(ph["plain"]["p50_ms"] / base("plain", "p50_ms"), 2),
            "ttft_p50_ms": ph["stream"]["ttft_p50_ms"],
            "added_ttft_p50_ms": round(ph["stream"]["ttft_p50_ms"] - base("stream", "ttft_p50_ms"), 2),
            "added_ttft_p99_ms": round(ph["stream"]["ttft_p99_ms"] - base("stream", "ttft_p99_ms"), 2),
            "proxy_cpu_ms_per_request": ph["proxy_cpu_ms_per_request"],
            "client_cpu_ms_per_request": ph["client_cpu_ms_per_request"],
            "direct_client_cpu_ms_per_request": phases["direct"]["client_cpu_ms_per_request"],
            "upstream_cpu_ms_per_request": ph["upstream_cpu_ms_per_request"],
            "solo_p50_ms": ph["solo"]["p50_ms"],
            "added_solo_p50_ms": round(ph["solo"]["p50_ms"] - base("solo", "p50_ms"), 2),
            "added_burst_p50_ms": round(ph["burst"]["p50_ms"] - base("burst", "p50_ms"), 2),
            "added_burst_p99_ms": round(ph["burst"]["p99_ms"] - base("burst", "p99_ms"), 2),
            "rps": ph["flood"]["rps"], "rps_ratio_to_direct": round(ph["flood"]["rps"] / base("flood", "rps"), 2),
            "errors": sum(ph[k]["errors"] for k in ("plain", "stream", "flood", "solo", "burst")),
        })  # fmt: skip
    print(f"\nclients={args.clients} prompts≈2 KB think={args.think}s; direct: p50 {base('plain', 'p50_ms')} ms, "
          f"p99 {base('plain', 'p99_ms')} ms, TTFT p50 {base('stream', 'ttft_p50_ms')} ms, flood {base('flood', 'rps')} req/s")  # fmt: skip
    print(f"{'config':<10} {'p50':>7} {'p99':>7} {'+p50':>7} {'+p99':>7} {'ratio':>6} {'+TTFT':>7} {'+solo':>6} "
          f"{'cpu/req':>8} {'req/s':>7} {'x dir':>6} {'err':>4} {'+herd50':>8} {'+herd99':>8}")  # fmt: skip
    for r in rows:
        print(f"{r['config']:<10} {r['p50_ms']:>7} {r['p99_ms']:>7} {r['added_p50_ms']:>7} {r['added_p99_ms']:>7} "
              f"{r['latency_ratio_p50']:>6} {r['added_ttft_p50_ms']:>7} {r['added_solo_p50_ms']:>6} "
              f"{r['proxy_cpu_ms_per_request']:>8} {r['rps']:>7} {r['rps_ratio_to_direct']:>6} {r['errors']:>4} "
              f"{r['added_burst_p50_ms']:>8} {r['added_burst_p99_ms']:>8}")  # fmt: skip
    d = phases["direct"]
    print(f"rig CPU per request (paced phase): load generator {d['client_cpu_ms_per_request']} ms direct / "
          + ", ".join(f"{r['config']} {r['client_cpu_ms_per_request']}" for r in rows)
          + f" ms; upstream {d['upstream_cpu_ms_per_request']} ms")  # fmt: skip
    return {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "proxy_cpus": args.proxy_cpus,
        "settings": {"clients": args.clients, "requests": args.requests, "stream_requests": args.stream_requests,
                     "think_s": args.think, "rounds": args.rounds, "prompt_bytes": 2048},  # fmt: skip
        "load_average_at_end": os.getloadavg(),
        "direct_baseline": {k: base("plain", k) for k in ("p50_ms", "p99_ms")}
        | {"ttft_p50_ms": base("stream", "ttft_p50_ms"), "flood_rps": base("flood", "rps"),
           "solo_p50_ms": base("solo", "p50_ms"), "burst_p50_ms": base("burst", "p50_ms"),
           "burst_p99_ms": base("burst", "p99_ms")},
        "phases": phases,
        "guard": rows,
    }


if __name__ == "__main__":
    main()
