"""Documents sent inside requests: extract their text so it is scanned like the prompt.

Anthropic `document` blocks with a base64 source and OpenAI `file` / `input_file` parts with
`file_data` (a data: URL or bare base64) are decoded and read: plain text, CSV, JSON and Markdown
as UTF-8, PDF with pypdf, DOCX with python-docx, XLSX with openpyxl. The text of each becomes a
segment whose path ends in EXTRACTED: it is scanned and decided like any other text, but guard
cannot write placeholders back into a file, so a finding that would be redacted there blocks the
request instead. Images (PNG, JPEG, GIF, WebP, TIFF, BMP) are read with tesseract when OCR is on
(`guard.ocr`, off by default): Anthropic `image` blocks and OpenAI `image_url` / `input_image` parts
with inline base64 data, image documents and uploaded image files; with OCR off, image blocks and parts
stay skipped by the adapters as before. What cannot be read (an encrypted PDF, an unknown binary, an
image without OCR or whose OCR failed, a file referenced by id or URL) follows `on_unreadable`:
`block` (the default) or `skip` (forwarded, and the audit event's `skipped` says which part and why).

Uploads whose body is the file itself (ChatGPT web PUTs the bytes to its blob host) are read by
`parse_raw`: by Content-Type, else by magic bytes, the same way; a clean one is forwarded byte for byte.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import zipfile
from dataclasses import replace
from typing import Any

from guard.core import Segment
from guard.ocr import IMAGE_TYPES, Ocr, OcrFailed, OcrLimit
from guard.providers import LimitError, ParsedRequest
from guard.providers._wire import RequestError, decode_body, parse_json, path_str

EXTRACTED = "#extracted"  # last path element of a segment read from an attachment (not a JSON key)
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_ATTACHMENTS = 20
MAX_TEXT_CHARS = 2 * 1024 * 1024  # extracted text scanned per attachment
# Over a limit is not "unreadable": a request over one is blocked whatever on_unreadable says, or
# padding a file past it would carry it out unscanned.
_SMALLER = "Send a smaller file, or split it into smaller files"
_SMALLER_IMAGE = "Crop the image or scale it down, or send it in smaller parts"
TEXT_TYPES = ("text/", "application/json", "application/csv", "application/xml")
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BY_EXTENSION = {".pdf": PDF, ".docx": DOCX, ".xlsx": XLSX, ".csv": "text/csv", ".txt": "text/plain",
                ".md": "text/markdown", ".json": "application/json"}  # fmt: skip


class Unreadable(ValueError):
    """An attachment whose text cannot be extracted; the message is a fixed phrase (safe to audit)."""


def extract_text(data: bytes, media_type: str, ocr: Ocr | None = None) -> str:
    """Return the text of a document (of an image too when `ocr` is given); raise Unreadable with a short reason."""
    mt = media_type.split(";")[0].strip().lower()
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise LimitError("attachment size", f"an attachment is larger than {MAX_ATTACHMENT_BYTES} bytes", _SMALLER)
    try:
        if mt.startswith(TEXT_TYPES):
            text = data.decode("utf-8-sig")
        elif mt == PDF:
            text = _pdf(data)
        elif mt == DOCX:
            text = _docx(data)
        elif mt == XLSX:
            text = _xlsx(data)
        elif mt.startswith("image/") and ocr is None:
            raise Unreadable("image (no OCR configured)")
        elif mt in IMAGE_TYPES and ocr is not None:
            text = ocr.read(data)
        elif mt.startswith("image/"):
            raise Unreadable(f"image type {mt} not supported by OCR")
        else:
            raise Unreadable(f"unsupported type {mt or 'unknown'}")
    except Unreadable:
        raise
    except OcrLimit as exc:  # before the catch-all below: over a limit blocks, it is not "unreadable"
        raise LimitError(exc.limit, str(exc), _SMALLER if exc.limit == "attachment size" else _SMALLER_IMAGE) from None
    except OcrFailed as exc:  # a fixed phrase
        raise Unreadable(f"image: {exc}") from None
    except UnicodeDecodeError:
        raise Unreadable("text that is not UTF-8") from None
    except Exception as exc:  # a broken or hostile file: the class name only
        raise Unreadable(f"could not be read ({type(exc).__name__})") from None
    if len(text) > MAX_TEXT_CHARS:
        raise LimitError(
            "attachment text", f"an attachment holds more than {MAX_TEXT_CHARS} characters of text", _SMALLER
        )
    return text


def _pdf(data: bytes) -> str:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if reader.is_encrypted:
        raise Unreadable("encrypted PDF")
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def _docx(data: bytes) -> str:
    import docx

    doc = docx.Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts += [" | ".join(cell.text for cell in row.cells) for row in table.rows]
    return "\n".join(parts)


def _xlsx(data: bytes) -> str:
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        rows = []
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                cells = [str(v) for v in row if v is not None]
                if cells:
                    rows.append(" | ".join(cells))
        return "\n".join(rows)
    finally:
        wb.close()


def _decode(data: str) -> tuple[bytes, str]:
    """(bytes, media type from a data: URL or '') of base64 file data."""
    media = ""
    if data.startswith("data:"):
        head, _, data = data.partition(",")
        media = head[5:].split(";")[0]
    try:
        return base64.b64decode(data, validate=True), media
    except (binascii.Error, ValueError):
        raise Unreadable("file data is not base64") from None


def _media_for(filename: Any) -> str:
    name = filename.lower() if isinstance(filename, str) else ""
    return next((mt for ext, mt in BY_EXTENSION.items() if name.endswith(ext)), "")


def _inline_image(n: dict[str, Any]) -> tuple[str, str] | None:
    """(media type, base64 or data: URL) of an image block / part that carries its bytes; None otherwise."""
    src = n.get("source")
    if n.get("type") == "image" and isinstance(src, dict) and src.get("type") == "base64":  # Anthropic
        return str(src.get("media_type") or ""), src.get("data")
    url = n.get("image_url")
    if isinstance(url, dict):  # chat completions: {"image_url": {"url": ...}}
        url = url.get("url")
    if n.get("type") in ("image_url", "input_image") and isinstance(url, str) and url.startswith("data:"):
        return "", url
    return None  # an image by URL or file id: the adapter's "image not scanned" stands


def _attachments(
    node: Any, path: tuple[str | int, ...] = (), images: bool = False
) -> list[tuple[tuple[str | int, ...], str, Any]]:
    """(path, media type, data) of every document block / file part: data is base64, raw bytes or None.

    With `images`, image blocks and parts that carry their data inline are included too.
    """
    out = []
    stack = [(path, node)]
    while stack:
        p, n = stack.pop()
        if isinstance(n, dict):
            src = n.get("source")
            image = _inline_image(n) if images else None
            if n.get("type") == "raw" and isinstance(n.get("data"), bytes):  # parse_raw's body; JSON has no bytes
                out.append((p, str(n.get("media_type") or ""), n["data"]))
            elif image is not None:
                out.append((p, *image))
            elif n.get("type") == "document" and isinstance(src, dict) and src.get("type") in ("base64", "url", "file"):
                out.append((p + ("source",), str(src.get("media_type") or ""), src.get("data")))
            elif n.get("type") in ("file", "input_file"):
                f = n.get("file") if isinstance(n.get("file"), dict) else n
                fp = p + ("file",) if f is not n else p
                out.append((fp, _media_for(f.get("filename")), f.get("file_data")))
            else:
                stack.extend((p + (k,), v) for k, v in n.items())
        elif isinstance(n, list):
            stack.extend((p + (i,), v) for i, v in enumerate(n))
    return out


Expanded = tuple[ParsedRequest, list[str], list[str]]


def expand(parsed: ParsedRequest, on_unreadable: str = "block", ocr: Ocr | None = None) -> Expanded:
    """Add the text of every attachment as segments; return (parsed, read notes, unreadable notes).

    Unreadable notes are "path: reason"; with on_unreadable == 'block' the caller blocks on any.
    With `ocr`, images are read too.
    """
    found = _attachments(parsed.body, images=ocr is not None) if isinstance(parsed.body, dict | list) else []
    return _expand(parsed, found, on_unreadable, ocr)


async def expand_async(parsed: ParsedRequest, on_unreadable: str = "block", ocr: Ocr | None = None) -> Expanded:
    """`expand`, with the reading (PDF parsing, OCR subprocesses) in a thread off the event loop."""
    found = _attachments(parsed.body, images=ocr is not None) if isinstance(parsed.body, dict | list) else []
    if not found:
        return parsed, [], []
    return await asyncio.to_thread(_expand, parsed, found, on_unreadable, ocr)


def _expand(parsed: ParsedRequest, found: list[tuple[Any, ...]], on_unreadable: str, ocr: Ocr | None) -> Expanded:
    if not found:
        return parsed, [], []
    if len(found) > MAX_ATTACHMENTS:  # a limit, not a reading problem: blocks whatever on_unreadable says
        raise LimitError(
            "attachments",
            f"request has {len(found)} attachments, over the {MAX_ATTACHMENTS} limit",
            f"Send at most {MAX_ATTACHMENTS} files per request, or fewer files at once",
        )
    segments, read, unreadable = list(parsed.segments), [], []
    for path, media, data in found:
        where = path_str(path)
        try:
            if isinstance(data, bytes):
                raw, url_media = data, ""
            elif not isinstance(data, str) or not data:
                raise Unreadable("referenced by id or URL, content not in the request")
            else:
                raw, url_media = _decode(data)
            text = extract_text(raw, media or url_media or "application/octet-stream", ocr)
        except Unreadable as exc:
            unreadable.append(f"{where}: attachment {exc}")
            continue
        read.append(f"{where}: attachment text extracted ({len(text)} characters)")
        if text.strip():
            segments.append(Segment(text, path + (EXTRACTED,), "user", "attachment"))
    done = {r.rsplit(": ", 1)[0] for r in read}
    skipped = tuple(s for s in parsed.skipped if s.rsplit(": ", 1)[0] not in done)  # the adapter's "not scanned"
    if on_unreadable == "skip":
        skipped += tuple(unreadable)
    return replace(parsed, segments=tuple(segments), skipped=skipped), read, unreadable


def parse_multipart(adapter: str, headers: dict[str, str], body: bytes, max_bytes: int) -> ParsedRequest | None:
    """A multipart/form-data upload (OpenAI Files API, ChatGPT web) as a ParsedRequest, or None if not one.

    File parts become `file` entries of a synthetic body that `expand` reads like any attachment; text
    fields become segments. Every segment path ends in EXTRACTED: the upload is forwarded byte for byte
    when clean, and blocked (never rewritten) when something would have to be redacted.
    """
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if not ctype.lower().startswith("multipart/form-data"):
        return None
    from email.parser import BytesParser
    from email.policy import HTTP

    raw = decode_body(headers, body, max_bytes)
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + raw)
    if not msg.is_multipart():
        raise RequestError("multipart body without parts")
    # What the parser had to guess at (an unclosed boundary, broken part headers) may hold text it dropped.
    if any(p.defects for p in msg.walk()):
        raise RequestError("multipart body is malformed")
    parts: list[Any] = []
    segments: list[Segment] = []
    # Text outside the parts (preamble, epilogue) reaches the upstream too.
    for j, text in enumerate(t for p in msg.walk() if p.is_multipart() for t in (p.preamble, p.epilogue) if t):
        segments.append(Segment(text, ("multipart", "outside", j, EXTRACTED), "user", "other"))
    # Leaves: parts nested in a multipart/mixed part (RFC 2388 section 5.2) are read like the others.
    for i, part in enumerate(p for p in msg.walk() if not p.is_multipart()):
        name = part.get_param("name", header="content-disposition") or ""
        filename = part.get_filename()
        data = part.get_payload(decode=True) or b""
        if filename is not None:
            media = part.get_content_type() if part.get("content-type") else _media_for(filename)
            if media == "application/octet-stream":
                media = _media_for(filename) or media
            parts.append({"type": "file", "file": {"filename": filename,
                                                   "file_data": f"data:{media};base64,{base64.b64encode(data).decode()}"}})  # fmt: skip
            segments.append(Segment(filename, ("multipart", i, "file", "filename", EXTRACTED), "user", "attachment"))
        else:
            parts.append({"name": str(name)})
            text = data.decode("utf-8", "replace")
            if text:
                segments.append(Segment(text, ("multipart", i, "value", EXTRACTED), "user", "other"))
    return ParsedRequest(adapter, "upload", "", False, {"multipart": parts}, tuple(segments))


# Magic numbers: PDF 1.7 §7.5.2, ZIP APPNOTE 4.3.7, PNG 5.2, JPEG SOI, GIF89a, RIFF/WEBP, TIFF 6.0 §2, BMP.
_MAGIC = ((b"%PDF-", PDF), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
          (b"GIF87a", "image/gif"), (b"GIF89a", "image/gif"), (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"),
          (b"BM", "image/bmp"))  # fmt: skip
NOT_RAW = ("multipart/", "application/x-www-form-urlencoded")  # read elsewhere, or blocked as not JSON


def sniff(data: bytes) -> str:
    """The media type of a file from its first bytes; '' when it is none guard reads."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, media in _MAGIC:
        if data.startswith(magic):
            return media
    if data.startswith(b"PK\x03\x04"):  # an OOXML package is a zip: tell Word from Excel by their main part
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            return ""
        return DOCX if "word/document.xml" in names else XLSX if "xl/workbook.xml" in names else ""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ""
    return "text/plain" if "\x00" not in text else ""


