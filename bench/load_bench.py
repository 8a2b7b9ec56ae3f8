"""Load and faults: many streaming conversations through `guard proxy` for minutes, then with faults.

    .venv/bin/python bench/load_bench.py [--quick] [--duration 180] [--conversations 20] [--think 2.0]

One `guard proxy` subprocess (TLS interception, 2 detection workers, spaCy models, audit store on
PostgreSQL 127.0.0.1:5432 in a schema of its own, reached through a TCP forwarder the bench can cut;
private model: a local OpenAI-compatible server, also behind a forwarder) in front of a local TLS
upstream (uvicorn, own process) that streams back "Echo: <last user message>" in 24-character SSE
deltas (placeholders arrive split) and counts requests whose body holds a raw e-mail or phone number.
`--conversations` concurrent multi-turn conversations (6 turns, whole history resent, the same
person's name / e-mail / phone in every turn, streamed replies; every 10th one is marked CONFIDENTIAL
with a codename, which routes to the private model); each pauses 0..2*--think s between turns and
stops by itself at the phase's end. Every reply is checked: the text restored to exactly what the
user sent. Phases, same run: direct (no proxy: the baseline), clean, audit-db-outage (database cut
for the middle half), private-down (private model unreachable), worker-kill (kill -9 of one
detection worker a third of the way in). Afterwards: one audit event per request the proxy answered.
Proxy RSS (proxy + workers) is sampled every second. Output: a table and bench/results/load.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _harness import Sampler, kill_busy_worker, slope_mb_per_min  # noqa: E402
from proxy_bench import FILLER, FIRST, LAST, pct, tree_cpu_s  # noqa: E402

TURNS = 6
LEAK = re.compile(rb"[a-z]+\.[a-z]+\d+@gmail\.com|\+1 415 555 \d{4}")  # the raw values conversations send
PIECE = 24  # characters per streamed delta


# -- upstream (own process) ---------------------------------------------------------------------

STATS: dict = {"requests": 0, "leaked": [], "models": []}


async def upstream_app(scope, receive, send):  # noqa: ANN201 - ASGI
    """Stream back 'Echo: <last user text>' in 24-character deltas; GET /stats: requests, models, leaked models."""
    if scope["type"] != "http":
        return
    if scope["method"] == "GET":
        data = json.dumps(STATS).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": data})
        return
    body = b""
    while True:
        msg = await receive()
        body += msg.get("body", b"")
        if not msg.get("more_body"):
            break
    req = json.loads(body)
    STATS["requests"] += 1
    if LEAK.search(body):
        STATS["leaked"].append(req.get("model", ""))
    STATS["models"].append(req.get("model", ""))
    text = "Echo: " + req["messages"][-1]["content"]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": req.get("model", "")}
    for i in range(0, len(text), PIECE):
        ev = {**head, "choices": [{"index": 0, "delta": {"content": text[i : i + PIECE]}, "finish_reason": None}]}
        await send({"type": "http.response.body", "body": f"data: {json.dumps(ev)}\n\n".encode(), "more_body": True})
        await asyncio.sleep(0.002)
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})


def serve_upstream(cert: str, key: str, portfile: str, keepalive: str) -> None:
    import socket

    import uvicorn

    sock = socket.socket()
    # uvicorn leaves Nagle on for sockets handed to it: its separate header and body writes then
    # wait ~40 ms for a delayed ACK on every reused connection (measured: 44 ms -> 0.5 ms a request).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
    sock.bind(("127.0.0.1", 0))
    Path(portfile).write_text(str(sock.getsockname()[1]))
    config = uvicorn.Config(upstream_app, ssl_certfile=cert, ssl_keyfile=key, log_level="error", access_log=False,
                            timeout_keep_alive=int(keepalive))  # fmt: skip
    uvicorn.Server(config).run(sockets=[sock])


# -- conversations ------------------------------------------------------------------------------


def user_turn(conv: int, gen: int, turn: int) -> str:
    """One user message: the conversation's person (name, e-mail, phone) again, plus filler."""
    rnd = random.Random(conv * 1000 + gen)
    first, last = rnd.choice(FIRST), rnd.choice(LAST)
    who = f"{first} {last} ({first.lower()}.{last.lower()}{conv}{gen}@gmail.com, +1 415 555 {rnd.randint(1000, 9999)})"
    head = "CONFIDENTIAL - Project Bluefin launch moves to 14 March. " if conv % 10 == 9 else ""
    return (
        f"{head}Turn {turn}: please follow up with {who} on ticket {rnd.randint(10000, 99999)}. " + FILLER[turn * 20 :]
    )


