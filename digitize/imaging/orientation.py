"""Page orientation (0/90/180/270) from the image, with Tesseract OSD only as a fallback.

Two separate questions:

1. Do the text lines run across the page or down it (0/180 versus 90/270)? The skew stage
   already measured how sharply the ink lines up along each axis; the ratio of the two decides.
2. Which way up? On the straightened page, text lines are cut into bands and three kinds of
   evidence are added up, each of which flips sign when the page is turned by 180°:

   * punctuation: a small mark low in its line with a character just to its left and nothing
     above or below it (Chinese ，。、 and decimal points sit at the bottom left of their cell;
     Latin full stops and commas on the baseline after a letter); the same mark high in the line
     with a character just to its right is the turned pattern;
   * ascenders against descenders: ink above a line's dense core outweighs ink below it
     (Latin ascenders and capitals; to a lesser degree the top radicals of Chinese characters);
   * alignment: more lines start at a common left edge than end at a common right edge.

The image decides only when both answers are clear; on a page of three lines or fewer (the end of
a letter: office, date, page number) the ascender measure alone has pointed the wrong way, so
there it also needs punctuation marks. Otherwise the caller-supplied OSD function is consulted on
the page as scanned (deskewed), and its verdict is accepted only with a clear confidence (a quarter
turn needs more, unless the lines were also seen to run down the page); otherwise the page is left
as scanned. Before OSD turns a page, it is asked again about a copy with the paper evened out to
white: streaks and shading have made OSD confident of a wrong turn on the page as scanned, and
the turn is made only when both views agree, each with a clear confidence (an upright form
whose scan OSD took for upside down at 8.0 gave the same answer at 1.1 on the even copy). A page
is never turned on weak evidence.

Turning an upright page is the worst mistake, and the image can be fooled (streaks from a dirty
scanner drum run down the whole page like columns of text). So when the image says "turn", OSD
is asked about the page as scanned, and a confident "upright" keeps it as scanned unless OSD on
the flattened copy clearly sees the same turn as the image (an upside-down registration form
that OSD read upright at 7.8 as scanned, and upside down at 5.6 flattened). Pages the image
finds upright, nearly all of a batch, never pay for an OSD call. On a strongly blurred page
(sharpness below MIN_SHARPNESS, see metrics) punctuation marks melt into their neighbours and
have pointed the wrong way (a blurred contribution table read as upside down from 15 marks
against 1), so there the image does not decide 0 versus 180 and the page goes to OSD.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from digitize.imaging.analysis import components
from digitize.imaging.geometry import turn_mask

AXIS_MARGIN = 0.3  # |log(horizontal / vertical line sharpness)| needed to trust the axis
UPRIGHT_MARGIN = 1.5  # evidence score needed to trust 0 versus 180
MIN_LINES = 3  # text lines needed to judge 0 versus 180 from the image
MIN_LINES_WITHOUT_MARKS = 4  # ... when no punctuation mark was found
OSD_MIN_CONFIDENCE = 4.0  # Tesseract orientation confidence needed to act on its verdict (see benchmarks)
OSD_AXIS_CONFIDENCE = 6.0  # ... to turn a page by a quarter against the image evidence
MIN_SHARPNESS = 0.25  # blurrier pages (edges spread over two analysis pixels or more): 0 versus 180 is not read


@dataclass(frozen=True)
class OrientationDecision:
    degrees: int  # corpus convention: the page as scanned is turned this far counter-clockwise
    confidence: float  # 0..1
    method: str  # image | osd | blank | disabled | unsure


@dataclass(frozen=True)
class UprightEvidence:
    score: float  # > 0: the candidate frame is upright; < 0: it is upside down
    punctuation_up: int
    punctuation_turned: int
    ascender_asymmetry: float
    alignment: float
    lines: int


def _aligned_count(values: np.ndarray, tolerance: float) -> int:
    if values.size < 3:
        return 0
    diffs = np.abs(values[:, None] - values[None, :]) <= tolerance
    return int(diffs.sum(axis=1).max())


def upright_evidence(mask: np.ndarray, char_h: float) -> UprightEvidence:
    """Evidence that a straightened ink mask (text lines horizontal) is upright rather than turned."""
    n, labels, stats, centroids = components(mask)
    x, y, w, h, area = (stats[1:, i] for i in range(5))
    rules = ((w > 6 * char_h) & (h < 0.6 * char_h)) | ((h > 6 * char_h) & (w < 0.6 * char_h))
    rules |= (w > 4 * char_h) & (h > 4 * char_h)
    keep = ~rules & (area >= 3)
    lut = np.zeros(n, np.uint8)
    lut[1:][keep] = 1
    profile = lut[labels].sum(axis=1).astype(np.float64)
    if not profile.any():
        return UprightEvidence(0.0, 0, 0, 0.0, 0.0, 0)
    on = profile > max(1.0, 0.02 * profile.max())
    edges = np.diff(np.concatenate(([0], on.astype(np.int8), [0])))
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    cy = centroids[1:, 1]
    x1, y1 = x + w, y + h
    up = turned = 0
    asym_num = asym_den = 0.0
    lefts: list[int] = []
    rights: list[int] = []
    for top, bottom in zip(starts, ends):
        height = bottom - top
        if height < 0.5 * char_h or height > 3 * char_h:
            continue
        in_band = keep & (cy >= top) & (cy < bottom)
        if not in_band.any():
            continue
        band = profile[top:bottom]
        core = np.nonzero(band >= 0.5 * band.max())[0]
        asym_num += band[: core[0]].sum() - band[core[-1] + 1 :].sum()
        asym_den += band.sum()
        lefts.append(int(x[in_band].min()))
        rights.append(int(x1[in_band].max()))
        glyph = in_band & (h > 0.5 * height)
        marks = np.nonzero(
            in_band & (h >= 0.12 * height) & (h <= 0.4 * height) & (w >= 0.1 * height) & (w <= 0.45 * height)
        )[0]
        if marks.size == 0 or not glyph.any():
            continue
        gx0, gx1, gy0, gy1 = x[glyph], x1[glyph], y[glyph], y1[glyph]
        mx0, mx1, mcy = x[marks][:, None], x1[marks][:, None], cy[marks]
        position = (mcy - (top + bottom - 1) / 2.0) / (height / 2.0)
        # no ink above or below the mark: not even a fragment (the top of a broken "2" is no comma)
        ink = np.nonzero(in_band)[0]
        stacked = (x[ink] < mx1) & (x1[ink] > mx0) & (ink != marks[:, None])
        alone = ~stacked.any(axis=1)
        gap = 0.5 * height
        left_of = ((gx1 <= mx0 + 1) & (gx1 >= mx0 - gap) & (gy1 >= mcy[:, None])).any(axis=1)
        right_of = ((gx0 >= mx1 - 1) & (gx0 <= mx1 + gap) & (gy0 <= mcy[:, None])).any(axis=1)
        up += int(np.sum(alone & (position > 0.3) & left_of))
        turned += int(np.sum(alone & (position < -0.3) & right_of))
    asymmetry = asym_num / asym_den if asym_den else 0.0
    tolerance = max(2.0, 0.3 * char_h)
    alignment = 0.0
    if lefts:
        alignment = (_aligned_count(np.array(lefts), tolerance) - _aligned_count(np.array(rights), tolerance)) / len(
            lefts
        )
    score = (up - turned) / math.sqrt(up + turned + 4) + 25.0 * asymmetry + 2.5 * alignment
    return UprightEvidence(score, up, turned, asymmetry, alignment, len(lefts))


def evidence_is_clear(evidence: UprightEvidence) -> bool:
    """Whether the image evidence is strong enough to decide 0 versus 180 on its own."""
    marks = evidence.punctuation_up + evidence.punctuation_turned
    enough_lines = evidence.lines >= (MIN_LINES if marks else MIN_LINES_WITHOUT_MARKS)
    return abs(evidence.score) >= UPRIGHT_MARGIN and enough_lines


def decide_orientation(
    mask: np.ndarray,
    char_h: float,
    skew_deg: float,
    axis_margin: float,
    sharpness: float,
    osd: Callable[[bool], tuple[int, float]] | None,
) -> OrientationDecision:
    """Combine the axis measure and the upright evidence. `sharpness` is the page's edge
    sharpness (metrics.sharpness). `osd(flattened)` asks Tesseract about the deskewed page as
    scanned (False) or with its paper evened out to white (True) and returns (the turn it sees in
    degrees, confidence)."""
    axis_sure = abs(axis_margin) >= AXIS_MARGIN
    base = 1 if axis_sure and axis_margin < 0 else 0  # candidate quarter turns
    evidence = upright_evidence(turn_mask(mask, skew_deg, base), char_h)
    upright_sure = evidence_is_clear(evidence) and sharpness >= MIN_SHARPNESS
    if axis_sure and upright_sure:
        turns = base if evidence.score >= 0 else base + 2
        confidence = min(1.0, abs(evidence.score) / (2 * UPRIGHT_MARGIN)) * min(
            1.0, abs(axis_margin) / (2 * AXIS_MARGIN)
        )
        decision = OrientationDecision((turns % 4) * 90, 0.5 + 0.5 * confidence, "image")
        if decision.degrees and osd is not None:
            # a turn is checked: OSD sure that the page is upright as scanned keeps it as scanned,
            # unless OSD on the flattened copy clearly sees the image's turn as well
            further, osd_confidence = osd(False)
            if further % 360 == 0 and osd_confidence >= OSD_MIN_CONFIDENCE:
                flattened_turn, flattened_confidence = osd(True)
                if flattened_turn % 360 != decision.degrees or flattened_confidence < OSD_MIN_CONFIDENCE:
                    return OrientationDecision(0, min(1.0, osd_confidence / 10.0), "osd")
        return decision
    # unsure: the page stays as scanned unless OSD clearly says otherwise
    if osd is None:
        return OrientationDecision(0, 0.25, "unsure")
    further, confidence = osd(False)
    further %= 360
    if further in (90, 270):
        # a quarter turn needs more confidence unless the lines also run down the page
        lines_down = axis_margin <= -AXIS_MARGIN
        accept = confidence >= (OSD_MIN_CONFIDENCE if lines_down else OSD_AXIS_CONFIDENCE)
    elif further == 180 and upright_sure and evidence.score > 0:
        accept = False  # only the axis was unsure: the image clearly reads the page upright, not upside down
    else:
        accept = further == 0 or confidence >= OSD_MIN_CONFIDENCE
    if not accept:
        return OrientationDecision(0, 0.25, "osd")
    if further:
        flattened_turn, flattened_confidence = osd(True)
        if flattened_turn % 360 != further or flattened_confidence < OSD_MIN_CONFIDENCE:
            return OrientationDecision(0, 0.25, "osd")
    return OrientationDecision(further, min(1.0, confidence / 10.0), "osd")
