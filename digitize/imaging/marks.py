"""Separate text-like ink from round seals, photos and specks on the analysis ink mask.

Skew and orientation want ink that sits on text lines or table rules. A round seal's ring and
its curved text, a photo or a large blot follow no text line and would pull the estimates, so
they are taken out. Where a seal was stamped over text in a grey scan, the text is darker than
the seal ink and is kept by thresholding the seal area again above the seal's own ink level.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitize.imaging.analysis import PageAnalysis, components

SEAL_RING_SHARE = 0.45  # share of a component's pixels on one circle for it to count as a seal
SEAL_MAX_ASPECT = 1.35
BLOB_FILL = 0.4  # a large component this solid is a photo or blot, not text


@dataclass
class TextInk:
    mask: np.ndarray  # (h,w) uint8 0/1 line-bearing ink
    char_height: float  # median height of character-sized components, analysis pixels
    seals: list[tuple[float, float, float]]  # (cx, cy, radius) of round seals found, analysis pixels


def _median_char_height(heights: np.ndarray, widths: np.ndarray, areas: np.ndarray, dpi: float) -> float:
    limit = dpi / 25.4 * 12  # characters are smaller than 12 mm
    sel = (areas >= 6) & (heights < limit) & (widths < limit) & (heights >= 3)
    if not np.any(sel):
        return dpi / 25.4 * 3.5
    return float(np.median(heights[sel]))


def text_ink(analysis: PageAnalysis) -> TextInk:
    """Line-bearing ink: characters and rules; seals, solid blobs and specks removed."""
    ink = analysis.ink
    n, labels, stats, centroids = components(ink)
    x, y, w, h, area = (stats[1:, i] for i in range(5))
    char_h = _median_char_height(h, w, area, analysis.dpi)
    keep = np.zeros(n, bool)
    keep[1:] = area >= 4
    seals: list[tuple[float, float, float]] = []
    refill: list[tuple[int, int, int, int, float]] = []
    for i in np.nonzero((w > 5 * char_h) & (h > 5 * char_h))[0]:
        x0, y0, cw, ch = int(x[i]), int(y[i]), int(w[i]), int(h[i])
        fill = area[i] / float(cw * ch)
        aspect = max(cw, ch) / min(cw, ch)
        if fill > BLOB_FILL:
            keep[i + 1] = False
            continue
        if aspect > SEAL_MAX_ASPECT:
            continue
        sub = labels[y0 : y0 + ch, x0 : x0 + cw] == i + 1
        ys, xs = np.nonzero(sub)
        radius = (cw + ch) / 4.0
        r = np.hypot(xs - cw / 2.0, ys - ch / 2.0)
        on_ring = np.abs(r - radius) < 0.1 * radius
        if on_ring.mean() < SEAL_RING_SHARE:
            continue
        cx, cy = x0 + cw / 2.0, y0 + ch / 2.0
        seals.append((cx, cy, radius))
        inside = np.hypot(centroids[1:, 0] - cx, centroids[1:, 1] - cy) < radius * 1.05
        keep[1:][inside] = False
        ring_level = float(np.percentile(analysis.contrast[y0 + ys[on_ring], x0 + xs[on_ring]], 90))
        refill.append((x0, y0, cw, ch, ring_level))
    mask = keep.astype(np.uint8)[labels]
    for x0, y0, cw, ch, level in refill:
        # text stamped over by the seal is darker than the seal ink in grey scans
        darker = analysis.contrast[y0 : y0 + ch, x0 : x0 + cw] > min(250.0, level + 25.0)
        darker &= ink[y0 : y0 + ch, x0 : x0 + cw] > 0
        mask[y0 : y0 + ch, x0 : x0 + cw] |= darker.astype(np.uint8)
    return TextInk(mask, char_h, seals)
