"""Reading order of detected text lines: a simple column-aware rule.

A text-line detector returns lines without an order. The rule, applied to a group of lines
(first the whole page, then each part it splits into):

1. **Columns.** If an empty vertical strip at least ``GUTTER_LINE_HEIGHTS`` line heights wide
   runs through the whole group, each side holds at least two lines beside the other's, and
   the sides are columns of running text (lines at least ``RUNNING_TEXT_HEIGHTS`` line heights
   wide on both sides) or do not share rows (fewer than half of the lines of the smaller side
   share a row with a line of the other: the labels and values of a form share rows), the group
   is read column by column, left to right.
2. **Bands.** Otherwise the group is cut at every empty horizontal strip into bands, top to
   bottom; consecutive bands whose empty vertical strips line up (a two-column page cut at a
   gap that both columns happen to share) are joined again, so that step 1 sees the columns.
3. **Rows.** A group that cannot be cut is read row by row (lines whose centres lie within
   half a line height of the row's first line), each row left to right.

Given layout regions (ordered column or region boxes of a page layout analysis), each line goes
to the region holding its centre; regions are read in their order, and the lines of each by the
rule above; lines outside every region follow, by the rule.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from digitize.ocr.hocr import Box

GUTTER_LINE_HEIGHTS = 1.0  # narrowest gap between columns, in median line heights
MIN_COLUMN_LINES = 2  # a column of running text has at least this many lines
RUNNING_TEXT_HEIGHTS = 12.0  # lines this many line heights wide (or wider) are running text
ROW_SHARE = 0.5  # sides sharing rows for at least this share of lines are one layout, not columns


def reading_order(boxes: Sequence[Box], regions: Sequence[Box] | None = None) -> list[int]:
    """Indices of `boxes` (x0, y0, x1, y1 line boxes) in reading order."""
    if not boxes:
        return []
    heights = [max(1, b[3] - b[1]) for b in boxes]
    gutter = GUTTER_LINE_HEIGHTS * statistics.median(heights)
    if not regions:
        return _order(list(range(len(boxes))), boxes, gutter)
    placed: list[list[int]] = [[] for _ in regions]
    rest: list[int] = []
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        home = next((r for r, (a, b, c, d) in enumerate(regions) if a <= cx < c and b <= cy < d), None)
        (placed[home] if home is not None else rest).append(i)
    return [i for group in [*placed, rest] for i in _order(group, boxes, gutter)]


def _order(group: list[int], boxes: Sequence[Box], gutter: float) -> list[int]:
    if len(group) <= 1:
        return group
    columns = _columns(group, boxes, gutter)
    if columns:
        return [i for column in columns for i in _order(column, boxes, gutter)]
    bands = _bands(group, boxes, gutter)
    if len(bands) > 1:
        return [i for band in bands for i in _order(band, boxes, gutter)]
    return [i for row in _rows(group, boxes) for i in row]


def _gaps(group: list[int], boxes: Sequence[Box], span: tuple[float, float], axis: int) -> list[tuple[float, float]]:
    """Empty strips across `span` along an axis (0: x, 1: y) not covered by any box of the group."""
    covered = sorted((float(boxes[i][axis]), float(boxes[i][axis + 2])) for i in group)
    gaps: list[tuple[float, float]] = []
    reach = span[0]
    for start, end in covered:
        if start > reach:
            gaps.append((reach, start))
        reach = max(reach, end)
    if span[1] > reach:
        gaps.append((reach, span[1]))
    return gaps


def _columns(group: list[int], boxes: Sequence[Box], gutter: float) -> list[list[int]] | None:
    """The group's columns, left to right, if a gutter runs through it and the sides do not share rows."""
    left = min(boxes[i][0] for i in group)
    right = max(boxes[i][2] for i in group)
    inner = [gap for gap in _gaps(group, boxes, (left, right), 0) if gap[1] - gap[0] >= gutter]
    if not inner:
        return None
    cuts = [(a + b) / 2 for a, b in inner]
    columns: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in group:
        centre = (boxes[i][0] + boxes[i][2]) / 2
        columns[sum(centre > cut for cut in cuts)].append(i)
    columns = [c for c in columns if c]
    if len(columns) < 2 or any(len(c) < MIN_COLUMN_LINES for c in columns):
        return None
    for a, b in zip(columns, columns[1:]):
        top = max(min(boxes[i][1] for i in a), min(boxes[i][1] for i in b))
        bottom = min(max(boxes[i][3] for i in a), max(boxes[i][3] for i in b))
        if bottom <= top:  # one above the other: not side by side
            return None
        if _running_text(a, boxes) and _running_text(b, boxes):
            continue
        smaller, other = (a, b) if len(a) <= len(b) else (b, a)
        shared = sum(1 for i in smaller if any(_same_row(boxes[i], boxes[j]) for j in other))
        if shared >= ROW_SHARE * len(smaller):
            return None
    return columns


def _running_text(side: list[int], boxes: Sequence[Box]) -> bool:
    """Whether a side's lines are lines of running text: at least RUNNING_TEXT_HEIGHTS wide."""
    ratios = [(boxes[i][2] - boxes[i][0]) / max(1, boxes[i][3] - boxes[i][1]) for i in side]
    return statistics.median(ratios) >= RUNNING_TEXT_HEIGHTS


def _bands(group: list[int], boxes: Sequence[Box], gutter: float) -> list[list[int]]:
    """The group cut at empty horizontal strips, top to bottom; neighbouring bands whose
    vertical gaps (within the group's width) line up are joined."""
    top = min(boxes[i][1] for i in group)
    bottom = max(boxes[i][3] for i in group)
    cuts = [(a + b) / 2 for a, b in _gaps(group, boxes, (top, bottom), 1)]
    bands: list[list[int]] = [[] for _ in range(len(cuts) + 1)]
    for i in group:
        centre = (boxes[i][1] + boxes[i][3]) / 2
        bands[sum(centre > cut for cut in cuts)].append(i)
    bands = [b for b in bands if b]
    span = (min(boxes[i][0] for i in group), max(boxes[i][2] for i in group))
    joined: list[list[int]] = []
    for band in bands:
        if joined and _share_gutter(joined[-1], band, boxes, span, gutter):
            joined[-1] = joined[-1] + band
        else:
            joined.append(band)
    return joined


def _share_gutter(a: list[int], b: list[int], boxes: Sequence[Box], span: tuple[float, float], gutter: float) -> bool:
    """Whether two bands leave a common empty vertical strip at least `gutter` wide (within `span`)."""
    gaps_a, gaps_b = _gaps(a, boxes, span, 0), _gaps(b, boxes, span, 0)  # margins included
    return any(min(x1, y1) - max(x0, y0) >= gutter for x0, x1 in gaps_a for y0, y1 in gaps_b)


def _same_row(a: Box, b: Box) -> bool:
    return abs((a[1] + a[3]) - (b[1] + b[3])) / 2 < min(a[3] - a[1], b[3] - b[1]) / 2


def _rows(group: list[int], boxes: Sequence[Box]) -> list[list[int]]:
    """Lines grouped into rows (centres within half the first line's height), each left to right."""
    rows: list[list[int]] = []
    for i in sorted(group, key=lambda i: (boxes[i][1] + boxes[i][3]) / 2):
        if rows and _same_row(boxes[rows[-1][0]], boxes[i]):
            rows[-1].append(i)
        else:
            rows.append([i])
    return [sorted(row, key=lambda i: boxes[i][0]) for row in rows]
