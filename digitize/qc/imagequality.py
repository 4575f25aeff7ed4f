"""Image measurements for QC, computed from the page pixels alone (no test chart).

Every function takes a decoded page (``numpy`` uint8, grey ``(H, W)`` or BGR ``(H, W, 3)``)
and its resolution, and returns plain numbers, so that the checks can state what was
measured. The measurements are deliberately independent of the processing step's own
estimates: QC re-measures what was delivered.

* ``edge_width`` -- blur: how many pixels (at 300 dpi) a dark/light transition takes, the
  median over all tiles that hold text. A sharp scan gives 2-4 px; a page out of focus
  gives 8 or more. Contrast, text amount and scanner-bed borders do not move it, because each
  tile is normalised by its own contrast and flat tiles are left out.
* ``colour_content`` -- DA/T 31 §9.3: saturated regions large enough to be content rather
  than specks; red ones (seals, red letterheads) apart from other colours (coloured ink, pictures).
* ``estimate_skew`` -- residual skew of a processed page by projection profiles of the ink.
* ``page_signature`` / ``compare_signatures`` -- perceptual comparison of two pages that
  tolerates a re-scan's shift, small rotation, scale and noise.
* ``thumbnail_jpeg`` -- a small JPEG for the report.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

REFERENCE_DPI = 300.0  # edge widths are expressed in pixels at this resolution
EDGE_TILE_PX = 48  # tile side (at 300 dpi) for the edge-width measurement
EDGE_TILE_MIN_CONTRAST = 80  # grey levels between a tile's darkest and lightest pixel
EDGE_MIN_TILES = 12  # fewer text tiles than this: too little text to judge sharpness
COLOUR_DPI = 75.0
COLOUR_MIN_SATURATION = 90  # OpenCV HSV saturation (0-255)
COLOUR_MIN_VALUE = 60
COLOUR_MIN_REGION_MM = 6.0  # a colour region smaller than this on both sides is a speck
SKEW_DPI = 100.0
SIGNATURE_WIDTH = 400  # pixels across the content box of a page signature (about 100 dpi)
SIGNATURE_HEIGHT = 560
ORB_FEATURES = 1500  # keypoints per page for aligning a re-scan onto its original


def to_grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def _rescale(image: np.ndarray, factor: float) -> np.ndarray:
    if abs(factor - 1.0) < 0.02:
        return image
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    return cv2.resize(image, size, interpolation=interpolation)


# ------------------------------------------------------------------------------------- blur
@dataclass(frozen=True)
class EdgeWidth:
    """``width_px``: median transition width in pixels at 300 dpi (None: too little text)."""

    width_px: float | None
    text_tiles: int


def edge_width(image: np.ndarray, dpi: float) -> EdgeWidth:
    grey = _rescale(to_grey(image), REFERENCE_DPI / dpi)
    smooth = cv2.medianBlur(grey, 3).astype(np.float32)  # speckle noise is not an edge
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    magnitude = cv2.magnitude(gx, gy)
    t = EDGE_TILE_PX
    h, w = (smooth.shape[0] // t) * t, (smooth.shape[1] // t) * t
    if h == 0 or w == 0:
        return EdgeWidth(None, 0)
    shape = (h // t, t, w // t, t)  # a view: no copy of the page
    grey_tiles = smooth[:h, :w].reshape(shape)
    contrast = (grey_tiles.max(axis=(1, 3)) - grey_tiles.min(axis=(1, 3))).ravel()
    steepest = magnitude[:h, :w].reshape(shape).max(axis=(1, 3)).ravel()
    text = contrast > EDGE_TILE_MIN_CONTRAST
    count = int(text.sum())
    if count < EDGE_MIN_TILES:
        return EdgeWidth(None, count)
    widths = contrast[text] / np.maximum(steepest[text], 1e-3)
    return EdgeWidth(float(np.median(widths)), count)


# ------------------------------------------------------------------------------------- colour
@dataclass(frozen=True)
class ColourContent:
    saturated_fraction: float  # share of the page's pixels that are clearly coloured
    red_fraction: float  # of which red (seals, red letterheads)
    largest_region_mm: float  # longer side of the largest coloured region, any hue
    largest_red_mm: float  # longer side of the largest red region
    needs_colour: bool  # a red region big enough to be a seal or a red header (DA/T 31 §9.3: 应)
    other_colour: bool  # other colour content (coloured ink, pictures) big enough to be content


def _largest_region_mm(mask: np.ndarray) -> float:
    mask = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    mm_per_px = 25.4 / COLOUR_DPI
    largest = 0.0
    for i in range(1, n):
        w, h = stats[i, cv2.CC_STAT_WIDTH], stats[i, cv2.CC_STAT_HEIGHT]
        if min(w, h) * mm_per_px >= COLOUR_MIN_REGION_MM / 2:
            largest = max(largest, max(w, h) * mm_per_px)
    return round(largest, 1)


def colour_content(image: np.ndarray, dpi: float) -> ColourContent:
    if image.ndim == 2:
        return ColourContent(0.0, 0.0, 0.0, 0.0, False, False)
    small = _rescale(image[..., :3], COLOUR_DPI / dpi)
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    hue = hsv[..., 0]
    saturated = (hsv[..., 1] > COLOUR_MIN_SATURATION) & (hsv[..., 2] > COLOUR_MIN_VALUE)
    red = saturated & ((hue < 12) | (hue > 165))
    largest = _largest_region_mm(saturated)
    largest_red = _largest_region_mm(red)
    return ColourContent(
        saturated_fraction=float(saturated.mean()),
        red_fraction=float(red.mean()),
        largest_region_mm=largest,
        largest_red_mm=largest_red,
        needs_colour=largest_red >= COLOUR_MIN_REGION_MM,
        other_colour=largest >= COLOUR_MIN_REGION_MM,
    )


# ------------------------------------------------------------------------------------- skew
def _ink_mask(grey: np.ndarray, min_contrast: int = 40, text_only: bool = False) -> np.ndarray:
    """Ink clearly darker than the local paper. Left out: blobs touching the image edge, and long
    thin lines along the edges (the paper's edge against a dark scanner bed). `text_only` keeps
    only character-sized blobs (for the content box)."""
    k = 31 if min(grey.shape) > 62 else 3
    background = cv2.medianBlur(grey, k)
    ink = ((background.astype(np.int16) - grey.astype(np.int16)) > min_contrast).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    h, w = ink.shape
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    cw, ch = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    keep = (x > 0) & (y > 0) & (x + cw < w) & (y + ch < h) & (stats[:, cv2.CC_STAT_AREA] >= 3)
    mx, my = 0.06 * w, 0.06 * h
    vertical_edge = ((x < mx) | (x + cw > w - mx)) & (ch > 0.2 * h) & (cw < 0.05 * w)
    horizontal_edge = ((y < my) | (y + ch > h - my)) & (cw > 0.2 * w) & (ch < 0.05 * h)
    keep &= ~(vertical_edge | horizontal_edge)
    if text_only:
        keep &= (cw < 0.1 * w) & (ch < 0.1 * h)
    keep[0] = False
    return keep[labels]


@dataclass(frozen=True)
class SkewEstimate:
    angle_deg: float  # positive: text lines rise to the right
    confidence: float  # peak score over the median score (1: no preferred angle)


def estimate_skew(image: np.ndarray, dpi: float, max_deg: float = 10.0) -> SkewEstimate | None:
    grey = _rescale(to_grey(image), SKEW_DPI / dpi)
    mask = _ink_mask(grey)
    ys, xs = np.nonzero(mask)
    if len(xs) < 200:
        return None
    xs = xs.astype(np.float64) - grey.shape[1] / 2.0
    ys = ys.astype(np.float64) - grey.shape[0] / 2.0

    def score(angle: float) -> float:
        t = math.radians(angle)
        rows = ys * math.cos(t) + xs * math.sin(t)
        hist = np.bincount((rows - rows.min()).astype(np.int64))
        return float(np.square(hist.astype(np.float64)).sum())

    coarse = np.arange(-max_deg, max_deg + 1e-9, 0.5)
    scores = np.array([score(a) for a in coarse])
    best = float(coarse[scores.argmax()])
    fine = np.arange(best - 0.5, best + 0.5 + 1e-9, 0.05)
    fine_scores = np.array([score(a) for a in fine])
    angle = float(fine[fine_scores.argmax()])
    confidence = float(fine_scores.max() / max(np.median(scores), 1e-9))
    return SkewEstimate(round(angle, 2), round(confidence, 2))


# ------------------------------------------------------------------------------------- duplicates
@dataclass(frozen=True)
class PageSignature:
    """The page's ink at about 100 dpi, deskewed: the whole page (``page``, uint8 darkness) with
    its content box and ORB keypoints, to align another page onto it; and the content box
    resized to a fixed size (``pixels``), the fallback when keypoints do not match."""

    pixels: np.ndarray  # float32 (SIGNATURE_HEIGHT, SIGNATURE_WIDTH)
    page: np.ndarray | None = None  # uint8 darkness of the whole page
    box: tuple[int, int, int, int] = (0, 0, 0, 0)  # x0, y0, x1, y1 of the content in `page`
    points: np.ndarray | None = None  # (n, 2) float32 keypoint positions
    descriptors: np.ndarray | None = None  # (n, 32) uint8 ORB descriptors


@dataclass(frozen=True)
class SignatureScore:
    global_score: float  # correlation of the whole pages at the best shift
    cell_score: float  # second-worst correlation of the inked cells of a grid (-1: too few cells)


def page_signature(image: np.ndarray, dpi: float, skew: SkewEstimate | None = None) -> PageSignature | None:
    """`skew`: the page's skew if already measured (else it is estimated here)."""
    grey = _rescale(to_grey(image), SKEW_DPI / dpi)
    if skew is None:
        skew = estimate_skew(grey, SKEW_DPI)
    if skew is not None and abs(skew.angle_deg) >= 0.1:
        h, w = grey.shape
        matrix = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), -skew.angle_deg, 1.0)
        grey = cv2.warpAffine(grey, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mask = _ink_mask(grey)
    ys, xs = np.nonzero(_ink_mask(grey, text_only=True))
    if len(xs) < 100:
        return None
    x0, x1 = np.percentile(xs, [0.5, 99.5])
    y0, y1 = np.percentile(ys, [0.5, 99.5])
    if x1 - x0 < 10 or y1 - y0 < 10:
        return None
    # How much darker than the paper each ink pixel is, scaled to the page's own ink: a fainter
    # or bolder re-scan of the same strokes keeps its shape (a binary mask would not).
    background = cv2.medianBlur(grey, 31 if min(grey.shape) > 62 else 3).astype(np.float32)
    darkness = np.clip(background - grey.astype(np.float32), 0, None)
    darkness *= cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
    darkness = np.clip(darkness / max(float(np.percentile(darkness[mask], 90)), 1.0), 0, 1)
    box = (int(x0), int(y0), int(x1) + 1, int(y1) + 1)
    page = (darkness * 255).astype(np.uint8)
    orb = cv2.ORB_create(nfeatures=ORB_FEATURES)
    keypoints, descriptors = orb.detectAndCompute(page, None)
    points = np.array([k.pt for k in keypoints], np.float32).reshape(-1, 2)
    return PageSignature(_box_pixels(darkness, box), page, box, points, descriptors)


def _box_pixels(darkness: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    small = cv2.resize(darkness[y0:y1, x0:x1], (SIGNATURE_WIDTH, SIGNATURE_HEIGHT), interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (0, 0), 1.0)


def _feature_aligned(a: PageSignature, b: PageSignature) -> np.ndarray | None:
    """`b` mapped into the frame of `a` by matching ORB keypoints (a similarity transform fitted
    with RANSAC), as box pixels of `a`'s content box; None when the pages do not match well."""
    if a.page is None or b.page is None or a.descriptors is None or b.descriptors is None:
        return None
    if a.points is None or b.points is None:
        return None
    if len(a.descriptors) < 20 or len(b.descriptors) < 20:
        return None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(b.descriptors, a.descriptors)
    if len(matches) < 20:
        return None
    source = np.array([b.points[m.queryIdx] for m in matches], dtype=np.float32)
    target = np.array([a.points[m.trainIdx] for m in matches], dtype=np.float32)
    matrix, inliers = cv2.estimateAffinePartial2D(source, target, method=cv2.RANSAC, ransacReprojThreshold=3.0)
    if matrix is None or inliers is None or int(inliers.sum()) < max(15, len(matches) // 10):
        return None
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    if not 0.8 < scale < 1.25:
        return None
    h, w = a.page.shape
    warped = cv2.warpAffine(
        b.page, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )
    return _box_pixels(warped.astype(np.float32) / 255.0, a.box)


def _align(a: np.ndarray, b: np.ndarray, max_shift: int) -> np.ndarray:
    """`b` warped onto `a`: an affine fit by ECC (re-scans differ in crop, scale and a little
    rotation), else the best whole-pixel shift."""
    h, w = a.shape
    warp = np.eye(2, 3, dtype=np.float32)
    try:
        # the fit at half size (fast), applied at full size
        small_a = cv2.resize(cv2.GaussianBlur(a, (0, 0), 2.0), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        small_b = cv2.resize(cv2.GaussianBlur(b, (0, 0), 2.0), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5)
        _, warp = cv2.findTransformECC(small_a, small_b, warp, cv2.MOTION_AFFINE, criteria, None, 3)
        warp[:, 2] *= 2.0
        linear = warp[:, :2]
        if np.all(np.abs(linear - np.eye(2)) < 0.15) and np.all(np.abs(warp[:, 2]) < 0.15 * w):
            return cv2.warpAffine(
                b,
                warp,
                (w, h),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0,
            )
    except cv2.error:
        pass
    padded = cv2.copyMakeBorder(b, max_shift, max_shift, max_shift, max_shift, cv2.BORDER_CONSTANT, value=0)
    _, _, _, (dx, dy) = cv2.minMaxLoc(cv2.matchTemplate(padded, a, cv2.TM_CCOEFF_NORMED))
    return padded[dy : dy + h, dx : dx + w]


def compare_signatures(
    a: PageSignature, b: PageSignature, max_shift: int = 10, grid: tuple[int, int] = (8, 10), cell_shift: int = 3
) -> SignatureScore:
    """How alike two pages are. The second page is aligned onto the first (matched keypoints over
    the whole page; failing that, the content boxes fitted onto each other); then each cell of a
    grid that holds ink is matched on its own (allowing a few pixels more), and the second
    lowest cell correlation is kept: two forms of one type agree everywhere except in the cells
    where their data differ, a re-scan of one sheet agrees in every cell."""
    ah, aw = a.pixels.shape
    aligned = _feature_aligned(a, b)
    if aligned is None:
        aligned = _align(a.pixels, b.pixels, max_shift)
    global_score = float(cv2.matchTemplate(aligned, a.pixels, cv2.TM_CCOEFF_NORMED)[0, 0])
    gx, gy = grid
    cw, ch = aw // gx, ah // gy
    padded = cv2.copyMakeBorder(aligned, cell_shift, cell_shift, cell_shift, cell_shift, cv2.BORDER_CONSTANT, value=0)
    scores = []
    for row in range(gy):
        for col in range(gx):
            cell = a.pixels[row * ch : (row + 1) * ch, col * cw : (col + 1) * cw]
            y, x = row * ch, col * cw
            window = padded[y : y + ch + 2 * cell_shift, x : x + cw + 2 * cell_shift]
            other = aligned[y : y + ch, x : x + cw]
            if cell.mean() < 0.02 and other.mean() < 0.02:
                continue
            if cell.std() < 1e-4 or window.std() < 1e-4:
                scores.append(0.0)
                continue
            scores.append(float(cv2.matchTemplate(window, cell, cv2.TM_CCOEFF_NORMED).max()))
    if len(scores) < 4:
        return SignatureScore(global_score, -1.0)
    scores.sort()
    return SignatureScore(global_score, scores[1])


def text_similarity(a: str, b: str) -> float | None:
    """Jaccard similarity of the character bigrams of two OCR texts (whitespace ignored)."""

    def grams(text: str) -> set[str]:
        compact = "".join(text.split())
        return {compact[i : i + 2] for i in range(len(compact) - 1)}

    ga, gb = grams(a), grams(b)
    if len(ga) < 10 or len(gb) < 10:
        return None
    return len(ga & gb) / len(ga | gb)


# ------------------------------------------------------------------------------------- report
def thumbnail_jpeg(image: np.ndarray, width: int = 300, quality: int = 70) -> bytes:
    h, w = image.shape[:2]
    height = max(1, round(h * width / w))
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if small.ndim == 3:
        small = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    buffer = io.BytesIO()
    Image.fromarray(small).save(buffer, format="JPEG", quality=quality, optimize=True)
    return buffer.getvalue()
