"""Find the documents (件) and their pages in a batch of scanner output.

A batch folder holds, per document, one of:
- a folder of page images (TIFF, JPEG, PNG, JPEG 2000), one page per file, or multi-page TIFFs;
- a folder holding one multi-page TIFF or one image-only PDF;
- a multi-page TIFF or image-only PDF directly in the batch folder.

Pages are put in natural order (``2`` before ``10``). Containers are opened only far enough to
count their pages; images are decoded later, one page per task.

Nothing is left out without a word: every file or folder that is not read (hidden names,
system files, files that are not pages, folders inside a document folder, links whose target
is gone) is listed in `BatchScan.skipped` with the reason. A symbolic link that leads out of
the batch folder is refused (its document fails, naming the link and its target) unless the
run allows such links (`follow_outside_links`); links followed out of the batch are listed in
`BatchScan.outside_links`, so that the run records them.
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
SYSTEM_FILES = {"thumbs.db", "desktop.ini", ".ds_store"}
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


@dataclass(frozen=True)
class Skipped:
    """A file or folder of the batch that is not read, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class OutsideLink:
    """A symbolic link in the batch whose target lies outside the batch folder."""

    path: str
    target: str


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
    """The number of frames, read frame by frame so that a damaged one is named (never a silent count of fewer)."""
    try:
        im = Image.open(path)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad files
        raise InputError(path, f"not a readable TIFF ({exc.__class__.__name__}: {exc})") from None
    with im:
        count = 0
        try:
            while True:
                im.seek(count)
                count += 1
        except EOFError:
            return count
        except Exception as exc:  # noqa: BLE001
            raise InputError(
                path,
                f"frame {count + 1} cannot be read ({exc.__class__.__name__}: {exc}); {count} frame(s) before it are",
            ) from None


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
    """A TIFF of several frames (a damaged frame fails the document here, naming it)."""
    if path.suffix.lower() not in TIFF_SUFFIXES or path.stat().st_size == 0:
        return False
    try:
        Image.open(path).close()
    except Exception:  # noqa: BLE001 - not a readable image at all: decided (and reported) when the page is loaded
        return False
    return tiff_frame_count(path) > 1


@dataclass
class BatchScan:
    """What a batch folder holds: its documents, what was not read and why, links leading out of it."""

    root: Path
    documents: list[SourceDocument] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    outside_links: list[OutsideLink] = field(default_factory=list)
    follow_outside_links: bool = False

    def skip(self, path: str | os.PathLike[str], reason: str) -> None:
        self.skipped.append(Skipped(str(path), reason))

    def link_refusal(self, path: Path) -> str | None:
        """Why `path` may not be read (a link out of the batch, refused), else None; followed links are noted."""
        if not path.is_symlink():
            return None
        target = path.resolve()
        if target.is_relative_to(self.root):
            return None
        if not self.follow_outside_links:
            return f"{path} is a link to {target}, outside the batch folder; refused (--follow-outside-links allows it)"
        self.outside_links.append(OutsideLink(str(path), str(target)))
        return None


def _skip_reason(entry: os.DirEntry[str], in_document: bool) -> str | None:
    """Why an entry is not read as (part of) a document, or None."""
    name = entry.name
    if name.lower() in SYSTEM_FILES:
        return "a system file"
    if name.startswith("."):
        return "hidden (its name starts with '.')"
    if entry.is_symlink() and not os.path.exists(entry.path):
        return None  # a link whose target is gone: the caller fails the document (in it) or reports it
    if entry.is_dir():
        return "a folder inside a document folder is not read" if in_document else None
    suffix = Path(name).suffix.lower()
    if in_document:
        return None if suffix in IMAGE_SUFFIXES | PDF_SUFFIXES else "not a page image"
    if suffix in PDF_SUFFIXES | TIFF_SUFFIXES:
        return None
    if suffix in IMAGE_SUFFIXES:
        return "a single image directly in the batch folder is not a document; put it in a folder of its own"
    return "not a document (a folder of pages, a multi-page TIFF or a PDF)"


def _document_from_folder(scan: BatchScan, folder: Path, force_text: bool) -> SourceDocument:
    doc = SourceDocument(key=folder.name, source=str(folder))
    try:
        entries = sorted(os.scandir(folder), key=lambda e: natural_key(e.name))
    except OSError as exc:
        doc.error = f"{folder}: cannot read the folder ({exc.strerror or exc})"
        return doc
    files = []
    for entry in entries:
        reason = _skip_reason(entry, in_document=True)
        if reason:
            scan.skip(entry.path, reason)
            continue
        path = Path(entry.path)
        if not path.exists():
            doc.error = f"{path} is a link whose target {os.readlink(path)} does not exist"
            return doc
        refusal = scan.link_refusal(path)
        if refusal:
            doc.error = refusal
            return doc
        files.append(path)
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


def discover(batch: str | os.PathLike[str], force_text: bool = False, follow_outside_links: bool = False) -> BatchScan:
    """All documents of a batch folder, in natural order of their names, and everything not read."""
    root = Path(batch).resolve()
    if not root.is_dir():
        raise InputError(root, "not a folder")
    scan = BatchScan(root, follow_outside_links=follow_outside_links)
    for entry in sorted(os.scandir(root), key=lambda e: natural_key(e.name)):
        reason = _skip_reason(entry, in_document=False)
        path = Path(entry.path)
        if reason:
            scan.skip(path, reason)
            continue
        if not path.exists():
            scan.skip(path, f"a link whose target {os.readlink(path)} does not exist")
            continue
        refusal = scan.link_refusal(path)
        if refusal:
            key = path.name if path.is_dir() else path.stem
            scan.documents.append(SourceDocument(key=key, source=str(path), error=refusal))
        elif path.is_dir():
            scan.documents.append(_document_from_folder(scan, path, force_text))
        else:
            scan.documents.append(_document_from_file(path, force_text))
    return scan
