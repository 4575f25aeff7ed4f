"""The image handed to Tesseract (never stored as a master).

Steps, all on 8-bit images, with the heavy filtering done on reduced copies:

* grey: luminance, so that red letterheads stay readable; inside a red seal found on a colour
  page the brightest channel is used instead, which makes the red ink vanish and leaves the
  black text stamped over;
* illumination flattening: the paper level is estimated by a grey closing on a reduced copy
  (wider than any stroke) and the page is divided by it, so shading and yellowed paper become
  white (255) while ink keeps its contrast;
* streaks from a dirty scanner drum or glass (columns or rows that stay grey along the whole
  page) are divided by their own level and median-filtered, so their haze and grains do not
  turn into black bars that Tesseract reads as text;
* seal removal in grey scans: inside a seal found in the analysis, everything lighter than
  text stamped over it (the seal's own ink) is set to white;
* a tone curve scaled to the page's own ink: marks less than about a third as dark as the ink
  (show-through from the reverse side, drum dirt, paper texture) become white, the ink's dark
  cores become black, and anti-aliased stroke edges stay grey for Tesseract's LSTM. The ink
  level is read from the analysis copy (see ``ink_share_for_ocr``): normally its dark cores;
  when the ink's darkness is spread widely (light, broken letterpress or hairline serif type)
  its lighter part, so that thin strokes are not erased with the show-through;
* pages with small characters are resampled until a character is about TARGET_GLYPH_PX pixels
  tall (on the 44 real pages with reference text of ../shared/real-dev, characters resampled to
  20, 26, 32 and 40 pixels read at CER 0.290, 0.273, 0.292 and 0.296, in 67, 79, 87 and 99 s of
  OCR; at 300 dpi characters are 27 to 60 pixels tall; measured again with columns and tables
  read as now, ``bench/ocr_scale.py``: 20, 22 and 26 pixels read at 0.230, 0.228 and 0.198 in
  78, 81 and 90 CPU seconds of OCR, worse in every group below 26); without a measured character
  size, pages under 300 dpi are resampled to 300 dpi.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

TARGET_DPI = 300.0
TARGET_GLYPH_PX = 26.0  # smaller characters are resampled to this height (see the notes above)
MIN_UPSAMPLE = 1.25  # only resample when it changes the size noticeably
BACKGROUND_MM = 4.0  # closing size for the paper level: wider than any pen or type stroke
BLACK_SHARE, WHITE_SHARE = 0.9, 0.32  # tone curve end points, as shares of the ink's darkness
SPREAD_RATIO = 0.56  # ink 30th/95th darkness percentile below this: thin or broken type
STREAK_STEP = 4  # streak levels are read on every 4th pixel
STREAK_SHARE = 0.8  # a streak stays dark along at least this share of the page
STREAK_DEPTH = 15.0  # ... by more than this many grey levels (of 255) below the paper
STREAK_FLOOR = 96.0  # never divide by a level darker than this
STREAK_MEDIAN_MM = 0.4  # median filter size inside a streak (5 pixels at 300 dpi)
SEAL_MARGIN = 12.0  # grey levels between a grey seal's ink and the text to keep under it


@dataclass(frozen=True)
class SealArea:
    cx: float  # centre and radius in page pixels
    cy: float
    radius: float
    ink_share: float | None  # darkness of the seal ink as a share of the paper level; None: a colour seal


def ocr_image(
    page: np.ndarray,
    dpi: float,
    ink_share: float = 0.93,
    seals: Sequence[SealArea] = (),
    glyph_px: float | None = None,
) -> tuple[np.ndarray, float]:
    """Enhanced grey image for OCR and its scale (OCR pixels per page pixel).

    `ink_share`: how dark the page's ink is, as a share of the paper level (0.93 for black type
    on white paper; lower for faded or thin type). `glyph_px`: the height of whole characters
    in page pixels, when measured (see ``resolution.glyph_size``).
    """
    if page.ndim == 3:
        grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
        for seal in (s for s in seals if s.ink_share is None):
            # inside the seal's bounding box only: no full-page copies of the channels
            r = int(round(seal.radius * 1.08)) + 1
            x0, y0 = max(0, int(seal.cx) - r), max(0, int(seal.cy) - r)
            x1, y1 = min(page.shape[1], int(seal.cx) + r + 1), min(page.shape[0], int(seal.cy) + r + 1)
            box = page[y0:y1, x0:x1]
            brightest = box.max(axis=2)
            inside = _circles(brightest.shape, [SealArea(seal.cx - x0, seal.cy - y0, seal.radius, None)])
            grey[y0:y1, x0:x1][inside] = brightest[inside]
    else:
        grey = page
    flat = flatten_streaks(flatten(grey, dpi), dpi)
    for seal in seals:
        if seal.ink_share is not None:
            inside = _circles(flat.shape, [seal])
            level = 255.0 * (1.0 - seal.ink_share) - SEAL_MARGIN
            flat[inside & (flat > level)] = 255
    flat = cv2.LUT(flat, tone_curve(ink_share))
    wanted = TARGET_GLYPH_PX / glyph_px if glyph_px else TARGET_DPI / dpi
    scale = wanted if wanted >= MIN_UPSAMPLE else 1.0
    if scale != 1.0:
        flat = cv2.resize(flat, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    return flat, scale


def ink_share_for_ocr(p30: float, p95: float) -> float:
    """Ink darkness (share of the paper level) the tone curve is scaled to, from the 30th and 95th
    percentiles of the ink's darkness on the analysis copy."""
    return p95 if p30 >= SPREAD_RATIO * p95 else p30


