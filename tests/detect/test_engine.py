"""Engine behaviour a user notices: overlaps resolved, cache per text, NER only where it can matter."""

from __future__ import annotations

from guard.core import Finding
from guard.detect.engine import resolve_overlaps
from guard.detect.models import SpacyPersons


def test_when_findings_overlap_then_higher_score_then_longer_span_wins():
    a = Finding("phone", "PHONE_NUMBER", "p", 10, 25, 0.7)
    b = Finding("national_id", "CN_RESIDENT_ID", "id", 5, 23, 0.95)
    c = Finding("person", "PERSON", "n", 30, 40, 0.6)
    d = Finding("person", "PERSON", "n2", 30, 45, 0.6)
    assert resolve_overlaps([a, b, c, d]) == [b, d]


def test_when_many_findings_then_result_matches_the_pairwise_rule():
    fs = [Finding("email", "EMAIL_ADDRESS", "e", i, i + 7 + i % 4, 0.5 + (i % 5) / 10) for i in range(0, 3000, 3)]
    ranked = sorted(fs, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    expected: list[Finding] = []
    for f in ranked:  # the obvious quadratic definition
        if all(f.end <= k.start or f.start >= k.end for k in expected):
            expected.append(f)
    kept = resolve_overlaps(fs)
    assert kept == sorted(expected, key=lambda f: f.start)
    assert all(x.end <= y.start for x, y in zip(kept, kept[1:], strict=False))


def test_when_same_text_is_scanned_twice_then_cached_result_is_equal(engine):
    text = "Ask Maria Gonzalez at maria.gonzalez@example.com about card 5189 4386 0668 9283"
    first = engine.scan(text)
    assert engine.scan(text) == first
    assert len(first) == 3


def test_when_text_has_no_titlecase_word_pair_then_ner_sees_nothing():
    assert SpacyPersons.windows("all lower case words here, nothing to see 12345", []) == []


def test_when_prompt_is_long_then_ner_windows_cover_only_candidates():
    filler = "the build passed and the logs look fine. " * 1500  # ~60 KB without names
    text = filler + "Contact Yusuf Demirci today." + filler
    windows = SpacyPersons.windows(text, [])
    assert len(windows) == 1
    a, b = windows[0]
    assert b - a < 400 and a <= text.index("Yusuf") < b


def test_when_long_prompt_holds_a_name_then_it_is_found(engine):
    filler = "the build passed and the logs look fine. " * 400
    text = filler + "Escalate to Yusuf Demirci, he owns the service." + filler
    persons = [text[f.start : f.end] for f in engine.scan(text) if f.category == "person"]
    assert persons == ["Yusuf Demirci"]


def test_when_a_long_prompt_is_one_line_then_each_line_is_checked_for_code_once(engine, monkeypatch):
    # A paste with no line breaks used to be searched once per candidate word: 24 s for 64 KB of names.
    import guard.detect.names as names

    searched: list[int] = []
    real = names._CODE_LINE

    class Counting:
        def search(self, line: str):  # noqa: ANN202
            searched.append(len(line))
            return real.search(line)

    monkeypatch.setattr(names, "_CODE_LINE", Counting())
    unit = "Yesterday Maria and John reviewed the Berlin rollout with Priya, then Tom said the numbers looked fine. "
    text = unit * 100  # one line, ~10 KB, 400 name candidates
    persons = {text[f.start : f.end] for f in engine.scan(text) if f.category == "person"}
    assert {"Maria", "John", "Tom"} <= persons
    assert len(searched) <= 2  # the line, and perhaps once more for the next text
    text2 = "def load(Alice):\n    return Alice\nSigned, Maria Lopez\n"
    searched.clear()
    engine.scan(text2)
    assert len(searched) <= len(text2.splitlines())


def test_the_ner_pipeline_runs_no_component_whose_output_nobody_reads():
    # The small English model gives NER its own tok2vec; the shared one feeds only the excluded tagger and
    # parser, so it would cost ~2 ms per window for nothing.
    nlp = SpacyPersons()._load()
    assert nlp.pipe_names == ["ner"]
    doc = nlp("I met Emeka Okafor and Gustav Petrov in Lagos yesterday.")
    assert [e.text for e in doc.ents if e.label_ == "PERSON"] == ["Gustav Petrov"]
