"""`guard scan`: a file, stdin, or the JSONL batch contract of the scorer."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

from guard.core import CATEGORIES, Finding, mask
from guard.detect.engine import Engine, build_engine

BATCH = 256


def _err(msg: str) -> None:
    print(f"guard scan: {msg}", file=sys.stderr)


def scan_command(file: str, fmt: str, jsonl: bool, rules: Path | None, models: bool) -> int:
    """Run a scan; return the exit status (0 clean, 1 findings, 2 usage or input error)."""
    if fmt not in ("table", "json"):
        _err(f"unknown --format {fmt!r}: use table or json")
        return 2
    try:
        engine = build_engine(rules, models=models)
    except (ValueError, RuntimeError) as exc:
        _err(str(exc))
        return 2
    if jsonl:
        return _scan_jsonl(engine)
    try:
        raw = sys.stdin.buffer.read() if file == "-" else Path(file).read_bytes()
    except OSError as exc:
        _err(f"cannot read {file}: {exc.strerror}")
        return 2
    if b"\x00" in raw[:8192]:
        _err(f"{file}: looks like a binary file; not scanned")
        return 2
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        _err(f"{file}: invalid UTF-8 at line {line} (byte {exc.start}); not scanned")
        return 2
    findings = engine.scan(text)
    if fmt == "json":
        print(json.dumps({"findings": [_public(f, text) for f in findings]}, ensure_ascii=False, indent=2))
    else:
        _print_table(findings, text)
    return 1 if any(f.category in CATEGORIES for f in findings) else 0


def _public(f: Finding, text: str) -> dict[str, object]:
    d = f.to_dict()
    d["preview"] = mask(text[f.start : f.end])
    return d


def _print_table(findings: list[Finding], text: str) -> None:
    if not findings:
        print("no findings")
        return
    rows = [("LINE", "SPAN", "CATEGORY", "ENTITY", "RULE", "SCORE", "PREVIEW")]
    for f in findings:
        line = text.count("\n", 0, f.start) + 1
        rows.append(
            (
                str(line),
                f"{f.start}-{f.end}",
                f.category,
                f.entity_type,
                f.rule_id,
                f"{f.score:.2f}",
                mask(text[f.start : f.end]),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print(f"{len(findings)} finding(s)")


def _records(stream) -> Iterator[tuple[int, object, str | None, str | None]]:  # noqa: ANN001
    """Yield (line number, id, text, error) for each non-blank input line."""
    for n, raw in enumerate(stream, 1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield n, None, None, f"line {n}: invalid UTF-8 at byte {exc.start}"
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            yield n, None, None, f"line {n}: invalid JSON ({exc.msg} at column {exc.colno})"
            continue
        if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
            yield (
                n,
                rec.get("id") if isinstance(rec, dict) else None,
                None,
                f'line {n}: expected an object with a string "text"',
            )
            continue
        yield n, rec.get("id"), rec["text"], None


def _scan_jsonl(engine: Engine) -> int:
    """Batch contract: JSONL in, one JSONL line out per good input line; bad lines reported on stderr."""
    status = 0
    batch: list[tuple[object, str]] = []
    out = sys.stdout

    def flush() -> None:
        results = engine.scan_many([t for _, t in batch])
        for (rid, _), finds in zip(batch, results, strict=True):
            out.write(json.dumps({"id": rid, "findings": [f.to_dict() for f in finds]}, ensure_ascii=False) + "\n")
        batch.clear()

    for _n, rid, text, error in _records(sys.stdin.buffer):
        if error is not None:
            _err(error)
            status = 2
            continue
        batch.append((rid, text))  # type: ignore[arg-type]
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    out.flush()
    return status
