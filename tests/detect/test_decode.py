"""Encoded runs are decoded for detection, bounded so hostile input stays cheap."""

from __future__ import annotations

import base64
import html

import pytest

from guard.detect.decode import MAX_CANDIDATES, candidates

SECRET = "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"


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (base64.b64encode(SECRET.encode()).decode(), "base64"),
        (base64.urlsafe_b64encode(("x" + SECRET + "?>").encode()).decode().rstrip("="), "base64"),
        (SECRET.encode().hex(), "hex"),
        ("".join(f"%{b:02X}" for b in SECRET.encode()), "percent"),
        ("".join(f"&#{ord(c)};" for c in SECRET), "html"),
        ("".join(f"\\u{ord(c):04x}" for c in SECRET), "escape"),
    ],
)
def test_when_value_is_encoded_then_a_candidate_decodes_to_it(encoded, encoding):
    text = f"please check {encoded} thanks"
    found = [c for c in candidates(text) if SECRET in c.text]
    assert found and found[0].encoding == encoding
    assert text[found[0].start : found[0].end] == encoded


@pytest.mark.parametrize(
    "text",
    [
        "sha256:72dbd8cdef5dc452cbb75d9e874bb491ddde272b0a6f07f4c3ae1b0786c8b271",
        "def getUserAccountDetailsFromServer(self): return self.cache",
        "git rebase -i 03423bc1da29eea9c85f46c4f789690670ff1af2",
        html.escape("a < b and c > d"),
    ],
)
def test_when_text_is_ordinary_code_or_hash_then_nothing_decodes_to_text(text):
    assert [c for c in candidates(text) if c.encoding in ("base64", "hex")] == []


def test_when_text_holds_many_encoded_runs_then_work_is_bounded():
    run = base64.b64encode(b"hello world, hello!").decode()
    assert len(candidates(" ".join([run] * 1000))) == MAX_CANDIDATES
