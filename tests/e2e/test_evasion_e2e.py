"""The evasion corpus (tests/data/evasion/) through `guard proxy`: no disguised value reaches the upstream.

Each case hides values with one technique (invisible characters, look-alikes, encodings, defanged
e-mail markers, a value spread over two messages, odd JSON fields, an unknown endpoint). The request
must still go out — redacted, as the default policy says — and nothing the upstream receives may
hold a value: not the raw bytes, and not any decoded form of them (JSON strings joined, Unicode
folded, entities, percent- and \\u-escapes undone, [at]/[dot] markers read back, base64 and hex
runs decoded), compared letters-and-digits only.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import unicodedata
import uuid
from pathlib import Path
from urllib.parse import unquote

import pytest

from tests.e2e.conftest import audit_rows

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CORPUS = Path(__file__).resolve().parents[1] / "data" / "evasion"
CASES = sorted(CORPUS.glob("*.json"))
PLACEHOLDER = re.compile(r"\[(?:PERSON|EMAIL|PHONE|SECRET|CARD|ID|ACCOUNT|IP|ADDRESS)_\d+\]")
# Cyrillic and Greek letters that look Latin (Unicode confusables.txt, the ones NFKC leaves alone).
CONFUSABLES = str.maketrans("аеорсхуіјѕԁοαρνκτ", "aeopcxyijsdoapvkt")
B64_RUN = re.compile(r"[A-Za-z0-9+/_\-]{16,}={0,2}")
HEX_RUN = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")
U_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
# Defanged e-mail markers: [at] (at) {at} [@] and the upper-case word AT for '@'; [dot] [.] and DOT for '.'.
DEFANGED_AT = re.compile(r"[ \t]*[\[({<（［｛【][ \t]*(?i:at|@)[ \t]*[\]})>）］｝】][ \t]*|[ \t]+AT[ \t]+")
DEFANGED_DOT = re.compile(r"[ \t]*[\[({<（［｛【][ \t]*(?i:dot|\.)[ \t]*[\]})>）］｝】][ \t]*|[ \t]+DOT[ \t]+")


def _strings(node) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def _fold(text: str) -> str:
    text = "".join(c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c) != "Cf")
    text = html.unescape(unquote(U_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)))
    text = text.translate(CONFUSABLES)
    return DEFANGED_DOT.sub(".", DEFANGED_AT.sub("@", text))


def _decoded_runs(text: str) -> list[str]:
    out = []
    for m in B64_RUN.finditer(text):
        run = m.group(0)
        try:
            out.append(
                base64.b64decode(
                    run + "=" * (-len(run) % 4), altchars=b"-_" if "-" in run or "_" in run else None
                ).decode("utf-8", "replace")
            )
        except (binascii.Error, ValueError):
            pass
    out += [bytes.fromhex(m.group(0)).decode("utf-8", "replace") for m in HEX_RUN.finditer(text)]
    return out


def views(body: bytes) -> list[str]:
    """Every reading of a request body a recipient could make: raw, JSON strings, folded, decoded (depth 2)."""
    raw = body.decode("utf-8", "replace")
    texts = [raw]
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    if doc is not None:
        texts.append("".join(_strings(doc)))
        msgs = doc.get("messages") if isinstance(doc, dict) and isinstance(doc.get("messages"), list) else []
        # the user's messages read as one text: a value cut over two messages joins again
        texts.append("".join(s for m in msgs if isinstance(m, dict) and m.get("role") == "user"
                             for s in _strings(m.get("content"))))  # fmt: skip
    texts += [_fold(t) for t in texts]
    for _ in range(2):
        texts += [_fold(d) for t in texts for d in _decoded_runs(t)]
    return texts


def skeleton(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def test_views_see_through_each_disguise():
    """The checker itself: the disguised bodies of the corpus do show the values (so a clean result means something)."""
    for path in CASES:
        case = json.loads(path.read_text())
        body = json.dumps(case["body"]).encode()
        for value in case["values"]:
            assert any(skeleton(value) in skeleton(v) for v in views(body)), f"{path.name}: checker misses {value[:4]}…"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_when_a_value_is_disguised_then_the_upstream_never_receives_it(path, http_client, upstream, guard_home):
    case = json.loads(path.read_text())
    model = f"evasion-{uuid.uuid4().hex[:8]}"
    body = json.loads(json.dumps(case["body"]).replace("MODEL", model))
    host = "localhost" if case["adapter"] == "openai" else "127.0.0.1"
    headers = {"authorization": "Bearer sk-test"} if case["adapter"] == "openai" else {
        "x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}  # fmt: skip
    before = len(upstream.received)
    resp = http_client.post(f"https://{host}:{upstream.port}{case['path']}", json=body, headers=headers)
    got = upstream.received[before:]
    assert len(got) == 1, f"{case['technique']}: not forwarded (status {resp.status_code}): {resp.text[:300]}"
    sent = got[0].body
    assert PLACEHOLDER.search(sent.decode("utf-8", "replace")), f"{case['technique']}: nothing was redacted"
    for value in case["values"]:
        assert value.encode() not in sent
        for v in views(sent):
            assert skeleton(value) not in skeleton(v), f"{case['technique']}: a decoded form of the value went out"
    if case["path"] != "/v1/beta/notes/create":
        rows = audit_rows(guard_home, model)
        assert rows and rows[0]["action"] == "redact" and rows[0]["findings"]
