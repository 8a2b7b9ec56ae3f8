"""Build real attachment files in memory (PDF, encrypted PDF, DOCX, XLSX) for the attachment tests."""

from __future__ import annotations

import io


def pdf(text: str) -> bytes:
    """A one-page PDF whose content stream draws `text` (Helvetica), with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (i, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return out.getvalue()


def encrypted_pdf(text: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf(text))))
    writer.encrypt("secret-password")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx(*paragraphs: str) -> bytes:
    import docx as _docx

    doc = _docx.Document()
    for p in paragraphs:
        doc.add_paragraph(p)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def image(*lines: str, fmt: str = "PNG") -> bytes:
    """An image (Pillow) with each line drawn in large black type on white, as a screenshot would show it."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=40)
    img = Image.new("L", (1400, 80 + 70 * len(lines)), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((30, 40 + 70 * i), line, fill=0, font=font)
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def cjk_image(*lines: str) -> bytes:
    """A PNG with each line drawn in a CJK font (Debian's fonts-wqy-microhei), as a screenshot would show it."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 40)
    img = Image.new("L", (1400, 80 + 70 * len(lines)), 255)
    draw = ImageDraw.Draw(img)
    for i, line in enumerate(lines):
        draw.text((30, 40 + 70 * i), line, fill=0, font=font)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def large_image(text: str, side: int = 7100, fmt: str = "PNG") -> bytes:
    """A square 1-bit image of side x side pixels (7100: just over OCR's 50-megapixel limit) showing `text`."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("1", (side, side), 1)
    ImageDraw.Draw(img).text((30, 40), text, fill=0, font=ImageFont.load_default(size=40))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()
