"""Documents sent inside requests: extract their text so it is scanned like the prompt.

Anthropic `document` blocks with a base64 source and OpenAI `file` / `input_file` parts with
`file_data` (a data: URL or bare base64) are decoded and read: plain text, CSV, JSON and Markdown
as UTF-8, PDF with pypdf, DOCX with python-docx, XLSX with openpyxl. The text of each becomes a
segment whose path ends in EXTRACTED: it is scanned and decided like any other text, but guard
cannot write placeholders back into a file, so a finding that would be redacted there blocks the
request instead. What cannot be read (an encrypted PDF, an unknown binary, an image: no OCR here,
a file referenced by id or URL) follows `on_unreadable`: `block` (the default) or `skip` (forwarded,
and the audit event's `skipped` says which part and why).
"""

from __future__ import annotations

import base64
import binascii
import io
from dataclasses import replace
from typing import Any

from guard.core import Segment
from guard.providers import ParsedRequest
from guard.providers._wire import RequestError, decode_body, path_str

EXTRACTED = "#extracted"  # last path element of a segment read from an attachment (not a JSON key)
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024
MAX_ATTACHMENTS = 20
MAX_TEXT_CHARS = 2 * 1024 * 1024  # extracted text scanned per attachment; more blocks as unreadable
TEXT_TYPES = ("text/", "application/json", "application/csv", "application/xml")
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BY_EXTENSION = {".pdf": PDF, ".docx": DOCX, ".xlsx": XLSX, ".csv": "text/csv", ".txt": "text/plain",
                ".md": "text/markdown", ".json": "application/json"}  # fmt: skip


class Unreadable(ValueError):
    """An attachment whose text cannot be extracted; the message is a fixed phrase (safe to audit)."""


def extract_text(data: bytes, media_type: str) -> str:
    """Return the text of a document; raise Unreadable with a short reason."""
    mt = media_type.split(";")[0].strip().lower()
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise Unreadable(f"larger than {MAX_ATTACHMENT_BYTES} bytes")
    try:
        if mt.startswith(TEXT_TYPES):
            text = data.decode("utf-8-sig")
        elif mt == PDF:
            text = _pdf(data)
        elif mt == DOCX:
            text = _docx(data)
        elif mt == XLSX:
            text = _xlsx(data)
        elif mt.startswith("image/"):
            raise Unreadable("image (no OCR configured)")
        else:
            raise Unreadable(f"unsupported type {mt or 'unknown'}")
    except Unreadable:
        raise
    except UnicodeDecodeError:
        raise Unreadable("text that is not UTF-8") from None
    except Exception as exc:  # a broken or hostile file: the class name only
        raise Unreadable(f"could not be read ({type(exc).__name__})") from None
    if len(text) > MAX_TEXT_CHARS:
        raise Unreadable(f"more than {MAX_TEXT_CHARS} characters of text")
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


def _attachments(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[tuple[str | int, ...], str, Any]]:
    """(path, media type, base64 data or None) of every document block / file part in the body."""
    out = []
    stack = [(path, node)]
    while stack:
        p, n = stack.pop()
        if isinstance(n, dict):
            src = n.get("source")
            if n.get("type") == "document" and isinstance(src, dict) and src.get("type") in ("base64", "url", "file"):
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


def expand(parsed: ParsedRequest, on_unreadable: str = "block") -> tuple[ParsedRequest, list[str], list[str]]:
    """Add the text of every attachment as segments; return (parsed, read notes, unreadable notes).

    Unreadable notes are "path: reason"; with on_unreadable == 'block' the caller blocks on any.
    """
    found = _attachments(parsed.body) if isinstance(parsed.body, dict | list) else []
    if not found:
        return parsed, [], []
    if len(found) > MAX_ATTACHMENTS:  # a limit, not a reading problem: blocks whatever on_unreadable says
        raise RequestError(f"request has {len(found)} attachments, over the {MAX_ATTACHMENTS} limit")
    segments, read, unreadable = list(parsed.segments), [], []
    for path, media, data in found:
        where = path_str(path)
        try:
            if not isinstance(data, str) or not data:
                raise Unreadable("referenced by id or URL, content not in the request")
            raw, url_media = _decode(data)
            text = extract_text(raw, media or url_media or "application/octet-stream")
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
    parts: list[Any] = []
    segments: list[Segment] = []
    for i, part in enumerate(msg.iter_parts()):
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
