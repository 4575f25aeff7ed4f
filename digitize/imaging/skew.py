"""Skew angle from the sharpness of the ink's projection profile.

The ink pixels (analysis resolution, text-like ink only) are projected onto the normal of a
candidate line direction; the sum of squares of that profile is largest when text lines and
table rules fall into the fewest rows. The search runs coarse-to-fine: a grid over the whole
range on a subsample with 2-pixel bins, then finer grids on all points (0.1° and 0.02° steps),
each ending in a parabola through the best three scores. Each pixel is weighted by its
contrast, spread over two bins by its fractional position, and jittered by a fixed sub-pixel
offset, so the score is a smooth function of the angle without a pull towards angles where
pixel rows line up (0°).

On a page of a few short lines (the last page of a letter: issuing office, date, page number),
where the ink sits inside a line (a heavy radical here, a light character there) tilts that
estimate by a tenth of a degree or more. So before the last step the ink is straightened at the
estimate and the gaps along each line are closed up to a few character heights, making every
line one solid band; the band keeps the ink's grey levels, so its edges keep their sub-pixel
place. When the bands add up to less than SHORT_PAGE_LINE_CHARS character heights
of line, the last step measures the angle left in the bands, whose edges are the tops and
bottoms of the characters rather than the strokes inside them, and averages it with a line fit
through the top and bottom edges of the characters themselves that keeps only the edges most
characters share (the fit leaves out descenders, capitals and short characters, which the bands
take in). The two err differently, and their mean is about a quarter closer on such pages (see
docs/benchmarks.md). Where they disagree by more than EDGE_BAND_MAX_DISAGREEMENT_DEG (on real
letter ends they have differed by 0.24° at most), the edge fit has been led by something other
than a text line, such as the fragments left beside a black seal, and the bands alone count.
Fuller pages average the strokes out; there the last step stays on the ink, which is the more
precise of the two.

Positive angles mean text lines rising to the right, as displayed (counter-clockwise content).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from digitize.imaging.analysis import components, percentile_u8
from digitize.imaging.marks import TextInk

COARSE_STEP_DEG = 0.5
COARSE_POINTS = 8_000
FINE_POINTS = 80_000
MIN_POINTS = 60  # fewer ink pixels than this: no estimate
BAND_GAP_CHARS = 3.0  # gaps along a line closed to make it one band, in character heights
SHORT_PAGE_LINE_CHARS = 120.0  # less line than this (character heights, about 4 letter lines): use the bands
# the character-edge fit measures in whole-character heights (TextInk.glyph_height)
EDGE_LINE_MAX_CHARS = 3.0  # a band taller than this is lines run together, not one line
EDGE_LINE_MIN_CHARS = 4.0  # shorter bands (a page number, a stray mark) are left out of the fit
EDGE_MIN_RUN_CHARS = 0.15  # runs of inked columns narrower than this have no edge to fit
EDGE_MIN_RUNS = 3
EDGE_TOLERANCES_CHARS = (0.15, 0.1, 0.06, 0.06)  # edges kept in each round of the fit, from the line
EDGE_BAND_MAX_DISAGREEMENT_DEG = 0.5  # further from the bands' residual: the edge fit found no text line


@dataclass(frozen=True)
class SkewEstimate:
    angle: float  # degrees, counter-clockwise positive
    confidence: float  # 0..1
    horizontal_ratio: float  # best / median coarse score for lines running across the page
    vertical_ratio: float  # the same for lines running down the page (a page turned by 90°)

    @property
    def axis_margin(self) -> float:
        """log(horizontal / vertical): > 0 when the lines run across the page as scanned."""
        return math.log(self.horizontal_ratio / self.vertical_ratio)


def _profile_energy(xs: np.ndarray, ys: np.ndarray, weights: np.ndarray, angle_deg: float, bin_px: float) -> float:
    t = math.radians(angle_deg)
    pos = ys * math.cos(t) + xs * math.sin(t)
    pos -= pos.min()
    if bin_px != 1.0:
        pos /= bin_px
    idx = pos.astype(np.intp)
    upper = (pos - idx) * weights
    n = int(idx[-1] if idx.size == 0 else idx.max()) + 2
    hist = np.bincount(idx, weights - upper, minlength=n)
    hist += np.bincount(idx + 1, upper, minlength=n)
    return float(hist @ hist)


def _scan(xs, ys, weights, angles: np.ndarray, bin_px: float = 1.0) -> np.ndarray:
    return np.array([_profile_energy(xs, ys, weights, a, bin_px) for a in angles])


def _parabolic_peak(angles: np.ndarray, scores: np.ndarray) -> float:
    k = int(np.argmax(scores))
    if 0 < k < len(scores) - 1:
        curvature = scores[k - 1] - 2.0 * scores[k] + scores[k + 1]
        if curvature < 0:
            offset = 0.5 * (scores[k - 1] - scores[k + 1]) / curvature
            return float(angles[k] + offset * (angles[1] - angles[0]))
    return float(angles[k])


def _pixels(mask: np.ndarray) -> np.ndarray:
    """(N,2) x,y of at most about FINE_POINTS of the mask's pixels, evenly spread."""
    found = cv2.findNonZero(mask)
    if found is None:
        return np.zeros((0, 2), np.int64)
    found = found.reshape(-1, 2)
    return found[:: len(found) // FINE_POINTS + 1] if len(found) > FINE_POINTS else found


def _jittered(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centred pixel coordinates, each moved by a fixed random sub-pixel offset."""
    jitter = np.random.default_rng(0).random((2, len(pixels))) - 0.5
    fx = pixels[:, 0] + jitter[0]
    fy = pixels[:, 1] + jitter[1]
    return fx - fx.mean(), fy - fy.mean()


def _ink_points(text: TextInk, contrast: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred, jittered coordinates and contrast weights of the line-bearing ink pixels."""
    pixels = _pixels(text.mask)
    weights = contrast[pixels[:, 1], pixels[:, 0]].astype(np.float64)
    fx, fy = _jittered(pixels)
    return fx, fy, weights


def _refine(
    px: np.ndarray, py: np.ndarray, weights: np.ndarray, angle: float, steps: tuple[tuple[float, float], ...]
) -> float:
    for half, step in steps:
        grid = np.arange(angle - half, angle + half + 1e-9, step)
        angle = _parabolic_peak(grid, _scan(px, py, weights, grid))
    return angle


def _straightened_ink(text: TextInk, contrast: np.ndarray, angle: float) -> np.ndarray:
    """The ink straightened by `angle`, graded by contrast (0..255).

    The ink and the pixels next to it carry their contrast, scaled so that the median ink pixel
    is at full level: a stroke's edge pixel, partly covered, keeps its grey level, and so the
    edges keep the sub-pixel position the scan gives them (the straightening interpolates as
    well).
    """
    h, w = text.mask.shape
    level = max(1.0, percentile_u8(contrast, 50, text.mask))
    near_ink = cv2.dilate(text.mask, np.ones((3, 3), np.uint8))
    graded = cv2.convertScaleAbs(contrast, alpha=255.0 / level) * near_ink
    matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), -angle, 1.0)
    return cv2.warpAffine(graded, matrix, (w, h), flags=cv2.INTER_LINEAR)


