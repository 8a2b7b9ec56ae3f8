"""Plausibility checks for personal-data rules (phones, cards, IPv6, id numbers, defanged e-mail).

Registered into guard.detect.validators.VALIDATORS, so rules/ name them like the checksums
(`validate: [payment_card]`). Self-contained: validators.py imports this module, not the reverse.
"""

from __future__ import annotations

import functools
import importlib.util
import ipaddress
import re
from collections.abc import Callable
from pathlib import Path


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _luhn(ds: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(ds)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Issuer prefixes (ISO/IEC 7812 IIN ranges as published by the card schemes): Visa 4, Mastercard
# 51-55 and 2221-2720, Amex 34/37, Discover 6011/644-649/65, UnionPay 62/81, JCB 3528-3589 and the
# legacy 1800/2131, Diners 30/36/38/39, Maestro 50/56-69. A leading 0, 1 (bar JCB), 7, 8 or 9 is no card.
def payment_card(value: str) -> bool:
    """Luhn-valid 12-19 digit number whose prefix belongs to a card scheme."""
    ds = _digits(value)
    if not 12 <= len(ds) <= 19 or len(set(ds)) <= 2:
        return False
    if ds[0] not in "23456" and not ds.startswith(("1800", "2131", "81")):
        return False
    return _luhn(ds)


def phone(value: str) -> bool:
    """7-15 digits (ITU-T E.164 maximum), not one repeated digit, not a run like 1234567."""
    ds = _digits(value)
    if not 7 <= len(ds) <= 15 or len(set(ds)) <= 2:
        return False
    return ds not in "01234567890123456789" and ds not in "98765432109876543210"


def ipv6(value: str) -> bool:
    """RFC 4291 text form with at least four non-empty groups (so `::1` and `a::b` are not flagged)."""
    try:
        addr = ipaddress.IPv6Address(value)
    except ValueError:
        return False
    groups = [g for g in value.split(":") if g]
    return len(groups) >= 4 and not addr.is_unspecified and not addr.is_loopback


def id_number(value: str) -> bool:
    """An id number (licence, passport, account): 5-20 characters holding at least 5 digits."""
    return 5 <= len(value) <= 20 and len(_digits(value)) >= 5 and len(set(_digits(value))) > 1


# ISO 13616 IBAN lengths per country (SWIFT IBAN registry); a country not listed is no IBAN.
_IBAN_LEN = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29,
    "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def iban_mod97(value: str) -> bool:
    """IBAN: registry length for the country and the ISO 7064 mod-97 check (national BBAN checks not applied)."""
    v = "".join(value.split()).replace("-", "").upper()
    if _IBAN_LEN.get(v[:2]) != len(v) or not v[2:4].isdigit() or not v.isalnum():
        return False
    return int("".join(str(int(c, 36)) for c in v[4:] + v[:4])) % 97 == 1


@functools.cache
def top_level_domains() -> frozenset[str]:
    """ASCII top-level domains from the public suffix list snapshot tldextract ships (read, never fetched)."""
    spec = importlib.util.find_spec("tldextract")  # locates the package without importing it (and requests)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        snapshot = Path(folder) / ".tld_set_snapshot"
        if snapshot.is_file():
            lines = snapshot.read_text(encoding="utf-8").split("// ===END ICANN DOMAINS===")[0].splitlines()
            return frozenset(
                s.rsplit(".", 1)[-1].lower() for s in lines if s and not s.startswith("//") and s.isascii()
            )
    return frozenset()  # no list here: any 2-24 letter TLD is accepted (detect more, not less)


# Markers people write instead of '@' and '.' to defang an address: [at] (at) {at} <at> [@] [dot]
# [.] with optional inner spaces, in any case, full-width brackets too (Chinese text); or the upper-case
# words AT and DOT between spaces.
_BRACKETED = re.compile(r"[\[({<（［｛【][ \t]*(?i:at|dot|@|\.)[ \t]*[\]})>）］｝】]")
_WORD = re.compile(r"[ \t]AT[ \t]|[ \t]DOT[ \t]")
_AT = re.compile(r"[ \t]*[\[({<（［｛【][ \t]*(?i:at|@)[ \t]*[\]})>）］｝】]|[ \t]+AT[ \t]|@")


def defanged_email(value: str) -> bool:
    """An e-mail address written with [at]/(dot)/AT/DOT markers: a marker present, a real TLD, not shouted prose."""
    bracketed = _BRACKETED.search(value) is not None
    if not bracketed and _WORD.search(value) is None:
        return False  # a plain address is email-address's job
    tld = re.split(r"[^A-Za-z]", value)[-1].lower()
    tlds = top_level_domains()
    if tlds and tld not in tlds:
        return False
    if not bracketed:
        # Upper-case AT/DOT among upper-case words is shouting ("LOOK AT THE DOT COM BUBBLE"), not an
        # address: unless its local part has more than letters (a dot, digit, '_'...), the words must
        # stand out from lower-case text.
        at = _AT.search(value)
        local = value[: at.start()] if at else value
        rest = _WORD.sub(" ", value)
        if local.isalpha() and rest.upper() == rest:
            return False
    return True


PII_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "payment_card": payment_card,
    "phone": phone,
    "ipv6": ipv6,
    "id_number": id_number,
    "iban_mod97": iban_mod97,
    "defanged_email": defanged_email,
}
