"""Skew angle from the sharpness of the ink's projection profile.

The ink pixels (analysis resolution, text-like ink only) are projected onto the normal of a
candidate line direction; the sum of squares of that profile is largest when text lines and
table rules fall into the fewest rows. The search runs coarse-to-fine: a grid over the whole
range on a subsample with 2-pixel bins, then two finer grids on all points, each ending in a
parabola through the best three scores. Each pixel is weighted by its contrast, spread over two
bins by its fractional position, and jittered by a fixed sub-pixel offset, so the score is a
smooth function of the angle without a pull towards angles where pixel rows line up (0°).

Positive angles mean text lines rising to the right, as displayed (counter-clockwise content).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from digitize.imaging.marks import TextInk

COARSE_STEP_DEG = 0.5
COARSE_POINTS = 8_000
FINE_POINTS = 80_000
MIN_POINTS = 60  # fewer ink pixels than this: no estimate


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


def ink_points(text: TextInk, contrast: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred, jittered coordinates and contrast weights of the line-bearing ink pixels."""
    found = cv2.findNonZero(text.mask)
    if found is None:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    found = found.reshape(-1, 2)
    if len(found) > FINE_POINTS:
        found = found[:: len(found) // FINE_POINTS + 1]
    xs, ys = found[:, 0], found[:, 1]
    weights = contrast[ys, xs].astype(np.float64)
    rng = np.random.default_rng(seed)
    jitter = rng.random((2, xs.size)) - 0.5
    fx = xs + jitter[0]
    fy = ys + jitter[1]
    return fx - fx.mean(), fy - fy.mean(), weights


def estimate_skew(xs: np.ndarray, ys: np.ndarray, weights: np.ndarray, max_deg: float) -> SkewEstimate | None:
    """Skew of the text lines in ±max_deg, or None when there is too little ink.

    Lines running down the page (a page turned by a quarter) are searched as well: the skew of
    the page is the same angle either way, and the clearer of the two directions is refined.
    """
    if xs.size < MIN_POINTS:
        return None
    step = max(1, xs.size // COARSE_POINTS)
    cx, cy, cw = xs[::step], ys[::step], weights[::step]
    coarse = np.arange(-max_deg, max_deg + 1e-9, COARSE_STEP_DEG)
    across = _scan(cx, cy, cw, coarse, bin_px=2.0)
    down = _scan(-cy, cx, cw, coarse, bin_px=2.0)  # projection onto the x axis, same angle sense
    h_ratio = float(across.max() / max(np.median(across), 1e-9))
    v_ratio = float(down.max() / max(np.median(down), 1e-9))
    if h_ratio >= v_ratio:
        px, py, scores = xs, ys, across
    else:
        px, py, scores = -ys, xs, down
    angle = _parabolic_peak(coarse, scores)
    for half, fine_step in ((0.5, 0.1), (0.1, 0.02)):
        grid = np.arange(angle - half, angle + half + 1e-9, fine_step)
        angle = _parabolic_peak(grid, _scan(px, py, weights, grid))
    angle = float(np.clip(angle, -max_deg, max_deg))
    # confidence: how far the best line direction stands above an arbitrary direction
    peak = max(h_ratio, v_ratio)
    confidence = float(np.clip((peak - 1.0) / 1.5, 0.0, 1.0)) * min(1.0, xs.size / 2000.0)
    return SkewEstimate(angle, confidence, h_ratio, v_ratio)
