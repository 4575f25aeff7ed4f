"""Does the page need colour? Red seals, red letterheads, coloured ink and photos (DA/T 31 §9.3).

Chroma (max minus min of B, G, R) is measured on the analysis copy. Aged paper is yellowish, so
a pixel counts as coloured only when its chroma stands well above the paper's own; a page needs
colour when coloured pixels cover more than a small mark (a seal ring, a line of red type, a
signature in blue ink, a photo).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitize.imaging.analysis import PageAnalysis, percentile_u8

CHROMA_ABOVE_PAPER = 40  # chroma above the paper's to count as a coloured pixel
MIN_CHROMA = 60
MIN_COLOUR_MM2 = 8.0  # coloured area that makes the page need colour


@dataclass(frozen=True)
class ColourResult:
    needs_colour: bool
    fraction: float  # coloured share of the usable page area
    mask: np.ndarray | None  # (h,w) uint8 0/1 coloured pixels, analysis resolution


def detect_colour(analysis: PageAnalysis) -> ColourResult:
    if analysis.small_bgr is None:
        return ColourResult(False, 0.0, None)
    b, g, r = cv2.split(analysis.small_bgr)
    chroma = cv2.subtract(cv2.max(cv2.max(b, g), r), cv2.min(cv2.min(b, g), r))
    region = analysis.ink_region > 0
    paper = region & (analysis.contrast < 12)
    paper_chroma = percentile_u8(chroma, 90, paper)
    threshold = max(MIN_CHROMA, paper_chroma + CHROMA_ABOVE_PAPER)
    coloured = (chroma > threshold) & region
    coloured = cv2.morphologyEx(coloured.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    area_px = int(coloured.sum())
    usable = max(1, int(region.sum()))
    px_per_mm2 = (analysis.dpi / 25.4) ** 2
    return ColourResult(area_px / px_per_mm2 >= MIN_COLOUR_MM2, area_px / usable, coloured)
