"""Reversible pseudonymization: one vault per conversation maps sensitive values to `[PREFIX_N]`.

Numbering is a pure function of the texts fed to `redact`, in order: a fresh vault given the same
(resent) history assigns the same placeholders, so two proxy processes agree without shared state.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Sequence

import ahocorasick

from guard.core import Finding

PLACEHOLDER_PREFIX: dict[str, str] = {
    "person": "PERSON",
    "email": "EMAIL",
    "phone": "PHONE",
    "payment_card": "CARD",
    "national_id": "ID",
    "bank_account": "ACCOUNT",
    "ip_address": "IP",
    "address": "ADDRESS",
    "secret": "SECRET",
}

# guard's own placeholder syntax: "[" PREFIX "_" decimal "]", PREFIX upper-case letters/underscores.
PLACEHOLDER_RE = re.compile(r"\[([A-Z][A-Z_]*?)_([0-9]{1,9})\]")


def prefix_for(category: str) -> str:
    """The placeholder prefix of a category (unknown categories: their name in capitals)."""
    return PLACEHOLDER_PREFIX.get(category) or re.sub(r"[^A-Z]", "", category.upper()) or "VALUE"


class Vault:
    """The placeholders issued in one conversation and the values they stand for."""

    def __init__(self) -> None:
        self._placeholder: dict[str, str] = {}  # value -> placeholder
        self._value: dict[str, str] = {}  # placeholder -> value
        self._next: dict[str, int] = {}  # prefix -> last number used
        self._reserved: set[str] = set()  # placeholder-looking strings users typed themselves
        self._partials: set[str] = set()  # every proper prefix of an issued placeholder
        self._known: ahocorasick.Automaton | None = None  # every issued value, for whole-word lookup
        self._longest = 0

    def __len__(self) -> int:
        return len(self._value)

    def redact(self, text: str, findings: Sequence[Finding]) -> str:
        """Replace each finding's value, and any value this vault already knows, by its placeholder.

        Call it for every segment being redacted, also with no findings: that is how placeholder
        look-alikes the user typed are seen (reserved, or re-encoded if they collide with one issued).
        """
        spans: list[tuple[int, int, str]] = []
        for m in PLACEHOLDER_RE.finditer(text):
            token = m.group(0)
            if token in self._value:
                # The user typed a placeholder this vault issued: encode it too, so restore gives it back.
                spans.append((m.start(), m.end(), m.group(1)))
            else:
                self._reserved.add(token)
        spans += [(f.start, f.end, prefix_for(f.category)) for f in findings if 0 <= f.start < f.end <= len(text)]
        if self._value:
            spans += self._known_spans(text)
        if not spans:
            return text
        spans.sort(key=lambda s: (s[0], -s[1], s[2] == ""))
        out: list[str] = []
        pos = 0
        for start, end, prefix in spans:
            if start < pos:
                continue  # overlaps a span already replaced
            value = text[start:end]
            placeholder = self._placeholder.get(value)
            if placeholder is None:
                if not prefix:
                    continue
                placeholder = self._issue(value, prefix)
            out.append(text[pos:start])
            out.append(placeholder)
            pos = end
        out.append(text[pos:])
        return "".join(out)

    def _issue(self, value: str, prefix: str) -> str:
        n = self._next.get(prefix, 0)
        while True:
            n += 1
            placeholder = f"[{prefix}_{n}]"
            if placeholder not in self._reserved:
                break
        self._next[prefix] = n
        self._placeholder[value] = placeholder
        self._value[placeholder] = value
        self._partials.update(placeholder[:i] for i in range(1, len(placeholder)))
        self._longest = max(self._longest, len(placeholder))
        self._known = None
        return placeholder

    def _known_spans(self, text: str) -> list[tuple[int, int, str]]:
        """Whole-word occurrences of issued values (Aho-Corasick: one pass, whatever the vault size)."""
        if self._known is None:
            self._known = ahocorasick.Automaton()
            for value in self._placeholder:
                self._known.add_word(value, len(value))
            self._known.make_automaton()
        out = []
        for last, length in self._known.iter(text):
            start, end = last - length + 1, last + 1
            # Whole words only, so "Ann" is not found inside "Annual".
            if (start == 0 or not _word(text[start - 1], text[start])) and (
                end == len(text) or not _word(text[end - 1], text[end])
            ):
                out.append((start, end, ""))
        return out

    def known_in(self, text: str) -> bool:
        """Does text hold, as a whole word, a value this vault replaced earlier in the conversation?"""
        return bool(self._value) and bool(self._known_spans(text))

    def restore(self, text: str, *, json_escape: bool = False) -> str:
        """Put the real values back for placeholders this vault issued; leave every other bracket as is.

        json_escape: the text is JSON source (tool-call arguments), so values are inserted escaped.
        """
        if not self._value or "[" not in text:
            return text

        def sub(m: re.Match[str]) -> str:
            value = self._value.get(m.group(0))
            if value is None:
                return m.group(0)
            return json.dumps(value, ensure_ascii=False)[1:-1] if json_escape else value

        return PLACEHOLDER_RE.sub(sub, text)

    def partial_start(self, text: str) -> int:
        """Index where a trailing, incomplete placeholder starts (len(text) when there is none)."""
        i = text.rfind("[", max(0, len(text) - self._longest))
        if i >= 0 and text[i:] in self._partials:
            return i
        return len(text)

    def placeholders(self) -> tuple[str, ...]:
        """The placeholders issued so far, in issue order."""
        return tuple(self._value)


class VaultStore:
    """A bounded LRU of vaults keyed by conversation id."""

    def __init__(self, max_conversations: int = 10000) -> None:
        self._max = max_conversations
        self._vaults: OrderedDict[str, Vault] = OrderedDict()

    def get(self, conversation_id: str) -> Vault:
        """The vault of a conversation, created on first use; the least recently used is evicted."""
        vault = self._vaults.get(conversation_id)
        if vault is None:
            vault = self._vaults[conversation_id] = Vault()
            while len(self._vaults) > self._max:
                self._vaults.popitem(last=False)
        else:
            self._vaults.move_to_end(conversation_id)
        return vault

    def peek(self, conversation_id: str) -> Vault | None:
        """The vault of a conversation if it has one (none is created, the LRU order is kept)."""
        return self._vaults.get(conversation_id)

    def __len__(self) -> int:
        return len(self._vaults)


def _word(a: str, b: str) -> bool:
    """Whether a and b are both word characters (a boundary between them is no word boundary)."""
    return (a.isalnum() or a == "_") and (b.isalnum() or b == "_")
