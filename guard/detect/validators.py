"""Checksums and plausibility checks that turn a pattern match into a finding or drop it.

Each validator takes the matched value and returns True when it is plausible. They are named in
rules/ (`validate: [luhn]`) and looked up in VALIDATORS; an unknown name fails at rule load.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable

from stdnum import iban as _iban


def digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def luhn(value: str) -> bool:
    """Luhn mod-10 check (ISO/IEC 7812) for payment cards and Chinese bank cards."""
    ds = digits(value)
    if not 12 <= len(ds) <= 19 or len(set(ds)) == 1:
        return False
    total = 0
    for i, ch in enumerate(reversed(ds)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


_GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_GB11643_CHECK = "10X98765432"


def gb11643(value: str) -> bool:
    """Chinese resident identity number: 18 characters, ISO 7064 MOD 11-2 check (GB 11643-1999)."""
    v = value.upper()
    if len(v) != 18 or not v[:17].isdigit():
        return False
    month, day = int(v[10:12]), int(v[12:14])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    total = sum(int(c) * w for c, w in zip(v[:17], _GB11643_WEIGHTS, strict=True))
    return _GB11643_CHECK[total % 11] == v[17]


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc(value: str) -> bool:
    """Chinese unified social credit code (GB 32100-2015): 18 characters, mod-31 check."""
    v = value.upper()
    if len(v) != 18 or any(c not in _USCC_ALPHABET for c in v):
        return False
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(v[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31] == v[17]


def iban(value: str) -> bool:
    """IBAN (ISO 13616): country length table and mod-97 check, via python-stdnum."""
    return bool(_iban.is_valid(re.sub(r"[\s-]", "", value)))


_NINO_RE = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]")
_NINO_BAD_PREFIX = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}


def nino(value: str) -> bool:
    """UK National Insurance number (HMRC NIM39110): allowed prefix letters, six digits, suffix A-D."""
    v = re.sub(r"\s", "", value).upper()
    return bool(_NINO_RE.fullmatch(v)) and v[:2] not in _NINO_BAD_PREFIX


def us_ssn(value: str) -> bool:
    """US SSN: area not 000/666/9xx, group not 00, serial not 0000, not a well-known sample."""
    ds = digits(value)
    if len(ds) != 9:
        return False
    area, group, serial = ds[:3], ds[3:5], ds[5:]
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return ds not in ("123456789", "078051120", "219099999")


def ipv4(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) <= 255 and (p == "0" or not p.startswith("0")) for p in parts)


def shannon_entropy(value: str) -> float:
    """Bits per character of the value's character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


VALIDATORS: dict[str, Callable[[str], bool]] = {
    "luhn": luhn,
    "gb11643": gb11643,
    "uscc": uscc,
    "iban": iban,
    "nino": nino,
    "us_ssn": us_ssn,
    "ipv4": ipv4,
}

# Personal-data plausibility checks live in their own module (phones, cards, IPv6, id numbers).
from guard.detect.checks import PII_VALIDATORS  # noqa: E402

VALIDATORS.update(PII_VALIDATORS)

# Credential value checks (placeholders, code references, randomness, JWT) live in their own module.
from guard.detect.secretcheck import SECRET_VALIDATORS  # noqa: E402

VALIDATORS.update(SECRET_VALIDATORS)
