"""Read the text of an image with Debian's `tesseract` binary (off unless `--ocr` / GUARD_OCR is set).

One subprocess per image: the bytes go to its stdin, the text comes back on stdout; no shell, no
network, a timeout, a memory limit, a pixel limit and at most `MAX_CONCURRENT` at once (the box is
small and the detection workers need the cores). Every failure is an `OcrFailed` whose message is a
fixed phrase (safe to audit and show): tesseract's own stderr is never read into a message or log.
An image over a limit raises `OcrLimit` instead: it is not unreadable, it is too large, and the caller
must block it whatever its policy for unreadable files (else padding an image would carry it out).
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import struct
import subprocess
import threading
from dataclasses import dataclass
from functools import lru_cache

IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg", "image/gif", "image/webp", "image/tiff", "image/bmp")
MAX_IMAGE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 50_000_000  # ~ a 8660 x 5770 photo; a decompression bomb is refused before tesseract sees it
MAX_TEXT_BYTES = 2 * 1024 * 1024
MEMORY_LIMIT = 2 * 1024**3  # address space of one tesseract process
MAX_CONCURRENT = 2
_slots = threading.BoundedSemaphore(MAX_CONCURRENT)


class OcrFailed(ValueError):
    """An image whose text could not be read; the message is a fixed phrase."""


class OcrLimit(ValueError):
    """An image over one of OCR's limits; `limit` names it ("image pixels"), the message says by what."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message)
        self.limit = limit


# Languages read when installed, in this order (English first: most prompts are English). Debian
# packages: tesseract-ocr-eng (with tesseract-ocr), tesseract-ocr-chi-sim, tesseract-ocr-chi-tra.
LANGS = ("eng", "chi_sim", "chi_tra")
# Characters of CJK text and its punctuation: tesseract sets a space between two of them, which splits
# names and terms (张 伟, 机 密) that the detectors look for whole.
_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_GAP = re.compile(f"(?<=[{_CJK}])[ ]+(?=[{_CJK}])")


