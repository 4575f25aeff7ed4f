"""Crop box: the paper's bounding box on the straightened page plus a margin, never into the paper.

Only a dark scanner bed (found in the analysis step as dark regions joined to the image edge)
is cropped. The paper mask is straightened with the same geometry as the page; its bounding
box, widened by the margin and clipped to the image, is the box to keep. Without a dark bed
nothing is cropped.

A real bed is an even dark surface. Shadow on the paper (a photo's dark band, a book's gutter)
can be as dark, but it carries text: when the "bed" holds character-size marks, the crop is
withheld and the doubt recorded, since a crop must never remove text.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitize.imaging.analysis import PageAnalysis, components
from digitize.imaging.geometry import straighten_matrix

BED_EDGE_MM = 2.5  # the paper edge next to the bed shows as contrast; marks closer to it are not counted
BED_MARKS_LIMIT = 5  # this many character-size marks on the bed: it is shaded paper, not a bed


def marks_on_bed(analysis: PageAnalysis) -> int:
    """Character-size marks (1.2–8 mm high, at most 12 mm wide) on the dark bed, away from its edge."""
    if not analysis.bed.any():
        return 0
    mm = analysis.dpi / 25.4
    size = 2 * int(round(BED_EDGE_MM * mm)) + 1
    inner = cv2.erode(analysis.bed, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    # marks on shaded paper are fainter than ink on the lit page: half the page's ink threshold
    marks = ((analysis.contrast > analysis.ink_threshold / 2) & (inner > 0)).astype(np.uint8)
    _, _, stats, _ = components(marks)
    w, h, area = (stats[1:, i] for i in (2, 3, 4))
    characters = (h >= 1.2 * mm) & (h <= 8 * mm) & (w >= 0.3 * mm) & (w <= 12 * mm) & (area >= 0.2 * w * h)
    return int(characters.sum())


def crop_box(
    analysis: PageAnalysis, source_shape: tuple[int, int], skew_deg: float, orientation_deg: int, margin_mm: float
) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) in straightened full-resolution pixels, or None when there is no bed to crop."""
    if not analysis.bed.any():
        return None
    h, w = analysis.bed.shape
    paper = (1 - analysis.bed).astype(np.uint8)
    matrix, size = straighten_matrix(w, h, skew_deg, orientation_deg)
    straight = cv2.warpAffine(
        paper, matrix, size, flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    n, labels, stats, _ = components(straight)
    if n < 2:
        return None
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    bx, by, bw, bh = (int(v) for v in stats[biggest, :4])
    scale = analysis.scale
    src_h, src_w = source_shape
    out_w, out_h = (src_w, src_h) if (orientation_deg // 90) % 2 == 0 else (src_h, src_w)
    margin = margin_mm * analysis.dpi / scale / 25.4
    # one analysis pixel of slack on each side covers the rounding of the reduced mask
    x0 = max(0, int(np.floor((bx - 1) / scale - margin)))
    y0 = max(0, int(np.floor((by - 1) / scale - margin)))
    x1 = min(out_w, int(np.ceil((bx + bw + 1) / scale + margin)))
    y1 = min(out_h, int(np.ceil((by + bh + 1) / scale + margin)))
    if (x0, y0, x1, y1) == (0, 0, out_w, out_h) or x1 - x0 < out_w * 0.3 or y1 - y0 < out_h * 0.3:
        return None
    return x0, y0, x1, y1
