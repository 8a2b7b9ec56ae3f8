"""Personal data a user expects guard to find, and look-alikes it must leave alone."""

from __future__ import annotations

import pytest

from guard.core import CATEGORIES


def _found(engine, text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in engine.scan(text):
        if f.category in CATEGORIES:
            out.setdefault(f.category, []).append(text[f.start : f.end])
    return out


@pytest.mark.parametrize(
    ("text", "category", "value"),
    [
        ("Ring me on +49 30 901820 or later", "phone", "+49 30 901820"),
        ("Reply to Ana (ana@example.net, +44 20 7946 0321) today", "phone", "+44 20 7946 0321"),
        ("Office line (212) 555-0187, ask for Sam", "phone", "(212) 555-0187"),
        ("UK mobile 07700 900461 after six", "phone", "07700 900461"),
        ("联系电话：138 0013 8000，谢谢", "phone", "138 0013 8000"),
        ("Charge it to 5189-4386-0668-9283 please", "payment_card", "5189-4386-0668-9283"),
        ("The IBAN is NL91 ABNA 0417 1643 00 for the refund", "bank_account", "NL91 ABNA 0417 1643 00"),
        ("her NI number is QQ 12 34 56 C", "national_id", "QQ 12 34 56 C"),
        ("SSN 536-22-8726 was rejected", "national_id", "536-22-8726"),
        ("身份证号11010519491231002X请核对", "national_id", "11010519491231002X"),
        ("passport no. E12345678 expires soon", "national_id", "E12345678"),
        (
            "Send it to 742 Evergreen Terrace, Springfield, OR 97403 by Friday",
            "address",
            "742 Evergreen Terrace, Springfield, OR 97403",
        ),
        ("Deliver to Flat 3, Albion Court, Leeds, LS2 7EY tomorrow", "address", "Flat 3, Albion Court, Leeds, LS2 7EY"),
        ("Bitte an Lindenstraße 12, 80331 München schicken", "address", "Lindenstraße 12, 80331 München"),
        ("寄到上海市浦东新区世纪大道100号 200120。", "address", "上海市浦东新区世纪大道100号 200120"),
        ("The host 2001:db8:85a3::8a2e:370:7334 is down", "ip_address", "2001:db8:85a3::8a2e:370:7334"),
    ],
)
def test_when_prompt_holds_personal_value_then_it_is_found_whole(pattern_engine, text, category, value):
    assert value in _found(pattern_engine, text).get(category, [])


@pytest.mark.parametrize(
    "text",
    [
        "Version 4.12.1 fixed 3 bugs; see issue 1234567890123.",
        "Order ORD-2024-0815 shipped on 2024-08-15 at 10:30:45.",
        "The function returns 4111111111111112 when overflowing.",
        "We had 3 points to discuss and 5 Ways to improve.",
        "uuid 123e4567-e89b-12d3-a456-426614174000 and sha 9f86d081884c7d659a2feaa0c55ad015",
        "本季度营收增长了12%，请把这句话翻译成英文。",
    ],
)
def test_when_prompt_is_harmless_then_no_personal_data_is_flagged(engine, text):
    assert _found(engine, text) == {}


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Tenant file — name: Gaspard Lemoinier; lease active", "Gaspard Lemoinier"),
        ("Please write a thank-you note to Dr. Ingrid Van der Berg", "Ingrid Van der Berg"),
        ("Rows:\nMargaret T. Okafor|mokafor@example.org|pending", "Margaret T. Okafor"),
        ("I met with Yusuf Demirci yesterday about the lease.", "Yusuf Demirci"),
    ],
)
def test_when_english_name_is_written_then_person_is_found(engine, text, name):
    persons = _found(engine, text).get("person", [])
    assert any(name in p for p in persons), persons


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("请给王建国发短信，告诉他会议改到周五。", "王建国"),
        ("员工欧阳娜娜的合同下月到期。", "欧阳娜娜"),
    ],
)
def test_when_chinese_name_is_written_then_person_is_found(engine, text, name):
    assert name in _found(engine, text).get("person", [])


