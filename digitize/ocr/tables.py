"""Ruled tables on the OCR image: their grid, their cells and the order to read the cells in.

Tesseract's page layout analysis reads ruled forms badly: rules come out as ``|`` and ``_``,
cells of one row are joined to the second line of their neighbours, and a label wrapped over
two lines ("参保单位 / 意见") is split around the row. Reading each cell as a text block of its
own, row by row, avoids all of that (see docs/benchmarks.md for what it gains).

The grid is found from the rules themselves, not from the cells' blank space, so that broken or
faint rules still give whole cells:

1. rules are long straight runs of ink: an opening with a long thin kernel after closing the
   small breaks that faint or worn rules have; a run that text crosses on both sides, or a
   short one that meets no crossing rule, is strokes of characters and is dropped;
2. a table is a cluster of horizontal and vertical rules, well inside the page (the paper edge
   and scanner-bed shadows along the image border are not tables);
3. every horizontal rule position and every vertical rule position in the table spans a fine
   grid; two neighbouring grid cells are one cell (a merged cell) when less than half of the
   border between them is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitize.ocr.hocr import Box  # x0, y0, x1, y1 (x1, y1 exclusive), OCR image pixels

INK_LEVEL = 160  # the OCR image has paper at 255 and ink near 0 (see digitize.imaging.enhance)
H_RULE_MM = 9.0  # a horizontal run of ink this long is a rule, not a stroke of a character
V_RULE_MM = 7.0  # vertical rules: rows of a dense table are only about 7.5 mm high
RULE_GAP_MM = 0.6  # breaks in a worn rule bridged before looking for long runs
RULE_CLEARANCE_MM = 0.35  # how far above and below a rule to look for text crossing it
CROSSED_SHARE = 0.2  # a run crossed by ink along more than this share of its length is text
LONG_RULE_MM = 30.0  # runs shorter than this are rules only if they meet a crossing rule
RULE_JOIN_MM = 1.0  # how close a run's end must come to a crossing rule to meet it
EDGE_MM = 3.0  # rules this close to the image border are the paper edge, not a table
MIN_TABLE_MM = (25.0, 8.0)  # smallest table: width, height
BORDER_DRAWN = 0.5  # share of the border between two grid cells that must be drawn to separate them
MIN_CELL_MM = 1.5  # grid lines closer than this are one (double) rule
CELL_INSET_PX = 2  # stay this far inside a cell's rules
RULE_MARGIN_PX = 3  # the rule mask handed back covers this many pixels of the rules' blurred edges
GRID_STEP = 2  # tables (clusters of rules) are found on every other pixel of the rule mask


@dataclass(frozen=True)
class Table:
    box: Box
    rows: tuple[tuple[Box, ...], ...]  # cells by row (top to bottom), each row left to right

    @property
    def cells(self) -> list[Box]:
        return [cell for row in self.rows for cell in row]


def _mm(dpi: float, mm: float) -> int:
    return max(1, int(round(mm * dpi / 25.4)))


def _components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and stats of the 8-connected components (the block-based algorithm: fastest here)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_BBDT)
    return labels, stats


def rule_masks(image: np.ndarray, dpi: float) -> tuple[np.ndarray, np.ndarray]:
    """0/1 masks of horizontal and vertical rules."""
    ink = (image < INK_LEVEL).astype(np.uint8)
    gap = _mm(dpi, RULE_GAP_MM)
    runs = []
    for size in ((gap, 1, _mm(dpi, H_RULE_MM), 1), (1, gap, 1, _mm(dpi, V_RULE_MM))):
        closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, size[:2]))
        runs.append(cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, size[2:])))
    (lh, sh), (lv, sv) = _components(runs[0]), _components(runs[1])
    clear_h = _clear_of_text(sh, ink, dpi, horizontal=True)
    clear_v = _clear_of_text(sv, ink, dpi, horizontal=False)
    horizontal, vertical = clear_h[lh], clear_v[lv]
    keep_h = clear_h & _joined(sh, vertical, dpi, horizontal=True)
    keep_v = clear_v & _joined(sv, horizontal, dpi, horizontal=False)
    return keep_h[lh], keep_v[lv]


def _joined(stats: np.ndarray, crossing: np.ndarray, dpi: float, horizontal: bool) -> np.ndarray:
    """Which runs (component stats) are long, or meet a crossing rule at one of their ends.

    A short run ending in the middle of a cell is the bottom strokes of a row of characters
    closed into one run (the "一" of "失业保险"), not a rule.
    """
    keep = np.zeros(len(stats), np.uint8)
    reach = _mm(dpi, RULE_JOIN_MM)
    long_run = _mm(dpi, LONG_RULE_MM)
    for i in range(1, len(stats)):
        x, y, w, h = (int(v) for v in stats[i, :4])
        if (w if horizontal else h) >= long_run:
            keep[i] = 1
        elif horizontal:
            rows = slice(max(0, y - reach), y + h + reach)
            keep[i] = (
                crossing[rows, max(0, x - reach) : x + reach].any()
                or crossing[rows, max(0, x + w - reach) : x + w + reach].any()
            )
        else:
            cols = slice(max(0, x - reach), x + w + reach)
            keep[i] = (
                crossing[max(0, y - reach) : y + reach, cols].any()
                or crossing[max(0, y + h - reach) : y + h + reach, cols].any()
            )
    return keep


def _clear_of_text(stats: np.ndarray, ink: np.ndarray, dpi: float, horizontal: bool) -> np.ndarray:
    """Which runs (component stats) are rules: not strokes running through a line of text.

    A long run through text (the strokes of "工伤保险" closed into one run, or a rule printed
    across a row) is crossed by the text's other strokes: ink just beside it on both sides at
    once. A rule is crossed only where other rules meet it.
    """
    keep = np.zeros(len(stats), np.uint8)
    off = _mm(dpi, RULE_CLEARANCE_MM)
    height, width = ink.shape
    for i in range(1, len(stats)):
        x, y, w, h = (int(v) for v in stats[i, :4])
        if horizontal:
            before, after = ink[max(0, y - off), x : x + w], ink[min(height - 1, y + h - 1 + off), x : x + w]
        else:
            before, after = ink[y : y + h, max(0, x - off)], ink[y : y + h, min(width - 1, x + w - 1 + off)]
        keep[i] = float(np.mean(before & after)) < CROSSED_SHARE
    return keep


def _runs(profile: np.ndarray, merge_px: int) -> list[tuple[int, int]]:
    """Rule bands from a profile of rule pixels per row (or column): (first, last) index.

    Rows closer than `merge_px` belong to one rule (a double rule, or a rule drifting by a pixel
    along its length); the band is where the rule is drawn at least half as fully as its best
    row, so that a short run beside it does not widen it into the text.
    """
    idx = np.flatnonzero(profile)
    if idx.size == 0:
        return []
    groups: list[list[int]] = [[int(idx[0]), int(idx[0])]]
    for i in idx[1:]:
        if i - groups[-1][1] <= merge_px:
            groups[-1][1] = int(i)
        else:
            groups.append([int(i), int(i)])
    bands = []
    for a, b in groups:
        strong = np.flatnonzero(profile[a : b + 1] >= 0.5 * profile[a : b + 1].max())
        bands.append((a + int(strong[0]), a + int(strong[-1])))
    return bands


def _drawn(mask: np.ndarray, along: tuple[int, int], across: tuple[int, int], horizontal: bool) -> float:
    """Share of a border segment covered by rule pixels: `along` the border, within `across`."""
    if horizontal:
        band = mask[across[0] : across[1] + 1, along[0] : along[1]]
        return float(band.any(axis=0).mean()) if band.size else 0.0
    band = mask[along[0] : along[1], across[0] : across[1] + 1]
    return float(band.any(axis=1).mean()) if band.size else 0.0


def _grid_cells(h: np.ndarray, v: np.ndarray, dpi: float) -> list[Box]:
    """Cell interiors of one table, in table coordinates, from its rule masks."""
    merge = _mm(dpi, MIN_CELL_MM)
    ys = _runs(h.sum(axis=1, dtype=np.int32), merge)  # horizontal rules: (top, bottom) rows
    xs = _runs(v.sum(axis=0, dtype=np.int32), merge)  # vertical rules: (left, right) columns
    if len(ys) < 2 or len(xs) < 2:
        return []
    rows, cols = len(ys) - 1, len(xs) - 1
    parent = list(range(rows * cols))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in range(rows):
        for c in range(cols):
            span_y, span_x = (ys[r][1], ys[r + 1][0]), (xs[c][1], xs[c + 1][0])
            if c + 1 < cols and _drawn(v, span_y, xs[c + 1], horizontal=False) < BORDER_DRAWN:
                parent[find(r * cols + c + 1)] = find(r * cols + c)
            if r + 1 < rows and _drawn(h, span_x, ys[r + 1], horizontal=True) < BORDER_DRAWN:
                parent[find((r + 1) * cols + c)] = find(r * cols + c)
    boxes: dict[int, Box] = {}
    for r in range(rows):
        for c in range(cols):
            inner = (xs[c][1] + 1, ys[r][1] + 1, xs[c + 1][0], ys[r + 1][0])
            root = find(r * cols + c)
            seen = boxes.get(root, inner)
            boxes[root] = (
                min(seen[0], inner[0]),
                min(seen[1], inner[1]),
                max(seen[2], inner[2]),
                max(seen[3], inner[3]),
            )
    inset = CELL_INSET_PX
    return [
        (x0 + inset, y0 + inset, x1 - inset, y1 - inset)
        for x0, y0, x1, y1 in boxes.values()
        if x1 - x0 > 4 * inset and y1 - y0 > 4 * inset
    ]


def _reading_order(cells: list[Box], tolerance: int) -> tuple[tuple[Box, ...], ...]:
    """Rows of cells whose tops are within `tolerance`, top to bottom, each left to right."""
    rows: list[list[Box]] = []
    for cell in sorted(cells, key=lambda b: (b[1], b[0])):
        if rows and cell[1] - rows[-1][0][1] <= tolerance:
            rows[-1].append(cell)
        else:
            rows.append([cell])
    return tuple(tuple(sorted(row, key=lambda b: b[0])) for row in rows)


def find_tables(image: np.ndarray, dpi: float) -> tuple[list[Table], np.ndarray]:
    """Ruled tables of a grey OCR image (paper 255, ink dark), top to bottom, and a 0/1 mask of
    their rules (with RULE_MARGIN_PX pixels of their blurred edges).

    The rules are found at half resolution on pages of 250 dpi or more, the darkest pixel of
    each 2 x 2 block kept so that hairlines survive; cells and rules are mapped back.
    """
    factor = 2 if dpi >= 250 else 1
    small = cv2.erode(image, np.ones((2, 2), np.uint8))[::2, ::2] if factor == 2 else image
    sdpi = dpi / factor
    horizontal, vertical = rule_masks(small, sdpi)
    # tables are clusters of rules; they are found on a coarser copy of the rule mask
    grid = cv2.dilate(horizontal | vertical, np.ones((3, 3), np.uint8))[::GRID_STEP, ::GRID_STEP]
    _, stats = _components(np.ascontiguousarray(grid))
    height, width = small.shape[:2]
    edge = _mm(sdpi, EDGE_MM)
    tables = []
    rules = np.zeros_like(horizontal)
    for i in range(1, len(stats)):
        x, y = max(0, int(stats[i, 0]) * GRID_STEP - GRID_STEP), max(0, int(stats[i, 1]) * GRID_STEP - GRID_STEP)
        w = min(width - x, (int(stats[i, 2]) + 2) * GRID_STEP)
        h = min(height - y, (int(stats[i, 3]) + 2) * GRID_STEP)
        if w < _mm(sdpi, MIN_TABLE_MM[0]) or h < _mm(sdpi, MIN_TABLE_MM[1]):
            continue
        if x < edge or y < edge or x + w > width - edge or y + h > height - edge:
            continue
        cells = _grid_cells(horizontal[y : y + h, x : x + w], vertical[y : y + h, x : x + w], sdpi)
        if len(cells) < 2:
            continue
        full_h, full_w = image.shape[:2]
        cells = [
            ((x0 + x) * factor, (y0 + y) * factor, min(full_w, (x1 + x) * factor), min(full_h, (y1 + y) * factor))
            for x0, y0, x1, y1 in cells
        ]
        box = (x * factor, y * factor, min(full_w, (x + w) * factor), min(full_h, (y + h) * factor))
        tables.append(Table(box, _reading_order(cells, _mm(dpi, MIN_CELL_MM))))
        rules[y : y + h, x : x + w] = (horizontal | vertical)[y : y + h, x : x + w]
    if factor != 1:
        rules = cv2.resize(rules, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
    rules = cv2.dilate(rules, np.ones((RULE_MARGIN_PX * 2 + 1,) * 2, np.uint8))
    return sorted(tables, key=lambda t: (t.box[1], t.box[0])), rules
