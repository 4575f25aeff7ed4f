"""The page's resolution: the file's tag when the page agrees with it, else measured from the page.

A resolution tag is only a number someone wrote. Scanners write the resolution they scanned at;
cameras and image software write 72 or 96 whatever the picture shows, and files re-saved or
re-sized keep a tag that no longer fits. Reading 150-dpi text as if it were 300 dpi makes OCR drop
small print and gives the PDF a page a quarter of the paper's size, so the tag is checked against
two things the page itself shows:

* **its text**: the height of whole characters (Chinese characters, digits and capitals are
  between about 1.4 and 7 mm tall in every document kind we read; body text near 2.8 mm);
* **its paper**: a page scanned or cropped to the sheet (or the sheet found on a dark scanner bed)
  whose sides have the proportions of a standard sheet (A3, A4, A5, Letter) gives the resolution
  from the sheet's size; A4 and Letter, by far the most common, are preferred. (Receipts, tickets
  and landscape tables matched half-letter and Legal proportions by chance, so those sizes are
  not used.)

A tag is believed unless it is a software default (72 or 96) or comes from a camera, makes the
page larger than A3, or puts the characters outside the plausible heights, or a standard sheet
explains the page far better. Otherwise a standard sheet whose characters are plausible is the
estimate. When neither holds the resolution is unknown: the page keeps a *working* resolution
taken from its character height (what the imaging steps and the OCR image are scaled by, and what
the PDF page size is assumed from), but nothing reports it as measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from digitize.imaging.analysis import ANALYSIS_DPI, analyse, components

MM_PER_INCH = 25.4
TYPICAL_GLYPH_MM = 2.8  # median height of whole characters on a page of body text
GLYPH_MM_RANGE = (1.4, 7.0)  # plausible median character heights
SHEET_GLYPH_MM_RANGE = (1.5, 5.0)  # ... for a page taken to be a standard sheet (a photo of a receipt is not)
SOFTWARE_DEFAULT_DPI = (72.0, 96.0)  # written by image software and cameras, not by scanners
LARGEST_PAGE_MM = (297.0 * 1.1, 420.0 * 1.1)  # a little over A3
SHEET_ASPECT_TOLERANCE = 0.03  # a sheet's sides match a standard sheet's proportions this closely
# standard sheets (short, long side in mm) and how much less likely than A4 or Letter they are,
# as a log-ratio added to the text-size mismatch when sheets are compared
STANDARD_SHEETS: dict[str, tuple[float, float, float]] = {
    "A4": (210.0, 297.0, 0.0),
    "Letter": (215.9, 279.4, 0.0),
    "A3": (297.0, 420.0, 0.4),
    "A5": (148.0, 210.0, 0.4),
}
SHEET_OVER_TAG = 0.5  # a sheet replaces a believable tag only if it explains the text this much better
PROVISIONAL_SIDE_PX = 1800  # the measuring copy's longest side
MIN_GLYPHS = 12  # fewer character-sized marks: no text size
MAX_GLYPH_ASPECT = 2.0  # a character's longer side is at most this many times its shorter one
GROUP_REACH = 1.0  # characters of a line or a column are at most this many character sizes apart
GROUPED_SHARE = 0.25  # share of the marks that must stand in groups of three or more to be text
# (text pages, real and generated: 0.29 to 1.0; specks on blank sheets: 0.0 to 0.11)


@dataclass(frozen=True)
class Resolution:
    dpi: float | None  # the page's resolution; None when nothing could be trusted
    source: str  # tag | estimated | profile | unknown
    working_dpi: float  # what imaging, OCR scaling and the PDF page size use (= dpi when known)
    basis: str  # how it was decided, in words
    glyph_px: float | None  # median height of whole characters, source pixels (None: no text found)


@dataclass(frozen=True)
class PageEvidence:
    glyph_px: float | None  # median size of whole characters, source pixels
    paper_px: tuple[float, float] | None  # short and long side of the sheet, source pixels
    paper_is_image: bool  # the sheet is the whole image (no scanner bed or outline found)


def measure_page(image: np.ndarray) -> PageEvidence:
    """Character size and sheet size in pixels, on a copy reduced to PROVISIONAL_SIDE_PX."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    factor = min(1.0, PROVISIONAL_SIDE_PX / max(grey.shape))
    analysis = analyse(grey, ANALYSIS_DPI / factor)  # a copy of at most PROVISIONAL_SIDE_PX pixels
    glyph = glyph_size(analysis.ink)
    paper: tuple[float, float] | None = None
    paper_is_image = True
    if analysis.bed.any():
        n, labels, stats, _ = components((1 - analysis.bed).astype(np.uint8))
        if n > 1:
            biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
            contours, _ = cv2.findContours(
                (labels == biggest).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE
            )
            (_, _), (w, h), _ = cv2.minAreaRect(max(contours, key=cv2.contourArea))
            paper = (min(w, h) / factor, max(w, h) / factor)
            paper_is_image = False
    if paper is None:
        h, w = grey.shape
        paper = (float(min(w, h)), float(max(w, h)))
    return PageEvidence(None if glyph is None else glyph / factor, paper, paper_is_image)


