"""Scans made for the tests: known text rendered to images with Pillow's own font (no system font
needed), saved as PNG, TIFF or an image-only PDF; a stand-in tesseract program; a PNG that
claims to be enormous."""

from __future__ import annotations

import io
import shutil
import struct
import zlib
from pathlib import Path

import pytest
from fakes import pdf_file
from PIL import Image, ImageDraw, ImageFont
from pypdf import PdfReader, PdfWriter

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="Tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng; "
    "CI installs it)",
)

DPI = 300
_SIZE = 42  # pixels: about 10 pt type at 300 dpi
_WIDTH = 1800


def page(lines: list[str], *, height: int = 0) -> Image.Image:
    """A white 8-bit page with `lines` printed on it, a blank line where a line is ""."""
    font = ImageFont.load_default(size=_SIZE)
    step = int(_SIZE * 1.5)
    image = Image.new("L", (_WIDTH, height or 240 + step * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((120, 120 + number * step), line, font=font, fill=0)
    return image


# Each save is of copies: Pillow keeps a save's options on the image objects it saved, and a
# later save of the same objects in another format chokes on them.


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.copy().save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()


def tiff(images: list[Image.Image]) -> bytes:
    first, *rest = (image.copy() for image in images)
    out = io.BytesIO()
    first.save(out, format="TIFF", save_all=True, append_images=rest, dpi=(DPI, DPI))
    return out.getvalue()


def scan_pdf(images: list[Image.Image]) -> bytes:
    """A PDF of the images, a page each, with no text layer (what a scanner writes)."""
    first, *rest = (image.copy() for image in images)
    out = io.BytesIO()
    first.save(out, format="PDF", save_all=True, append_images=rest, resolution=DPI)
    return out.getvalue()


def text_pdf(line: str) -> bytes:
    """A one-page PDF with `line` in its text layer (Helvetica)."""
    body = f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(body)} >>\nstream\n{body}\nendstream",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 3 0 R >> >> >>",
    ]
    return pdf_file([obj.encode() for obj in objects])


def joined(*pdfs: bytes) -> bytes:
    """The pages of the PDFs, in order, as one PDF."""
    writer = PdfWriter()
    for pdf in pdfs:
        writer.append(PdfReader(io.BytesIO(pdf)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def fake_tesseract(folder: Path, *, then: str) -> Path:
    """A program answering as tesseract does to --version and --list-langs (English only), and
    doing `then` (shell) when asked to read a page."""
    program = folder / "tesseract"
    program.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        "  --version) echo 'tesseract 5.3.0' ;;\n"
        "  --list-langs) printf 'List of available languages in \"/x/\" (2):\\neng\\nosd\\n' ;;\n"
        f"  *) {then} ;;\n"
        "esac\n"
    )
    program.chmod(0o755)
    return program


def huge_png(width: int, height: int) -> bytes:
    """A PNG whose header says width x height (8-bit grey) and whose data is a few bytes: it
    decodes to gigabytes, or fails, but only once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
