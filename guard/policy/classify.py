"""Classify a whole prompt: document markings, codenames and customer names, EDM hits, pasted source code.

rules/classifiers.yaml holds `classifiers: [...]`, each with a stable `id`, the `label` the policy
acts on, and a `kind`:

  terms        literal terms (inline `terms:` and/or a `file:` with one per line, relative to rules/),
               matched in one Aho-Corasick pass; `case_sensitive` (default false); Latin terms must
               stand on word boundaries, CJK terms need none (CJK text has no spaces)
  edm          an EDM store imported with `guard edm import` (`store:` name, under GUARD_HOME/edm);
               stores not named here are picked up anyway as `edm-<name>` with label `edm`
  source_code  a heuristic: at least `min_lines` non-blank lines of which `min_ratio` look like code
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick

from guard.core import Classification, Segment, mask
from guard.detect.rules import RuleError, load_yaml
from guard.policy.edm import EdmError, EdmStore, load_store

_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_LABEL_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_FIELDS = {
    "terms": {"id", "label", "kind", "terms", "file", "case_sensitive", "description", "disclose"},
    "edm": {"id", "label", "kind", "store", "description"},
    "source_code": {"id", "label", "kind", "min_lines", "min_ratio", "description"},
}
# A line "looks like code" when it ends like a statement or block, starts with a keyword of a common
# language (C family, Java, JS/TS, Python, Go, Rust, shell, SQL), is an assignment or a comment, or
# holds an operator or a call. Anchored matches and substring tests only: a search per line with
# many alternatives costs ~50 us on a long prose line.
_CODE_START = re.compile(
    r"\s*(?:(?:def|class|import|from|return|if|elif|else|for|while|try|except|catch|finally|switch|case|"
    r"function|const|let|var|public|private|protected|static|package|func|fn|impl|struct|enum|use|"
    r"#include|#define|@\w+|SELECT|INSERT|UPDATE|CREATE|async|await|export|namespace|template)\b"
    r"|[})\]]|//|/\*|[\w.\[\]]+\s*=\s*\S)"
)
_NON_WORD = re.compile(r"\W+")
_ASCII_NON_WORD = str.maketrans({c: " " for c in map(chr, range(128)) if not (c.isalnum() or c == "_")})
_CJK = re.compile(r"([\u2e80-\ud7af\uf900-\ufaff]+)")  # CJK ideographs, kana, hangul
_CODE_OPS = ("=>", "->", "==", "!=", ":=", "+=", "&&", "||", "::")
_CALL = re.compile(r"\w\(|</?\w+>")


def _looks_like_code(line: str) -> bool:
    end = line.rstrip()[-1:]
    if end and end in ";{}()[]:,":
        return True
    if _CODE_START.match(line) or any(op in line for op in _CODE_OPS):
        return True
    return ("(" in line or "<" in line) and _CALL.search(line) is not None


@dataclass(frozen=True)
class TermsClassifier:
    """Literal terms (markings, codenames, customer names) found by Aho-Corasick on word boundaries."""

    id: str
    label: str
    terms: tuple[str, ...]
    case_sensitive: bool = False
    disclose: bool = False  # show the matched term in detail (markings); else only a masked preview
    automaton: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def build(cls, rid: str, label: str, terms: Sequence[str], case_sensitive: bool, disclose: bool) -> TermsClassifier:
        auto = ahocorasick.Automaton()
        for t in terms:
            auto.add_word(_term_key(t if case_sensitive else t.lower()), t)
        if terms:
            auto.make_automaton()
        return cls(rid, label, tuple(terms), case_sensitive, disclose, auto)

    def find(self, text: str, padded: dict[bool, str] | None = None) -> list[str]:
        """Terms of this list that occur in the text on word boundaries (`padded`: shared per text)."""
        if not self.terms:
            return []
        padded = {} if padded is None else padded
        if True not in padded:
            padded[True] = _padded(text)
        if not self.case_sensitive and False not in padded:
            padded[False] = padded[True].lower()  # lowering keeps the word structure: pad once
        hay = padded[self.case_sensitive]
        return [term for _, term in self.automaton.iter(hay)]

    def classify(self, text: str, padded: dict[bool, str] | None = None) -> Classification | None:
        found = self.find(text, padded)
        if not found:
            return None
        shown = found[0] if self.disclose else mask(found[0])
        return Classification(self.label, self.id, f"{len(found)} match(es), first {shown}")


def _term_key(term: str) -> str:
    """A term as the automaton sees it: padded like the text, except on a CJK edge (no boundary there)."""
    key = _padded(term)
    if _CJK.match(key, 1):
        key = key[1:]
    if _CJK.match(key, len(key) - 2):
        key = key[:-1]
    return key


def _padded(text: str) -> str:
    """Text as space-separated words, CJK runs set apart: every automaton hit is then a whole-word hit.

    Terms go through the same function, so "Halcyon-7" matches "halcyon 7" and "Halcyon-7", never
    "Halcyon-70"; CJK text has no spaces, so a CJK term matches inside a CJK run (机密 in 机密文件).
    """
    if text.isascii():  # the common case, 4x faster: one translate instead of a regex substitution
        return " " + " ".join(text.translate(_ASCII_NON_WORD).split()) + " "
    return " " + " ".join(_CJK.sub(r" \1 ", _NON_WORD.sub(" ", text)).split()) + " "


@dataclass(frozen=True)
class EdmClassifier:
    """Exact data match against an imported store of salted hashes."""

    id: str
    label: str
    store: EdmStore

    def classify(self, text: str) -> Classification | None:
        n = self.store.count_hits(text)
        if not n:
            return None
        cols = ",".join(self.store.columns)
        return Classification(self.label, self.id, f"{n} value(s) from {self.store.name} [{cols}]")


@dataclass(frozen=True)
class SourceCodeClassifier:
    """Large pasted source code: many lines, most of which look like code."""

    id: str
    label: str
    min_lines: int = 40
    min_ratio: float = 0.5

    def classify(self, text: str) -> Classification | None:
        lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("```")]
        n = len(lines)
        if n < self.min_lines:
            return None
        need = self.min_ratio * n
        code = prose = 0
        for ln in lines:  # stop as soon as the verdict cannot change (long prose is rejected early)
            if _looks_like_code(ln):
                code += 1
            else:
                prose += 1
                if n - prose < need:
                    return None
        ratio = code / n
        if ratio < self.min_ratio:
            return None
        return Classification(self.label, self.id, f"{n} lines, {ratio:.0%} look like code")


Classifier = TermsClassifier | EdmClassifier | SourceCodeClassifier


@dataclass(frozen=True)
class ClassifierSet:
    """Every classifier from rules/classifiers.yaml; `classify` labels a prompt's segments."""

    classifiers: tuple[Classifier, ...] = ()
    files: tuple[Path, ...] = ()
    cache_entries: int = 4096
    # Per segment text: a chat resends its whole history every turn, so turn N costs about turn 1.
    _cache: OrderedDict[bytes, tuple[Classification, ...]] = field(
        default_factory=OrderedDict, compare=False, repr=False
    )

    def classify(self, segments: Sequence[Segment]) -> list[Classification]:
        """One Classification per classifier that fires on any segment (the first segment's detail)."""
        seen: dict[str, Classification] = {}
        for seg in segments:
            for c in self._segment(seg.text):
                seen.setdefault(c.rule_id, c)
        return list(seen.values())

    def _segment(self, text: str) -> tuple[Classification, ...]:
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        padded: dict[bool, str] = {}  # the padded text, computed once for all term lists
        found = (
            k.classify(text, padded) if isinstance(k, TermsClassifier) else k.classify(text) for k in self.classifiers
        )
        out = tuple(c for c in found if c is not None)
        self._cache[key] = out
        if len(self._cache) > self.cache_entries:
            self._cache.popitem(last=False)
        return out


