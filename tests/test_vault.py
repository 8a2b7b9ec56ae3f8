"""Vault: placeholders that are stable, distinct, reproducible, and never confused with user text."""

from __future__ import annotations

import json

import pytest

from guard.core import Finding
from guard.providers import parse_request, rebuild_body
from guard.vault import PLACEHOLDER_PREFIX, Vault, VaultStore
from tests.providers.payloads import findings_for


def redact(vault: Vault, text: str) -> str:
    return vault.redact(text, findings_for(text))


def test_when_a_value_repeats_across_messages_then_it_gets_the_same_placeholder():
    vault = Vault()
    a = redact(vault, "Mail maria.lopez@example.com today")
    b = redact(vault, "Did maria.lopez@example.com answer? Ask Maria Lopez at maria.lopez@example.com")
    assert a == "Mail [EMAIL_1] today"
    assert b == "Did [EMAIL_1] answer? Ask [PERSON_1] at [EMAIL_1]"
    assert len(vault) == 2


def test_when_values_differ_then_placeholders_differ_and_count_per_prefix():
    vault = Vault()
    text = "a@x.io b@x.io a@x.io John"
    findings = [
        Finding("email", "EMAIL", "r", 0, 6, 1.0),
        Finding("email", "EMAIL", "r", 7, 13, 1.0),
        Finding("email", "EMAIL", "r", 14, 20, 1.0),
        Finding("person", "PERSON", "r", 21, 25, 1.0),
    ]
    assert vault.redact(text, findings) == "[EMAIL_1] [EMAIL_2] [EMAIL_1] [PERSON_1]"


@pytest.mark.parametrize(
    ("category", "prefix"), sorted(PLACEHOLDER_PREFIX.items()) + [("organization", "ORGANIZATION")]
)
def test_when_a_category_is_redacted_then_its_prefix_is_used(category, prefix):
    vault = Vault()
    assert vault.redact("value", [Finding(category, "X", "r", 0, 5, 1.0)]) == f"[{prefix}_1]"


HISTORY = [
    "I am Maria Lopez, mail maria.lopez@example.com",
    "Sure [PERSON_1], what do you need?",  # an assistant turn, as the provider would have seen it
    "Charge 4111 1111 1111 1111 and text +1 415 555 0132",
    "Also cc bob@example.org and Maria Lopez",
]


def test_when_a_fresh_vault_sees_the_same_resent_history_then_it_assigns_the_same_placeholders():
    # Process A served the conversation turn by turn (each turn resends the whole history);
    # process B only ever sees the last request. Both must send the same redacted text.
    a = Vault()
    for turn in range(1, len(HISTORY) + 1):
        sent_a = [redact(a, t) for t in HISTORY[:turn]]
    b = Vault()
    sent_b = [redact(b, t) for t in HISTORY]
    assert sent_a == sent_b
    assert sent_b[2] == "Charge [CARD_1] and text [PHONE_1]"
    assert a.restore(sent_b[3]) == b.restore(sent_b[3]) == HISTORY[3]


def test_when_the_reply_mentions_a_placeholder_then_restore_gives_the_value():
    vault = Vault()
    redact(vault, "Maria Lopez, maria.lopez@example.com")
    assert vault.restore("Hello [PERSON_1] ([EMAIL_1])!") == "Hello Maria Lopez (maria.lopez@example.com)!"


def test_when_the_user_typed_a_placeholder_the_vault_never_issued_then_it_is_left_as_is():
    vault = Vault()
    sent = redact(vault, "Template: Dear [PERSON_1], signed Maria Lopez")
    # The literal was reserved, so the real name got the next free number.
    assert sent == "Template: Dear [PERSON_1], signed [PERSON_2]"
    assert (
        vault.restore("Dear [PERSON_1], from [PERSON_2] and [EMAIL_7]")
        == "Dear [PERSON_1], from Maria Lopez and [EMAIL_7]"
    )


def test_when_the_user_types_a_placeholder_that_was_already_issued_then_it_round_trips_verbatim():
    vault = Vault()
    assert redact(vault, "Maria Lopez") == "[PERSON_1]"
    sent = redact(vault, "what does [PERSON_1] mean, Maria Lopez?")
    assert sent == "what does [PERSON_2] mean, [PERSON_1]?"
    assert vault.restore(sent) == "what does [PERSON_1] mean, Maria Lopez?"


