"""OCR on this machine: pages per second, and how many words it reads right.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ocr.py [--pages 4] [--dpi 300] [--bindings]

Pages of seeds/ prose are rendered with Pillow (A4, 2.5 cm margins, each font below at the size
given, black on white: a clean scan) and saved as an image-only PDF, which qa reads as a build
does (pdfium renders each page, Tesseract reads it, the PDF layout joins its lines; no cache).
Printed per font: pages/s, and word accuracy = 1 - (word-level edit distance between the text
read and the text rendered) / (words rendered), over all pages; then the same PDF read again
from the OCR cache. The target (issue 20) is an accuracy of at least 0.98 at 300 dpi.

--bindings also reads the rendered pages (of the first font) with the ways of running Tesseract
that were measured before choosing (docs/ocr.md), one thread each unless said: the tesseract
program as qa runs it, the same with OpenMP's threads left on (Debian's build uses every core),
pytesseract and ocrmypdf (each only when installed; ocrmypdf writes a PDF too).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from common import ROOT, machine
from PIL import Image, ImageDraw, ImageFont

from qa.ingest.documents import read_document
from qa.ingest.limits import Limits, Ocr

FONTS = Path("/usr/share/fonts/truetype")
CASES = (  # (label, font file under FONTS, size in points)
    ("DejaVu Serif 11 pt", "dejavu/DejaVuSerif.ttf", 11),
    ("DejaVu Sans 10 pt", "dejavu/DejaVuSans.ttf", 10),
    ("Liberation Serif 12 pt", "liberation/LiberationSerif-Regular.ttf", 12),
    ("Liberation Sans 9 pt", "liberation/LiberationSans-Regular.ttf", 9),
)
A4 = (8.27, 11.69)  # inches
MARGIN = 1.0  # inch


def prose() -> list[str]:
    """Paragraphs of the seeds, in file order."""
    out = []
    for path in sorted((ROOT / "seeds").iterdir()):
        text = path.read_text(encoding="utf-8")
        out += [" ".join(p.split()) for p in text.split("\n\n") if len(p.split()) > 3]
    return out


def render(
    font: ImageFont.FreeTypeFont, points: int, dpi: int, pages: int
) -> list[tuple[Image.Image, str]]:
    """`pages` pages of prose and the words printed on each."""
    width, height = int(A4[0] * dpi), int(A4[1] * dpi)
    margin, step = int(MARGIN * dpi), int(points * dpi / 72 * 1.35)
    out: list[tuple[Image.Image, str]] = []
    paragraphs = iter(prose())
    while len(out) < pages:
        image = Image.new("L", (width, height), 255)
        draw, y, printed = ImageDraw.Draw(image), margin, []
        while y + step < height - margin:
            for line in wrap(next(paragraphs), font, width - 2 * margin):
                if y + step >= height - margin:
                    break
                draw.text((margin, y), line, font=font, fill=0)
                printed.append(line)
                y += step
            y += step // 2
        out.append((image, " ".join(printed)))
    return out


def wrap(paragraph: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines, line = [], ""
    for word in paragraph.split():
        longer = f"{line} {word}".strip()
        if line and font.getlength(longer) > width:
            lines.append(line)
            line = word
        else:
            line = longer
    return [*lines, line] if line else lines


def accuracy(truth: str, read: str) -> float:
    """1 - word error rate of `read` against `truth` (Levenshtein over words)."""
    a, b = truth.split(), read.split()
    previous = list(range(len(b) + 1))
    for i, word in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, other in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other))
        previous = current
    return 1 - previous[-1] / len(a)


def pdf_of(images: list[Image.Image], dpi: int) -> bytes:
    out = io.BytesIO()
    first, *rest = (image.copy() for image in images)
    first.save(out, format="PDF", save_all=True, append_images=rest, resolution=dpi)
    return out.getvalue()


def read_pdf(folder: Path, data: bytes, cache: str) -> tuple[str, float]:
    path = folder / "scan.pdf"
    path.write_bytes(data)
    started = time.perf_counter()
    document = read_document(path, root=folder, limits=Limits(ocr=Ocr(cache=cache)))
    return document.text, time.perf_counter() - started


def measure(label: str, font_file: Path, points: int, dpi: int, pages: int) -> None:
    font = ImageFont.truetype(str(font_file), round(points * dpi / 72))
    rendered = render(font, points, dpi, pages)
    truth = " ".join(words for _, words in rendered)
    with tempfile.TemporaryDirectory() as folder:
        data = pdf_of([image for image, _ in rendered], dpi)
        text, seconds = read_pdf(Path(folder), data, "")
        cache = str(Path(folder) / "cache")
        read_pdf(Path(folder), data, cache)
        _, cached = read_pdf(Path(folder), data, cache)
    print(
        f"{label:24} {pages / seconds:6.3f} pages/s  accuracy {accuracy(truth, text):.4f}  "
        f"({len(truth.split())} words; from the cache {pages / cached:,.0f} pages/s)"
    )


def bindings(rendered: list[tuple[Image.Image, str]], dpi: int) -> None:
    """The pages read by the other ways of running Tesseract."""
    truth = " ".join(words for _, words in rendered)
    ways = {
        "tesseract program (qa's way)": lambda image: _cli(image, dpi, threads=False),
        "tesseract, OpenMP threads on": lambda image: _cli(image, dpi, threads=True),
    }
    try:
        import pytesseract

        ways["pytesseract"] = lambda image: pytesseract.image_to_string(image, lang="eng")
    except ImportError:
        print("pytesseract: not importable, skipped")
    for name, read in ways.items():
        threads = os.environ.pop("OMP_THREAD_LIMIT", None)
        if "OpenMP" not in name:
            os.environ["OMP_THREAD_LIMIT"] = "1"  # pytesseract's tesseract inherits it
        started = time.perf_counter()
        text = " ".join(read(image) for image, _ in rendered)
        seconds = time.perf_counter() - started
        os.environ.pop("OMP_THREAD_LIMIT", None)
        if threads is not None:
            os.environ["OMP_THREAD_LIMIT"] = threads
        print(f"{name:30} {len(rendered) / seconds:6.3f} pages/s  accuracy "
              f"{accuracy(truth, text):.4f}")  # fmt: skip
    if shutil.which("ocrmypdf") is None:
        print("ocrmypdf: not installed, skipped")
        return
    with tempfile.TemporaryDirectory() as folder:
        source, sidecar = Path(folder) / "in.pdf", Path(folder) / "out.txt"
        source.write_bytes(pdf_of([image for image, _ in rendered], dpi))
        started = time.perf_counter()
        subprocess.run(
            ["ocrmypdf", "-q", "-j", "1", "-l", "eng", "--output-type", "pdf", "--sidecar",
             str(sidecar), str(source), str(Path(folder) / "out.pdf")],
            check=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        )  # fmt: skip
        seconds = time.perf_counter() - started
        text = re.sub(r"\f", " ", sidecar.read_text())
    print(f"{'ocrmypdf':30} {len(rendered) / seconds:6.3f} pages/s  accuracy "
          f"{accuracy(truth, text):.4f}")  # fmt: skip


def _cli(image: Image.Image, dpi: int, *, threads: bool) -> str:
    pixels = io.BytesIO()
    image.save(pixels, format="PPM")
    env = dict(os.environ)
    if not threads:
        env["OMP_THREAD_LIMIT"] = "1"
    args = ["tesseract", "-", "-", "--dpi", str(dpi), "-l", "eng"]
    return subprocess.run(
        args, input=pixels.getvalue(), capture_output=True, env=env
    ).stdout.decode()


def cpu() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "CPU unknown"
    found = re.search(r"^model name\s*:\s*(.+)$", info, re.MULTILINE)
    return found.group(1).strip() if found else "CPU unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=4, help="pages per font (default 4)")
    parser.add_argument("--dpi", type=int, default=300)
    parser.add_argument("--bindings", action="store_true", help="also the other ways (above)")
    args = parser.parse_args()
    if shutil.which("tesseract") is None:  # `make bench` goes on to the next script
        print(
            "skipped: Tesseract is not installed (apt-get install tesseract-ocr tesseract-ocr-eng)"
        )
        return
    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
    print(f"{cpu()}, {machine()}; {version.stdout.splitlines()[0]}")
    print(f"{args.dpi} dpi, {args.pages} pages per font; load average {os.getloadavg()[0]:.1f}")
    found = [(label, FONTS / name, size) for label, name, size in CASES if (FONTS / name).exists()]
    if not found:
        raise SystemExit(f"No font of {', '.join(c[1] for c in CASES)} under {FONTS}")
    for label, path, size in found:
        measure(label, path, size, args.dpi, args.pages)
    if args.bindings:
        label, path, size = found[0]
        font = ImageFont.truetype(str(path), round(size * args.dpi / 72))
        print(f"Other ways, {label}:")
        bindings(render(font, size, args.dpi, args.pages), args.dpi)


if __name__ == "__main__":
    main()
