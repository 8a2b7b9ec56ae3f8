"""Time every detector pattern on catastrophic-backtracking shaped inputs; one JSON line per rule.

Run as `python -m tests.detect.regex_probe [RULES_DIR] [--size N] [--skip ID,...]`. The inputs are
generic (they do not know the rules): long runs of one character from each class a pattern may
accept, alternating separators, and each match example cut short and pumped. test_regex_safety.py
runs this in a subprocess with a hang guard, because a pattern that backtracks catastrophically
never returns and cannot be interrupted from inside the process.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from guard.detect.rules import load_detectors

RUN_CHARS = "a A 1 0 _ - . @ / : = + \\ ' \" 张 é ́ ﹒ \t".split(" ") + [" ", "\n"]
PAIRS = ["a ", "1 ", "1-", "a.", "a-", "1.", "A1", "a@", "a_", "1/", "a:", "a=", "aB", "a\n", "9 9", "ab.", "a b-"]


def inputs(examples: tuple[str, ...], size: int) -> list[str]:
    """Adversarial texts of about `size` characters."""
    out = [c * size for c in RUN_CHARS]
    out += [(p * (size // len(p) + 1))[:size] for p in PAIRS]
    for ex in examples[:3]:  # the example minus its last character, pumped: almost-matches everywhere
        stem = ex[:-1] or ex
        out.append((stem * (size // len(stem) + 1))[:size])
        out.append(stem + stem[-1:] * size)  # its last character repeated: a run the pattern may accept
    return out


# Runs the whole engine decodes and folds (gitleaks-style candidates), for the --engine mode.
ENCODED = ["QUJD", "4142", "%41", "&#65;", "\\u0041", "ghp_" + "a" * 36 + " ", "a@b.co ", "5189 4386 0668 9283 "]


def engine_inputs(size: int) -> list[tuple[str, str]]:
    """(name, text) pairs for the whole engine: the generic inputs plus long runs of encoded forms."""
    out = [(f"run-{i}", t) for i, t in enumerate(inputs((), size))]
    return out + [(f"encoded-{i}", (e * (size // len(e) + 1))[:size]) for i, e in enumerate(ENCODED)]


def probe_engine(size: int, skip: set[str]) -> None:
    """Time the pattern engine (folding, decoding, every rule, checks) on each input."""
    from guard.detect.engine import build_engine

    engine = build_engine(None, models=False)
    for name, text in engine_inputs(size):
        if name in skip:
            continue
        print(json.dumps({"id": name, "start": True}), flush=True)
        t = time.perf_counter()
        engine.scan(text)
        print(json.dumps({"id": name, "worst_s": round(time.perf_counter() - t, 4)}), flush=True)


def main(argv: list[str]) -> int:
    size = 64 * 1024
    rules_dir = None
    skip: set[str] = set()
    engine = False
    it = iter(argv)
    for a in it:
        if a == "--size":
            size = int(next(it))
        elif a == "--skip":
            skip = set(next(it).split(","))
        elif a == "--engine":
            engine = True
        else:
            rules_dir = Path(a)
    if engine:
        probe_engine(size, skip)
        return 0
    for rule in load_detectors(rules_dir):
        if rule.id in skip:
            continue
        print(json.dumps({"id": rule.id, "start": True}), flush=True)  # the parent knows who hung
        worst = 0.0
        for text in inputs(rule.examples_match, size):
            t = time.perf_counter()
            for _ in rule.pattern.finditer(text):
                pass
            worst = max(worst, time.perf_counter() - t)
        print(json.dumps({"id": rule.id, "worst_s": round(worst, 4)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
