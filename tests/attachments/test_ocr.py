"""OCR of images with Debian's tesseract: text is read and scanned when on; failures are unreadable, safely;
an image over a limit is a LimitError (blocked even where unreadable files are skipped)."""

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


def test_when_a_screenshot_shows_a_chinese_record_then_its_name_id_and_marking_are_found(engine):
    from pathlib import Path

    from guard.core import Segment
    from guard.detect.rules import BUNDLED_RULES
    from guard.policy.classify import load_classifiers

    data = docs.cjk_image("机密文件：客户张伟的身份证号", "110101199003074514，手机13812345678", f"Contact {EMAIL}")
    text = attachments.extract_text(data, "image/png", OCR)
    assert "张伟" in text and "机密" in text  # read as Chinese, with no space set between the characters
    found = {(f.category, text[f.start : f.end]) for f in engine.scan(text)}
    assert {("person", "张伟"), ("national_id", "110101199003074514"), ("phone", "13812345678"), ("email", EMAIL)} <= found
    marks = load_classifiers(BUNDLED_RULES, Path("/nonexistent-edm")).classify([Segment(text, ("image",))])
    assert "confidential" in {c.label for c in marks}


def test_when_only_english_data_is_installed_then_english_is_read_and_chinese_is_not(monkeypatch):
    monkeypatch.setattr(ocr, "installed_langs", lambda exe: "eng")
    text = attachments.extract_text(docs.cjk_image("客户张伟", f"Contact {EMAIL}"), "image/png", ocr.Ocr())
    assert EMAIL in text and "张伟" not in text


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
    ],
    ids=["missing", "timeout", "broken", "svg"],
)
def test_when_ocr_cannot_read_an_image_then_it_is_unreadable_with_a_fixed_reason(reader, data, media, why):
    with pytest.raises(attachments.Unreadable, match=why) as exc:
        attachments.extract_text(data, media, reader)
    assert EMAIL not in str(exc.value)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF"])
def test_when_an_image_header_is_read_then_its_size_is_known(fmt):
    assert ocr.image_size(docs.image("x", fmt=fmt)) == (1400, 150)


def _webp(kind: bytes, w: int, h: int) -> bytes:
    """A WebP header alone (RFC 9649): a decompression bomb is refused on its header."""
    if kind == b"VP8X":
        payload = b"\x00" * 4 + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    elif kind == b"VP8L":
        payload = b"\x2f" + ((w - 1) | (h - 1) << 14).to_bytes(4, "little")
    else:
        payload = b"\x00\x00\x00\x9d\x01\x2a" + struct.pack("<HH", w, h)
    return (
        b"RIFF" + struct.pack("<I", 4 + 8 + len(payload)) + b"WEBP" + kind + struct.pack("<I", len(payload)) + payload
    )


def _tiff(*pages: tuple[int, int], order: str = "<") -> bytes:
    """A TIFF holding only IFDs (TIFF 6.0 section 2), one per page: tesseract reads every page."""
    out = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", 8)
    for i, (w, h) in enumerate(pages):
        nxt = 0 if i == len(pages) - 1 else len(out) + 30
        out += struct.pack(order + "H", 2) + struct.pack(order + "HHII", 256, 4, 1, w)
        out += struct.pack(order + "HHI", 257, 3, 1) + struct.pack(order + "HH", h, 0) + struct.pack(order + "I", nxt)
    return out


# Headers that declare more pixels than MAX_PIXELS (50 000 000), in every format OCR accepts.
BOMBS = {
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 100_000, 100_000),
    "gif": b"GIF89a" + struct.pack("<HH", 10_000, 10_000),
    "bmp": b"BM" + b"\x00" * 16 + struct.pack("<ii", 10_000, -10_000),
    "jpeg": b"\xff\xd8\xff\xc0\x00\x11\x08" + struct.pack(">HH", 10_000, 10_000) + b"\x00" * 4,
    "webp": _webp(b"VP8X", 10_000, 10_000),
    "webp-lossless": _webp(b"VP8L", 16_000, 16_000),
    "webp-lossy": _webp(b"VP8 ", 16_000, 16_000),
    "tiff": _tiff((10_000, 10_000)),
    "tiff-big-endian": _tiff((10_000, 10_000), order=">"),
    "tiff-many-pages": _tiff(*[(5000, 5000)] * 3),  # each page under the limit, together over it
}


@pytest.mark.parametrize("data", BOMBS.values(), ids=BOMBS.keys())
def test_when_an_image_is_over_the_pixel_limit_then_it_is_a_limit_not_unreadable(data):
    with pytest.raises(providers.LimitError) as exc:
        attachments.extract_text(data, "image/png", OCR)
    assert exc.value.limit == "image pixels" and "more than 50000000" in str(exc.value)
    assert not isinstance(exc.value, attachments.Unreadable)


def test_when_a_multi_page_tiff_is_read_then_every_page_counts():
    assert ocr.image_size(_tiff((100, 50), (300, 200))) == (100, 50)
    assert ocr.image_pixels(_tiff((100, 50), (300, 200))) == 100 * 50 + 300 * 200
    assert ocr.image_pixels(_tiff((5000, 5000), (5000, 5000))) == 50_000_000  # at the limit: read


def test_when_an_image_is_just_over_the_pixel_limit_then_a_real_one_is_refused_and_one_under_is_read():
    with pytest.raises(providers.LimitError, match="an image has 50410000 pixels"):
        attachments.extract_text(docs.large_image(EMAIL, 7100), "image/png", OCR)
    assert EMAIL in attachments.extract_text(docs.large_image(EMAIL, 2000), "image/png", OCR)


def test_when_ocr_reads_more_text_than_the_limit_then_it_is_a_limit(monkeypatch):
    monkeypatch.setattr(ocr, "MAX_TEXT_BYTES", 10)
    with pytest.raises(providers.LimitError) as exc:
        attachments.extract_text(docs.image(f"Contact {EMAIL}"), "image/png", OCR)
    assert exc.value.limit == "image text" and EMAIL not in str(exc.value)


def test_when_unreadable_images_are_skipped_then_an_image_over_the_limit_still_blocks():
    parsed = providers.parse_request("anthropic", "POST", "/v1/messages", {}, _anthropic_image(BOMBS["png"]))
    with pytest.raises(providers.LimitError) as exc:
        attachments.expand(parsed, "skip", OCR)
    assert exc.value.limit == "image pixels"
    broken = providers.parse_request("anthropic", "POST", "/v1/messages", {}, _anthropic_image(b"\x89PNG\r\n\x1a\nxx"))
    _, _, unreadable = attachments.expand(broken, "skip", OCR)  # an unreadable one is still skipped
    assert unreadable == ["messages[0].content[0]: attachment image: tesseract failed (exit status 1)"]


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