class Tally:
    """Outcomes, latencies and TTFTs of one phase, each request stamped with its start time."""

    def __init__(self) -> None:
        self.lat: list[float] = []
        self.ttft: list[float] = []
        self.outcomes: dict[str, int] = {}
        self.answered: list[str] = []  # request ids (model names) the proxy answered with an HTTP response
        self.blocked: list[str] = []  # request ids guard blocked
        self.failed: list[str] = []  # request ids that ended in an error (not a block, not a good reply)
        self.samples: dict[str, str] = {}  # outcome kind -> the first reply text of that kind (guard's message)
        self.timeline: list[tuple[float, str]] = []

    def add(self, kind: str, t0: float, lat_ms: float) -> None:
        self.outcomes[kind] = self.outcomes.get(kind, 0) + 1
        self.timeline.append((t0, kind))
        self.lat.append(lat_ms)


async def conversations(base: str, proxy: str | None, ctx: ssl.SSLContext, n: int, seconds: float, think: float,
                        tag: str) -> Tally:  # fmt: skip
    """Run `n` conversations until `seconds` have passed; every reply checked against what was sent."""
    import httpx

    tally, ids, deadline = Tally(), itertools.count(), time.monotonic() + seconds
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(proxy=proxy, verify=ctx, trust_env=False, timeout=30, limits=limits) as c:

        async def one(conv: int) -> None:
            rnd = random.Random(conv)
            await asyncio.sleep(rnd.uniform(0, think))
            for gen in itertools.count():
                history: list[dict] = []
                for turn in range(TURNS):
                    if time.monotonic() >= deadline:
                        return
                    text = user_turn(conv, gen, turn)
                    private = proxy is not None and conv % 10 == 9
                    want = ("echo: " if private else "Echo: ") + text
                    model = f"gpt-4o-{tag}{next(ids)}"
                    body = {"model": model, "stream": True, "messages": [*history, {"role": "user", "content": text}]}
                    t0, first, got, kind = time.perf_counter(), None, "", "ok"
                    try:
                        async with c.stream("POST", base + "/v1/chat/completions", json=body) as r:
                            async for line in r.aiter_lines():
                                if first is None:
                                    first = time.perf_counter() - t0
                                if line.startswith("data: {"):
                                    got += "".join(
                                        ch["delta"].get("content") or "" for ch in json.loads(line[6:])["choices"]
                                    )
                                elif r.status_code != 200:
                                    got += line
                            tally.answered.append(model)
                            if r.status_code != 200 and "guard reference" in got:
                                tally.blocked.append(model)
                                kind = "blocked: " + (
                                    "private model down or slow"
                                    if "private model" in got
                                    else "could not check"
                                    if "could not check" in got
                                    else "policy"
                                )
                            elif r.status_code != 200:
                                kind = f"HTTP {r.status_code}"
                            elif got != want:
                                kind = "reply not restored"
                    except Exception as exc:
                        kind = type(exc).__name__
                    tally.add(kind, t0, (time.perf_counter() - t0) * 1000)
                    if kind != "ok":
                        tally.samples.setdefault(kind, got[:300])
                        if not kind.startswith("blocked"):
                            tally.failed.append(model)
                    if first is not None and kind == "ok":
                        tally.ttft.append(first * 1000)
                    await asyncio.sleep(rnd.uniform(0, 2 * think))
                    if kind != "ok":
                        break  # a blocked or failed turn ends the conversation, as a user would start over
                    history += [{"role": "user", "content": text}, {"role": "assistant", "content": got}]

        await asyncio.gather(*(one(i) for i in range(n)))
    return tally


# -- phases -------------------------------------------------------------------------------------


def summarize(t: Tally, seconds: float) -> dict:
    """Requests/s, latency and TTFT percentiles, outcomes by kind."""
    return {"requests": len(t.lat), "rps": round(len(t.lat) / seconds, 1),
            "p50_ms": round(pct(t.lat, 50), 1), "p90_ms": round(pct(t.lat, 90), 1), "p99_ms": round(pct(t.lat, 99), 1),
            "ttft_p50_ms": round(pct(t.ttft, 50), 1), "ttft_p99_ms": round(pct(t.ttft, 99), 1),
            "max_ms": round(max(t.lat, default=0), 1), "outcomes": dict(sorted(t.outcomes.items())),
            "messages": t.samples}  # fmt: skip


def count_events(url: str, expect: list[str], wait_s: float = 120) -> dict:
    """Audit events per request id once the spool has drained: missing, duplicated, extra."""
    import psycopg

    from guard.core import mask

    deadline = time.monotonic() + wait_s
    while True:
        with psycopg.connect(url, autocommit=True) as c:
            rows = dict(c.execute("SELECT model, count(*) FROM audit_event GROUP BY model").fetchall())
        # A request blocked before detection finished (the worker-kill probe) is recorded with its
        # model masked, since nobody checked it: count it under the id it masks.
        masked = {mask(m): m for m in expect}
        for r in [r for r in rows if r not in expect and r in masked]:
            rows[masked[r]] = rows.get(masked[r], 0) + rows.pop(r)
        missing = [m for m in expect if m not in rows]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(2)
    return {"requests_answered": len(expect), "events": sum(rows.values()), "missing": len(missing),
            "duplicated": sum(1 for m in expect if rows.get(m, 0) > 1),
            "unexpected": sum(1 for m in rows if m not in set(expect))}  # fmt: skip


