"""Exact data match: customer identifiers imported from CSV as salted hashes, looked up per token.

`guard edm import customers.csv --column customer_id --column iban` writes GUARD_HOME/edm/<name>.edm:
a one-line JSON header (name, columns, rows, salt, the longest value in words) followed by a sorted
array of 64-bit keyed BLAKE2b hashes of the normalised values. Clear values are never stored. A hash
of a low-entropy value (a phone number) can still be brute-forced by whoever holds the file and its
salt, so the file is written 0600 and belongs with the proxy's other secrets, not in git.

Normalisation: NFKC, casefold, letters and digits only - "DE89 3704 0044" and "de89-3704-0044"
are the same value. A prompt is split on whitespace; every run of 1..max_words tokens is a candidate.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import secrets
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = b"GUARD-EDM-1\n"
_NOT_ALNUM = re.compile(r"[\W_]+")  # \w is str.isalnum() plus "_" (Unicode-aware)
_PUNCT = re.compile(r"[^\w\s]+")  # with "_": what _NOT_ALNUM removes, except whitespace
MIN_CHARS = 4  # shorter normalised values ("42", "ok") would match everywhere
MAX_WORDS = 6


class EdmError(ValueError):
    """An EDM file or import is invalid; the message never contains a value."""


def normalise(value: str) -> str:
    """Canonical form compared by EDM: NFKC, casefolded, letters and digits only."""
    return _NOT_ALNUM.sub("", _fold(value))


def _fold(text: str) -> str:
    if text.isascii():  # NFKC and casefold change nothing in ASCII but case: skip the Unicode tables
        return text.lower()
    if not unicodedata.is_normalized("NFKC", text):  # the quick check is far cheaper than normalising
        text = unicodedata.normalize("NFKC", text)
    return text.casefold()


def _hasher(salt: bytes) -> Callable[[str], int]:
    """_hash with the keyed state prepared once (copying it is cheaper than keying per value)."""
    base = hashlib.blake2b(key=salt, digest_size=8)

    def h(norm: str) -> int:
        x = base.copy()
        x.update(norm.encode())
        return int.from_bytes(x.digest(), "little")

    return h


@dataclass(frozen=True)
class EdmStore:
    """One imported list: sorted salted hashes, looked up without ever holding a clear value."""

    name: str
    columns: tuple[str, ...]
    rows: int
    salt: bytes
    max_words: int
    hashes: np.ndarray  # sorted uint64
    path: Path | None = None
    _h: Callable[[str], int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_h", _hasher(self.salt))

    @property
    def nbytes(self) -> int:
        return int(self.hashes.nbytes)

    def contains_normalised(self, norms: Sequence[str]) -> list[bool]:
        """For each normalised candidate, is it in the list?"""
        if not norms or not len(self.hashes):
            return [False] * len(norms)
        keys = np.fromiter(map(self._h, norms), dtype=np.uint64, count=len(norms))
        idx = np.searchsorted(self.hashes, keys)
        idx[idx >= len(self.hashes)] = 0
        return (self.hashes[idx] == keys).tolist()

    def count_hits(self, text: str) -> int:
        """How many distinct candidate values of the text are in the list."""
        return len(set(self.hits(text)))

    def hits(self, text: str) -> list[str]:
        """The normalised candidates of the text that are in the list (kept in memory only)."""
        cands = candidates(text, self.max_words)
        return [c for c, hit in zip(cands, self.contains_normalised(cands), strict=True) if hit]


def candidates(text: str, max_words: int) -> list[str]:
    """Every normalised run of 1..max_words whitespace tokens, at least MIN_CHARS long, deduplicated."""
    tokens = _PUNCT.sub("", _fold(text)).replace("_", "").split()  # one pass over the text, not per token
    if max_words == 1:
        return list(dict.fromkeys(t for t in tokens if len(t) >= MIN_CHARS))
    seen: dict[str, None] = {}
    for i in range(len(tokens)):
        joined = ""
        for j in range(i, min(i + max_words, len(tokens))):
            joined += tokens[j]
            if j > i and not tokens[j]:
                continue
            if len(joined) >= MIN_CHARS:
                seen.setdefault(joined)
    return list(seen)


def build_store(name: str, columns: Sequence[str], values: Iterable[str], salt: bytes | None = None) -> EdmStore:
    """Hash values into a store (the values are normalised and hashed one by one, never kept)."""
    salt = salt or secrets.token_bytes(16)
    h = _hasher(salt)
    hashed: list[int] = []
    max_words = 1
    for v in values:
        norm = normalise(v)
        if len(norm) < MIN_CHARS:
            continue
        max_words = max(max_words, min(MAX_WORDS, len(v.split())))
        hashed.append(h(norm))
    arr = np.unique(np.array(hashed, dtype=np.uint64))
    return EdmStore(name, tuple(columns), len(hashed), salt, max_words, arr)


def read_csv_values(path: Path, columns: Sequence[str]) -> tuple[list[str], int]:
    """Values of the named columns of a CSV with a header row, and how many were too short to use."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in columns if c not in header]
        if missing:
            raise EdmError(f"{path}: no column {missing[0]!r}; the header has: {', '.join(header)}")
        values, short = [], 0
        for row in reader:
            for col in columns:
                v = (row.get(col) or "").strip()
                if len(normalise(v)) >= MIN_CHARS:
                    values.append(v)
                elif v:
                    short += 1
    return values, short


def save_store(store: EdmStore, directory: Path) -> Path:
    """Write the store to directory/<name>.edm with owner-only permissions."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{store.name}.edm"
    header = {
        "name": store.name,
        "columns": list(store.columns),
        "rows": store.rows,
        "salt": store.salt.hex(),
        "max_words": store.max_words,
        "count": len(store.hashes),
    }
    tmp = path.with_suffix(".edm.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(MAGIC + json.dumps(header).encode() + b"\n")
        fh.write(store.hashes.astype("<u8").tobytes())
    os.replace(tmp, path)
    return path


def load_store(path: Path) -> EdmStore:
    """Read a .edm file written by save_store."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EdmError(f"{path}: cannot read EDM store: {exc.strerror}") from None
    if not data.startswith(MAGIC):
        raise EdmError(f"{path}: not a guard EDM store (bad magic)")
    nl = data.index(b"\n", len(MAGIC))
    try:
        header = json.loads(data[len(MAGIC) : nl])
        salt = bytes.fromhex(header["salt"])
        count = int(header["count"])
    except (ValueError, KeyError) as exc:
        raise EdmError(f"{path}: corrupt EDM header ({type(exc).__name__})") from None
    body = data[nl + 1 :]
    if len(body) != 8 * count:
        raise EdmError(f"{path}: truncated EDM store: {len(body)} bytes for {count} hashes")
    hashes = np.frombuffer(body, dtype="<u8").astype(np.uint64)
    return EdmStore(
        str(header["name"]), tuple(header.get("columns", ())), int(header.get("rows", count)), salt,
        int(header.get("max_words", 1)), hashes, path,
    )  # fmt: skip


def import_csv(csv_path: Path, columns: Sequence[str], directory: Path, name: str = "") -> tuple[EdmStore, int, Path]:
    """Import CSV columns as a salted-hash store; return it, the skipped short values, and its file."""
    if not columns:
        raise EdmError("give at least one --column")
    values, short = read_csv_values(csv_path, columns)
    store = build_store(name or csv_path.stem, columns, values)
    del values
    return store, short, save_store(store, directory)
