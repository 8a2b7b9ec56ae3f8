"""OCR of images with Debian's tesseract: text is read and scanned when on; failures are unreadable, safely."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from guard import attachments, ocr, providers
from tests.attachments import docs

EMAIL = "jane.doe@example.com"
AWS = "AKIAIOSFODNN7EXAMPLE"
OCR = ocr.Ocr()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP"])
def test_when_an_image_shows_text_then_ocr_reads_it(fmt):
    data = docs.image(f"Contact {EMAIL}", AWS, fmt=fmt)
    media = "image/" + fmt.lower()
    text = attachments.extract_text(data, media, OCR)
    assert EMAIL in text and AWS in text


def test_when_ocr_is_off_then_an_image_is_unreadable_as_before():
    with pytest.raises(attachments.Unreadable, match=r"^image \(no OCR configured\)$"):
        attachments.extract_text(docs.image(EMAIL), "image/png")


@pytest.mark.parametrize(
    ("reader", "data", "media", "why"),
    [
        (ocr.Ocr(binary="/nonexistent/tesseract"), docs.image(EMAIL), "image/png", "tesseract is not installed"),
        (ocr.Ocr(timeout_s=0.001), docs.image(EMAIL), "image/png", "OCR took longer than 0.001 s"),
        (OCR, b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png", r"tesseract failed \(exit status 1\)"),
        (OCR, b"<svg/>", "image/svg+xml", "image type image/svg\\+xml not supported by OCR"),
        # A PNG header that declares 100 000 x 100 000 pixels: refused before tesseract sees it.
        (
            OCR,
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 100_000, 100_000),
            "image/png",
            "^image: larger than 50000000 pixels$",
        ),
    ],
    ids=["missing", "timeout", "broken", "svg", "bomb"],
)
def test_when_ocr_cannot_read_an_image_then_it_is_unreadable_with_a_fixed_reason(reader, data, media, why):
    with pytest.raises(attachments.Unreadable, match=why) as exc:
        attachments.extract_text(data, media, reader)
    assert EMAIL not in str(exc.value)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
def test_when_an_image_header_is_read_then_its_size_is_known(fmt):
    assert ocr.image_size(docs.image("x", fmt=fmt)) == (1400, 150)


def _anthropic_image(data: bytes) -> bytes:
    return json.dumps({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": base64.b64encode(data).decode()}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
        {"type": "text", "text": "what is this?"}]}]}).encode()  # fmt: skip


def test_when_ocr_is_on_then_an_anthropic_image_block_is_read_and_an_image_by_url_stays_skipped():
    parsed = providers.parse_request("anthropic", "POST", "/v1/messages", {}, _anthropic_image(docs.image(EMAIL)))
    out, read, unreadable = attachments.expand(parsed, "block", OCR)
    (seg,) = [s for s in out.segments if s.kind == "attachment"]
    assert EMAIL in seg.text and seg.path == ("messages", 0, "content", 0, attachments.EXTRACTED)
    assert read and not unreadable
    assert out.skipped == ("messages[0].content[1]: image not scanned",)


def test_when_ocr_is_off_then_image_blocks_are_skipped_as_before():
    parsed = providers.parse_request("anthropic", "POST", "/v1/messages", {}, _anthropic_image(docs.image(EMAIL)))
    out, read, unreadable = attachments.expand(parsed, "block")
    assert out == parsed and not read and not unreadable
    assert "messages[0].content[0]: image not scanned" in out.skipped


def test_when_ocr_is_on_then_openai_data_url_images_are_read():
    url = "data:image/png;base64," + base64.b64encode(docs.image(f"key {AWS}")).decode()
    body = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}],
        "input": [{"role": "user", "content": [{"type": "input_image", "image_url": url}]}]}  # fmt: skip
    parsed = providers.parse_request("openai", "POST", "/v1/chat/completions", {}, json.dumps(body).encode())
    out, read, unreadable = attachments.expand(parsed, "block", OCR)
    texts = [s.text for s in out.segments if s.kind == "attachment"]
    assert len(texts) == 2 and all(AWS in t for t in texts) and not unreadable


def test_when_ocr_fails_on_a_chat_image_then_it_is_unreadable_and_named():
    parsed = providers.parse_request("anthropic", "POST", "/v1/messages", {}, _anthropic_image(b"\x89PNG\r\n\x1a\nxx"))
    out, _, unreadable = attachments.expand(parsed, "skip", ocr.Ocr(binary="/nonexistent/tesseract"))
    assert unreadable == ["messages[0].content[0]: attachment image: OCR is on but tesseract is not installed"]
    assert unreadable[0] in out.skipped
