"""A value spread over two user messages is found, and each part is redacted where it was typed."""

from __future__ import annotations

from guard import crossscan
from guard.core import Segment
from guard.vault import Vault


def _scan(engine, segments):
    own = [engine.scan(s.text) for s in segments]
    probes = crossscan.probes(segments)
    return crossscan.merge(segments, own, probes, [engine.scan(p.text) for p in probes])


def _redacted(engine, texts, roles=None):
    segs = [Segment(t, ("messages", i, "content"), (roles or ["user"] * len(texts))[i]) for i, t in enumerate(texts)]
    vault = Vault()
    return [vault.redact(s.text, fs) for s, fs in zip(segs, _scan(engine, segs), strict=True)]


def test_when_a_card_number_is_split_over_two_messages_then_both_halves_are_redacted(pattern_engine):
    out = _redacted(pattern_engine, ["my card is 5189 4386", "0668 9283 thanks"])
    assert "4386" not in out[0] and "0668" not in out[1] and out[1].endswith(" thanks")


def test_when_a_token_is_cut_mid_word_then_both_parts_are_redacted(pattern_engine):
    out = _redacted(pattern_engine, ["token ghp_zIhFr3lO0Hpca", "Nfc5nQ9YRVtQQb7Rt3gxSmP"])
    assert "zIhFr3" not in out[0] and "Nfc5nQ" not in out[1] and out[0].startswith("token ")


def test_when_messages_are_unrelated_or_not_from_the_user_then_nothing_is_added(pattern_engine):
    assert _redacted(pattern_engine, ["the year was 2019", "and 4386 people came"]) == [
        "the year was 2019", "and 4386 people came"]  # fmt: skip
    out = _redacted(pattern_engine, ["token ghp_zIhFr3lO0Hpca", "Nfc5nQ9YRVtQQb7Rt3gxSmP"], ["user", "assistant"])
    assert out == ["token ghp_zIhFr3lO0Hpca", "Nfc5nQ9YRVtQQb7Rt3gxSmP"]