def glyph_size(ink: np.ndarray) -> float | None:
    """Median size of whole characters on an ink mask (pixels), whichever way the page is turned;
    None when the marks are not text.

    Each mark's longer side is taken, over marks no more than twice as long as wide (letters
    that touch into words, rules and underlines left out) and at least half as large as the
    largest tenth (fragments of broken type and punctuation left out, as in
    marks._character_heights). Marks count as text only when most of them stand in groups:
    characters sit beside other characters, the specks of a blank sheet lie alone.
    """
    n, _, stats, centroids = components(ink)
    if n <= 1:
        return None
    x, y = stats[1:, cv2.CC_STAT_LEFT], stats[1:, cv2.CC_STAT_TOP]
    w, h, area = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    size, short = np.maximum(w, h), np.minimum(w, h)
    limit = max(ink.shape) / 8.0  # larger marks are rules, pictures or a seal
    sel = (area >= 6) & (size >= 3) & (size < limit) & (size <= MAX_GLYPH_ASPECT * short)
    if int(sel.sum()) < MIN_GLYPHS:
        return None
    whole = np.flatnonzero(sel)
    whole = whole[size[whole] >= 0.5 * np.percentile(size[whole], 90)]
    median = float(np.median(size[whole]))
    boxes = np.zeros(ink.shape, np.uint8)
    for i in whole:
        boxes[y[i] : y[i] + h[i], x[i] : x[i] + w[i]] = 1
    reach = max(3, int(round(GROUP_REACH * median)) | 1)
    _, groups = cv2.connectedComponents(cv2.dilate(boxes, np.ones((reach, reach), np.uint8)))
    labels = groups[centroids[1:, 1][whole].astype(np.intp), centroids[1:, 0][whole].astype(np.intp)]
    counts = np.bincount(labels)
    if whole.size < MIN_GLYPHS or np.mean(counts[labels] >= 3) < GROUPED_SHARE:
        return None
    return median


def glyph_mm(glyph_px: float, dpi: float) -> float:
    return glyph_px / dpi * MM_PER_INCH


def _text_mismatch(glyph_px: float | None, dpi: float) -> float:
    """How far the characters at this resolution are from typical body text (log-ratio)."""
    if glyph_px is None:
        return 0.0
    return abs(math.log(glyph_mm(glyph_px, dpi) / TYPICAL_GLYPH_MM))


def _text_plausible(glyph_px: float | None, dpi: float, limits: tuple[float, float] = GLYPH_MM_RANGE) -> bool:
    if glyph_px is None:
        return True
    low, high = limits
    return low <= glyph_mm(glyph_px, dpi) <= high


