"""Each classification rule of the shipped rules/classifiers.yaml, plus EDM and custom term files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guard.core import Segment
from guard.policy.classify import load_classifiers
from guard.policy.edm import build_store, save_store


@pytest.fixture(scope="module")
def shipped():
    from guard.detect.rules import BUNDLED_RULES

    return load_classifiers(BUNDLED_RULES, Path("/nonexistent-edm"))


def _rules(cs, text: str) -> set[str]:
    return {c.rule_id for c in cs.classify([Segment(text)])}


@pytest.mark.parametrize(
    "text,rule",
    [
        ("CONFIDENTIAL\nQ3 revenue forecast by region", "marking-en-caps"),
        ("Board deck - STRICTLY CONFIDENTIAL - do not forward", "marking-en-caps"),
        ("This memo is for internal use only. Please summarise it.", "marking-en-phrase"),
        ("Internal Only: onboarding checklist", "marking-en-phrase"),
        ("【机密】2024年第三季度财务预测", "marking-zh"),
        ("内部资料，严禁外传。请帮我总结下面的会议纪要", "marking-zh"),
        ("请审阅这份机密文件并列出风险", "marking-zh"),  # inside a CJK run: no word boundary needed
        ("机密Nightjar roadmap", "codenames"),  # Latin term right after CJK text
        ("Status update on Project Bluefin for the steering group", "codenames"),
        ("nightjar rollout slipped by two weeks", "codenames"),
        ("Draft a renewal offer for Globex Corporation", "customers"),
    ],
)
def test_when_marking_or_listed_term_then_classified(shipped, text: str, rule: str) -> None:
    assert rule in _rules(shipped, text)


@pytest.mark.parametrize(
    "text",
    [
        "Is this information confidential? How do I mark documents?",  # prose, not a banner
        "The nightjars were singing at dusk",  # plural, not the codename (word boundary)
        "Bluefin tuna recipes",  # part of the codename only
        "Halcyon-70 is another product",  # "Halcyon-7" followed by more digits
        "Initechnology is a made-up word",  # customer name inside a longer word
        "请解释一下机器学习",  # 机器 is not 机密
        "Write a function that adds two numbers",
    ],
)
def test_when_ordinary_text_then_not_classified(shipped, text: str) -> None:
    assert _rules(shipped, text) == set()


def test_classification_detail_masks_codenames_but_shows_markings(shipped) -> None:
    out = {c.rule_id: c for c in shipped.classify([Segment("CONFIDENTIAL: Project Bluefin status")])}
    assert "CONFIDENTIAL" in out["marking-en-caps"].detail
    assert "Bluefin" not in out["codenames"].detail and "bluefin" not in out["codenames"].detail


CODE = "\n".join(
    ["import os", "from pathlib import Path", "", "def load(path: str) -> dict:"]
    + [f"    value_{i} = compute(path, {i})  # step" if i % 3 else f"    if value_{i - 1} == {i}:" for i in range(60)]
    + ["    return {}", "class Loader:", "    pass"]
)


def test_when_large_source_code_pasted_then_classified(shipped) -> None:
    assert "source-code-large" in _rules(shipped, "Please review this:\n```python\n" + CODE + "\n```")


def test_when_short_code_or_long_prose_then_not_source_code(shipped) -> None:
    assert "source-code-large" not in _rules(shipped, "\n".join(CODE.splitlines()[:20]))
    prose = "\n".join(f"Paragraph {i} talks about the weather and our plans for the weekend trip" for i in range(80))
    assert "source-code-large" not in _rules(shipped, prose)


def test_classification_spans_segments(shipped) -> None:
    segs = [Segment("Here is the memo", ("messages", 0)), Segment("INTERNAL ONLY", ("messages", 1))]
    assert "marking-en-caps" in {c.rule_id for c in shipped.classify(segs)}


def test_terms_from_file_with_case_sensitivity(tmp_path: Path) -> None:
    (tmp_path / "codes.txt").write_text("# project codenames\nOrca\nRed Kite\n")
    (tmp_path / "classifiers.yaml").write_text(
        "classifiers:\n  - id: projects\n    label: codename\n    file: codes.txt\n    case_sensitive: true\n"
    )
    cs = load_classifiers(tmp_path, None)
    assert _rules(cs, "the Red Kite launch") == {"projects"}
    assert _rules(cs, "the red kite launch") == set()
    assert _rules(cs, "Orcas are whales") == set()


def test_edm_store_classifier(tmp_path: Path) -> None:
    edm = tmp_path / "edm"
    save_store(build_store("customers", ["customer_id"], ["CUST-004711", "Acme Widgets Ltd"]), edm)
    (tmp_path / "classifiers.yaml").write_text(
        "classifiers:\n  - id: edm-customer-ids\n    label: edm\n    kind: edm\n    store: customers\n"
    )
    cs = load_classifiers(tmp_path, edm)
    assert _rules(cs, "refund for cust 004711 please") == {"edm-customer-ids"}  # separators do not matter
    assert _rules(cs, "refund for cust-004711 please") == {"edm-customer-ids"}
    assert _rules(cs, "email ACME widgets LTD about it") == {"edm-customer-ids"}
    assert _rules(cs, "refund for CUST-004712") == set()


def test_edm_stores_are_discovered_without_config(tmp_path: Path) -> None:
    edm = tmp_path / "edm"
    save_store(build_store("Payroll IDs", ["id"], ["EMP-99321"]), edm)
    cs = load_classifiers(tmp_path, edm)
    out = cs.classify([Segment("look up emp-99321")])
    assert [(c.label, c.rule_id) for c in out] == [("edm", "edm-payroll-ids")]
    assert "99321" not in out[0].detail


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_ascii_text_is_split_into_words_as_any_text_is(text: str) -> None:
    # ASCII text takes a faster path (str.translate); terms must match on it exactly as on the rest.
    from guard.policy.classify import _CJK, _NON_WORD, _padded

    assert _padded(text) == " " + " ".join(_CJK.sub(r" \1 ", _NON_WORD.sub(" ", text)).split()) + " "
