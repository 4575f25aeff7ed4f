"""Find the documents (件) and their pages in a batch of scanner output.

A batch folder holds, per document, one of:
- a folder of page images (TIFF, JPEG, PNG, JPEG 2000), one page per file, or multi-page TIFFs;
- a folder holding one multi-page TIFF or one image-only PDF;
- a multi-page TIFF or image-only PDF directly in the batch folder.

Pages are put in natural order (``2`` before ``10``). Containers are opened only far enough to
count their pages; images are decoded later, one page per task.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
from PIL import Image

from digitize.errors import BadInput

IMAGE_SUFFIXES = {".tif", ".tiff", ".jpg", ".jpeg", ".png", ".jp2", ".j2k", ".jpf", ".jpx"}
TIFF_SUFFIXES = {".tif", ".tiff"}
PDF_SUFFIXES = {".pdf"}
IGNORED_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}
_DIGITS = re.compile(r"(\d+)")


class InputError(BadInput):
    """Bad input: carries the file it is about, so every message names it."""

    def __init__(self, path: str | os.PathLike[str], reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


@dataclass(frozen=True)
class PageRef:
    """Where one page comes from: a file, and the frame inside it for multi-page files."""

    doc_key: str
    page_no: int  # 1-based position in the document
    path: str  # absolute path of the master file
    frame: int = 0  # frame of a multi-page TIFF, page of a PDF (0-based)
    container: str = "image"  # image | tiff | pdf
    slot: int | None = None  # number in a single-page file's name, for gap detection


@dataclass
class SourceDocument:
    key: str  # folder or file name without suffix; normally the 档号
    source: str  # the folder or file the document comes from
    pages: list[PageRef] = field(default_factory=list)
    error: str | None = None  # the document cannot be processed at all (named file and reason)
    warnings: list[str] = field(default_factory=list)
    master_files: list[str] = field(default_factory=list)

    @property
    def slots(self) -> list[int]:
        return [p.slot for p in self.pages if p.slot is not None]


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: page2 < page10."""
    return tuple(int(part) if part.isdigit() else part.casefold() for part in _DIGITS.split(name))


def file_slot(name: str) -> int | None:
    """The image number in a page file name (`0003.jpg`, `档号-0003.tif`): its last number."""
    numbers = _DIGITS.findall(Path(name).stem)
    return int(numbers[-1]) if numbers else None


def pdf_page_count(path: Path, force_text: bool) -> int:
    """Open a PDF far enough to count its pages; refuse encrypted and already-OCRed ones."""
    try:
        pdf = pikepdf.open(path)
    except pikepdf.PasswordError:
        raise InputError(path, "the PDF is encrypted; decrypt it first (e.g. qpdf --decrypt)") from None
    except pikepdf.PdfError as exc:
        raise InputError(path, f"not a readable PDF ({exc})") from None
    with pdf:
        if pdf.is_encrypted:
            raise InputError(path, "the PDF is encrypted; decrypt it first (e.g. qpdf --decrypt)")
        if not force_text:
            for number, page in enumerate(pdf.pages, start=1):
                if _page_has_text(page):
                    raise InputError(path, f"page {number} already has a text layer; use --force to OCR it again")
        return len(pdf.pages)


def _page_has_text(page: pikepdf.Page) -> bool:
    fonts = page.resources.get("/Font") if "/Resources" in page.obj else None
    if fonts is not None and len(fonts.keys()) > 0:
        return True
    for _name, xobj in (page.resources.get("/XObject") or {}).items():
        if xobj.get("/Subtype") == "/Form":
            res = xobj.get("/Resources")
            if res is not None and res.get("/Font") is not None and len(res.Font.keys()) > 0:
                return True
    return False


def tiff_frame_count(path: Path) -> int:
    try:
        with Image.open(path) as im:
            return getattr(im, "n_frames", 1)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad files
        raise InputError(path, f"not a readable TIFF ({exc.__class__.__name__}: {exc})") from None


def _container_pages(doc_key: str, path: Path, first_page_no: int, force_text: bool) -> list[PageRef]:
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        count = pdf_page_count(path, force_text)
        kind = "pdf"
    else:
        count = tiff_frame_count(path)
        kind = "tiff"
    if count == 0:
        raise InputError(path, "contains no pages")
    return [PageRef(doc_key, first_page_no + i, str(path), frame=i, container=kind, slot=None) for i in range(count)]


def _is_multipage_tiff(path: Path) -> bool:
    if path.suffix.lower() not in TIFF_SUFFIXES or path.stat().st_size == 0:
        return False
    try:
        with Image.open(path) as im:
            return getattr(im, "n_frames", 1) > 1
    except Exception:  # noqa: BLE001 - decided (and reported) when the page is loaded
        return False


def _document_from_folder(folder: Path, force_text: bool) -> SourceDocument:
    doc = SourceDocument(key=folder.name, source=str(folder))
    try:
        entries = sorted(
            (e for e in os.scandir(folder) if e.is_file() and not e.name.startswith(".")),
            key=lambda e: natural_key(e.name),
        )
    except OSError as exc:
        doc.error = f"{folder}: cannot read the folder ({exc.strerror or exc})"
        return doc
    files = []
    for entry in entries:
        suffix = Path(entry.name).suffix.lower()
        if entry.name.lower() in IGNORED_NAMES:
            continue
        if suffix in IMAGE_SUFFIXES or suffix in PDF_SUFFIXES:
            files.append(Path(entry.path))
        else:
            doc.warnings.append(f"{entry.path}: not a page image; ignored")
    if not files:
        doc.error = f"{folder}: no page images found"
        return doc
    doc.master_files = [str(f) for f in files]
    try:
        for path in files:
            next_no = len(doc.pages) + 1
            suffix = path.suffix.lower()
            if suffix in PDF_SUFFIXES or _is_multipage_tiff(path):
                doc.pages.extend(_container_pages(doc.key, path, next_no, force_text))
            else:
                doc.pages.append(PageRef(doc.key, next_no, str(path), slot=file_slot(path.name)))
    except InputError as exc:
        doc.error = str(exc)
        doc.pages = []
    return doc


def _document_from_file(path: Path, force_text: bool) -> SourceDocument:
    doc = SourceDocument(key=path.stem, source=str(path), master_files=[str(path)])
    try:
        doc.pages = _container_pages(doc.key, path, 1, force_text)
    except InputError as exc:
        doc.error = str(exc)
    return doc


def discover(batch: str | os.PathLike[str], force_text: bool = False) -> list[SourceDocument]:
    """All documents of a batch folder, in natural order of their names."""
    root = Path(batch).resolve()
    if not root.is_dir():
        raise InputError(root, "not a folder")
    docs: list[SourceDocument] = []
    for entry in sorted(os.scandir(root), key=lambda e: natural_key(e.name)):
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        if entry.is_dir():
            docs.append(_document_from_folder(path, force_text))
        elif path.suffix.lower() in PDF_SUFFIXES | TIFF_SUFFIXES:
            docs.append(_document_from_file(path, force_text))
    keys = [d.key for d in docs]
    for doc in docs:
        if keys.count(doc.key) > 1 and doc.error is None:
            doc.error = f"{doc.source}: another folder or file in the batch has the same name {doc.key!r}"
    return docs
