"""Image files read by OCR: a PNG, JPEG or TIFF image is a document of one page (a TIFF of a
page per frame), decoded by Pillow within bounds checked before anything is decoded, made grey,
and read like a scanned PDF page (qa.ingest.scans)."""

from __future__ import annotations

import hashlib
import io
import math
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from qa.errors import DocumentError, SetupError
from qa.ingest.limits import Limits, Ocr
from qa.ingest.pdf_layout import lay_out
from qa.ingest.scans import DPI, OCR_PIXELS, read_pages
from qa.ingest.text import Extracted, OnPage

__all__ = ["image_text"]

# Pixels of an image decoded, at most: Pillow's own bound on what may be a decompression bomb
# (a 600-dpi A3 scan is 70 million).
_MAX_PIXELS = 89_478_485
_FORMATS = ("PNG", "JPEG", "TIFF")  # the decoders Pillow may use, whatever the file's suffix
# Per pixel while an image is decoded and made grey: the decoded copy (up to 4 bands) and the grey.
_BYTES_PER_PIXEL = 5


def image_text(data: bytes, limits: Limits, on_page: OnPage | None = None) -> Extracted:
    """A PNG, JPEG or TIFF image read by OCR; each frame of a TIFF is a page."""
    image = _open_image(data, limits)
    frames = _frames(image, limits.ocr)

    def render(index: int) -> tuple[Image.Image, float]:
        image.seek(index)
        _check_pixels(image, limits)
        try:
            return _grey(image)
        except (OSError, ValueError, SyntaxError) as exc:  # truncated or damaged image data
            raise DocumentError(f"not a readable image ({exc})") from None

    sha256 = hashlib.sha256(data).hexdigest()
    scanned = read_pages(
        list(range(frames)), render, sha256=sha256, ocr=limits.ocr, on_page=on_page
    )
    text, starts, blocks = lay_out([scanned.lines.get(i, []) for i in range(frames)], [])
    notes = "; ".join(scanned.notes)
    if not text or text.isspace():
        raise DocumentError("OCR found no text in the image" + (f" ({notes})" if notes else ""))
    return Extracted(text, starts, notes or None, blocks, ocr_pages=scanned.read)


def _open_image(data: bytes, limits: Limits) -> Image.Image:
    """The image, its header read and nothing decoded yet; DocumentError when it is not a PNG,
    JPEG or TIFF, has more than _MAX_PIXELS or would need more memory than the limit."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # checked below
            image = Image.open(io.BytesIO(data), formats=_FORMATS)
    except Image.DecompressionBombError:  # Pillow's own refusal, at twice _MAX_PIXELS
        raise DocumentError(_too_large(f"more than {2 * _MAX_PIXELS:,} pixels")) from None
    except UnidentifiedImageError:
        raise DocumentError("not a PNG, JPEG or TIFF image") from None
    except (OSError, ValueError, SyntaxError) as exc:  # a damaged header
        raise DocumentError(f"not a readable image ({exc})") from None
    _check_pixels(image, limits)
    return image


def _check_pixels(image: Image.Image, limits: Limits) -> None:
    width, height = image.size
    if width * height > _MAX_PIXELS:
        raise DocumentError(_too_large(f"{width} × {height} pixels"))
    limits.check_memory_estimate(width * height * _BYTES_PER_PIXEL, f"a {width} × {height} image")


def _too_large(size: str) -> str:
    return f"image is {size}; at most {_MAX_PIXELS:,} are read (scale it down to read it)"


def _frames(image: Image.Image, ocr: Ocr) -> int:
    """How many pages (frames) the image has; SetupError past ocr.pages. Counted by seeking, at
    most one past the limit: a TIFF can chain millions of tiny frames."""
    count = 1
    while count <= ocr.pages and image.format == "TIFF" and _has_frame(image, count):
        count += 1
    if count > ocr.pages:
        more = image.format == "TIFF" and _has_frame(image, count)
        raise SetupError(ocr.too_many(f"more than {count}" if more else str(count)))
    image.seek(0)
    return count


def _has_frame(image: Image.Image, index: int) -> bool:
    """Whether the image has a frame `index` (0-based); DocumentError when its frames are
    damaged."""
    try:
        image.seek(index)
    except EOFError:
        return False
    except (OSError, ValueError, SyntaxError) as exc:
        raise DocumentError(f"not a readable image ({exc})") from None
    return True


def _grey(image: Image.Image) -> tuple[Image.Image, float]:
    """The image as Tesseract should read it: upright as the camera meant (EXIF orientation),
    transparency on white, 8-bit grey, at most OCR_PIXELS; and its resolution in dpi."""
    dpi = _dpi(image)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        upright = ImageOps.exif_transpose(image)
    if upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info:
        rgba = upright.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        upright = Image.alpha_composite(white, rgba)
    grey = upright.convert("L")
    factor = math.ceil(math.sqrt(grey.width * grey.height / OCR_PIXELS))
    if factor > 1:
        grey, dpi = grey.reduce(factor), dpi / factor
    return grey, dpi


def _dpi(image: Image.Image) -> float:
    """The resolution the image says it has; DPI when it says none or nothing plausible."""
    said = image.info.get("dpi")
    try:
        value = float(said[0]) if said else 0.0
    except (TypeError, ValueError, IndexError):
        value = 0.0
    return value if 70 <= value <= 2400 else float(DPI)
