"""Attachment text is extracted (text, CSV, PDF, DOCX, XLSX); what cannot be read says why."""

from __future__ import annotations

import base64
import json

import pytest

from guard import attachments, providers
from tests.attachments import docs

EMAIL = "dana.whitfield@example.org"


@pytest.mark.parametrize(
    ("data", "media"),
    [
        (f"name,email\nDana,{EMAIL}\n".encode(), "text/csv"),
        (docs.pdf(f"Contact {EMAIL} today"), attachments.PDF),
        (docs.docx("Customer file", f"Contact {EMAIL}"), attachments.DOCX),
        (docs.xlsx([["name", "email"], ["Dana", EMAIL]]), attachments.XLSX),
    ],
    ids=["csv", "pdf", "docx", "xlsx"],
)
def test_when_a_document_has_text_then_it_is_extracted(data, media):
    assert EMAIL in attachments.extract_text(data, media)


@pytest.mark.parametrize(
    ("data", "media", "why"),
    [
        (docs.encrypted_pdf(f"Contact {EMAIL}"), attachments.PDF, "encrypted PDF"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 32, "image/png", "no OCR"),
        (b"\x00\x01\x02", "application/octet-stream", "unsupported type"),
        (b"%PDF-1.4 truncated", attachments.PDF, "could not be read"),
    ],
    ids=["encrypted-pdf", "image", "binary", "broken-pdf"],
)
def test_when_a_document_cannot_be_read_then_the_reason_is_given(data, media, why):
    with pytest.raises(attachments.Unreadable, match=why):
        attachments.extract_text(data, media)


def test_when_a_request_carries_documents_then_their_text_becomes_segments_and_skips_are_updated():
    b64 = base64.b64encode(docs.pdf(f"Contact {EMAIL}")).decode()
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": b64}},
        {"type": "document", "source": {"type": "file", "file_id": "file_123"}},
        {"type": "text", "text": "summarise"}]}]}  # fmt: skip
    parsed = providers.parse_request("anthropic", "POST", "/v1/messages", {}, json.dumps(body).encode())
    out, read, unreadable = attachments.expand(parsed, "skip")
    (seg,) = [s for s in out.segments if s.kind == "attachment"]
    assert EMAIL in seg.text and seg.path[-1] == attachments.EXTRACTED
    assert read and unreadable == [
        "messages[0].content[1].source: attachment referenced by id or URL, content not in the request"
    ]
    assert "messages[0].content[0].source: base64 document not scanned" not in out.skipped
    assert unreadable[0] in out.skipped


def test_when_a_request_has_too_many_attachments_then_it_cannot_be_inspected_even_in_skip_mode():
    part = {"type": "file", "file": {"filename": "a.txt", "file_data": base64.b64encode(b"hello").decode()}}
    body = {"model": "m", "messages": [{"role": "user", "content": [part] * (attachments.MAX_ATTACHMENTS + 1)}]}
    parsed = providers.parse_request("openai", "POST", "/v1/chat/completions", {}, json.dumps(body).encode())
    with pytest.raises(providers.RequestError, match="attachments, over the 20 limit"):
        attachments.expand(parsed, "skip")


def test_when_a_multipart_upload_carries_a_file_then_its_text_and_fields_are_segments():
    import httpx

    req = httpx.Request("POST", "https://api.openai.com/v1/files", data={"purpose": "assistants"},
                        files={"file": ("c.csv", f"email\n{EMAIL}\n".encode(), "text/csv"),
                               "img": ("p.png", b"\x89PNG\r\n\x1a\n", "image/png")})  # fmt: skip
    body = req.read()
    parsed = attachments.parse_multipart("openai", dict(req.headers), body, 1 << 20)
    assert parsed is not None and parsed.endpoint == "upload"
    out, read, unreadable = attachments.expand(parsed)
    texts = {s.text for s in out.segments}
    assert "assistants" in texts and any(EMAIL in t for t in texts)
    assert all(s.path[-1] == attachments.EXTRACTED for s in out.segments)  # never rewritten, only blocked
    assert len(unreadable) == 1 and "no OCR" in unreadable[0]
    assert attachments.parse_multipart("openai", {"content-type": "application/json"}, b"{}", 100) is None
