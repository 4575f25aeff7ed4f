"""Measure every page of a processed batch for QC: masters and the page images of the layout files.

One task per document (so each layout file is opened once and duplicate pages are compared
within their document), run in worker processes. A task reads its files only; the results are
plain data that the checks turn into findings.

Per page:
* from the master (the scan as delivered): colour content (DA/T 31 §9.3) and blur;
* from the layout file's page image (what the archive keeps: the PDF/A's, else the OFD's):
  colour mode, size, encoding, residual skew and a perceptual signature for duplicate detection.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pikepdf
from pikepdf import PdfImage
from PIL import Image

from digitize.batch import PageRef
from digitize.executors import die_with
from digitize.loader import load_page
from digitize.ofd import page_images
from digitize.qc import imagequality as iq
from digitize.settings import InputSettings

# Duplicate pages (a re-scan of the same sheet): both scores must reach these. Calibrated on four
# eval-kit holdout corpora (seeds 5, 7, 8, 9; 387 pages): the four re-scans scored 0.975-0.999 on
# the cell score; the closest different sheets -- forms and tables of one type with other
# people's data -- at most 0.81 within a document (0.93 across documents, which are not
# compared). The whole-page score alone does not separate them (forms of one type reach 0.97);
# it only rules out the obvious.
DUPLICATE_MIN_GLOBAL = 0.95
DUPLICATE_MIN_CELL = 0.95
# OCR texts this different rule a duplicate out even when the pictures agree.
DUPLICATE_MAX_TEXT_DISAGREEMENT = 0.5


@dataclass
class PageMeasure:
    doc_key: str
    page_no: int
    master_error: str | None = None
    master_mode: str | None = None
    master_format: str | None = None
    colour: dict[str, Any] | None = None  # ColourContent of the master
    edge_width_px: float | None = None
    edge_tiles: int = 0
    layout_image: dict[str, Any] | None = None  # mode, bits, encoding, width, height (`layout_image_facts`)
    layout_error: str | None = None
    residual_skew_deg: float | None = None
    residual_skew_confidence: float | None = None


@dataclass
class DuplicatePair:
    doc_key: str
    page_no: int  # the later page, reported as the duplicate
    duplicate_of: int
    global_score: float
    cell_score: float
    text_similarity: float | None


@dataclass
class DocumentMeasure:
    doc_key: str
    pages: list[PageMeasure] = field(default_factory=list)
    duplicates: list[DuplicatePair] = field(default_factory=list)
    layout_pages: int | None = None  # pages of the layout file measured
    layout_error: str | None = None  # it cannot be opened
    seconds: float = 0.0


@dataclass(frozen=True)
class PageInput:
    page_no: int
    master: str | None  # resolved path of the master file, None when not found
    frame: int
    container: str
    slot: int | None
    dpi: float | None  # resolution the pipeline worked at (the page's, or the one assumed from its text)
    is_blank: bool
    text_path: str | None  # OCR text of the page (absolute), for duplicate evidence


@dataclass(frozen=True)
class DocumentInput:
    doc_key: str
    layout: str | None  # absolute path of the layout file whose pages are measured (PDF/A, else OFD)
    pages: tuple[PageInput, ...]
    input_settings: InputSettings
    measure_masters: bool = True
    key: str = ""  # digest of everything the measurement depends on (`digitize.qc.measurecache`)


def image_mode(pil: Image.Image, bits: int) -> str:
    """ "colour", "grey" or "bitonal": how a stored page image keeps the page."""
    if bits == 1 or pil.mode == "1":
        return "bitonal"
    return "grey" if pil.mode in ("L", "LA", "I", "I;16") else "colour"


def _array(pil: Image.Image) -> np.ndarray:
    if pil.mode in ("1", "L"):
        return np.array(pil.convert("L"))
    return np.array(pil.convert("RGB"))[..., ::-1].copy()


def pdf_page_image(page: pikepdf.Page) -> tuple[np.ndarray, dict[str, Any]]:
    """The largest image of a PDF page, decoded (grey or BGR), with its stream facts."""
    getter = getattr(page, "get_images", None)
    images = list((getter() if getter else page.images).values())
    if not images:
        raise ValueError("the page has no image")
    stream = max(images, key=lambda im: int(im.get("/Width", 0)) * int(im.get("/Height", 0)))
    image = PdfImage(stream)
    pil = image.as_pil_image()
    bits = int(image.bits_per_component)
    facts = {
        "mode": image_mode(pil, bits),
        "colour_space": str(image.colorspace) if image.colorspace else None,
        "bits": bits,
        "encoding": [str(f) for f in image.filters],
        "width": int(image.width),
        "height": int(image.height),
    }
    return _array(pil), facts


def ofd_page_image(data: bytes, fmt: str) -> tuple[np.ndarray, dict[str, Any]]:
    """An OFD page image (JPEG or PNG resource), decoded (grey or BGR), with its facts."""
    with Image.open(io.BytesIO(data)) as pil:
        pil.load()
        bits = 1 if pil.mode == "1" else 8
        facts = {
            "mode": image_mode(pil, bits),
            "colour_space": None,
            "bits": bits,
            "encoding": [fmt],
            "width": pil.width,
            "height": pil.height,
        }
        return _array(pil), facts


class LayoutPages:
    """The page images of a layout file (PDF/A or OFD), decoded one page at a time."""

    def __init__(self, path: str):
        self.kind = "OFD" if path.lower().endswith(".ofd") else "PDF"
        self._pdf: pikepdf.Pdf | None = None
        if self.kind == "OFD":
            self._ofd = page_images(Path(path))
            self.count = len(self._ofd)
        else:
            self._pdf = pikepdf.open(path)
            self.count = len(self._pdf.pages)

    def image(self, index: int) -> tuple[np.ndarray, dict[str, Any]]:
        if self._pdf is not None:
            return pdf_page_image(self._pdf.pages[index])
        page = self._ofd[index]
        return ofd_page_image(page.data, page.format)

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()


def _measure_master(page: PageInput, doc: DocumentInput, result: PageMeasure) -> np.ndarray | None:
    if page.master is None:
        result.master_error = "master file not found"
        return None
    ref = PageRef(doc.doc_key, page.page_no, page.master, page.frame, page.container, page.slot)
    try:
        loaded = load_page(ref, doc.input_settings)
    except Exception as exc:  # noqa: BLE001 - an unreadable master is a finding, not a crash
        result.master_error = str(exc)
        return None
    result.master_mode = loaded.mode
    result.master_format = loaded.file_format
    dpi = page.dpi or loaded.dpi or 300.0  # only the scale of the measurements below, never reported
    colour = iq.colour_content(loaded.image, dpi) if loaded.mode == "colour" else None
    result.colour = None if colour is None else colour.__dict__.copy()
    if loaded.mode != "bitonal":
        width = iq.edge_width(loaded.image, dpi)
        result.edge_width_px = None if width.width_px is None else round(width.width_px, 2)
        result.edge_tiles = width.text_tiles
    return loaded.image


def measure_document(doc: DocumentInput) -> DocumentMeasure:
    import time

    started = time.perf_counter()
    result = DocumentMeasure(doc.doc_key)
    measures = {p.page_no: PageMeasure(doc.doc_key, p.page_no) for p in doc.pages}
    signatures: dict[int, iq.PageSignature | None] = {}
    layout = None
    if doc.layout is not None:
        try:
            layout = LayoutPages(doc.layout)
            result.layout_pages = layout.count
        except Exception as exc:  # noqa: BLE001
            result.layout_error = f"{exc.__class__.__name__}: {exc}"
    try:
        for index, page in enumerate(doc.pages):
            measure = measures[page.page_no]
            if doc.measure_masters:
                _measure_master(page, doc, measure)
            if layout is None or index >= layout.count:
                continue
            try:
                image, facts = layout.image(index)
            except Exception as exc:  # noqa: BLE001
                measure.layout_error = f"{exc.__class__.__name__}: {exc}"
                continue
            measure.layout_image = facts
            dpi = page.dpi or 300.0
            if not page.is_blank:
                skew = iq.estimate_skew(image, dpi)
                if skew is not None:
                    measure.residual_skew_deg = skew.angle_deg
                    measure.residual_skew_confidence = skew.confidence
                signatures[page.page_no] = iq.page_signature(image, dpi, skew)
    finally:
        if layout is not None:
            layout.close()
    result.pages = [measures[p.page_no] for p in doc.pages]
    result.duplicates = _duplicates(doc, signatures)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _read_text(path: str | None) -> str:
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _duplicates(doc: DocumentInput, signatures: dict[int, iq.PageSignature | None]) -> list[DuplicatePair]:
    texts = {p.page_no: p.text_path for p in doc.pages}
    found: list[DuplicatePair] = []
    duplicated: set[int] = set()
    for a, b in itertools.combinations(sorted(n for n, s in signatures.items() if s is not None), 2):
        if b in duplicated:
            continue
        score = _symmetric(signatures[a], signatures[b])  # type: ignore[arg-type]
        if score.global_score < DUPLICATE_MIN_GLOBAL or score.cell_score < DUPLICATE_MIN_CELL:
            continue
        text = iq.text_similarity(_read_text(texts[a]), _read_text(texts[b]))
        if text is not None and text < DUPLICATE_MAX_TEXT_DISAGREEMENT:
            continue
        duplicated.add(b)
        found.append(
            DuplicatePair(
                doc.doc_key,
                b,
                a,
                round(score.global_score, 3),
                round(score.cell_score, 3),
                None if text is None else round(text, 3),
            )
        )
    return found


def _symmetric(a: iq.PageSignature, b: iq.PageSignature) -> iq.SignatureScore:
    one, two = iq.compare_signatures(a, b), iq.compare_signatures(b, a)
    return iq.SignatureScore(max(one.global_score, two.global_score), min(one.cell_score, two.cell_score))


def measure_documents(
    docs: list[DocumentInput], jobs: int | None = None, progress: Callable[[int, int], Any] | None = None
) -> dict[str, DocumentMeasure]:
    """Measure all documents, in `jobs` worker processes (1: in this process); `progress(done, total)`
    is told the pages measured so far."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    total, done = sum(len(d.pages) for d in docs), 0
    results: dict[str, DocumentMeasure] = {}
    if progress:
        progress(0, total)
    if jobs == 1 or len(docs) <= 1:
        for doc in docs:
            results[doc.doc_key] = measure_document(doc)
            done += len(doc.pages)
            if progress:
                progress(done, total)
        return results
    # Large documents first, so that no worker is left with the biggest one at the end.
    ordered = sorted(docs, key=lambda d: -len(d.pages))
    with ProcessPoolExecutor(max_workers=min(jobs, len(docs)), initializer=die_with, initargs=(os.getpid(),)) as pool:
        for future in as_completed([pool.submit(measure_document, doc) for doc in ordered]):
            result = future.result()
            results[result.doc_key] = result
            done += len(result.pages)
            if progress:
                progress(done, total)
    return {d.doc_key: results[d.doc_key] for d in docs}
