"""Image-quality measures for QC, taken on the analysis copy (fixed 150 dpi, so comparable
between pages scanned at different resolutions).

``sharpness``: how steep ink edges are, relative to the ink's contrast. On the analysis copy
the 90th percentile of the gradient (|d/dx| + |d/dy| from Sobel, grey levels per pixel) over
the ink edges is divided by the 90th percentile of the ink contrast. A crisp edge scores about 0.5–0.7; an edge blurred
over three analysis pixels (about 1 mm at 300 dpi) scores about 0.15. It does not depend on
how dark or faded the ink is, only on how blurred it is. ``ink_coverage``: the share of the
usable page area covered by ink.
"""

from __future__ import annotations

import cv2
import numpy as np

from digitize.imaging.analysis import PageAnalysis, percentile_u8


def sharpness(analysis: PageAnalysis) -> float:
    ink = analysis.ink
    if int(ink.sum()) < 50:
        return 0.0
    grey = analysis.grey
    # |d/dx| + |d/dy| in grey levels per pixel (Sobel weights sum to 8)
    gx = cv2.convertScaleAbs(cv2.Sobel(grey, cv2.CV_16S, 1, 0, ksize=3), alpha=1.0 / 8.0)
    gy = cv2.convertScaleAbs(cv2.Sobel(grey, cv2.CV_16S, 0, 1, ksize=3), alpha=1.0 / 8.0)
    magnitude = cv2.add(gx, gy)
    edges = cv2.dilate(ink, np.ones((3, 3), np.uint8))
    edge_grad = percentile_u8(magnitude, 90, edges)
    ink_contrast = percentile_u8(analysis.contrast, 90, ink)
    return edge_grad / max(ink_contrast, 1.0)


def ink_coverage(analysis: PageAnalysis) -> float:
    usable = int(analysis.ink_region.sum())
    return float(analysis.ink.sum()) / usable if usable else 0.0