def tone_curve(ink_share: float) -> np.ndarray:
    """256-entry lookup table for a flattened page (paper = 255) whose ink is `ink_share` dark."""
    share = float(np.clip(ink_share, 0.2, 1.0))
    black = 255.0 * (1.0 - BLACK_SHARE * share)
    white = 255.0 * (1.0 - WHITE_SHARE * share)
    return np.clip((np.arange(256, dtype=np.float32) - black) * 255.0 / (white - black), 0, 255).astype(np.uint8)


def _circles(shape: tuple[int, ...], seals: Sequence[SealArea]) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    for s in seals:
        cv2.circle(mask, (int(round(s.cx)), int(round(s.cy))), int(round(s.radius * 1.08)), 1, -1)
    return mask > 0


def flatten_streaks(flat: np.ndarray, dpi: float) -> np.ndarray:
    """Lighten streaks that run the whole length of the page (a dirty scanner drum or glass).

    Streak columns and rows (``streak_lines``) are divided by their median level, which
    whitens the streak's haze and leaves the ink, much darker, dark; a small median filter inside
    them then takes out the haze's darkest grains.
    """
    small = flat[::STREAK_STEP, ::STREAK_STEP]
    columns, rows = streak_lines(255 - small, STREAK_DEPTH)
    size = max(3, int(round(STREAK_MEDIAN_MM * dpi / 25.4)) | 1)
    for axis, found in ((0, columns), (1, rows)):
        if not found.any():
            continue
        length = flat.shape[1 - axis]
        median = np.median(small, axis=axis).astype(np.float32)
        median = cv2.resize(median.reshape(1, -1), (length, 1), interpolation=cv2.INTER_LINEAR).ravel()
        found = cv2.resize(found.astype(np.uint8).reshape(1, -1), (length, 1), interpolation=cv2.INTER_NEAREST).ravel()
        gain = 255.0 / np.clip(median, STREAK_FLOOR, 255.0)
        view = flat if axis == 0 else flat.T
        for first, last in _spans(np.flatnonzero(found)):
            band = view[:, first : last + 1].astype(np.float32) * gain[first : last + 1]
            view[:, first : last + 1] = cv2.medianBlur(np.clip(band, 0, 255).astype(np.uint8), size)
    return flat


def streak_lines(darkness: np.ndarray, depth: float) -> tuple[np.ndarray, np.ndarray]:
    """Columns and rows that are streaks: darker than the paper by more than `depth` along
    STREAK_SHARE of their length (a dirty scanner drum or glass draws such lines down or across
    the whole page). Text, tables and rules leave far more than a fifth of any column or row
    at paper level. `darkness`: how much darker than the paper each pixel is. Returns boolean
    arrays over columns and over rows."""
    found = []
    for axis in (0, 1):
        k = int((1.0 - STREAK_SHARE) * (darkness.shape[axis] - 1))
        found.append(np.partition(darkness, k, axis=axis).take(k, axis=axis) > depth)
    return found[0], found[1]


def _spans(indices: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) of each run of consecutive indices."""
    if indices.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) > 1)
    starts = np.concatenate([[indices[0]], indices[breaks + 1]])
    ends = np.concatenate([indices[breaks], [indices[-1]]])
    return list(zip(starts.tolist(), ends.tolist()))


def flatten(grey: np.ndarray, dpi: float) -> np.ndarray:
    """Divide by the local paper level so the paper becomes white (255)."""
    h, w = grey.shape
    factor = 4 if dpi >= 200 else 2
    small = cv2.resize(grey, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    size = max(3, int(round(BACKGROUND_MM * dpi / factor / 25.4)) | 1)
    background = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (size, size)))
    background = cv2.GaussianBlur(background, (0, 0), size / 2.0)
    background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.divide(grey, np.maximum(background, 1), scale=255)
