"""Anchored matching finds exactly what the detector's own pattern finds, only faster."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guard.detect.anchor import anchor_for, finditer
from guard.detect.rules import load_detectors

RULES = load_detectors(None)
ANCHORED = [r for r in RULES if r.anchor is not None]
# Text made of what the anchored rules look at: digits, separators, letters, spaces and newlines,
# plus values the rules exist for, so matches, near-misses and adjacent matches all occur.
PIECES = st.sampled_from([
    "4111 1111 1111 1111", "123-45-6789", "+1 415 555 2671", "(415) 555-2671", "07700 900123", "13812345678",
    "+86 138 1234 5678", "110101199003074514", "91350100M000100Y43", "192.168.0.1", "@ada_lowe", "//registry.npmjs.org/:_authToken=",
    "12 Main St, Springfield, IL 62704", "8", "0", "1", "-", ".", "+", "(", ")", "/", ":", "@", "\n", " ", ", ",
])  # fmt: skip
TEXT = st.lists(st.one_of(PIECES, st.text(alphabet="0123456789 +-.()/@:abcXYZ\n", max_size=12)), max_size=24).map("".join)


def _spans(ms: object) -> list[tuple[tuple[int, int], tuple[str | None, ...]]]:
    return [(m.span(), m.groups()) for m in ms]  # type: ignore[attr-defined]


def test_the_digit_and_punctuation_led_detectors_are_anchored() -> None:
    ids = {r.id for r in ANCHORED}
    assert {"payment-card", "us-ssn", "phone-nanp", "phone-international", "cn-mobile", "ipv4-address"} <= ids
    assert all(not r.anchor.search("abc def XYZ") for r in ANCHORED)  # prose without digits: no attempt at all


@pytest.mark.parametrize("rule", ANCHORED, ids=lambda r: r.id)
def test_anchored_matching_finds_what_the_pattern_finds_on_the_rule_examples(rule) -> None:  # noqa: ANN001
    for text in (*rule.examples_match, *rule.examples_no_match):
        for t in (text, f"x {text} y", f"{text}\n{text}", f"{text}{text}"):
            assert _spans(finditer(rule.pattern, rule.anchor, t)) == _spans(rule.pattern.finditer(t)), t


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_anchored_matching_finds_what_the_pattern_finds_on_any_text(text: str) -> None:
    for rule in ANCHORED:
        assert _spans(finditer(rule.pattern, rule.anchor, text)) == _spans(rule.pattern.finditer(text)), rule.id


@pytest.mark.parametrize(
    ("pattern", "starts"),
    [
        (r"(?<![\w\-])\d{3}-\d{2}-\d{4}", "7"),
        (r"(?:\+|00)?86[ ]?1[3-9]\d{9}", "+08"),
        (r"(?:^|;)-*#\d+", ";-#"),  # zero-width and optional parts are looked through
        (r"(?:\(\d{3}\)[ ]?|\d{3}[.\-])\d{4}", "(5"),
    ],
)
def test_an_anchor_admits_every_first_character_of_a_match(pattern: str, starts: str) -> None:
    anchor = anchor_for(re.compile(pattern))
    assert anchor is not None
    assert all(anchor.fullmatch(c) for c in starts)
    assert not anchor.search("plain words only")


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?<![\w])[A-Z]{2}\d{2}",  # led by letters: common in prose, no gain
        r"\s*\d+",  # may start with a space
        r"\d*",  # matches the empty string
        r"(?i)x?\d+",  # case-insensitive
        r"[^a-z]\d",  # a negated set
        r".\d",  # any character
        r"(a)?\1\d",  # a group reference
    ],
)
def test_patterns_that_can_start_anywhere_are_left_alone(pattern: str) -> None:
    assert anchor_for(re.compile(pattern)) is None
    assert _spans(finditer(re.compile(pattern), None, "AB12 x 34")) == _spans(re.finditer(pattern, "AB12 x 34"))