def parse_raw(adapter: str, headers: dict[str, str], body: bytes, max_bytes: int) -> ParsedRequest | None:
    """A body that is a file itself (a raw PUT / POST upload) as a ParsedRequest, or None if it is JSON or empty.

    The document type comes from Content-Type when it names one guard reads, else from the body's
    magic bytes; `expand` reads it like any attachment. Its text is segment `body.#extracted`: a clean
    upload is forwarded byte for byte, one with findings is blocked, one guard cannot read follows
    `on_unreadable`.
    """
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    mt = ctype.split(";")[0].strip().lower()
    if mt.startswith(NOT_RAW) or mt.endswith(("/json", "+json")):
        return None
    raw = decode_body(headers, body, max_bytes)
    if not raw.strip():
        return None
    if raw.lstrip()[:1] in (b"{", b"["):  # JSON goes to the adapters, whatever its Content-Type says
        try:
            parse_json(raw)
            return None
        except RequestError:
            pass  # not JSON after all: read as a document
    known = mt.startswith(TEXT_TYPES) or mt in (PDF, DOCX, XLSX) or mt in IMAGE_TYPES
    media = mt if known else sniff(raw) or mt or "application/octet-stream"
    node = {"type": "raw", "media_type": media, "data": raw}
    return ParsedRequest(adapter, "upload", "", False, {"body": node}, ())


def parse_upload(adapter: str, headers: dict[str, str], body: bytes, max_bytes: int) -> ParsedRequest | None:
    """A file upload (multipart/form-data or a raw file body) as a ParsedRequest; None for JSON or empty bodies."""
    return parse_multipart(adapter, headers, body, max_bytes) or parse_raw(adapter, headers, body, max_bytes)
