"""Page images for the browser, taken from the document's PDF/A and kept in ARCHIVE/cache/.

The PDF/A holds each page as one image (JPEG for grey and colour, CCITT G4 or Flate for
bitonal pages: `digitize.pageimage`). A JPEG page is decoded at a reduced scale (libjpeg's
DCT scaling through Pillow's ``draft``), other pages through pikepdf; the result is scaled to
the requested width and saved as JPEG under a name made of the document's id, its index
fingerprint, the page and the width, so a reindexed document never shows an old image.
The cache holds only files this module names; no part of a URL becomes a path.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pikepdf
from PIL import Image

from digitize.errors import DigitizeError
from digitize.fsutil import atomic_write_bytes

CACHE_DIR = "cache"
WIDTHS = {"view": 1200, "thumb": 240}
JPEG_QUALITY = 75


class PageImageError(DigitizeError):
    """The page has no image that can be shown (missing PDF, page out of range, odd stream)."""


def cached_page_image(cache: Path, document_key: str, pdf: Path, page_no: int, size: str) -> Path:
    """Path of the JPEG of one page at one of the `WIDTHS` (rendered on first use)."""
    width = WIDTHS[size]
    name = hashlib.sha256(document_key.encode("utf-8")).hexdigest()[:32]
    path = cache / name[:2] / f"{name}-{page_no:05d}-{width}.jpg"
    if not path.is_file():
        atomic_write_bytes(path, render_page(pdf, page_no, width))
    return path


def render_page(pdf: Path, page_no: int, width: int) -> bytes:
    """A JPEG of page `page_no` (1-based) of `pdf`, `width` pixels wide at most."""
    try:
        with pikepdf.open(pdf) as document:
            if not 1 <= page_no <= len(document.pages):
                raise PageImageError(f"{pdf.name} has no page {page_no}")
            image = _page_image(document.pages[page_no - 1], width)
    except pikepdf.PdfError as exc:
        raise PageImageError(f"{pdf.name}: {exc}") from None
    if image.width > width:
        image = image.resize((width, max(1, round(image.height * width / image.width))), Image.Resampling.LANCZOS)
    if image.mode not in ("L", "RGB"):
        image = image.convert("L" if image.mode in ("1", "LA", "I", "I;16") else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


def _page_image(page: pikepdf.Page, width: int) -> Image.Image:
    getter = getattr(page, "get_images", None)
    images = list((getter() if getter else page.images).values())
    if not images:
        raise PageImageError("the page has no image")
    stream = max(images, key=lambda im: int(im.get("/Width", 0)) * int(im.get("/Height", 0)))
    picture = pikepdf.PdfImage(stream)
    if [str(f) for f in picture.filters] == ["/DCTDecode"]:
        jpeg = Image.open(io.BytesIO(stream.read_raw_bytes()))
        jpeg.draft(jpeg.mode, (width, round(jpeg.height * width / jpeg.width)))
        return jpeg
    return picture.as_pil_image()
