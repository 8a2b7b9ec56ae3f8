"""A value hidden by a cheap trick is still found, and the span covers the characters really sent."""

from __future__ import annotations

import base64
import html
from urllib.parse import quote

import pytest

TOKEN = "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"
EMAIL = "dana.whitfield@example.org"
CARD = "5189-4386-0668-9283"

FULLWIDTH = str.maketrans({chr(c): chr(c + 0xFEE0) for c in range(0x30, 0x3A)})


def zero_width(value: str) -> str:
    return "\u200b".join(value)


def cyrillic(value: str) -> str:
    return value.replace("a", "\u0430").replace("e", "\u0435").replace("o", "\u043e")


CASES = [
    ("zero-width", f"my token is {zero_width(TOKEN)} ok", "secret"),
    ("word-joiner", f"token {TOKEN[:10]}\u2060{TOKEN[10:]}", "secret"),
    ("confusables", f"write to {cyrillic(EMAIL)} now", "email"),
    ("full-width", f"card {CARD.translate(FULLWIDTH)} please", "payment_card"),
    ("nbsp", f"card {CARD.replace('-', chr(0xA0))} please", "payment_card"),
    ("base64", f"config blob {base64.b64encode(f'GITHUB_TOKEN={TOKEN}'.encode()).decode()}", "secret"),
    ("base64-twice", f"blob {base64.b64encode(base64.b64encode(TOKEN.encode())).decode()}", "secret"),
    ("hex", f"dump {EMAIL.encode().hex()} end", "email"),
    ("percent", f"url ?to={quote(EMAIL, safe='')} end", "email"),
    ("html-entities", f"<p>{''.join(f'&#{ord(c)};' for c in EMAIL)}</p>", "email"),
    ("json-escapes", '{"k": "' + "".join(f"\\u{ord(c):04x}" for c in TOKEN) + '"}', "secret"),
]


@pytest.mark.parametrize(("technique", "text", "category"), CASES, ids=[c[0] for c in CASES])
def test_when_value_is_disguised_then_it_is_still_found(pattern_engine, technique, text, category):
    found = [f for f in pattern_engine.scan(text) if f.category == category]
    assert found, technique
    span = text[found[0].start : found[0].end]
    # The span covers the disguised characters themselves, so redacting it removes the value.
    assert len(span) >= 8 and not span.isspace()


def test_when_value_is_split_by_invisible_characters_then_the_whole_run_is_redacted(pattern_engine):
    text = f"key={zero_width(TOKEN)};"
    (f,) = [f for f in pattern_engine.scan(text) if f.category == "secret"]
    assert text[f.start : f.end].replace("\u200b", "") == TOKEN


def test_when_harmless_text_holds_html_and_hashes_then_nothing_is_flagged(pattern_engine):
    text = html.escape('<a href="/docs?q=1&lang=en">docs</a>') + " sha1 " + "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"
    assert [f for f in pattern_engine.scan(text) if f.category in ("secret", "email")] == []


DEFANGED = [
    ("brackets", "jane.doe[at]example[dot]com"),
    ("parentheses", "jane.doe (at) example (dot) com"),
    ("braces", "jane.doe{at}example{dot}com"),
    ("symbols-in-brackets", "jane.doe [@] example [.] com"),
    ("upper-case-words", "jane.doe AT example DOT com"),
    ("bracketed-dot-only", "jane.doe@example[.]com"),
    ("full-width-brackets", "li.lei（at）example（dot）cn"),
]


@pytest.mark.parametrize("address", [d[1] for d in DEFANGED], ids=[d[0] for d in DEFANGED])
def test_when_email_is_defanged_then_the_whole_written_form_is_one_email_finding(engine, address):
    text = f"Please write to {address} before Friday."
    found = [f for f in engine.scan(text) if f.category == "email"]
    assert [text[f.start : f.end] for f in found] == [address]


@pytest.mark.parametrize(
    "text",
    [
        "meet me at the office at noon",
        "look at example dot com for the docs",
        "send it to jane at example dot com",  # lower-case words: ordinary prose, too ambiguous
        "WE LOOK AT THE DOT COM BUBBLE TODAY",  # shouting, not an address
        "the result is arr[at] plus offset.value",
        "ping me (at) lunch.time tomorrow",  # not a top-level domain
    ],
)
def test_when_prose_says_at_and_dot_then_no_email_is_flagged(engine, text):
    assert [f for f in engine.scan(text) if f.category == "email"] == []