def test_when_a_known_value_appears_without_a_finding_then_it_is_still_replaced():
    vault = Vault()
    redact(vault, "Maria Lopez")
    assert vault.redact("ping Maria Lopez again", []) == "ping [PERSON_1] again"
    assert vault.redact("Maria Lopezz and xMaria Lopez", []) == "Maria Lopezz and xMaria Lopez"  # whole words only


def test_when_findings_overlap_then_the_longer_one_wins():
    vault = Vault()
    text = "call +1 415 555 0132"
    findings = [Finding("phone", "PHONE", "r", 5, 20, 1.0), Finding("phone", "PHONE", "r", 8, 11, 1.0)]
    assert vault.redact(text, findings) == "call [PHONE_1]"


def test_when_restoring_inside_json_source_then_values_are_escaped():
    vault = Vault()
    vault.redact('Ann "Jr" O\\Neil', [Finding("person", "PERSON", "r", 0, 15, 1.0)])
    assert vault.restore('{"to":"[PERSON_1]"}', json_escape=True) == '{"to":"Ann \\"Jr\\" O\\\\Neil"}'
    assert vault.restore("[PERSON_1]") == 'Ann "Jr" O\\Neil'


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("hello [", 6),
        ("hello [PER", 6),
        ("hello [PERSON_1", 6),  # could still become [PERSON_12]
        ("hello [PERSON_1]", 16),  # complete
        ("hello [PERSON_13", 16),  # never issued (1..12 were): nothing to wait for
        ("hello [X", 8),
        ("[[EMAIL_", 1),
        ("", 0),
    ],
)
def test_when_text_ends_in_part_of_an_issued_placeholder_then_partial_start_finds_it(text, start):
    vault = Vault()
    for n in range(12):
        vault.redact(f"p{n}", [Finding("person", "PERSON", "r", 0, len(f"p{n}"), 1.0)])
    vault.redact("e", [Finding("email", "EMAIL", "r", 0, 1, 1.0)])
    assert vault.partial_start(text) == start


def test_when_the_store_is_full_then_the_least_recently_used_conversation_is_dropped():
    store = VaultStore(max_conversations=2)
    a = store.get("a")
    redact(a, "Maria Lopez")
    store.get("b")
    assert store.get("a") is a  # touching a makes b the oldest
    store.get("c")
    assert len(store) == 2
    assert store.get("a") is a
    assert len(store.get("b")) == 0  # b was evicted and comes back empty


def send(vault: Vault, body: dict, adapter: str = "openai", path: str = "/v1/chat/completions") -> dict:
    """What the proxy forwards: every segment redacted with this vault, in order, then rebuilt."""
    parsed = parse_request(adapter, "POST", path, {}, json.dumps(body).encode())
    replacements = {s.path: vault.redact(s.text, findings_for(s.text)) for s in parsed.segments}
    return json.loads(rebuild_body(parsed, replacements))


@pytest.mark.parametrize(
    ("adapter", "path", "system"),
    [("openai", "/v1/chat/completions", None), ("anthropic", "/v1/messages", "Team of Maria Lopez")],
)
def test_when_two_processes_see_the_same_conversation_then_they_forward_identical_bodies(adapter, path, system):
    user1 = {"role": "user", "content": "I am Maria Lopez, mail maria.lopez@example.com"}
    turn1 = {"model": "m", "messages": [user1]}
    if system:
        turn1["system"] = system
    a = Vault()  # process A serves turn 1 and turn 2
    sent1 = send(a, turn1, adapter, path)
    assert sent1["messages"][0]["content"] == "I am [PERSON_1], mail [EMAIL_1]"
    model_reply = "Hi [PERSON_1], I will write to [EMAIL_1]."
    shown = a.restore(model_reply)  # what the employee saw, and what the client resends
    turn2 = dict(
        turn1,
        messages=[
            user1,
            {"role": "assistant", "content": shown},
            {"role": "user", "content": "Charge 4111 1111 1111 1111"},
        ],
    )
    sent2_a = send(a, turn2, adapter, path)
    sent2_b = send(Vault(), turn2, adapter, path)  # process B never saw turn 1
    assert sent2_a == sent2_b
    assert sent2_a["messages"][1]["content"] == model_reply  # the model sees its own words again
    assert sent2_a["messages"][2]["content"] == "Charge [CARD_1]"
