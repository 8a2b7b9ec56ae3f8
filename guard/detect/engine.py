"""The detection engine: keyword prefilter, compiled rules, model detectors, overlap resolution, cache.

One Aho-Corasick pass over the lowercased text decides which pattern rules run at all (as gitleaks
does); model detectors (spaCy NER, the Chinese segmenter) run only on text their gate admits, and
batched. Results are cached per segment text: a chat resends its whole history every turn.
"""

from __future__ import annotations

import bisect
import hashlib
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import ahocorasick

from guard.core import CATEGORIES, Finding
from guard.detect.address import extend_addresses
from guard.detect.anchor import finditer as anchored_finditer
from guard.detect.decode import candidates
from guard.detect.names import label_names, more_names
from guard.detect.normalize import View, normalize
from guard.detect.rules import Rule, load_detectors
from guard.detect.validators import VALIDATORS, shannon_entropy


class ModelDetector(Protocol):
    """A detector backed by a model rather than a pattern (NER, segmenter)."""

    name: str

    def scan_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        """Return findings for each text; texts the detector cannot help with get []."""
        ...


class Engine:
    """Scan texts for sensitive values with pattern rules plus optional model detectors."""

    def __init__(
        self,
        rules: Sequence[Rule],
        models: Sequence[ModelDetector] = (),
        cache_entries: int = 8192,
    ) -> None:
        self.rules = list(rules)
        self.models = list(models)
        self._always: list[int] = []
        self._automaton = ahocorasick.Automaton()
        by_kw: dict[str, list[int]] = {}
        for i, rule in enumerate(self.rules):
            if not rule.keywords:
                self._always.append(i)
            for kw in rule.keywords:
                by_kw.setdefault(kw, []).append(i)
        for kw, idx in by_kw.items():
            self._automaton.add_word(kw, tuple(idx))
        self._has_keywords = bool(by_kw)
        if self._has_keywords:
            self._automaton.make_automaton()
        self._cache: OrderedDict[bytes, tuple[Finding, ...]] = OrderedDict()
        self._cache_entries = cache_entries

    # -- public API -------------------------------------------------------------------------

    def scan(self, text: str) -> list[Finding]:
        """Return the non-overlapping findings in one text, sorted by position."""
        return self.scan_many([text])[0]

    def scan_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        """Scan a batch; model detectors see only the texts not already cached."""
        out: list[list[Finding] | None] = [None] * len(texts)
        todo: list[int] = []
        for i, text in enumerate(texts):
            hit = self._cache.get(_key(text))
            if hit is not None:
                self._cache.move_to_end(_key(text))
                out[i] = list(hit)
            else:
                todo.append(i)
        if todo:
            # Detection runs on the folded view (evasions undone); spans map back to the original.
            views = [normalize(texts[i]) for i in todo]
            fresh = [v.text for v in views]
            found = [self.scan_patterns(t) + self.scan_encoded(t) for t in fresh]
            for model in self.models:
                for acc, extra in zip(found, model.scan_many(fresh), strict=True):
                    acc.extend(extra)
            for i, view, finds in zip(todo, views, found, strict=True):
                resolved = resolve_overlaps(finds + label_names(view.text, finds))
                resolved = resolve_overlaps(resolved + more_names(view.text, resolved))
                if view.changed:
                    resolved = [_remap(f, view) for f in resolved]
                self._remember(texts[i], resolved)
                out[i] = resolved
        return [o if o is not None else [] for o in out]

    def scan_encoded(self, text: str, depth: int = 2) -> list[Finding]:
        """Decode base64 / hex / percent / entity / escape runs; a run hiding a value is a finding."""
        found: list[Finding] = []
        for cand in candidates(text):
            inner = self.scan_patterns(cand.text)
            if depth > 1:
                inner += self.scan_encoded(cand.text, depth - 1)
            scored = [f for f in inner if f.category in CATEGORIES]
            if scored:
                best = max(scored, key=lambda f: f.score)
                found.append(Finding(best.category, best.entity_type, best.rule_id, cand.start, cand.end, best.score))
        return found

    def scan_patterns(self, text: str) -> list[Finding]:
        """Run the pattern rules whose keywords occur in the text (and the keyword-less ones)."""
        return extend_addresses(text, list(self._pattern_findings(text, self.candidate_rules(text))))

    def candidate_rules(self, text: str) -> list[Rule]:
        idx: set[int] = set(self._always)
        if self._has_keywords:
            for _end, rule_ids in self._automaton.iter(text.lower()):
                idx.update(rule_ids)
        return [self.rules[i] for i in sorted(idx)]

    # -- internals ----------------------------------------------------------------------------

    def _pattern_findings(self, text: str, rules: Iterable[Rule]) -> Iterable[Finding]:
        for rule in rules:
            for m in anchored_finditer(rule.pattern, rule.anchor, text):
                start, end = m.span(rule.group)
                if start < 0 or start == end:
                    continue
                value = text[start:end]
                if accept(rule, value):
                    yield Finding(rule.category, rule.entity_type, rule.id, start, end, rule.score)

    def _remember(self, text: str, findings: list[Finding]) -> None:
        key = _key(text)
        self._cache[key] = tuple(findings)
        if len(self._cache) > self._cache_entries:
            self._cache.popitem(last=False)


def accept(rule: Rule, value: str) -> bool:
    """Apply a rule's value checks: stopwords, allow-list, entropy, validators."""
    if rule.stopwords:
        low = value.lower()
        if any(s in low for s in rule.stopwords):
            return False
    if any(a.fullmatch(value) for a in rule.allow):
        return False
    if rule.entropy is not None and shannon_entropy(value) < rule.entropy:
        return False
    return all(VALIDATORS[v](value) for v in rule.validators)


def resolve_overlaps(findings: list[Finding]) -> list[Finding]:
    """Keep a non-overlapping set: higher score wins, then the longer span, then the earlier."""
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    # Kept spans never overlap, so sorted by start they are sorted by end too: checking the two
    # neighbours of the insertion point is enough (n log n, not n^2, on a 64 KB prompt).
    starts: list[int] = []
    ends: list[int] = []
    kept: list[Finding] = []
    for f in ranked:
        i = bisect.bisect_right(starts, f.start)
        if (i > 0 and ends[i - 1] > f.start) or (i < len(starts) and starts[i] < f.end):
            continue
        starts.insert(i, f.start)
        ends.insert(i, f.end)
        kept.insert(i, f)
    return kept


def _remap(f: Finding, view: View) -> Finding:
    start, end = view.to_original(f.start, f.end)
    return Finding(f.category, f.entity_type, f.rule_id, start, end, f.score)


def _key(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def build_engine(rules_dir: Path | None = None, *, models: bool = True, spacy_model: str | None = None) -> Engine:
    """Build the engine from rules/ plus the model detectors named in settings."""
    rules = load_detectors(rules_dir)
    detectors: list[ModelDetector] = []
    if models:
        from guard.detect.models import default_models

        detectors = default_models(spacy_model)
    return Engine(rules, detectors)