def _fail(path: Path, line: int, rid: str, fld: str, msg: str) -> RuleError:
    who = f" (classifier {rid})" if rid else ""
    return RuleError(f"{path}:{line}: field '{fld}'{who}: {msg}")


def _terms(raw: dict[str, Any], path: Path, line: int, rid: str, root: Path) -> tuple[list[str], list[Path]]:
    terms = raw.get("terms") or []
    if not isinstance(terms, list) or not all(isinstance(t, str | int) for t in terms):
        raise _fail(path, line, rid, "terms", "must be a list of strings")
    out = [str(t).strip() for t in terms]
    files: list[Path] = []
    if raw.get("file"):
        fpath = root / str(raw["file"])
        try:
            lines = fpath.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise _fail(path, line, rid, "file", f"cannot read {fpath}: {exc}") from None
        out += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        files.append(fpath)
    if any(not t for t in out):
        raise _fail(path, line, rid, "terms", "terms must not be empty")
    if not out:
        raise _fail(path, line, rid, "terms", "give terms: or file:")
    return out, files


def load_classifiers(rules_dir: Path, edm_dir: Path | None = None) -> ClassifierSet:
    """Load rules/classifiers.yaml (none: an empty set); EDM stores come from edm_dir."""
    path = rules_dir / "classifiers.yaml"
    if not path.is_file():
        files: list[Path] = []
        return ClassifierSet(tuple(_discovered_edm(edm_dir, files, set())), tuple(files))
    doc = load_yaml(path) or {}
    if not isinstance(doc, dict) or not isinstance(doc.get("classifiers"), list):
        raise RuleError(f"{path}: top level must be a mapping with a 'classifiers' list")
    out: list[Classifier] = []
    files = [path]
    seen: set[str] = set()
    for raw in doc["classifiers"]:
        if not isinstance(raw, dict):
            raise RuleError(f"{path}: each classifier must be a mapping")
        line, rid, kind = raw.get("__line__", 0), raw.get("id", ""), raw.get("kind", "terms")
        if not isinstance(rid, str) or not _ID_RE.match(rid):
            raise _fail(path, line, rid, "id", "required, kebab-case (a-z, 0-9, '-')")
        if rid in seen:
            raise _fail(path, line, rid, "id", "duplicate id")
        seen.add(rid)
        if kind not in _FIELDS:
            raise _fail(path, line, rid, "kind", f"must be one of {', '.join(_FIELDS)}")
        unknown = set(raw) - _FIELDS[kind] - {"__line__"}
        if unknown:
            raise _fail(path, line, rid, sorted(unknown)[0], f"unknown field for kind {kind}")
        label = raw.get("label")
        if not isinstance(label, str) or not _LABEL_RE.match(label):
            raise _fail(path, line, rid, "label", "required, lower_snake (the name the policy acts on)")
        if kind == "terms":
            terms, extra = _terms(raw, path, line, rid, rules_dir)
            files += extra
            cs = bool(raw.get("case_sensitive", False))
            out.append(TermsClassifier.build(rid, label, terms, cs, bool(raw.get("disclose", False))))
        elif kind == "edm":
            store_name = raw.get("store")
            if not isinstance(store_name, str) or not store_name:
                raise _fail(path, line, rid, "store", "required: the name given to `guard edm import --name`")
            store_path = (edm_dir or Path("var/edm")) / f"{store_name}.edm"
            if not store_path.is_file():
                raise _fail(path, line, rid, "store", f"no EDM store at {store_path}; run `guard edm import`")
            try:
                out.append(EdmClassifier(rid, label, load_store(store_path)))
            except EdmError as exc:
                raise _fail(path, line, rid, "store", str(exc)) from None
            files.append(store_path)
        else:
            min_lines, min_ratio = raw.get("min_lines", 40), raw.get("min_ratio", 0.5)
            if not isinstance(min_lines, int) or min_lines < 1:
                raise _fail(path, line, rid, "min_lines", "must be a positive integer")
            if not isinstance(min_ratio, int | float) or not 0 < min_ratio <= 1:
                raise _fail(path, line, rid, "min_ratio", "must be a number in (0, 1]")
            out.append(SourceCodeClassifier(rid, label, min_lines, float(min_ratio)))
    return ClassifierSet(tuple(out + _discovered_edm(edm_dir, files, seen)), tuple(files))


def _discovered_edm(edm_dir: Path | None, files: list[Path], seen: set[str]) -> list[Classifier]:
    """Every store under edm_dir not named in classifiers.yaml becomes `edm-<name>` with label `edm`."""
    if edm_dir is None or not edm_dir.is_dir():
        return []
    out: list[Classifier] = []
    for store_path in sorted(edm_dir.glob("*.edm")):
        if store_path in files:
            continue
        rid = "edm-" + re.sub(r"[^a-z0-9]+", "-", store_path.stem.lower()).strip("-")
        if rid in seen:
            continue
        try:
            out.append(EdmClassifier(rid, "edm", load_store(store_path)))
        except EdmError as exc:
            raise RuleError(str(exc)) from None
        files.append(store_path)
    return out
