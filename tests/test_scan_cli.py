"""`guard scan` as a user runs it: exit codes, formats, bad input that never becomes a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

GUARD = [sys.executable, "-m", "guard"]
TOKEN = "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"


def run(args, data: bytes):
    return subprocess.run(GUARD + args, input=data, capture_output=True, timeout=120)


def test_when_clean_text_scanned_then_exit_0():
    p = run(["scan", "--no-models", "-"], b"Summarize the pros and cons of microservices.")
    assert p.returncode == 0, p.stderr
    assert b"no findings" in p.stdout


def test_when_secret_scanned_then_exit_1_and_value_is_masked_in_table():
    p = run(["scan", "--no-models", "-"], f"export GITHUB_TOKEN={TOKEN}\n".encode())
    assert p.returncode == 1
    out = p.stdout.decode()
    assert "github-token" in out and "secret" in out
    assert TOKEN not in out


def test_when_json_format_then_spans_are_code_point_offsets():
    text = "邮箱 jane@example.com"
    p = run(["scan", "--no-models", "--format", "json", "-"], text.encode())
    found = json.loads(p.stdout)["findings"]
    assert [(f["category"], text[f["start"] : f["end"]]) for f in found] == [("email", "jane@example.com")]


def test_when_jsonl_has_bad_lines_then_they_are_named_and_the_rest_still_runs():
    data = b'{"id": "a", "text": "x jane@example.com"}\nnot json\n\xff\xfe\n{"id": "b", "text": "clean"}\n{"id": 3}\n'
    p = run(["scan", "--jsonl", "--no-models"], data)
    assert p.returncode == 2
    lines = [json.loads(x) for x in p.stdout.decode().splitlines()]
    assert [x["id"] for x in lines] == ["a", "b"]
    assert lines[0]["findings"][0]["category"] == "email"
    err = p.stderr.decode()
    assert "line 2: invalid JSON" in err and "line 3: invalid UTF-8" in err and "line 5" in err
    assert "Traceback" not in err


def test_when_binary_file_scanned_then_exit_2_with_message(tmp_path):
    f = tmp_path / "blob.bin"
    f.write_bytes(b"\x00\x01\x02PK\x03\x04" * 10)
    p = run(["scan", "--no-models", str(f)], b"")
    assert p.returncode == 2
    assert b"binary" in p.stderr and b"Traceback" not in p.stderr


def test_when_file_missing_then_exit_2_with_message(tmp_path):
    p = run(["scan", str(tmp_path / "nope.txt")], b"")
    assert p.returncode == 2 and b"cannot read" in p.stderr


def test_every_subcommand_has_help():
    p = subprocess.run(GUARD + ["--help"], capture_output=True, timeout=60)
    assert p.returncode == 0
    for sub in (["scan"], ["rules", "check"], ["rules", "test"]):
        h = subprocess.run(GUARD + sub + ["--help"], capture_output=True, timeout=60)
        assert h.returncode == 0 and b"Usage" in h.stdout, sub
