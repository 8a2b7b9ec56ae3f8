"""Address blocks: grow a street-line finding into the whole postal address around it.

The rules in rules/detectors/pii/address.yaml find the street line. Real addresses go on: a house
or building number written before the street ("2210 Kastanienallee 7"), a unit ("Apt. 030"), then
city, region, country and postcode, on the same line or on the next few short lines of a mailing
label (UPU S42 address layout: one element per line, postcode with the town or country). This
module extends each address finding over those parts, and accepts a bare "number street number"
line (European order, no street suffix) when unit or postcode lines follow it.
"""

from __future__ import annotations

import re

from guard.core import Finding

_MAX_LINES = 5
_MAX_LINE = 48
# Quote and list markers some mail clients and chat exports put before each line.
_PREFIX = re.compile(r"[ \t>?*\-]*")
_UNIT = r"(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat|Floor|Box|Room)[ ]?[A-Za-z0-9\-]{1,6}"
_ZIP = r"(?:\d{4,6}(?:-\d{3,4})?|[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2})"
_NAME_WORD = (
    r"(?:[A-ZÀ-ÖØ-ÞĀ-ŽΑ-ΩА-Я∆][\w'’.\-∆]*|\([A-Z][\w ]{1,20}\)|nan|de|del|do|da|du|la|le|u|nad|z|am|an|der|sur|en)"
)
# One line of an address block after the street: unit, region code, town / country, postcode.
_PART = re.compile(
    rf"(?:{_UNIT}|,?[ ]?(?:[A-Z]{{1,3}}|\d{{1,3}}|nan)|,?[ ]?{_NAME_WORD}(?:[ ,]+{_NAME_WORD}){{0,4}}(?:[ ,]+{_ZIP})?|,?[ ]?{_ZIP})[.,]?"
)
_PART_IN_LINE = re.compile(rf"(?:{_PART.pattern})(?=$|[?!.,;]|[ ]+[a-z])")
_HAS_ZIP_OR_UNIT = re.compile(rf"{_UNIT}|(?<![\w-]){_ZIP}\.?$")
# Same line after the street: unit, town, region, postcode ("Apt. 3 LEIPZIG SN", ", Szeged, 6720").
_TAIL = re.compile(rf"(?:,?[ ]{_UNIT})*(?:,?[ ](?:{_ZIP}|[A-ZÀ-ÖØ-ÞĀ-ŽΑ-ΩА-Я][\w'’\-]*|nan)(?![\w@]))*")
_UNIT_BEFORE = re.compile(
    r"(?<![\w.])(?:P\.?[ ]?O\.?[ ]?Box|(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|Flat)[ ]\d{1,5}[A-Za-z]?,?)[ ]$",
    re.IGNORECASE,
)
# A street line in European order, "040 Snellmaninkatu 55", or with a building number first.
STREET_LINE = re.compile(
    r"(?m)^[ \t>?*]*(?P<v>\d{1,6}[A-Za-z]?[ ](?:[^\W\d_][\w.'’\-]*[ ]){1,4}\d{1,5}[A-Za-z]?\.?)[ \t]*(?=\n|$|,)"
)


def extend_addresses(text: str, findings: list[Finding]) -> list[Finding]:
    """Return findings with each address grown over its number, unit, town and postcode lines."""
    out = [f for f in findings if f.category != "address"]
    seeds = [f for f in findings if f.category == "address"]
    for m in STREET_LINE.finditer(text):
        s, e = m.span("v")
        if not any(f.start < e and s < f.end for f in seeds):
            grown = _grow(text, s, e)
            if grown[1] > e and _HAS_ZIP_OR_UNIT.search(text[e : grown[1]].strip()):
                out.append(Finding("address", "STREET_ADDRESS", "address-block", *grown, 0.7))
    for f in seeds:
        s, e = _grow(text, f.start, f.end)
        out.append(Finding(f.category, f.entity_type, f.rule_id, s, e, f.score))
    return out


def _grow(text: str, s: int, e: int) -> tuple[int, int]:
    # A building number written before the street number ("62573 103 Cassidy Street").
    before = re.search(r"(?<![\w.,\-])\d{1,6}[ ]$", text[max(0, s - 8) : s])
    if before:
        s -= len(before.group())
    # A unit or post-office box written before the street ("Apt. 6 40 Kirkevej 3", "P.O. Box 12 ...").
    unit = _UNIT_BEFORE.search(text[max(0, s - 16) : s])
    if unit:
        s -= len(unit.group())
    tail = _TAIL.match(text, e)
    if tail:
        e = tail.end()
    pos, blank = e, False
    for _ in range(_MAX_LINES + 1):
        if not text.startswith("\n", pos):
            break
        nxt = text.find("\n", pos + 1)
        nxt = len(text) if nxt < 0 else nxt
        start = _PREFIX.match(text, pos + 1, nxt).end()
        line = text[start:nxt].rstrip()
        pos = nxt
        if not line:
            if blank:
                break
            blank = True
            continue
        # The last part may end the sentence: "Denmark 3000? I am in town", "04109 in case of...".
        m = _PART_IN_LINE.match(line)
        if not m or m.end() > _MAX_LINE:
            break
        ends_here = m.end() < len(line)
        if ends_here and not _HAS_ZIP_OR_UNIT.search(line[: m.end()]):
            break  # a part cut out of a longer line must at least hold the postcode
        if blank and not _HAS_ZIP_OR_UNIT.search(line[: m.end()]):
            break
        e, blank = start + m.end(), False
        if ends_here:
            break
    return s, e
