"""Evasion folding: what the detector sees, and spans that map back to the characters sent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guard.detect.normalize import normalize

ZW = "\u200b"


@pytest.mark.parametrize(
    ("sent", "seen"),
    [
        (f"ghp{ZW}_abc\u200ddef\ufeff", "ghp_abcdef"),
        ("４１１１ １１１１", "4111 1111"),
        ("jаne@exаmple.com", "jane@example.com"),  # Cyrillic a
        ("AKIA\u00a0X\u3000Y", "AKIA X Y"),
        ("١٢٣٤", "1234"),  # Arabic-Indic digits
        ("pass\u202eword", "password"),  # bidi override
        ("plain ascii", "plain ascii"),
        ("中文姓名张伟", "中文姓名张伟"),
    ],
)
def test_when_text_hides_a_value_then_the_folded_view_shows_it(sent, seen):
    assert normalize(sent).text == seen


def test_when_span_found_in_folded_text_then_it_maps_to_the_original_characters():
    sent = f"key: AK{ZW}IA{ZW}ABCD end"
    view = normalize(sent)
    start = view.text.index("AKIA")
    o0, o1 = view.to_original(start, start + 8)
    assert sent[o0:o1].replace(ZW, "") == "AKIAABCD"
    assert sent[o0] == "A" and sent[o1 - 1] == "D"


@given(st.text(alphabet=st.sampled_from(["a", "b", ZW, "\u200d", "４", "\u3000"]), max_size=40))
def test_folded_characters_map_back_to_the_same_character_positions(sent):
    view = normalize(sent)
    for i in range(len(view.text)):
        o0, o1 = view.to_original(i, i + 1)
        assert o1 - o0 == 1
        assert normalize(sent[o0:o1]).text == view.text[i]
