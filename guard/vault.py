"""Reversible pseudonymization: one vault per conversation maps sensitive values to `[PREFIX_N]`.

Numbering is a pure function of the texts fed to `redact`, in order: a fresh vault given the same
(resent) history assigns the same placeholders, so two proxy processes agree without shared state.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Sequence

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
        self._known_re: re.Pattern[str] | None = None
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
            known = self._known_pattern()
            spans += [(m.start(), m.end(), "") for m in known.finditer(text)]
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
        self._known_re = None
        return placeholder

    def _known_pattern(self) -> re.Pattern[str]:
        if self._known_re is None:
            values = sorted(self._placeholder, key=len, reverse=True)
            # Whole-word occurrences only, so "Ann" is not found inside "Annual".
            alternation = "|".join(re.escape(v) for v in values)
            self._known_re = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")
        return self._known_re

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

    def __len__(self) -> int:
        return len(self._vaults)