@dataclass(frozen=True)
class Ocr:
    """How to run tesseract: the binary (found on PATH when empty), languages and time limit per image.

    `lang` empty: every language of LANGS that tesseract has data for (English, and Chinese when
    tesseract-ocr-chi-sim / -chi-tra are installed).
    """

    binary: str = ""
    lang: str = ""
    timeout_s: float = 20.0

    def languages(self) -> str:
        """The `-l` argument: `lang`, else the installed languages of LANGS ("eng" when none is listed)."""
        if self.lang:
            return self.lang
        exe = self.path()
        return installed_langs(exe) if exe else "eng"

    def path(self) -> str | None:
        """The tesseract executable, or None when it is not installed."""
        return shutil.which(self.binary or "tesseract")

    def read(self, data: bytes) -> str:
        """Return the text tesseract reads in an image; raise OcrFailed with a fixed reason, OcrLimit over a limit."""
        if len(data) > MAX_IMAGE_BYTES:
            raise OcrLimit("attachment size", f"an image is larger than {MAX_IMAGE_BYTES} bytes")
        pixels = image_pixels(data)
        if pixels is not None and pixels > MAX_PIXELS:
            raise OcrLimit("image pixels", f"an image has {pixels} pixels, more than {MAX_PIXELS}")
        exe = self.path()
        if exe is None:
            raise OcrFailed("OCR is on but tesseract is not installed")
        # OMP_THREAD_LIMIT=1: one core per image. A minimal environment: the proxy's own variables
        # (database URL, keys) are not handed to a parser of untrusted images.
        env = {"OMP_THREAD_LIMIT": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        if os.environ.get("TESSDATA_PREFIX"):
            env["TESSDATA_PREFIX"] = os.environ["TESSDATA_PREFIX"]
        with _slots:
            try:
                proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                    [exe, "stdin", "stdout", "-l", self.languages(), "--psm", "3"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                )  # fmt: skip
            except OSError:
                raise OcrFailed("tesseract could not be started") from None
            try:
                resource.prlimit(proc.pid, resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
            except (OSError, ValueError):
                pass  # the process may already have exited; the timeout still bounds it
            try:
                out, _ = proc.communicate(data, timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise OcrFailed(f"OCR took longer than {self.timeout_s:g} s") from None
        if proc.returncode != 0:
            raise OcrFailed(f"tesseract failed (exit status {proc.returncode})")
        if len(out) > MAX_TEXT_BYTES:
            raise OcrLimit("image text", f"an image holds more than {MAX_TEXT_BYTES} bytes of text")
        return _CJK_GAP.sub("", out.decode("utf-8", "replace"))


@lru_cache(maxsize=8)
def installed_langs(exe: str) -> str:
    """The languages of LANGS that `exe --list-langs` names, joined for `-l` ("eng" if it cannot tell)."""
    try:
        out = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [exe, "--list-langs"], capture_output=True, timeout=10, check=False,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            | ({"TESSDATA_PREFIX": os.environ["TESSDATA_PREFIX"]} if os.environ.get("TESSDATA_PREFIX") else {}),
        ).stdout.decode("utf-8", "replace")  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return "eng"
    have = set(out.split())
    return "+".join(lang for lang in LANGS if lang in have) or "eng"


def image_pixels(data: bytes) -> int | None:
    """Pixels tesseract would decode (every page of a TIFF); None when the header is not understood."""
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return _tiff_pixels(data)
    size = image_size(data)
    return None if size is None else size[0] * size[1]


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG, GIF, BMP, JPEG, WebP or TIFF (first page) header; None if not understood."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:  # IHDR is the first chunk (PNG spec 11.2.2)
        return struct.unpack(">II", data[16:24])
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:  # logical screen size, little endian
        return struct.unpack("<HH", data[6:10])
    if data.startswith(b"BM") and len(data) >= 26:  # BITMAPINFOHEADER width, height (height < 0: top-down)
        w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data.startswith((b"II*\x00", b"MM\x00*")):
        pages = _tiff_pages(data)
        return pages[0] if pages else None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    """The canvas size from the first chunk of a WebP file (RFC 9649 sections 2.5-2.7)."""
    chunk = data[12:16]
    if len(data) < 30 and not (chunk == b"VP8L" and len(data) >= 25):
        return None
    if chunk == b"VP8X":  # extended: 24-bit canvas width - 1 and height - 1
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L" and data[20] == 0x2F:  # lossless: 14-bit width - 1 and height - 1 after the signature
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":  # lossy: key frame start code, then 14-bit sizes
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    return None


def _tiff_pixels(data: bytes) -> int | None:
    pages = _tiff_pages(data)
    return sum(w * h for w, h in pages) if pages else None


def _tiff_pages(data: bytes, max_pages: int = 10_000) -> list[tuple[int, int]] | None:
    """(ImageWidth, ImageLength) of every page: the chain of IFDs (TIFF 6.0 section 2); None if malformed."""
    order = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        return None
    (offset,) = struct.unpack(order + "I", data[4:8])
    pages: list[tuple[int, int]] = []
    seen: set[int] = set()
    while offset:
        if offset in seen or len(pages) >= max_pages or offset + 2 > len(data):
            return None  # a loop, a bomb of pages, or a truncated file: not understood
        seen.add(offset)
        (count,) = struct.unpack(order + "H", data[offset : offset + 2])
        end = offset + 2 + 12 * count
        if end + 4 > len(data):
            return None
        dims: dict[int, int] = {}
        for e in range(offset + 2, end, 12):
            tag, kind = struct.unpack(order + "HH", data[e : e + 4])
            if tag in (256, 257) and kind in (3, 4):  # ImageWidth, ImageLength as SHORT or LONG
                dims[tag] = struct.unpack_from(order + ("H" if kind == 3 else "I"), data, e + 8)[0]
        if len(dims) != 2:
            return None
        pages.append((dims[256], dims[257]))
        (offset,) = struct.unpack(order + "I", data[end : end + 4])
    return pages or None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk JPEG markers to the first SOFn frame header (ITU T.81 B.2.2)."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return w, h
        i += 2 + length
    return None
