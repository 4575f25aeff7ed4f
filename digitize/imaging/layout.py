"""Page layout for reading: columns of running text and two-page spreads, in reading order.

Engine-agnostic: it reads the OCR image (grey, paper 255, ink dark; see ``enhance``) and returns
boxes in that image's pixel coordinates, which any OCR engine can read one after the other. A
page that is one column (letters, forms, tables, receipts) comes back as one region covering the
whole image, so callers read it exactly as before.

How (all distances in character sizes, so that the resolution does not matter):

1. the ink is reduced so that a character is about WORK_GLYPH_PX pixels, and the characters of
   a line are joined into line blobs (gaps narrower than a character closed);
2. the page is cut top to bottom into *slabs* at every blank band at least SLAB_GAP character
   sizes high, and each slab is searched for *gutters*: blank vertical bands at least GUTTER
   character sizes wide with text on both sides;
3. a gutter divides columns only when the text on each side is a column (at least
   MIN_COLUMN_LINES lines, at least MIN_COLUMN_WIDTH characters wide, some of its lines filling
   most of its width without a gap as wide as a table's between cells) and on one side at
   least a column of running text (many such lines): a form's labels and values, a receipt's
   item names and prices, or a table's columns stand apart just as far, but their lines are
   short, ragged or gapped;
4. neighbouring slabs with the same gutters are one band of columns (a blank line that happens
   to fall at the same height in every column does not interrupt them), and the reading order
   is band by band from the top, column by column from the left within a band; a column is
   divided the same way again (a photograph over two columns of text beside a third column);
5. a *spread* (two pages photographed or scanned side by side) is an image wider than tall
   whose blank band near the middle, two page margins wide, runs from the top of the text to
   its bottom, with a page of text on either side; each half is then read as a page of its own
   (its own bands and columns), the left page first.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive), OCR image pixels

INK_LEVEL = 160  # the OCR image has paper at 255 and ink near 0
WORK_GLYPH_PX = 10.0  # the analysis copy is reduced until a character is about this tall
JOIN = 0.8  # gaps between characters narrower than this many character sizes are closed
SLAB_GAP = 0.6  # a blank band at least this high separates slabs
GUTTER = 1.2  # a blank vertical band at least this wide (in character sizes) may divide columns
MIN_COLUMN_LINES = 5  # a column has at least this many lines of text ...
MIN_COLUMN_WIDTH = 16.0  # ... is at least this many character sizes wide ...
FULL_LINE = 0.7  # ... and some of its lines fill at least this share of its width:
MIN_FULL_LINES = 3  # at least this many,
CELL_GAP = 2.0  # ... without a gap this wide inside (words and punctuation leave less; table cells more)
# in a column of running text (one side of a division at least) this many and this share of
# its lines (a column's figures, captions and table rows are lines too)
RUNNING_LINES, RUNNING_SHARE = 6, 0.25
GUTTER_MATCH = 1.5  # gutters of neighbouring slabs within this many character sizes are the same
SPREAD_MIN_ASPECT = 1.15  # a spread is wider than tall by at least this much
SPREAD_CENTRE = (0.35, 0.65)  # and divides within this share of its width
SPREAD_GAP = 4.0  # by a blank band at least this many characters wide (two page margins)
SPREAD_TEXT_HEIGHT = 0.5  # each page's text runs over at least this share of the image height
RULE_LENGTH = 8.0  # ink runs longer than this many character sizes and thin are rules
THIN_RULE = 0.4  # a vertical rule at most this many characters wide (wider dark runs are pictures)
FRAME_SHARE = 0.8  # a ruled table is framed: rules along its four sides, each over most of the side
PICTURE_SIZE, PICTURE_FILL = 6.0, 0.4  # a mark this many characters high and wide, mostly ink, is a picture
EDGE = 1.5  # ink this close to the image border (in character sizes) is the paper edge or the bed
MAX_DEPTH = 2  # columns are divided into columns again at most this deep


@dataclass(frozen=True)
class Region:
    """One part of the page to read as a column of lines."""

    box: Box  # OCR image pixels
    page: int = 0  # 0: the page (or the left page of a spread); 1: the right page of a spread


@dataclass(frozen=True)
class PageLayout:
    """Regions in reading order (one region covering the image when the page is one column),
    whether the image is a two-page spread, and where it divides (OCR image x, else None)."""

    regions: tuple[Region, ...]
    spread: bool = False
    split_x: int | None = None

    @property
    def columns(self) -> int:
        """Most regions side by side at any height of a page."""
        most = 1
        for region in self.regions:
            y = (region.box[1] + region.box[3]) // 2
            beside = [r for r in self.regions if r.page == region.page and r.box[1] <= y < r.box[3]]
            most = max(most, len(beside))
        return most

    @property
    def single(self) -> bool:
        """Whether the whole page is read as one region."""
        return len(self.regions) <= 1


def whole_page(shape: tuple[int, ...]) -> PageLayout:
    return PageLayout((Region((0, 0, int(shape[1]), int(shape[0]))),))


def analyse_layout(image: np.ndarray, glyph_px: float | None) -> PageLayout:
    """Layout of an OCR image whose characters are about `glyph_px` pixels tall (None: unknown,
    the page is read whole)."""
    if glyph_px is None or glyph_px <= 0:
        return whole_page(image.shape)
    scale = min(1.0, WORK_GLYPH_PX / glyph_px)
    ink = (image < INK_LEVEL).astype(np.uint8)
    if scale < 1:  # a work pixel is ink when any of the pixels it covers is: thin rules survive
        ink = (cv2.resize(ink * 255, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) > 0).astype(np.uint8)
    g = glyph_px * scale  # character size on the work copy
    edge = int(round(EDGE * g))  # the paper's edge and the scanner bed left by the crop
    ink[:edge], ink[-edge:], ink[:, :edge], ink[:, -edge:] = 0, 0, 0, 0
    ink, tables = _without_rules(ink, g)
    joined = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((1, max(1, int(round(JOIN * g)))), np.uint8))
    joined = _without_pictures(joined, tables, g)
    h, w = joined.shape
    split = _spread_split(joined, g)
    halves = [(0, w)] if split is None else [(0, split), (split, w)]
    boxes = [(box, page) for page, (x0, x1) in enumerate(halves) for box in _divide(joined, (x0, 0, x1, h), g, 0)]
    if len(boxes) <= 1:
        return whole_page(image.shape)
    full_h, full_w = image.shape[:2]
    regions = tuple(
        Region(
            (
                max(0, int(bx0 / scale)),
                max(0, int(by0 / scale)),
                min(full_w, int(np.ceil(bx1 / scale))),
                min(full_h, int(np.ceil(by1 / scale))),
            ),
            page,
        )
        for (bx0, by0, bx1, by1), page in boxes
    )
    return PageLayout(regions, spread=split is not None, split_x=None if split is None else int(round(split / scale)))


def _divide(joined: np.ndarray, box: Box, g: float, depth: int) -> list[Box]:
    """The boxes to read within `box` in reading order: its bands from the top, each band's
    columns from the left, a column itself divided again (a column under a picture that holds
    two columns of its own) down to MAX_DEPTH."""
    x0, y0, x1, y1 = box
    bands = _bands(joined[y0:y1, x0:x1], g)
    if len(bands) == 1 and not bands[0][2]:
        return [box]
    out: list[Box] = []
    for top, bottom, gutters in bands:
        edges = [0, *gutters, x1 - x0]
        for left, right in zip(edges[:-1], edges[1:]):
            part = (x0 + left, y0 + top, x0 + right, y0 + bottom)
            out += _divide(joined, part, g, depth + 1) if gutters and depth < MAX_DEPTH else [part]
    return out


def _without_rules(ink: np.ndarray, g: float) -> tuple[np.ndarray, np.ndarray]:
    """Ink without long horizontal rules (underlines, a header's rules are no text) and thin
    vertical ones (a rule down a gutter or beside a sidebar), with every
    framed ruled table (a rule along each of its four sides; a photograph's dark runs, a box
    beside a header are no frame) filled solid: the blank between a cell's rule and its text is no gutter, and a table is read
    whole, in the column or across the band where it stands. Also the tables' mask."""
    length = max(3, int(round(RULE_LENGTH * g)))
    across = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, length), np.uint8))
    down = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((length, 1), np.uint8))
    thick = max(2, int(round(THIN_RULE * g)) + 1)
    thin_down = down & (1 - cv2.morphologyEx(down, cv2.MORPH_OPEN, np.ones((1, thick), np.uint8)))
    thin_down = cv2.dilate(thin_down, np.ones((1, 3), np.uint8))  # with the rule's broken edge
    out = ink & (1 - across) & (1 - thin_down)  # a thin rule down a gutter divides columns, not text
    tables = np.zeros_like(ink)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(cv2.dilate(across | down, np.ones((3, 3), np.uint8)))
    for i in range(1, n):
        x, y, w, h = (int(v) for v in stats[i, :4])
        if w < length or h < length:
            continue
        grid = labels[y : y + h, x : x + w] == i
        rows = (across[y : y + h, x : x + w] & grid).sum(axis=1)
        cols = (down[y : y + h, x : x + w] & grid).sum(axis=0)
        edge = max(2, int(round(2 * g)))  # the frame's rules lie within two characters of the box's sides
        framed = (
            rows[:edge].max() >= FRAME_SHARE * w
            and rows[-edge:].max() >= FRAME_SHARE * w
            and cols[:edge].max() >= FRAME_SHARE * h
            and cols[-edge:].max() >= FRAME_SHARE * h
        )
        if framed:
            out[y : y + h, x : x + w] = tables[y : y + h, x : x + w] = 1
    return out, tables