def sheet_candidates(paper_px: tuple[float, float]) -> list[tuple[str, float, float]]:
    """(sheet, dpi, prior penalty) for every standard sheet whose proportions the paper has."""
    short, long = paper_px
    found = []
    for name, (short_mm, long_mm, penalty) in STANDARD_SHEETS.items():
        aspect = (long / short) / (long_mm / short_mm)
        if abs(aspect - 1.0) <= SHEET_ASPECT_TOLERANCE:
            dpi = math.sqrt((short / short_mm) * (long / long_mm)) * MM_PER_INCH
            found.append((name, dpi, penalty))
    return found


def _tag_doubt(tag: float, photo: bool, evidence: PageEvidence) -> str | None:
    """Why a tag cannot be believed as it stands (None: it can)."""
    if photo:
        return f"the {tag:g}-dpi tag was written by a camera"
    if any(abs(tag - default) < 1.0 for default in SOFTWARE_DEFAULT_DPI):
        return f"{tag:g} dpi is a software default, not a scan resolution"
    if evidence.paper_px is not None:
        short, long = (side / tag * MM_PER_INCH for side in evidence.paper_px)
        if short > LARGEST_PAGE_MM[0] or long > LARGEST_PAGE_MM[1]:
            return f"at {tag:g} dpi the page would be {short:.0f} × {long:.0f} mm, larger than A3"
    if not _text_plausible(evidence.glyph_px, tag):
        return f"at {tag:g} dpi the characters would be {glyph_mm(evidence.glyph_px or 0, tag):.1f} mm tall"
    return None


def decide_resolution(
    evidence: PageEvidence, tag: float | None, *, photo: bool = False, profile_dpi: float | None = None
) -> Resolution:
    """The page's resolution from its tag (None: the file has none) and what the page shows."""
    glyph = evidence.glyph_px
    if profile_dpi:
        return Resolution(float(profile_dpi), "profile", float(profile_dpi), "set in the profile", glyph)
    sheets = []
    if evidence.paper_px is not None and not (photo and evidence.paper_is_image):
        sheets = [
            (name, dpi, penalty + _text_mismatch(glyph, dpi))
            for name, dpi, penalty in sheet_candidates(evidence.paper_px)
            if _text_plausible(glyph, dpi, SHEET_GLYPH_MM_RANGE)
        ]
    best_sheet = min(sheets, key=lambda s: s[2]) if sheets else None
    doubt = None
    if tag is not None:
        doubt = _tag_doubt(tag, photo, evidence)
        if doubt is None:
            tag_score = _text_mismatch(glyph, tag)
            agrees = best_sheet is not None and abs(math.log(best_sheet[1] / tag)) <= math.log(1.15)
            if best_sheet is None or agrees or tag_score <= best_sheet[2] + SHEET_OVER_TAG:
                return Resolution(float(tag), "tag", float(tag), "resolution tag of the file", glyph)
            doubt = f"a {best_sheet[0]} sheet explains the text far better than the {tag:g}-dpi tag"
    prefix = f"{doubt}; " if doubt else "no resolution tag; "
    if best_sheet is not None:
        name, dpi, _ = best_sheet
        dpi = round(dpi, 1)
        basis = f"{prefix}the paper is a {name} sheet ({evidence.paper_px[1]:.0f} px long)"  # type: ignore[index]
        return Resolution(dpi, "estimated", dpi, basis, glyph)
    working, how = assumed_dpi(glyph, tag)
    return Resolution(None, "unknown", working, f"{prefix}{how}", glyph)


def assumed_dpi(glyph_px: float | None, tag: float | None) -> tuple[float, str]:
    """The working resolution of a page whose real one is unknown, and how it was chosen: typical
    body text, else the tag, else 300 dpi (a page without text)."""
    if glyph_px is not None:
        dpi = round(glyph_px / TYPICAL_GLYPH_MM * MM_PER_INCH, 1)
        return dpi, f"assumed {dpi:.0f} dpi from the text size"
    if tag:
        return float(tag), f"assumed the tag's {tag:g} dpi (no text to measure)"
    return 300.0, "assumed 300 dpi (no text to measure)"