def main() -> None:  # noqa: PLR0915 - one linear script of phases
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=180, help="seconds of the clean phase (fault phases: half)")
    ap.add_argument("--quick", action="store_true", help="30 s clean phase, 15 s fault phases")
    ap.add_argument("--conversations", type=int, default=20, help="concurrent conversations")
    ap.add_argument("--think", type=float, default=2.0, help="mean pause between a conversation's turns, s")
    ap.add_argument("--workers", type=int, default=2, help="detection worker processes")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json", help="results file (JSON)")
    ap.add_argument("--upstream-keepalive", type=int, default=5,
                    help="seconds the upstream keeps an idle connection open (uvicorn's default: 5)")  # fmt: skip
    ap.add_argument("--serve-upstream", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_upstream:
        return serve_upstream(*args.serve_upstream)
    d = 30.0 if args.quick else args.duration

    import psycopg

    from tests.audit.conftest import PG_URL, pg_schema_url
    from tests.audit.tcpproxy import TcpProxy
    from tests.e2e.conftest import GuardProcess, write_rules
    from tests.e2e.upstream import make_tls
    from tests.routing.private_server import PrivateModel

    tmp = Path(tempfile.mkdtemp(prefix="guard-load-"))
    ca, cert, key = make_tls(tmp / "tls")
    portfile = tmp / "port"
    up = subprocess.Popen([sys.executable, __file__, "--serve-upstream", str(cert), str(key), str(portfile),
                           str(args.upstream_keepalive)])  # fmt: skip
    schema = f"guard_load_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    pg_host = PG_URL.split("@", 1)[1].split("/", 1)[0].split(":")
    db_fwd = TcpProxy((pg_host[0], int(pg_host[1]) if len(pg_host) > 1 else 5432))
    private = PrivateModel().__enter__()
    priv_port = int(private.url.rsplit(":", 1)[1].split("/")[0])
    priv_fwd = TcpProxy(("127.0.0.1", priv_port))
    guard = None
    results: dict = {"phases": {}}
    try:
        while not portfile.exists() or not portfile.read_text():
            time.sleep(0.05)
        base = f"https://localhost:{portfile.read_text()}"
        home = tmp / "home"
        rules = write_rules(home / "rules")
        db_url = pg_schema_url(schema).replace("127.0.0.1:5432", f"127.0.0.1:{db_fwd.port}")
        env = {**os.environ, "GUARD_HOME": str(home), "PYTHONPATH": str(ROOT), "GUARD_FINGERPRINT_KEY": "load-bench",
               "GUARD_PRIVATE_MODEL": "llama-private"}  # fmt: skip
        for k in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "ALL_PROXY"):
            env.pop(k, None)
        guard = GuardProcess([sys.executable, "-m", "guard", "proxy", "--port", "0", "--host", "127.0.0.1",
                              "--rules", str(rules), "--upstream-ca", str(ca), "--workers", str(args.workers),
                              "--db", db_url, "--metrics-port", "0", "--private-model", f"http://127.0.0.1:{priv_fwd.port}/v1"], env)  # fmt: skip
        gctx = ssl.create_default_context(cafile=str(home / "ca" / "mitmproxy-ca-cert.pem"))
        dctx = ssl.create_default_context(cafile=str(ca))
        proxy, n, think = guard.url, args.conversations, args.think
        sampler = Sampler(guard.proc.pid)
        sampler.start()
        answered: list[str] = []
        blocked: list[str] = []
        failed: list[str] = []

        def phase(name: str, seconds: float, via: str | None, ctx: ssl.SSLContext, during=None) -> Tally:  # fmt: skip
            sampler.phase = name
            cpu0 = tree_cpu_s(guard.proc.pid)
            fault = threading.Thread(target=during or (lambda: None), daemon=True)
            fault.start()
            t = asyncio.run(conversations(base, via, ctx, n, seconds, think, name[:2]))
            fault.join(150)
            results["phases"][name] = summarize(t, seconds)
            if via:
                answered.extend(t.answered)
                blocked.extend(t.blocked)
                failed.extend(t.failed)
                cpu = (tree_cpu_s(guard.proc.pid) - cpu0) * 1000 / max(1, len(t.lat))
                # a killed worker takes its CPU time out of the process tree: no figure then
                results["phases"][name]["proxy_cpu_ms_per_request"] = round(cpu, 1) if name != "worker-kill" else None
            print(name, json.dumps(results["phases"][name]), flush=True)
            return t

        warm = asyncio.run(conversations(base, proxy, gctx, 5, 5, 0.2, "wu"))  # warm-up: connections, spaCy
        answered.extend(warm.answered)
        phase("direct", d / 2, None, dctx)
        phase("clean", d, proxy, gctx)
        clean = [s for s in sampler.samples if s[1] == "clean"]
        results["memory"] = {"rss_mb_start": clean[0][2] if clean else None, "rss_mb_end": clean[-1][2] if clean else None,
                             "slope_mb_per_min": slope_mb_per_min(clean),
                             "slope_second_half_mb_per_min": slope_mb_per_min(clean[len(clean) // 2 :])}  # fmt: skip

        def cut_db() -> None:
            time.sleep(d / 8)
            db_fwd.down()
            time.sleep(d / 4)
            db_fwd.up()

        phase("audit-db-outage", d / 2, proxy, gctx, during=cut_db)
        priv_fwd.down()
        phase("private-down", d / 2, proxy, gctx)
        priv_fwd.up()
        kill: dict = {}

        def kill_worker() -> None:
            time.sleep(d / 6)
            kill.update(kill_busy_worker(guard.proc.pid, base, proxy, gctx))

        wk = phase("worker-kill", d / 2, proxy, gctx, during=kill_worker)
        import httpx

        stats = httpx.get(base + "/stats", verify=dctx, trust_env=False).json()
        if "t" in kill:
            k = kill.pop("t")
            late = k + kill.get("replaced_after_s", 0)
            kill["probe"]["forwarded_upstream"] = kill["probe"].get("model") in stats["models"]
            if isinstance(kill["probe"].get("status"), int):
                answered.append(kill["probe"]["model"])
            kill["outcomes_before_kill"] = _count(x for t0, x in wk.timeline if t0 < k)
            kill["outcomes_while_replacing"] = _count(x for t0, x in wk.timeline if k <= t0 < late)
            kill["outcomes_after_replaced"] = _count(x for t0, x in wk.timeline if t0 >= late)
        results["worker_kill"] = kill
        sampler.stop.set()
        results["upstream"] = {"requests": stats["requests"],
                               "raw_values_received_via_guard": sum(not m.startswith("gpt-4o-di") for m in stats["leaked"]),
                               "raw_values_received_direct": sum(m.startswith("gpt-4o-di") for m in stats["leaked"]),
                               "blocked": len(blocked), "blocked_but_forwarded": len(set(blocked) & set(stats["models"])),
                               "failed": len(failed), "failed_but_received": len(set(failed) & set(stats["models"]))}  # fmt: skip
        results["audit"] = count_events(pg_schema_url(schema), answered)
        results["rss_samples"] = sampler.samples
        results["proxy_log_tail"] = guard.lines[-8:]  # guard logs event ids and error classes, never prompt text
    finally:
        if guard is not None:
            guard.stop()
        up.terminate()
        up.wait(30)
        for f in (db_fwd, priv_fwd):
            f.close()
        private.__exit__(None, None, None)
        with psycopg.connect(PG_URL, autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')
        shutil.rmtree(tmp, ignore_errors=True)
    results["settings"] = {"clean_s": d, "conversations": n, "think_s": think, "turns": TURNS, "workers": args.workers,
                           "upstream_keepalive_s": args.upstream_keepalive, "cpus": os.cpu_count(),
                           "load_average_at_end": os.getloadavg()}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    report(results)
    print(f"\nwrote {args.out}")


def _count(kinds) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in kinds:
        out[k] = out.get(k, 0) + 1
    return out


def report(r: dict) -> None:
    """Print one row per phase, then memory, worker-kill, upstream and audit checks."""
    ph, direct = r["phases"], r["phases"]["direct"]
    print(
        f"\n{'phase':<16} {'req':>5} {'req/s':>6} {'p50':>7} {'p99':>7} {'+p50':>7} {'TTFT50':>7} {'+TTFT':>6} {'cpu/req':>7}  outcomes"
    )
    for name, p in ph.items():
        print(f"{name:<16} {p['requests']:>5} {p['rps']:>6} {p['p50_ms']:>7} {p['p99_ms']:>7} "
              f"{round(p['p50_ms'] - direct['p50_ms'], 1):>7} {p['ttft_p50_ms']:>7} "
              f"{round(p['ttft_p50_ms'] - direct['ttft_p50_ms'], 1):>6} {p.get('proxy_cpu_ms_per_request') or '-':>7}  "
              f"{p['outcomes']}")  # fmt: skip
    for k in ("memory", "worker_kill", "upstream", "audit"):
        print(f"{k}: {json.dumps(r.get(k))}")


if __name__ == "__main__":
    main()
