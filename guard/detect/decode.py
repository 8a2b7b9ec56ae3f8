"""Find encoded runs in a text and decode them, so a value hidden by encoding is still seen.

As gitleaks does: candidates are base64 (standard and URL-safe), hex, percent-encoding, HTML
entities and JSON/JavaScript escapes. Only runs that decode to printable UTF-8 text count, and the
work is bounded (candidate count, decoded size, depth) so a hostile prompt cannot make it costly.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from dataclasses import dataclass
from urllib.parse import unquote

MAX_CANDIDATES = 64
MAX_DECODED_CHARS = 256 * 1024

# RFC 4648 base64 / base64url: at least 16 symbols (12 bytes), optional padding.
_B64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}(?![A-Za-z0-9+/=_-])")
# Hex byte strings: at least 8 bytes, even length.
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){8,}(?![0-9A-Fa-f])")
# RFC 3986 percent-encoding: runs holding at least one %XX escape.
_PCT = re.compile(r"(?:[A-Za-z0-9._~+@:=/-]*%[0-9A-Fa-f]{2})+[A-Za-z0-9._~+@:=/-]*")
# HTML character references (numeric and named), in runs of at least three.
_ENT = re.compile(r"(?:[^\s&;<>]*&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z]{2,8});){3,}[^\s&;<>]*")
# JSON / JavaScript escapes \uXXXX and \xXX, in runs of at least three.
_ESC = re.compile(r"(?:[^\s\\\"']*\\(?:u[0-9A-Fa-f]{4}|x[0-9A-Fa-f]{2})){3,}[^\s\\\"']*")


@dataclass(frozen=True, slots=True)
class Decoded:
    """An encoded run [start, end) of the text and what it decodes to."""

    start: int
    end: int
    text: str
    encoding: str


def _printable(raw: bytes) -> str | None:
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not s or sum(ch.isprintable() or ch in "\n\r\t" for ch in s) < 0.95 * len(s):
        return None
    return s


def _b64(run: str) -> str | None:
    body = run.rstrip("=")
    # A plain word or identifier is not base64: need letters of both cases or digits mixed in.
    if body.isalpha() and (body.islower() or body.isupper()):
        return None
    alt = "-_" if ("-" in body or "_" in body) else "+/"
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=alt.encode(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _printable(raw)


def _hex(run: str) -> str | None:
    return _printable(bytes.fromhex(run))


def _unescape_js(run: str) -> str | None:
    try:
        return run.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None


_REQUIRES = {"percent": "%", "html": "&", "escape": "\\"}  # cheap test before the regex runs

_DECODERS = (
    ("base64", _B64, _b64),
    ("hex", _HEX, _hex),
    ("percent", _PCT, unquote),
    ("html", _ENT, html.unescape),
    ("escape", _ESC, _unescape_js),
)


def candidates(text: str) -> list[Decoded]:
    """Return decodable runs of the text whose decoding differs from the run, bounded in number."""
    found: list[Decoded] = []
    budget = MAX_DECODED_CHARS
    for name, pattern, decoder in _DECODERS:
        required = _REQUIRES.get(name)
        if required and required not in text:
            continue
        for m in pattern.finditer(text):
            if len(found) >= MAX_CANDIDATES or budget <= 0:
                return found
            run = m.group(0)
            decoded = decoder(run)
            if decoded and decoded != run:
                budget -= len(decoded)
                found.append(Decoded(m.start(), m.end(), decoded, name))
    return found
