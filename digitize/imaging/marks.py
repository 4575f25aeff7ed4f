"""Separate text-like ink from round seals, photos and specks on the analysis ink mask.

Skew and orientation want ink that sits on text lines or table rules. A round seal's ring and
its curved text, a photo or a large blot follow no text line and would pull the estimates, so
they are taken out. Where a seal was stamped over text in a grey scan, the text is darker than
the seal ink and is kept by thresholding the seal area again above the seal's own ink level. A
seal printed as black as the text (bitonal scans) leaves nothing darker: the text under it goes
with the seal, and the text outside the ring carries the lines.
A seal stamped across text or a table's rules is one component with them. Its ring is then
found with a Hough transform inside that component, and only the seal's disc is taken out: the
rest of the lines it touched stay.
The seals found (grey rings, or coloured rings on colour pages) are also what the OCR image
takes out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from digitize.imaging.analysis import PageAnalysis, components

SEAL_RING_SHARE = 0.45  # share of a component's pixels on one circle for it to count as a seal
SEAL_MAX_ASPECT = 1.35
RING_BAND = 0.1  # a ring's pixels lie within this share of the radius from its circle
COVER_TOLERANCE = 0.06  # ink within this share of the radius from a circle touches it
RING_ANGLES = 360
SEAL_MIN_RADIUS_MM, SEAL_MAX_RADIUS_MM = 6.0, 30.0  # round seals: about 12 to 60 mm across
SEAL_RING_MARGIN = 0.5  # ring coverage minus the coverage just outside it, for a seal within a component
HOUGH_CANDIDATES = 5
HOUGH_MIN_RADIUS_PX = 12.0
HOUGH_VOTES = 50  # accumulator votes for a circle centre on the shrunk copy
BLOB_FILL = 0.4  # a large component this solid is a photo or blot, not text
SEAL_JOIN_MM = 2.5  # gaps bridged between the broken arcs of a coloured seal
TEXT_OVER_SEAL = 15.0  # text under a grey seal is at least this much darker than the seal ring's ink


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
    glyph_height: float  # the same over whole characters only (see _character_heights)
    seals: list[Seal]  # round seals found (grey ink rings, or coloured rings on colour pages)


def _character_heights(heights: np.ndarray, widths: np.ndarray, areas: np.ndarray, dpi: float) -> tuple[float, float]:
    """Median height of character-sized components, and of those at least half as tall as the
    tallest tenth. Worn type and faint ink break characters into fragments, which pull the first
    down (6 pixels instead of about 18 on a letterpress form at 150 dpi). Skew's line bands were tuned
    on the first; orientation and skew's character-edge fit, which need to know how tall a line
    or a character is, use the second."""
    limit = dpi / 25.4 * 12  # characters are smaller than 12 mm
    sel = (areas >= 6) & (heights < limit) & (widths < limit) & (heights >= 3)
    if not np.any(sel):
        return dpi / 25.4 * 3.5, dpi / 25.4 * 3.5
    heights = heights[sel]
    whole = heights[heights >= 0.5 * np.percentile(heights, 90)]
    return float(np.median(heights)), float(np.median(whole))


def _ring_coverage(xs: np.ndarray, ys: np.ndarray, circle: tuple[float, float, float]) -> float:
    """Share of RING_ANGLES directions around the circle in which the pixels (xs, ys) touch it."""
    cx, cy, radius = circle
    near = np.abs(np.hypot(xs - cx, ys - cy) - radius) < COVER_TOLERANCE * radius
    if not np.any(near):
        return 0.0
    angles = np.arctan2(ys[near] - cy, xs[near] - cx)
    bins = ((angles + np.pi) / (2 * np.pi) * RING_ANGLES).astype(np.intp) % RING_ANGLES
    return float(np.unique(bins).size) / RING_ANGLES


def _seal_circle(
    labels: np.ndarray, index: int | np.integer[Any], box: tuple[int, int, int, int], dpi: float
) -> tuple[tuple[float, float, float], bool, np.ndarray, np.ndarray] | None:
    """The seal ring in one component, if any: (cx, cy, radius), whether the component is the
    seal alone, and the component's pixel coordinates.

    A clean ring fills its own bounding box. A seal stamped over text or a table is one component
    with the lines it crosses, so there the circle is searched with a Hough transform and kept
    when ink follows it all round while a circle just outside it stays mostly clear (a table's
    grid or a block of text touches any circle about as often just outside as on it).
    """
    x0, y0, cw, ch = box
    xs: np.ndarray
    ys: np.ndarray
    ys, xs = np.nonzero(labels[y0 : y0 + ch, x0 : x0 + cw] == index)
    xs = xs.astype(np.float64) + x0
    ys = ys.astype(np.float64) + y0
    if max(cw, ch) / min(cw, ch) <= SEAL_MAX_ASPECT:
        circle = (x0 + cw / 2.0, y0 + ch / 2.0, (cw + ch) / 4.0)
        on_ring = np.abs(np.hypot(xs - circle[0], ys - circle[1]) - circle[2]) < RING_BAND * circle[2]
        if on_ring.mean() >= SEAL_RING_SHARE:
            return circle, True, xs, ys
    px_per_mm = dpi / 25.4
    min_radius = int(SEAL_MIN_RADIUS_MM * px_per_mm)
    max_radius = int(min(max(cw, ch) / 2.0 + 2, SEAL_MAX_RADIUS_MM * px_per_mm))
    if max_radius <= min_radius:
        return None
    # the Hough search runs on a copy shrunk so that the smallest seal's radius is HOUGH_MIN_RADIUS_PX
    scale = min(1.0, HOUGH_MIN_RADIUS_PX / min_radius)
    pad = 4
    crop = (labels[y0 : y0 + ch, x0 : x0 + cw] == index).astype(np.uint8) * np.uint8(255)
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    crop = cv2.GaussianBlur(cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_CONSTANT), (5, 5), 1.0)
    found = cv2.HoughCircles(
        crop,
        cv2.HOUGH_GRADIENT,
        dp=1,
        minDist=max_radius * scale,
        param1=100,
        param2=HOUGH_VOTES,
        minRadius=int(min_radius * scale),
        maxRadius=int(math.ceil(max_radius * scale)),
    )
    if found is None:
        return None
    best, best_margin = None, SEAL_RING_MARGIN
    for fx, fy, radius in found[0][:HOUGH_CANDIDATES]:
        circle = ((float(fx) - pad) / scale + x0, (float(fy) - pad) / scale + y0, float(radius) / scale)
        outside = (circle[0], circle[1], circle[2] * (1.0 + 3 * COVER_TOLERANCE))
        margin = _ring_coverage(xs, ys, circle) - _ring_coverage(xs, ys, outside)
        if margin >= best_margin:
            best, best_margin = circle, margin
    return None if best is None else (best, False, xs, ys)


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
    char_h, glyph_h = _character_heights(h, w, area, analysis.dpi)
    drop: list[int | np.integer[Any]] = []  # component labels
    seals: list[Seal] = []
    # components that carry a seal with other lines
    cut: list[tuple[int | np.integer[Any], tuple[float, float, float]]] = []
    for i in np.nonzero((w > 5 * char_h) & (h > 5 * char_h))[0]:
        x0, y0, cw, ch = int(x[i]), int(y[i]), int(w[i]), int(h[i])
        if area[i] / float(cw * ch) > BLOB_FILL:
            drop.append(i + 1)
            continue
        found = _seal_circle(labels, i + 1, (x0, y0, cw, ch), analysis.dpi)
        if found is None:
            continue
        (cx, cy, radius), alone, xs, ys = found
        if alone:
            drop.append(i + 1)
        else:
            cut.append((i + 1, (cx, cy, radius)))
        inside = np.hypot(centroids[1:, 0] - cx, centroids[1:, 1] - cy) < radius * 1.05
        drop.extend(int(j) + 1 for j in np.nonzero(inside)[0] if j != i)
        on_ring = np.abs(np.hypot(xs - cx, ys - cy) - radius) < RING_BAND * radius
        # lines crossing a ring are darker than it: a lower percentile keeps to the ring's own ink
        level = np.percentile(
            analysis.contrast[ys[on_ring].astype(np.intp), xs[on_ring].astype(np.intp)], 90 if alone else 75
        )
        seals.append(Seal(cx, cy, radius, float(level)))
    mask = ink.copy()
    for j in drop:  # a handful of components: clear them inside their own boxes
        x0, y0, cw, ch = (int(v) for v in stats[j, :4])
        box = mask[y0 : y0 + ch, x0 : x0 + cw]
        box[labels[y0 : y0 + ch, x0 : x0 + cw] == j] = 0
    for j, (cx, cy, radius) in cut:  # only the seal's disc of a component that runs on beyond it
        disc = np.zeros_like(mask)
        cv2.circle(disc, (int(round(cx)), int(round(cy))), int(math.ceil(radius * 1.06)), 1, -1)
        mask[(disc > 0) & (labels == j)] = 0
    for seal in seals:
        if seal.ink_contrast is None or seal.ink_contrast + TEXT_OVER_SEAL > 255:
            continue  # a black (or bitonal) seal leaves no darker text to find
        # text stamped over by the seal is darker than the seal ink in grey scans
        r = int(math.ceil(seal.radius * 1.06))
        x0, y0 = max(0, int(seal.cx) - r), max(0, int(seal.cy) - r)
        x1, y1 = int(seal.cx) + r + 1, int(seal.cy) + r + 1
        darker = analysis.contrast[y0:y1, x0:x1] > seal.ink_contrast + TEXT_OVER_SEAL
        darker &= ink[y0:y1, x0:x1] > 0
        mask[y0:y1, x0:x1] |= darker.astype(np.uint8)
    if colour_mask is not None:
        seals += _colour_seals(colour_mask, char_h, analysis.dpi)
    return TextInk(mask, char_h, glyph_h, seals)
