"""Uploads whose body is the file itself (ChatGPT web's PUT to its blob host): typed, read, or left to JSON."""

from __future__ import annotations

import gzip
import json

import pytest

from guard import attachments
from tests.attachments import docs

EMAIL = "dana.whitfield@example.org"


@pytest.mark.parametrize(
    ("data", "media"),
    [
        (docs.pdf("x"), attachments.PDF),
        (docs.docx("t", "x"), attachments.DOCX),
        (docs.xlsx([["a"]]), attachments.XLSX),
        (docs.image("x"), "image/png"),
        (docs.image("x", fmt="JPEG"), "image/jpeg"),
        (docs.image("x", fmt="WEBP"), "image/webp"),
        (docs.image("x", fmt="TIFF"), "image/tiff"),
        ("naïve notes\n".encode(), "text/plain"),
        (b"PK\x03\x04 not a zip", ""),
        (bytes(range(256)), ""),
    ],
    ids=["pdf", "docx", "xlsx", "png", "jpeg", "webp", "tiff", "text", "bad-zip", "binary"],
)
def test_when_a_file_is_sniffed_then_its_type_comes_from_its_bytes(data, media):
    assert attachments.sniff(data) == media


def _read(headers: dict[str, str], body: bytes, ocr=None):
    parsed = attachments.parse_upload("chatgpt_web", headers, body, 1 << 20)
    assert parsed is not None and parsed.endpoint == "upload"
    return attachments.expand(parsed, "block", ocr)


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-type": "text/plain"}, f"Customer {EMAIL}\n".encode()),
        ({}, f"Customer {EMAIL}\n".encode()),  # no Content-Type: sniffed as UTF-8 text
        ({"content-type": "application/octet-stream"}, docs.pdf(f"Customer {EMAIL}")),
        ({"content-type": "application/octet-stream"}, docs.docx("Customers", EMAIL)),
        ({"content-type": attachments.XLSX}, docs.xlsx([["email"], [EMAIL]])),
        ({"content-type": "text/csv", "content-encoding": "gzip"}, gzip.compress(f"email\n{EMAIL}\n".encode())),
        ({"content-type": "text/markdown"}, f"[link]({EMAIL}) and {{not json".encode()),
    ],
    ids=["text", "untyped-text", "pdf", "docx", "xlsx", "gzip-csv", "not-json-after-all"],
)
def test_when_a_raw_body_is_a_document_then_its_text_is_one_segment(headers, body):
    out, read, unreadable = _read(headers, body)
    (seg,) = out.segments
    assert EMAIL in seg.text and seg.path == ("body", attachments.EXTRACTED) and not unreadable
    assert read == [f"body: attachment text extracted ({len(seg.text)} characters)"]


@pytest.mark.parametrize(
    ("headers", "body", "why"),
    [
        (
            {"content-type": "application/octet-stream"},
            bytes(range(256)) * 4,
            "unsupported type application/octet-stream",
        ),
        ({}, b"\x00\xff\x00garbage", "unsupported type application/octet-stream"),
        ({"content-type": "application/zip"}, b"PK\x03\x04 broken", "unsupported type application/zip"),
        ({"content-type": "image/png"}, docs.image(EMAIL), "image (no OCR configured)"),
        ({"content-type": "text/plain"}, b"\xff\xfe bad", "text that is not UTF-8"),
    ],
    ids=["binary", "untyped-binary", "zip", "image-without-ocr", "bad-utf8"],
)
def test_when_a_raw_body_cannot_be_read_then_the_reason_is_given(headers, body, why):
    out, read, unreadable = _read(headers, body)
    assert unreadable == [f"body: attachment {why}"] and not read and not out.segments


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-type": "application/json"}, b"{broken"),  # the JSON reader blocks it, as before
        ({"content-type": "text/plain;charset=UTF-8"}, json.dumps({"messages": []}).encode()),  # JSON sent as text
        ({}, b"[1, 2]"),
        ({"content-type": "application/x-www-form-urlencoded"}, b"a=b%40c.com"),
        ({"content-type": "text/plain"}, b"  \n"),
        ({}, b""),
    ],
    ids=["json-type", "json-as-text", "untyped-json", "form", "blank", "empty"],
)
def test_when_a_body_is_json_form_or_empty_then_it_is_not_a_raw_upload(headers, body):
    assert attachments.parse_upload("chatgpt_web", headers, body, 1 << 20) is None


def test_when_ocr_is_on_then_a_raw_image_upload_is_read():
    from guard.ocr import Ocr

    out, _, unreadable = _read({"content-type": "application/octet-stream"}, docs.image(f"mail {EMAIL}"), Ocr())
    (seg,) = out.segments
    assert EMAIL in seg.text and not unreadable
