"""Wire-format speed: stream restoring and request parsing, each beside its baseline, same run.

    .venv/bin/python bench/restore_bench.py [--repeat 5] [--out bench/results/restore.json]

stream:  StreamRestorer on synthetic OpenAI chat streams (one 3-4 character token per event, a
         placeholder every ~12 tokens, split across two events) of 1k / 4k / 16k events, fed whole,
         in 1460-byte chunks (one TCP segment) and 64-byte chunks; single-byte chunks on 1k events.
         Baselines: the minimum any event-level transform pays (split events, json.loads +
         json.dumps each) and an empty vault (guard's pass-through). Linearity: µs per event at
         16k events over µs per event at 1k events (1.0 = linear).
ttfb:    time feed() takes to hand back the first content event of a stream (added time to first token).
parse:   parse_request + rebuild_body on a 2 KB chat prompt and a ~1 MB 200-message history, beside
         json.loads + json.dumps of the same body.
vault:   Vault.redact of a 48 KB text (no new findings: the known-value pass) with 10 / 1000 / 5000
         values in the vault, beside one regex alternation of the same values (the obvious baseline).
Medians over --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from guard.core import Finding  # noqa: E402
from guard.providers import parse_request, rebuild_body  # noqa: E402
from guard.restore import StreamRestorer  # noqa: E402
from guard.vault import Vault  # noqa: E402

TOKENS = ["The", " quick", " note", " for", " you", ":", " see", " the", " file", " and", " reply", "."]


def vault() -> Vault:
    v = Vault()
    for n in range(20):
        value = f"person-{n}"
        v.redact(value, [Finding("person", "PERSON", "bench", 0, len(value), 1.0)])
    return v


def stream(events: int) -> bytes:
    """An OpenAI chat stream with a split placeholder every 12 tokens."""
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o"}
    out = []
    for i in range(events):
        if i % 12 == 10:
            tok = " [PERS"
        elif i % 12 == 11:
            tok = f"ON_{i % 20 + 1}]"
        else:
            tok = TOKENS[i % len(TOKENS)]
        body = {**head, "choices": [{"index": 0, "delta": {"content": tok}, "finish_reason": None}]}
        out.append(b"data: " + json.dumps(body, separators=(",", ":")).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def run_restorer(raw: bytes, chunk: int, v: Vault) -> float:
    t = time.perf_counter()
    r = StreamRestorer(v)
    out = [r.feed(raw[i : i + chunk]) for i in range(0, len(raw), chunk)]
    out.append(r.close())
    return time.perf_counter() - t


def run_baseline(raw: bytes, chunk: int) -> float:
    """Buffer, split at blank lines, json.loads + json.dumps every data event."""
    t = time.perf_counter()
    buf = b""
    out = []
    for i in range(0, len(raw), chunk):
        buf += raw[i : i + chunk]
        *done, buf = buf.split(b"\n\n")
        for ev in done:
            data = ev[6:]
            if data != b"[DONE]":
                out.append(json.dumps(json.loads(data)).encode())
    return time.perf_counter() - t


def median(fn, repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def bench_stream(repeat: int) -> dict:
    v = vault()
    res: dict = {}
    for events in (1000, 4000, 16000):
        raw = stream(events)
        row = {"bytes": len(raw)}
        for chunk in (len(raw), 1460, 64) + ((1,) if events == 1000 else ()):
            guard_s = median(lambda raw=raw, chunk=chunk: run_restorer(raw, chunk, v), repeat)
            base_s = median(lambda raw=raw, chunk=chunk: run_baseline(raw, chunk), repeat)
            empty_s = median(lambda raw=raw, chunk=chunk: run_restorer(raw, chunk, Vault()), repeat)
            row[f"chunk_{chunk if chunk != len(raw) else 'whole'}"] = {
                "guard_us_per_event": round(guard_s / events * 1e6, 2),
                "baseline_loads_dumps_us_per_event": round(base_s / events * 1e6, 2),
                "ratio_guard_to_baseline": round(guard_s / base_s, 2),
                "empty_vault_passthrough_us_per_event": round(empty_s / events * 1e6, 3),
                "guard_MB_per_s": round(len(raw) / guard_s / 1e6, 2),
            }
        res[f"{events}_events"] = row
    # Linearity, sizes interleaved so that load drift on a shared machine hits both alike.
    for chunk, sizes in ((1460, (1000, 16000)), (1, (500, 4000))):
        per: dict[int, list[float]] = {n: [] for n in sizes}
        raws = {n: stream(n) for n in sizes}
        for _ in range(repeat):
            for n in sizes:
                per[n].append(run_restorer(raws[n], chunk, v) / n)
        small, big = (statistics.median(per[n]) for n in sizes)
        res[f"linearity_chunk_{chunk}_{sizes[1]}_over_{sizes[0]}_events_per_event_cost"] = round(big / small, 2)
    return res


def bench_ttfb(repeat: int) -> dict:
    v = vault()
    first = stream(1).split(b"\n\n")[0] + b"\n\n"
    times = []
    for _ in range(max(repeat, 200)):
        r = StreamRestorer(v)
        t = time.perf_counter()
        out = r.feed(first)
        times.append(time.perf_counter() - t)
        assert out, "first event must not be held"
    return {"first_event_feed_us_p50": round(statistics.median(times) * 1e6, 1)}


def chat_body(messages: int, size: int) -> bytes:
    filler = "Please review the attached paragraph and tell me what you think about it. "
    text = (filler * (size // len(filler) + 1))[:size]
    msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": text} for i in range(messages)]
    return json.dumps({"model": "gpt-4o", "messages": msgs}).encode()


def bench_parse(repeat: int) -> dict:
    res = {}
    for name, body in (("2KB_prompt", chat_body(1, 2048)), ("1MB_history", chat_body(200, 5000))):

        def guard_once(body: bytes = body) -> float:
            t = time.perf_counter()
            p = parse_request("openai", "POST", "/v1/chat/completions", {}, body)
            rebuild_body(p, {p.segments[0].path: "x"})
            return time.perf_counter() - t

        def base_once(body: bytes = body) -> float:
            t = time.perf_counter()
            json.dumps(json.loads(body))
            return time.perf_counter() - t

        n = 50 if len(body) < 10_000 else 5
        g = statistics.median(median(guard_once, n) for _ in range(repeat))
        b = statistics.median(median(base_once, n) for _ in range(repeat))
        res[name] = {
            "bytes": len(body),
            "guard_parse_rebuild_us": round(g * 1e6, 1),
            "baseline_loads_dumps_us": round(b * 1e6, 1),
            "ratio": round(g / b, 2),
        }
    return res


def bench_vault(repeat: int) -> dict:
    res = {}
    text = "Some ordinary words here and there, nothing special at all. " * 800
    for size in (10, 1000, 5000):
        v = Vault()
        values = [f"user{i}@corp{i % 50}.example.com" for i in range(size)]
        for value in values:
            v.redact(value, [Finding("email", "EMAIL", "bench", 0, len(value), 1.0)])
        doc = text + values[size // 2]
        v.redact(doc, [])  # build the automaton once, as the first segment of a request would

        def guard_once(doc: str = doc, v: Vault = v) -> float:
            t = time.perf_counter()
            v.redact(doc, [])
            return time.perf_counter() - t

        alternation = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(x) for x in values) + r")(?!\w)")

        def base_once(doc: str = doc, alternation: re.Pattern[str] = alternation) -> float:
            t = time.perf_counter()
            list(alternation.finditer(doc))
            return time.perf_counter() - t

        g, b = median(guard_once, repeat), median(base_once, repeat)
        res[f"{size}_values"] = {
            "guard_redact_48KB_ms": round(g * 1e3, 3),
            "baseline_regex_alternation_ms": round(b * 1e3, 3),
            "ratio": round(g / b, 2),
        }
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="runs per measurement; the median is reported")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "restore.json", help="where to write JSON")
    args = ap.parse_args()
    result = {
        "stream": bench_stream(args.repeat),
        "ttfb": bench_ttfb(args.repeat),
        "parse": bench_parse(args.repeat),
        "vault": bench_vault(args.repeat),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
