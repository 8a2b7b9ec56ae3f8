"""Shared test material: the sensitive values planted in tests/data/* and helpers to find them."""

from __future__ import annotations

import json
from pathlib import Path

from guard.core import Finding
from guard.vault import Vault

DATA = Path(__file__).resolve().parent.parent / "data"

# Every user-written text in the request payloads carries some of these (value -> category).
VALUES: dict[str, str] = {
    "Maria Lopez": "person",
    "maria.lopez@example.com": "email",
    "+1 415 555 0132": "phone",
    "4111 1111 1111 1111": "payment_card",
    "sk-live-9f8a7b6c5d4e3f2a1b0c": "secret",
}
# The coaching text the SDK tests expect to see surface in each client's error.
MESSAGE = "guard blocked this request: it contains 1 email address (email). Remove it and send again."
# The assistant text of every recorded reply, as the provider sent it (placeholders).
TEXT = (
    "Sure, I will email [PERSON_1] at [EMAIL_1] and call [PHONE_1]. "
    "The note [PERSON_9] stays as written; card [CARD_1] is blocked.\n"
)
# What the recorded replies use, issued in this order by issued_vault().
PLACEHOLDERS = {
    "[PERSON_1]": "Maria Lopez",
    "[EMAIL_1]": "maria.lopez@example.com",
    "[PHONE_1]": "+1 415 555 0132",
    "[CARD_1]": "4111 1111 1111 1111",
    "[SECRET_1]": "sk-live-9f8a7b6c5d4e3f2a1b0c",
}


def load_bytes(rel: str) -> bytes:
    return (DATA / rel).read_bytes()


def load_json(rel: str) -> object:
    return json.loads(load_bytes(rel))


def findings_for(text: str) -> list[Finding]:
    """Exact-match findings for the planted values (stands in for the detection engine)."""
    out = []
    for value, category in VALUES.items():
        start = text.find(value)
        while start >= 0:
            out.append(Finding(category, category.upper(), f"test-{category}", start, start + len(value), 1.0))
            start = text.find(value, start + len(value))
    return sorted(out, key=lambda f: f.start)


def issued_vault() -> Vault:
    """A vault that issued exactly PLACEHOLDERS."""
    vault = Vault()
    text = " ".join(PLACEHOLDERS.values())
    assert vault.redact(text, findings_for(text)) == " ".join(PLACEHOLDERS)
    return vault


def restore_expected(text: str) -> str:
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return text
