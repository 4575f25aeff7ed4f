"""Separate text-like ink from round seals, photos and specks on the analysis ink mask.

Skew and orientation want ink that sits on text lines or table rules. A round seal's ring and
its curved text, a photo or a large blot follow no text line and would pull the estimates, so
they are taken out. Where a seal was stamped over text in a grey scan, the text is darker than
the seal ink and is kept by thresholding the seal area again above the seal's own ink level. A
seal printed as black as the text (bitonal scans) leaves nothing darker: the text under it goes
with the seal, and the text outside the ring carries the lines.
The seals found (grey rings, or coloured rings on colour pages) are also what the OCR image
takes out.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitize.imaging.analysis import PageAnalysis, components

SEAL_RING_SHARE = 0.45  # share of a component's pixels on one circle for it to count as a seal
SEAL_MAX_ASPECT = 1.35
BLOB_FILL = 0.4  # a large component this solid is a photo or blot, not text
SEAL_JOIN_MM = 2.5  # gaps bridged between the broken arcs of a coloured seal
TEXT_OVER_SEAL = 25.0  # text under a grey seal is at least this much darker than the seal ink


@dataclass(frozen=True)
class Seal:
    cx: float  # centre and radius in analysis pixels
    cy: float
    radius: float
    ink_contrast: float | None  # contrast of the seal's own ink in grey scans; None for a colour seal


@dataclass
class TextInk:
    mask: np.ndarray  # (h,w) uint8 0/1 line-bearing ink
    char_height: float  # median height of character-sized components, analysis pixels
    seals: list[Seal]  # round seals found (grey ink rings, or coloured rings on colour pages)


def _median_char_height(heights: np.ndarray, widths: np.ndarray, areas: np.ndarray, dpi: float) -> float:
    limit = dpi / 25.4 * 12  # characters are smaller than 12 mm
    sel = (areas >= 6) & (heights < limit) & (widths < limit) & (heights >= 3)
    if not np.any(sel):
        return dpi / 25.4 * 3.5
    return float(np.median(heights[sel]))


def _ring(
    labels: np.ndarray, index: int, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Pixel coordinates of a component and which of them lie on its inscribed circle, if it is a seal ring."""
    x0, y0, cw, ch = box
    if max(cw, ch) / min(cw, ch) > SEAL_MAX_ASPECT:
        return None
    ys, xs = np.nonzero(labels[y0 : y0 + ch, x0 : x0 + cw] == index)
    radius = (cw + ch) / 4.0
    on_ring = np.abs(np.hypot(xs - cw / 2.0, ys - ch / 2.0) - radius) < 0.1 * radius
    if on_ring.mean() < SEAL_RING_SHARE:
        return None
    return xs, ys, on_ring


def _colour_seals(colour_mask: np.ndarray, char_h: float, dpi: float) -> list[Seal]:
    """Large, roughly square clusters of coloured ink (a seal's ring often prints in broken arcs)."""
    size = max(3, int(round(SEAL_JOIN_MM * dpi / 25.4)) | 1)
    joined = cv2.morphologyEx(colour_mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    n, _, stats, _ = components(joined)
    seals = []
    for i in range(1, n):
        x0, y0, cw, ch = (int(v) for v in stats[i, :4])
        if cw > 5 * char_h and ch > 5 * char_h and max(cw, ch) / min(cw, ch) <= SEAL_MAX_ASPECT:
            seals.append(Seal(x0 + cw / 2.0, y0 + ch / 2.0, (cw + ch) / 4.0, None))
    return seals


def text_ink(analysis: PageAnalysis, colour_mask: np.ndarray | None = None) -> TextInk:
    """Line-bearing ink: characters and rules; seals and solid blobs removed."""
    ink = analysis.ink
    n, labels, stats, centroids = components(ink)
    x, y, w, h, area = (stats[1:, i] for i in range(5))
    char_h = _median_char_height(h, w, area, analysis.dpi)
    drop: list[int] = []
    seals: list[Seal] = []
    refill: list[tuple[int, int, int, int, float]] = []
    for i in np.nonzero((w > 5 * char_h) & (h > 5 * char_h))[0]:
        x0, y0, cw, ch = int(x[i]), int(y[i]), int(w[i]), int(h[i])
        if area[i] / float(cw * ch) > BLOB_FILL:
            drop.append(i + 1)
            continue
        ring = _ring(labels, i + 1, (x0, y0, cw, ch))
        if ring is None:
            continue
        xs, ys, on_ring = ring
        cx, cy, radius = x0 + cw / 2.0, y0 + ch / 2.0, (cw + ch) / 4.0
        inside = np.hypot(centroids[1:, 0] - cx, centroids[1:, 1] - cy) < radius * 1.05
        drop.extend(int(j) + 1 for j in np.nonzero(inside)[0])
        ring_level = float(np.percentile(analysis.contrast[y0 + ys[on_ring], x0 + xs[on_ring]], 90))
        seals.append(Seal(cx, cy, radius, ring_level))
        if ring_level + TEXT_OVER_SEAL <= 255:  # a black (or bitonal) seal leaves no darker text to find
            refill.append((x0, y0, cw, ch, ring_level))
    mask = ink.copy()
    for j in drop:  # a handful of components: clear them inside their own boxes
        x0, y0, cw, ch = (int(v) for v in stats[j, :4])
        box = mask[y0 : y0 + ch, x0 : x0 + cw]
        box[labels[y0 : y0 + ch, x0 : x0 + cw] == j] = 0
    for x0, y0, cw, ch, level in refill:
        # text stamped over by the seal is darker than the seal ink in grey scans
        darker = analysis.contrast[y0 : y0 + ch, x0 : x0 + cw] > level + TEXT_OVER_SEAL
        darker &= ink[y0 : y0 + ch, x0 : x0 + cw] > 0
        mask[y0 : y0 + ch, x0 : x0 + cw] |= darker.astype(np.uint8)
    if colour_mask is not None:
        seals += _colour_seals(colour_mask, char_h, analysis.dpi)
    return TextInk(mask, char_h, seals)
