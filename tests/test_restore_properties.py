"""Properties of StreamRestorer and Vault over generated texts and chunkings (hypothesis)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guard.core import Finding
from guard.restore import StreamRestorer
from guard.vault import Vault

VALUES = ["Maria Lopez", "bob@example.org", 'Ann "Jr" Lee', "+1 415 555 0132", "Zoë Ødegård"]
CATS = ["person", "email", "person", "phone", "person"]


def vault_with_all() -> tuple[Vault, list[str]]:
    v = Vault()
    placeholders = [
        v.redact(val, [Finding(cat, "X", "r", 0, len(val), 1.0)]) for val, cat in zip(VALUES, CATS, strict=True)
    ]
    return v, placeholders


# Text pieces: plain words, brackets, issued placeholders, look-alikes the vault never issued.
pieces = st.lists(
    st.one_of(
        st.text(alphabet="ab [] _1é\n", max_size=6),
        st.sampled_from(
            ["[PERSON_1]", "[EMAIL_1]", "[PERSON_2]", "[PHONE_1]", "[PERSON_3]", "[PERSON_77]", "[", "[PER"]
        ),
    ),
    max_size=25,
)


def sse(deltas: list[str], finish: bool) -> bytes:
    out = [
        b"data: "
        + json.dumps({"choices": [{"index": 0, "delta": {"content": d}, "finish_reason": None}]}).encode()
        + b"\n\n"
        for d in deltas
    ]
    if finish:
        out.append(b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')
    return b"".join(out)


def content(stream: bytes) -> str:
    text = ""
    for block in stream.decode().split("\n\n"):
        if block.startswith("data: {"):
            for c in json.loads(block[6:])["choices"]:
                text += c["delta"].get("content", "")
    return text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=pieces,
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12),
    finish=st.booleans(),
    data=st.data(),
)
def test_when_any_text_is_streamed_in_any_deltas_and_chunks_then_the_client_gets_exactly_the_restored_text(
    parts, cuts, finish, data
):
    vault, _ = vault_with_all()
    text = "".join(parts)
    # Split the text into deltas at arbitrary character positions, then the bytes at arbitrary byte positions.
    positions = sorted(set(data.draw(st.lists(st.integers(0, len(text)), max_size=10))))
    deltas = [text[a:b] for a, b in zip([0, *positions], [*positions, len(text)], strict=True)]
    raw = sse(deltas, finish)
    byte_cuts = sorted({c % (len(raw) + 1) for c in cuts})
    chunks = [raw[a:b] for a, b in zip([0, *byte_cuts], [*byte_cuts, len(raw)], strict=True)]
    r = StreamRestorer(vault)
    out = b"".join(r.feed(c) for c in chunks) + r.close()
    assert content(out) == vault.restore(text)


@settings(max_examples=150, deadline=None)
@given(parts=pieces)
def test_when_text_is_redacted_then_restore_gives_it_back_and_a_fresh_vault_agrees(parts):
    text = "".join(parts) + " " + " ".join(VALUES)
    findings = []
    for val, cat in zip(VALUES, CATS, strict=True):
        i = text.rfind(val)
        findings.append(Finding(cat, "X", "r", i, i + len(val), 1.0))
    a, b = Vault(), Vault()
    redacted = a.redact(text, findings)
    assert b.redact(text, findings) == redacted
    assert not any(v in redacted for v in VALUES)
    assert a.restore(redacted) == text
