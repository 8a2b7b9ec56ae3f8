"""Undo cheap evasions before detection, keeping a map back to the original offsets.

An employee (or a tool) can hide a value from pattern rules by inserting zero-width characters,
writing digits full-width, swapping Latin letters for Cyrillic or Greek look-alikes, or using
unusual spaces. `normalize` returns a View: the folded text plus a function that maps a span of
the folded text back to the span of the original, so redaction hits the characters really sent.

Fast paths: ASCII text is returned as is; one-to-one substitutions go through str.translate (C
speed, offsets unchanged); only texts that contain removable characters pay for an offset map.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Invisible characters that render as nothing: zero-width space/joiners, word joiner and the
# invisible operators, BOM, soft hyphen, Mongolian vowel separator, bidi embeddings/isolates
# (Unicode TR#9), variation selectors. Removed before detection.
_INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b\u200c\u200d\u200e\u200f"
    "\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069"
    "\u3164\ufe00\ufe01\ufe02\ufe03\ufe04\ufe05\ufe06\ufe07\ufe08\ufe09\ufe0a\ufe0b\ufe0c"
    "\ufe0d\ufe0e\ufe0f\ufeff\uffa0"
)
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")

# Spaces other than U+0020 (Unicode Zs plus tab-like separators) fold to a plain space.
_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"

# Look-alikes from Unicode's confusables.txt (UTS #39) for the letters and digits that make up
# identifiers, e-mail addresses and tokens: Cyrillic and Greek capitals/smalls that render as Latin.
_CONFUSABLES = {
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "Ԛ": "Q", "Ԝ": "W",
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ο": "o", "ν": "v", "α": "a", "ι": "i", "κ": "k", "ρ": "p",
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "−": "-", "﹣": "-", "－": "-",
    "＠": "@", "﹫": "@", "．": ".", "＿": "_", "＋": "+",
}  # fmt: skip


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {ord(c): " " for c in _SPACES}
    table.update({ord(k): v for k, v in _CONFUSABLES.items()})
    # Full-width ASCII letters and digits (U+FF10-U+FF5A) -> ASCII, one char to one char (as NFKC).
    # Full-width punctuation (，：（）！？) is ordinary Chinese writing, not evasion: left alone.
    for cp in range(0xFF10, 0xFF5B):
        if chr(cp).isalnum():
            table[cp] = chr(cp - 0xFEE0)
    # Other decimal digits (Arabic-Indic, Devanagari, mathematical, circled...) -> ASCII digits.
    for cp in range(0x80, 0x1FBFA):
        ch = chr(cp)
        if cp not in table and unicodedata.category(ch) == "Nd":
            table[cp] = str(unicodedata.digit(ch))
    return table


_TABLE = _build_table()
_FOLDABLE_RE = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_TABLE) if c < 0x10000) + "]")


@dataclass(frozen=True, slots=True)
class View:
    """Folded text and the original offset of each removed-character boundary."""

    text: str
    original: str
    _removed: tuple[int, ...] = ()  # sorted original indexes of removed characters

    @property
    def changed(self) -> bool:
        return self.text != self.original

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a [start, end) span of the folded text to the original text."""
        if not self._removed:
            return start, end
        return self._orig_index(start), self._orig_index(end - 1) + 1

    def _orig_index(self, i: int) -> int:
        # The folded char i is original char i + (number of removed chars before it). Find the
        # smallest k with removed[k] - k > i, i.e. count the removed chars at or below the target.
        removed = self._removed
        lo, hi = 0, len(removed)
        while lo < hi:
            mid = (lo + hi) // 2
            if removed[mid] - mid <= i:
                lo = mid + 1
            else:
                hi = mid
        return i + lo


def normalize(text: str) -> View:
    """Fold invisible characters, look-alikes, full-width forms and odd spaces for detection."""
    if text.isascii():
        return View(text, text)
    folded = text.translate(_TABLE) if _FOLDABLE_RE.search(text) else text
    removed = tuple(m.start() for m in _INVISIBLE_RE.finditer(folded))
    if removed:
        folded = _INVISIBLE_RE.sub("", folded)
    return View(folded, text, removed)


__all__ = ["View", "normalize"]
