"""Where a pattern's matches can start: search for those characters first, try the pattern only there.

Python's `re` skips ahead quickly only when a pattern opens with a literal or a character set. Most
detector patterns open with a lookbehind (`(?<![\\w-])\\d{3}-...`), so `finditer` attempts the whole
pattern at every position of the text: ~50 us per rule on a 2 KB prompt, whether or not the text
holds anything like a match. For a pattern whose matches can only begin on a digit or a punctuation
mark, `anchor_for` returns a character class of those first characters; `finditer` then searches
for the class (a tight loop in C) and tries the pattern with `match` at each hit.

The matches are the same, in the same order: a match can begin nowhere else, `match` at a position
sees the text before it (lookbehinds, `\\b`, `^`) as `finditer` does, and after a match the search
resumes at its end as `finditer`'s does. Patterns whose first characters include letters or
spaces (common in prose: no gain), or that could match the empty string, are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from re import _constants as sre  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]

_ZERO_WIDTH = (sre.ASSERT, sre.ASSERT_NOT, sre.AT)
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_MAX_RANGE = 256  # wider ranges are not checked character by character: left alone


class _Unsure(Exception):
    """The first characters cannot be stated as a rare character class."""


def anchor_for(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """A character class matching every character a match of `pattern` can begin with, or None."""
    if pattern.flags & re.IGNORECASE:
        return None
    try:
        tree = sre_parse.parse(pattern.pattern, pattern.flags)
        if tree.state.flags & re.IGNORECASE:
            return None
        parts, nullable = _first_seq(tree)
    except (_Unsure, re.error, RecursionError):
        return None
    if nullable or not parts:
        return None
    return re.compile("[" + "".join(dict.fromkeys(parts)) + "]", pattern.flags & re.ASCII)


def finditer(pattern: re.Pattern[str], anchor: re.Pattern[str] | None, text: str) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)`, trying the pattern only where `anchor` finds a possible first character."""
    if anchor is None:
        yield from pattern.finditer(text)
        return
    search, match = anchor.search, pattern.match
    pos = 0
    while (hit := search(text, pos)) is not None:
        at = hit.start()
        m = match(text, at)
        if m is None:
            pos = at + 1
            continue
        yield m
        pos = m.end()  # never empty: anchor_for refuses patterns that can match ""


def _first_seq(seq: object) -> tuple[list[str], bool]:
    """(class parts for the first character, can the sequence match empty)."""
    parts: list[str] = []
    for op, av in seq:  # type: ignore[attr-defined]
        got, nullable = _first_op(op, av)
        parts += got
        if not nullable:
            return parts, False
    return parts, True


def _first_op(op: object, av: object) -> tuple[list[str], bool]:
    if op is sre.LITERAL:
        return [_literal(av)], False  # type: ignore[arg-type]
    if op is sre.IN:
        return _charset(av), False  # type: ignore[arg-type]
    if op in _ZERO_WIDTH:
        return [], True
    if op is sre.SUBPATTERN:
        _group, add_flags, del_flags, sub = av  # type: ignore[misc]
        if (add_flags | del_flags) & re.IGNORECASE:
            raise _Unsure
        return _first_seq(sub)
    if op is sre.ATOMIC_GROUP:
        return _first_seq(av)
    if op is sre.BRANCH:
        parts: list[str] = []
        nullable = False
        for alt in av[1]:  # type: ignore[index]
            got, empty = _first_seq(alt)
            parts += got
            nullable = nullable or empty
        return parts, nullable
    if op in _REPEATS:
        low, _high, sub = av  # type: ignore[misc]
        got, empty = _first_seq(sub)
        return got, empty or low == 0
    raise _Unsure  # ANY, NOT_LITERAL, group references, conditionals...


def _literal(code: int) -> str:
    ch = chr(code)
    if ch.isalpha() or ch.isspace():
        raise _Unsure
    return re.escape(ch)


def _charset(items: list[tuple[object, object]]) -> list[str]:
    parts: list[str] = []
    for op, av in items:
        if op is sre.LITERAL:
            parts.append(_literal(av))  # type: ignore[arg-type]
        elif op is sre.RANGE:
            low, high = av  # type: ignore[misc]
            if high - low > _MAX_RANGE:
                raise _Unsure
            for code in range(low, high + 1):
                _literal(code)
            parts.append(f"{re.escape(chr(low))}-{re.escape(chr(high))}")
        elif op is sre.CATEGORY and av is sre.CATEGORY_DIGIT:
            parts.append(r"\d")
        else:
            raise _Unsure  # a negated set, letters, spaces, word characters
    return parts
