"""Decode one page of a master file into pixels, with its resolution and technical facts.

Masters are only ever opened for reading. Decoding is guarded against decompression bombs
by checking the header's pixel count before any pixel is decoded.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import cv2
import numpy as np
import pikepdf
from pikepdf import PdfImage
from PIL import Image, ImageOps

from digitize.batch import InputError, PageRef
from digitize.settings import InputSettings

# We apply our own limit (InputSettings.max_image_pixels) before decoding.
Image.MAX_IMAGE_PIXELS = None

_TIFF_COMPRESSION = {
    "group4": "CCITT Group 4",
    "group3": "CCITT Group 3",
    "tiff_ccitt": "CCITT RLE",
    "tiff_jpeg": "JPEG",
    "jpeg": "JPEG",
    "tiff_lzw": "LZW",
    "tiff_adobe_deflate": "Deflate",
    "tiff_deflate": "Deflate",
    "packbits": "PackBits",
    "raw": "none",
}
_PDF_FILTERS = {
    "/DCTDecode": "JPEG",
    "/CCITTFaxDecode": "CCITT Group 4",
    "/FlateDecode": "Deflate",
    "/JPXDecode": "JPEG 2000",
    "/JBIG2Decode": "JBIG2",
    "/LZWDecode": "LZW",
    "/RunLengthDecode": "PackBits",
}
MIN_CREDIBLE_DPI = 50
_CAMERA_EXIF_TAGS = (0x829A, 0x829D, 0x920A)  # ExposureTime, FNumber, FocalLength: written by cameras only


@dataclass
class LoadedPage:
    image: np.ndarray  # (H,W) uint8 grey or bitonal (0/255), or (H,W,3) uint8 BGR
    mode: str  # bitonal | grey | colour
    dpi: float | None  # what the file says (its tag, or a PDF page's size), or the profile's; None: nothing
    dpi_source: str  # tag | profile | none (imaging checks a tag against the page: digitize.imaging.resolution)
    compression: str  # how the master stores the pixels (DA/T 46 M56)
    file_format: str  # TIFF, JPEG, PNG, JPEG 2000, PDF
    warnings: list[str]
    photo: bool = False  # the file was written by a camera (its resolution tag means nothing)


def load_page(ref: PageRef, settings: InputSettings) -> LoadedPage:
    path = Path(ref.path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(path, f"cannot read the file ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(path, "the file is empty (0 bytes)")
    if ref.container == "pdf":
        return _load_pdf_page(path, ref.frame, settings)
    return _load_image(path, ref.frame, settings, ref.container == "tiff")


def _check_pixels(path: Path, width: int, height: int, settings: InputSettings) -> None:
    if width * height > settings.max_image_pixels:
        raise InputError(
            path,
            f"image is {width}×{height} = {width * height / 1e6:.0f} megapixels, above the limit of "
            f"{settings.max_image_pixels / 1e6:.0f} (decompression-bomb guard; raise "
            "[input] max_image_pixels in the profile if the scan is genuine)",
        )


def _resolve_dpi(found: float | None, settings: InputSettings) -> tuple[float | None, str]:
    if settings.dpi_override:
        return float(settings.dpi_override), "profile"
    if found and found >= MIN_CREDIBLE_DPI:
        nearest = round(found)
        return (float(nearest) if abs(found - nearest) < 0.05 else round(found, 2)), "tag"
    return None, "none"


def _pil_dpi(im: Image.Image) -> float | None:
    """The resolution the file states. For JPEG only a JFIF density in dots per inch or per
    centimetre, or an EXIF resolution with its unit: Pillow reports 72 dpi for a JPEG whose EXIF
    has no resolution at all, and a JFIF density without a unit is an aspect ratio."""
    if im.format in ("JPEG", "MPO"):
        unit, density = im.info.get("jfif_unit"), im.info.get("jfif_density")
        if unit in (1, 2) and density:
            return float(max(density)) * (2.54 if unit == 2 else 1.0)
        exif = im.getexif()
        unit, value = exif.get(0x0128), exif.get(0x011A)
        if unit in (2, 3) and value:
            try:
                return float(value) * (2.54 if unit == 3 else 1.0)
            except (TypeError, ValueError, ZeroDivisionError):
                return None
        return None
    dpi = im.info.get("dpi")
    if not dpi:
        return None
    try:
        values = [float(v) for v in dpi]
    except (TypeError, ValueError):
        return None
    return max(values) if values else None


def _from_camera(im: Image.Image) -> bool:
    try:
        exif = im.getexif().get_ifd(0x8769)
    except Exception:  # noqa: BLE001 - damaged EXIF says nothing about the camera
        return False
    return any(tag in exif for tag in _CAMERA_EXIF_TAGS)


def _pil_to_array(im: Image.Image) -> tuple[np.ndarray, str]:
    """Pixels of a Pillow image as grey/bitonal (H,W) or BGR (H,W,3) uint8."""
    if im.mode == "1":
        return np.asarray(im.convert("L")), "bitonal"
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im).astype(np.float32)
        top = float(arr.max()) or 1.0
        return (arr * (255.0 / top)).clip(0, 255).astype(np.uint8), "grey"
    if im.mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
    if im.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGB", im.size, "white")
        background.paste(im.convert("RGBA"), mask=im.convert("RGBA").getchannel("A"))
        im = background
    if im.mode == "CMYK":
        im = im.convert("RGB")
    if im.mode == "L":
        return np.asarray(im), "grey"
    if im.mode != "RGB":
        im = im.convert("RGB")
    pixels = np.array(im)  # one writable copy; swapped to BGR in place
    im.close()
    if _is_grey_rgb(pixels):
        return cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY), "grey"
    return cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR, dst=pixels), "colour"


def _is_grey_rgb(rgb: np.ndarray) -> bool:
    """An RGB file whose three channels are (practically) equal is a greyscale scan."""
    sample = rgb[::8, ::8].astype(np.int16)
    return (
        int(np.abs(sample[..., 0] - sample[..., 1]).max()) <= 2
        and int(np.abs(sample[..., 1] - sample[..., 2]).max()) <= 2
    )


def _load_image(path: Path, frame: int, settings: InputSettings, multipage: bool = False) -> LoadedPage:
    """One image, or one frame of a multi-page TIFF (a damaged frame is named: "frame 2: …")."""
    notes: list[str] = []
    where = f"frame {frame + 1}: " if multipage else ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad files
        raise InputError(path, f"not a readable image ({exc.__class__.__name__}: {exc})") from None
    with im:
        fmt = {"TIFF": "TIFF", "JPEG": "JPEG", "PNG": "PNG", "JPEG2000": "JPEG 2000", "MPO": "JPEG"}.get(
            im.format or "", im.format or "unknown"
        )
        try:
            if frame:
                im.seek(frame)
        except EOFError:
            raise InputError(path, f"has no frame {frame + 1}") from None
        except Exception as exc:  # noqa: BLE001
            raise InputError(path, f"{where}cannot be read ({exc.__class__.__name__}: {exc})") from None
        _check_pixels(path, im.width, im.height, settings)
        dpi, dpi_source = _resolve_dpi(_pil_dpi(im), settings)
        photo = _from_camera(im)
        compression = _compression_of(im)
        try:
            im.load()
            if fmt == "JPEG" or fmt == "TIFF":
                ImageOps.exif_transpose(im, in_place=True)
            array, mode = _pil_to_array(im)
        except Exception as exc:  # noqa: BLE001
            raise InputError(
                path, f"{where}image data is damaged or truncated ({exc.__class__.__name__}: {exc})"
            ) from None
    return LoadedPage(array, mode, dpi, dpi_source, compression, fmt, notes, photo)


def _compression_of(im: Image.Image) -> str:
    if im.format == "TIFF":
        return _TIFF_COMPRESSION.get(im.info.get("compression", "raw"), im.info.get("compression", "unknown"))
    return {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "Deflate", "JPEG2000": "JPEG 2000"}.get(im.format or "", "unknown")


def _load_pdf_page(path: Path, index: int, settings: InputSettings) -> LoadedPage:
    """An image-only PDF page: take its one image as it is stored (no re-rendering)."""
    notes: list[str] = []
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        raise InputError(path, "the PDF is encrypted") from None
    except pikepdf.PdfError as exc:
        raise InputError(path, f"not a readable PDF ({exc})") from None
    with pdf:
        page = pdf.pages[index]
        images = list(page.get_images().values())
        if len(images) != 1:
            return _render_pdf_page(path, index, page, settings, notes)
        raw = images[0]
        pdfimage = PdfImage(cast(pikepdf.Stream, raw))
        _check_pixels(path, pdfimage.width, pdfimage.height, settings)
        width_in, height_in = _page_size_inches(page)
        found = pdfimage.width / width_in if width_in else None
        dpi, dpi_source = _resolve_dpi(found, settings)
        filters = [str(f) for f in pdfimage.filters]
        compression = _PDF_FILTERS.get(filters[-1], filters[-1]) if filters else "none"
        try:
            if filters == ["/DCTDecode"]:
                data = np.frombuffer(bytes(raw.read_raw_bytes()), np.uint8)
                decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
                if decoded is None:
                    raise ValueError("JPEG data cannot be decoded")
                if decoded.ndim == 3 and pdfimage.colorspace == "/DeviceCMYK":
                    raise ValueError("CMYK JPEG")  # decoded by Pillow below
                array, mode = (decoded, "grey") if decoded.ndim == 2 else (decoded, "colour")
                if mode == "colour" and _is_grey_rgb(decoded[..., ::-1]):
                    array, mode = cv2.cvtColor(decoded, cv2.COLOR_BGR2GRAY), "grey"
            else:
                array, mode = _pil_to_array(pdfimage.as_pil_image())
        except Exception as exc:  # noqa: BLE001
            try:
                array, mode = _pil_to_array(pdfimage.as_pil_image())
            except Exception:  # noqa: BLE001
                raise InputError(path, f"page {index + 1}: image data is damaged ({exc})") from None
        rotate = int(page.obj.get("/Rotate", 0)) % 360
        if rotate:
            array = np.ascontiguousarray(np.rot90(array, k=-(rotate // 90)))
    return LoadedPage(array, mode, dpi, dpi_source, compression, "PDF", notes)


def _page_size_inches(page: pikepdf.Page) -> tuple[float, float]:
    box = [float(v) for v in page.mediabox]
    return abs(box[2] - box[0]) / 72.0, abs(box[3] - box[1]) / 72.0


def _render_pdf_page(
    path: Path, index: int, page: pikepdf.Page, settings: InputSettings, notes: list[str]
) -> LoadedPage:
    """Pages that are not one image (several images, vector art) are rendered with pdftoppm."""
    from pdf2image import convert_from_path

    dpi = float(settings.dpi_override or settings.render_dpi)
    width_in, height_in = _page_size_inches(page)
    _check_pixels(path, int(width_in * dpi), int(height_in * dpi), settings)
    notes.append(f"{path}: page {index + 1} is not a single image; rendered at {dpi:.0f} dpi")
    try:
        rendered = convert_from_path(str(path), dpi=int(dpi), first_page=index + 1, last_page=index + 1)
    except Exception as exc:  # noqa: BLE001
        raise InputError(path, f"page {index + 1} cannot be rendered ({exc})") from None
    array, mode = _pil_to_array(rendered[0])
    return LoadedPage(array, mode, dpi, "profile" if settings.dpi_override else "tag", "rendered", "PDF", notes)