def _without_pictures(joined: np.ndarray, tables: np.ndarray, g: float) -> np.ndarray:
    """The joined ink without pictures: marks at least PICTURE_SIZE characters high and wide
    whose box is mostly ink (a photograph, a drawing's dark area), ruled tables aside, blanked
    with everything inside their box. A picture spanning several columns would otherwise join
    the columns above and below it into one slab."""
    size = PICTURE_SIZE * g
    out = joined.copy()
    n, labels, stats, _ = cv2.connectedComponentsWithStats(joined)
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if w < size or h < size or area < PICTURE_FILL * w * h:
            continue
        if tables[y : y + h, x : x + w][labels[y : y + h, x : x + w] == i].mean() > 0.5:
            continue
        out[y : y + h, x : x + w] = 0  # with the picture's loose fragments inside its box
    return out


def runs(values: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of each run of True (end exclusive)."""
    edges = np.diff(np.concatenate(([0], values.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _slabs(joined: np.ndarray, g: float) -> list[tuple[int, int]]:
    """Top and bottom of each slab: text between blank bands at least SLAB_GAP high."""
    rows = np.asarray(joined.any(axis=1))
    inked = runs(rows)
    if not inked:
        return []
    slabs = [list(inked[0])]
    for top, bottom in inked[1:]:
        if top - slabs[-1][1] < SLAB_GAP * g:
            slabs[-1][1] = bottom
        else:
            slabs.append([top, bottom])
    return [(a, b) for a, b in slabs]


def _lines(mask: np.ndarray) -> list[tuple[int, int, int]]:
    """First and last inked column of each line of a column's mask, and its widest inner gap."""
    lines = []
    for top, bottom in runs(np.asarray(mask.any(axis=1))):
        inked = np.asarray(mask[top:bottom].any(axis=0))
        cols = np.flatnonzero(inked)
        first, last = int(cols[0]), int(cols[-1]) + 1
        gaps = [b - a for a, b in runs(~inked[first:last])]
        lines.append((first, last, max(gaps, default=0)))
    return lines


def _column_kind(mask: np.ndarray, g: float) -> int:
    """0: not a column; 1: a column (enough lines, wide enough, some of its lines full);
    2: a column of running text (many of its lines full). A full line fills most of the width
    without a gap of CELL_GAP characters in it (a table's row has such gaps between its cells)."""
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return 0
    width = cols[-1] + 1 - cols[0]
    lines = _lines(mask)
    if len(lines) < MIN_COLUMN_LINES or width < MIN_COLUMN_WIDTH * g:
        return 0
    full = sum(1 for a, b, gap in lines if b - a >= FULL_LINE * width and gap < CELL_GAP * g)
    if full >= RUNNING_LINES and full >= RUNNING_SHARE * len(lines):
        return 2
    return 1 if full >= MIN_FULL_LINES else 0


def _gaps(piece: np.ndarray, g: float) -> list[tuple[int, int]]:
    """Blank runs of columns at least GUTTER character sizes wide with at least a column's width
    of the piece's text on either side."""
    inked = np.asarray(piece.any(axis=0))
    cols = np.flatnonzero(inked)
    if cols.size == 0:
        return []
    first, last = int(cols[0]), int(cols[-1]) + 1
    side = MIN_COLUMN_WIDTH * g  # a gutter has a column's width of text on each side
    return [
        (first + a, first + b)
        for a, b in runs(~inked[first:last])
        if b - a >= GUTTER * g and a >= side and last - first - b >= side
    ]


def _gutters(piece: np.ndarray, g: float) -> list[int]:
    """Centres of the gutters dividing a piece of the page into columns: all its gaps when every
    part between them is a column, else the widest single gap that divides two columns, else
    none (see the module notes)."""
    gaps = _gaps(piece, g)
    if not gaps:
        return []

    def divides(centres: list[int]) -> bool:
        edges = [0, *centres, piece.shape[1]]
        parts = [piece[:, left:right] for left, right in zip(edges[:-1], edges[1:])]
        kinds = [_column_kind(part, g) for part in parts]
        if max(kinds) < 2:
            return False
        # a part that is no column may be columns of its own (a sidebar beside columns under a picture)
        return all(kind > 0 or _has_columns(part, g) for kind, part in zip(kinds, parts))

    centres = [(a + b) // 2 for a, b in gaps]
    if divides(centres):
        return centres
    for a, b in sorted(gaps, key=lambda gap: gap[0] - gap[1]):
        if divides([(a + b) // 2]):
            return [(a + b) // 2]
    return []


def _has_columns(piece: np.ndarray, g: float) -> bool:
    return any(gutters for _, _, gutters in _bands(piece, g))


def _bands(joined: np.ndarray, g: float) -> list[tuple[int, int, list[int]]]:
    """Bands of columns from the top: (top, bottom, gutter centres).

    Slabs (text between blank bands across the page) are joined with the slabs below them as
    long as a gap runs through all of them: a blank line that falls at the same height in every
    column, or a caption under a figure, does not end a band of columns, but a line across the
    gutter does. Each group is then divided at its gutters; a group too short to show columns
    of its own takes its neighbour's gutters if its text stays clear of them; neighbouring
    groups with the same gutters are one band.
    """
    grouped: list[list[tuple[int, int]]] = []
    for top, bottom in _slabs(joined, g):
        if grouped and _gaps(joined[grouped[-1][0][0] : bottom], g):
            grouped[-1].append((top, bottom))
        else:
            grouped.append([(top, bottom)])
    # text after the end of a band of columns that continues only one column (a paragraph under
    # the main column, where a sidebar ended higher up) is read after the band, not inside it
    groups: list[tuple[int, int]] = []
    for slabs in grouped:
        tail: list[tuple[int, int]] = []
        gaps = _gaps(joined[slabs[0][0] : slabs[-1][1]], g)
        while len(slabs) > 1 and not _both_sides(joined[slabs[-1][0] : slabs[-1][1]], gaps):
            tail.insert(0, slabs.pop())
        groups.append((slabs[0][0], slabs[-1][1]))
        if tail:
            groups.append((tail[0][0], tail[-1][1]))
    found = [_gutters(joined[top:bottom], g) for top, bottom in groups]
    # a group that cannot show its columns by itself (a few lines, a heading over one column)
    # takes the gutters of a neighbouring band when its text stays clear of them on both sides
    changed = True
    while changed:
        changed = False
        for i, (top, bottom) in enumerate(groups):
            if found[i]:
                continue
            for j in (i - 1, i + 1):
                if 0 <= j < len(groups) and found[j] and _fits(joined[top:bottom], found[j], g):
                    found[i], changed = found[j], True
                    break
    bands: list[tuple[int, int, list[int]]] = []
    for (top, bottom), gutters in zip(groups, found):
        if bands and _same_gutters(bands[-1][2], gutters, g):
            bands[-1] = (bands[-1][0], bottom, bands[-1][2])
        else:
            bands.append((top, bottom, gutters))
    # each band reaches down to the next, so that nothing between them is left unread
    out: list[tuple[int, int, list[int]]] = []
    for i, (_top, bottom, gutters) in enumerate(bands):
        start = 0 if i == 0 else out[-1][1]
        end = joined.shape[0] if i == len(bands) - 1 else bands[i + 1][0]
        out.append((start, max(bottom, end), gutters))
    return out


def _both_sides(piece: np.ndarray, gaps: list[tuple[int, int]]) -> bool:
    """Whether a piece has ink on both sides of one of the gaps."""
    cols = np.flatnonzero(piece.any(axis=0))
    return cols.size > 0 and any(cols[0] < a and cols[-1] >= b for a, b in gaps)


def _fits(piece: np.ndarray, gutters: list[int], g: float) -> bool:
    """Whether a piece's ink stays at least half a character clear of each gutter and lies on
    both sides of it."""
    half = max(1, int(round(0.5 * g)))
    inked = np.asarray(piece.any(axis=0))
    cols = np.flatnonzero(inked)
    return all(
        cols.size > 0 and cols[0] < x < cols[-1] and not inked[max(0, x - half) : x + half + 1].any() for x in gutters
    )


def _same_gutters(a: list[int], b: list[int], g: float) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= GUTTER_MATCH * g for x, y in zip(a, b))


def _spread_split(joined: np.ndarray, g: float) -> int | None:
    """x of the fold of a two-page spread, or None: an image wider than tall, divided near its
    middle by a blank band at least SPREAD_GAP characters wide from the top of its text to the
    bottom, with a page's worth of text on each side (lines the page's full height, some of them
    full)."""
    h, w = joined.shape
    if w < SPREAD_MIN_ASPECT * h:
        return None
    rows = np.flatnonzero(joined.any(axis=1))
    if rows.size == 0:
        return None
    inked = np.asarray(joined[rows[0] : rows[-1] + 1].any(axis=0))
    lo, hi = int(SPREAD_CENTRE[0] * w), int(SPREAD_CENTRE[1] * w)
    gaps = [(a, b) for a, b in runs(~inked[lo:hi]) if b - a >= SPREAD_GAP * g]
    if not gaps:
        return None
    a, b = max(gaps, key=lambda gap: gap[1] - gap[0])
    split = lo + (a + b) // 2
    if not (_is_page(joined[:, :split], g) and _is_page(joined[:, split:], g)):
        return None
    return split


def _is_page(mask: np.ndarray, g: float) -> bool:
    """Whether one side of a possible spread holds a page of text: lines over most of the image's
    height, and a column (see _column_kind) among them."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0 or rows[-1] - rows[0] < SPREAD_TEXT_HEIGHT * mask.shape[0]:
        return False
    return _column_kind(mask, g) > 0 or _has_columns(mask, g)
