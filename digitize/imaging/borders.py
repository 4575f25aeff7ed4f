"""Crop box: the paper's bounding box on the straightened page plus a margin, never into the paper.

Only a dark scanner bed (found in the analysis step as dark regions joined to the image edge)
is cropped. The paper mask is straightened with the same geometry as the page; its bounding
box, widened by the margin and clipped to the image, is the box to keep. Without a dark bed
nothing is cropped.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitize.imaging.analysis import PageAnalysis, components
from digitize.imaging.geometry import straighten_matrix


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