def test_when_chinese_company_brand_looks_like_a_name_then_it_is_not_a_person(engine):
    assert "person" not in _found(engine, "本季度华拓软件有限公司的利润下降了8%。")


def test_when_places_and_code_are_titlecase_then_they_are_not_persons(engine):
    text = "Plan a trip to Lake Orla and East Dunmorefield.\n>>> Ratio(Ratio(2, 9), Ratio(4, 5))"
    assert "person" not in _found(engine, text)


def test_every_finding_carries_category_entity_rule_span_and_score(engine):
    text = "Call Paul Morris on +1-582-791-7427 or mail paul.morris@example.com"
    findings = engine.scan(text)
    assert {f.category for f in findings} >= {"person", "phone", "email"}
    for f in findings:
        assert f.category and f.entity_type.isupper() and f.rule_id and 0 < f.score <= 1
        assert 0 <= f.start < f.end <= len(text)


def test_when_address_is_a_mailing_label_block_then_the_whole_block_is_one_address(engine):
    text = "Please post it to:\nIngrid Solheim\n3120 Fjordveien 8\n Apt. 12\n Tromsdal\n Norway 9012\nThanks!"
    found = _found(engine, text)
    assert found["address"] == ["3120 Fjordveien 8\n Apt. 12\n Tromsdal\n Norway 9012"]
    assert "Ingrid Solheim" in found["person"]


def test_when_prose_mentions_a_handle_then_it_is_found_but_code_decorators_are_not(engine):
    assert _found(engine, "great thread, thanks @kira_dev for the fix")["person"] == ["@kira_dev"]
    code = "class Point:\n    @property\n    def norm(self):\n        return 1\n\n@dataclass\nclass Box:\n    pass\n"
    assert _found(engine, code) == {}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        # A name found once is found again where it recurs alone.
        ("My name is Ilse Varga but everyone calls me Ilse. Ilse will sign.", ["Ilse Varga", "Ilse", "Ilse"]),
        # The other members of a list that holds a found name.
        ("The founders were Brodsky, Hannah and Quarmby.", ["Brodsky", "Hannah", "Quarmby"]),
        # Lower-case names after strong cues in chat text.
        ("hi, my name is tove lindqvist. please block my card", ["tove lindqvist"]),
        ("ok so ms. odalys rang about the refund", ["odalys"]),
    ],
)
def test_when_a_name_recurs_is_listed_or_follows_a_strong_cue_then_every_mention_is_found(engine, text, names):
    assert _found(engine, text).get("person", []) == names


@pytest.mark.parametrize(
    "text",
    [
        "please call me back tomorrow, my name is not important",
        "dr. who is on tonight",
        "Terms such as Patience and Rigour get capitals here",
        "Ames, Brook and Cole is a law firm",
    ],
)
def test_when_cue_words_or_firm_lists_hold_no_name_then_no_person_is_added(engine, text):
    persons = _found(engine, text).get("person", [])
    assert not {"who", "not", "Patience", "Ames"} & set(persons), persons


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Meet me at the corner of 5th Avenue and Main Street.", "the corner of 5th Avenue and Main Street"),
        ("Mrs. Ann Lowe Apt. 675 62314 Kirkevej 32\nAalborg NO 9100", "Apt. 675 62314 Kirkevej 32\nAalborg NO 9100"),
        ("send it to uscgc hale\nfpo ap 96612 please", "uscgc hale\nfpo ap 96612"),
    ],
)
def test_when_address_is_an_intersection_unit_first_or_lower_case_military_then_it_is_found_whole(engine, text, value):
    assert value in _found(engine, text)["address"]


def test_when_the_corner_of_is_not_a_street_then_no_address_is_found(engine):
    assert "address" not in _found(engine, "I saw it at the corner of my eye and then it was gone.")
