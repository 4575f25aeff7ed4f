"""Blank-page detection that ignores show-through, specks and the scanner bed.

Show-through from the reverse side is seen through the paper, so it is blurred and faint;
real ink on the page (text, a signature, a seal) has sharp edges. The main test is a high-pass
"sharp ink" mask (how much darker a pixel is than its slightly blurred neighbourhood); specks
below the size of a punctuation mark are dropped, and a page with less sharp ink than about two
characters is a candidate blank. A badly blurred scan of a real page has no sharp ink either,
but its ink is darker: show-through has a ceiling (the paper passes about a third of the
reverse side's darkness at most), so the candidate stays blank unless marks darker than
SHOW_THROUGH_CEILING of the paper level cover more than the same area. (Heavy show-through of a
bold heading reaches 30% over some 20 square millimetres, and the blur halo of a strongly blurred
form on mottled paper is far larger than its dark core, so neither a lower level nor a share of
the faint marks tells the two apart.) The scanner bed and the image edge are excluded as in the
analysis; colour marks (a red seal) count as sharp ink even when they are light in grey.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitize.imaging.analysis import PageAnalysis, components

HIGH_PASS_SIGMA_MM = 0.25  # blur used as the local reference level
SHARP_CONTRAST = 24  # grey levels darker than that reference
MIN_MARK_MM2 = 0.5  # smaller components are specks or noise
MAX_BLANK_INK_MM2 = 12.0  # less ink than this (about two characters) is a blank page
SHOW_THROUGH_CEILING = 0.35  # show-through stays lighter than this share of the paper level
STRONG_SHARE, SURELY_INK_MM2 = 0.45, 150.0  # this much ink darker than any show-through: a written page


@dataclass(frozen=True)
class BlankResult:
    is_blank: bool
    ink_mm2: float  # area of ink marks larger than a speck, square millimetres (the evidence used)


def _marks_mm2(mask: np.ndarray, px_per_mm2: float) -> float:
    """Area of the mask in components larger than a speck (strokes of one character joined)."""
    joined = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    n, labels, stats, _ = components(joined)
    big = np.zeros(n, bool)
    big[1:] = stats[1:, cv2.CC_STAT_AREA] >= MIN_MARK_MM2 * px_per_mm2
    return float(mask[big[labels]].sum()) / px_per_mm2


def detect_blank(analysis: PageAnalysis, colour_mask: np.ndarray | None = None) -> BlankResult:
    px_per_mm2 = (analysis.dpi / 25.4) ** 2
    region = analysis.ink_region > 0
    strong = (analysis.contrast > STRONG_SHARE * analysis.paper_level) & region
    strong_mm2 = cv2.countNonZero(strong.astype(np.uint8)) / px_per_mm2
    if strong_mm2 >= SURELY_INK_MM2:  # far more dark ink than show-through can make: not blank
        return BlankResult(False, strong_mm2)
    grey = analysis.grey_plain
    reference = cv2.GaussianBlur(grey, (0, 0), HIGH_PASS_SIGMA_MM * analysis.dpi / 25.4)
    sharp = (cv2.subtract(reference, grey) > SHARP_CONTRAST) & (analysis.contrast > SHARP_CONTRAST)
    if colour_mask is not None:
        sharp |= colour_mask.astype(bool)
    sharp_mm2 = _marks_mm2((sharp & region).astype(np.uint8), px_per_mm2)
    if sharp_mm2 >= MAX_BLANK_INK_MM2:
        return BlankResult(False, sharp_mm2)
    dark_mm2 = _marks_mm2(
        ((analysis.contrast > SHOW_THROUGH_CEILING * analysis.paper_level) & region).astype(np.uint8), px_per_mm2
    )
    if dark_mm2 >= MAX_BLANK_INK_MM2:
        return BlankResult(False, dark_mm2)
    return BlankResult(True, sharp_mm2)