def _line_bands(straight: np.ndarray, char_height: float, lines_down: bool) -> np.ndarray:
    """Straightened ink with each text line closed into one solid band."""
    length = max(3, int(round(BAND_GAP_CHARS * char_height)))
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (1, length) if lines_down else (length, 1))
    return cv2.morphologyEx(straight, cv2.MORPH_CLOSE, kernel)


def _short_page_lines(
    text: TextInk, contrast: np.ndarray, angle: float, lines_down: bool
) -> tuple[np.ndarray, np.ndarray] | None:
    """The straightened ink and its line bands when the page has less than SHORT_PAGE_LINE_CHARS
    character heights of text line (counting bands at least four characters long), else None."""
    char_h = text.char_height
    if cv2.countNonZero(text.mask) > 2 * SHORT_PAGE_LINE_CHARS * char_h * char_h:
        return None  # twice the ink that much line can hold (a seal may add some): not short
    straight = _straightened_ink(text, contrast, angle)
    bands = _line_bands(straight, char_h, lines_down)
    _, _, stats, _ = components((bands >= 128).astype(np.uint8))
    lengths = stats[1:, cv2.CC_STAT_HEIGHT if lines_down else cv2.CC_STAT_WIDTH]
    return (straight, bands) if lengths[lengths >= 4 * char_h].sum() < SHORT_PAGE_LINE_CHARS * char_h else None


def _band_residual(bands: np.ndarray, lines_down: bool) -> float:
    """The angle left in straightened bands, each pixel weighted by its level (0 when too few)."""
    pixels = _pixels(bands)
    if len(pixels) < MIN_POINTS:
        return 0.0
    weights = bands[pixels[:, 1], pixels[:, 0]].astype(np.float64)
    fx, fy = _jittered(pixels)
    px, py = (-fy, fx) if lines_down else (fx, fy)
    return _refine(px, py, weights, 0.0, ((0.5, 0.1), (0.1, 0.02)))


def _edge_crossing(profile: np.ndarray, from_start: bool) -> float:
    """Sub-pixel position where a 0..255 profile first reaches half level, from either end."""
    above = np.flatnonzero(profile >= 128)
    k = int(above[0] if from_start else above[-1])
    outside = k - 1 if from_start else k + 1
    if not 0 <= outside < len(profile):
        return float(k)
    inside_level, outside_level = float(profile[k]), float(profile[outside])
    share = (inside_level - 128.0) / max(inside_level - outside_level, 1e-6)
    return k - share if from_start else k + share


def _character_edges(straight: np.ndarray, bands: np.ndarray, glyph_h: float) -> list[np.ndarray]:
    """Per text line, its top edge and its bottom edge: (N,3) x, y, width of the runs of inked
    columns along the line (characters, or parts of them side by side)."""
    edges: list[np.ndarray] = []
    n, labels, stats, _ = components((bands >= 128).astype(np.uint8))
    for line in range(1, n):
        x0, y0, width, height = (int(v) for v in stats[line, :4])
        if width < EDGE_LINE_MIN_CHARS * glyph_h or height > EDGE_LINE_MAX_CHARS * glyph_h:
            continue  # not a line of text, or lines run together
        ink = straight[y0 : y0 + height, x0 : x0 + width] * (labels[y0 : y0 + height, x0 : x0 + width] == line)
        inked = np.concatenate([[0], (ink >= 128).any(axis=0).astype(np.int8), [0]])
        starts, ends = np.flatnonzero(np.diff(inked) == 1), np.flatnonzero(np.diff(inked) == -1)
        top, bottom = [], []
        for s, e in zip(starts, ends):
            if e - s < EDGE_MIN_RUN_CHARS * glyph_h:
                continue  # a dot or a thin vertical stroke end: no edge worth fitting
            profile = ink[:, s:e].max(axis=1)
            x = x0 + (s + e) / 2.0
            top.append((x, y0 + _edge_crossing(profile, True), e - s))
            bottom.append((x, y0 + _edge_crossing(profile, False), e - s))
        if top:
            edges += [np.array(top), np.array(bottom)]
    return edges


def _edge_residual(straight: np.ndarray, bands: np.ndarray, glyph_h: float, lines_down: bool) -> float | None:
    """The angle left in the tops and bottoms of the characters along straightened lines.

    Each line's top edge and bottom edge gets its own offset and all share one slope; the fit
    is repeated keeping only the edges near the line, so descenders, capitals, punctuation and
    short characters drop out and the edges most characters share remain (Latin baseline and
    x-height, the CJK character face). `glyph_h` is the height of whole characters: measured on
    the fragments of broken or composite characters (a third of it on CJK), the fit's window
    shrank to half a pixel and threw out good edges. None when fewer than EDGE_MIN_RUNS runs
    are found.
    """
    if lines_down:  # turn the lines to run across; a quarter turn keeps the angle's sense
        straight = cv2.rotate(straight, cv2.ROTATE_90_CLOCKWISE)
        bands = cv2.rotate(bands, cv2.ROTATE_90_CLOCKWISE)
    edges = _character_edges(straight, bands, glyph_h)
    if sum(len(points) for points in edges) < EDGE_MIN_RUNS:
        return None
    slope = 0.0
    offsets = [float(np.median(points[:, 1])) for points in edges]
    for tolerance in EDGE_TOLERANCES_CHARS:
        kept = [
            points[np.abs(points[:, 1] - offset - slope * points[:, 0]) < tolerance * glyph_h]
            for points, offset in zip(edges, offsets)
        ]
        sxy = sxx = 0.0
        for points in kept:
            if len(points):
                x, y, weight = points[:, 0], points[:, 1], points[:, 2]
                dx, dy = x - np.average(x, weights=weight), y - np.average(y, weights=weight)
                sxy += float(np.sum(weight * dx * dy))
                sxx += float(np.sum(weight * dx * dx))
        if sxx <= 0:
            return None
        slope = sxy / sxx
        for k, points in enumerate(kept):
            if len(points):
                offsets[k] = float(np.average(points[:, 1] - slope * points[:, 0], weights=points[:, 2]))
    return -math.degrees(math.atan(slope))  # image rows run down: a falling edge is a clockwise turn


def estimate_skew(text: TextInk, contrast: np.ndarray, max_deg: float) -> SkewEstimate | None:
    """Skew of the text lines in ±max_deg, or None when there is too little ink.

    Lines running down the page (a page turned by a quarter) are searched as well: the skew of
    the page is the same angle either way, and the clearer of the two directions is refined.
    """
    xs, ys, weights = _ink_points(text, contrast)
    if xs.size < MIN_POINTS:
        return None
    step = max(1, xs.size // COARSE_POINTS)
    cx, cy, cw = xs[::step], ys[::step], weights[::step]
    coarse = np.arange(-max_deg, max_deg + 1e-9, COARSE_STEP_DEG)
    across = _scan(cx, cy, cw, coarse, bin_px=2.0)
    down = _scan(-cy, cx, cw, coarse, bin_px=2.0)  # projection onto the x axis, same angle sense
    h_ratio = float(across.max() / max(np.median(across), 1e-9))
    v_ratio = float(down.max() / max(np.median(down), 1e-9))
    lines_down = v_ratio > h_ratio
    px, py, scores = (-ys, xs, down) if lines_down else (xs, ys, across)
    angle = _refine(px, py, weights, _parabolic_peak(coarse, scores), ((0.5, 0.1),))
    short_page = _short_page_lines(text, contrast, angle, lines_down)
    if short_page is not None:
        straight, bands = short_page
        residual = _band_residual(bands, lines_down)
        edge_residual = _edge_residual(straight, bands, text.glyph_height, lines_down)
        if edge_residual is None or abs(edge_residual - residual) > EDGE_BAND_MAX_DISAGREEMENT_DEG:
            angle += residual
        else:
            angle += (residual + edge_residual) / 2.0
    else:
        angle = _refine(px, py, weights, angle, ((0.1, 0.02),))
    angle = float(np.clip(angle, -max_deg, max_deg))
    # confidence: how far the best line direction stands above an arbitrary direction
    peak = max(h_ratio, v_ratio)
    confidence = float(np.clip((peak - 1.0) / 1.5, 0.0, 1.0)) * min(1.0, xs.size / 2000.0)
    return SkewEstimate(angle, confidence, h_ratio, v_ratio)
