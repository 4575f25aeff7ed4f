"""One page of OCR: Tesseract's own layout analysis for running text, ruled tables cell by cell,
and the columns of a multi-column page (``digitize.imaging.layout``) one after the other.

With an engine that can read parts of a page (`reads_boxes`), every ruled table found on the
OCR image (`digitize.ocr.tables`) is blanked out of the page for the layout-analysis pass, and
its cells are read one by one as text blocks (rows of many one-line cells as one strip), all
from one loaded image. The results are merged into one hOCR page in reading order: the lines
outside the tables top to bottom (left to right within a row), each table where its top edge
falls, as an ``ocr_table`` element holding what was read from its cells. The plain text has one
line per table row, cells a tab apart. Pages without tables, and engines that read whole pages
only, get one ordinary recognition pass.
"""

from __future__ import annotations

import re
import time

import numpy as np
from lxml import etree

from digitize.imaging.layout import PageLayout, runs
from digitize.ocr.hocr import LINE_CLASSES, Box, join_words
from digitize.ocr.tables import INK_LEVEL, Table, find_tables
from digitize.ocr.tesseract import OcrEngine, OcrOutput
from digitize.xmlsafe import parse_bytes

CELL_PSM = 6  # a cell is a uniform block of text
REGION_PSM = 4  # a column of the page's layout is read as one column of lines
STRIP_PSM = 7  # a row of one-line cells is read as one line
ONE_LINE_MM = 6.0  # ink in a cell no taller than this is one line of text
STRIP_MIN_CELLS = 7  # rows of at least this many one-line cells (dense tables) are read as strips
UNRULED_MIN_CELLS = 3  # a row with this many multi-line cells is divided into its lines of text,
UNRULED_MIN_LINES = 5  # when it has this many lines of text (multi-line rows of the forms measured have four at most)
UNRULED_LINE_SHARE = 0.75  # and this share of them runs through that many cells
_ID_PREFIXES = ("block", "par", "line", "word", "table")
_BBOX = re.compile(r"bbox (-?\d+) (-?\d+) (-?\d+) (-?\d+)")


def read_page(
    engine: OcrEngine,
    image: np.ndarray,
    dpi: float,
    *,
    read_tables: bool = True,
    layout: PageLayout | None = None,
) -> OcrOutput:
    """Recognise a grey OCR image (paper 255): hOCR (one ocr_page div) and plain text.

    With a `layout` of several regions (columns, the pages of a spread), each region is read on
    its own, in the layout's order, with the tables that lie in it."""
    start = time.perf_counter()
    if layout is not None and not layout.single:
        hocr, text = _read_regions(engine, image, dpi, layout, read_tables)
        return OcrOutput(hocr, text, time.perf_counter() - start)
    if not (read_tables and engine.reads_boxes):
        return engine.recognise(image, dpi)
    tables, rules = find_tables(image, dpi)
    if not tables:
        return engine.recognise(image, dpi)
    outside = image.copy()
    for table in tables:
        x0, y0, x1, y1 = table.box
        outside[y0:y1, x0:x1] = 255
    page = engine.recognise(outside, dpi)
    unruled = image.copy()  # the rules' anti-aliased edges inside a cell would be read as text
    unruled[rules > 0] = 255
    tables = [by_text_rows(table, unruled, dpi) for table in tables]
    parts = [_parts(table, unruled, dpi) for table in tables]
    boxes = [(box, psm) for table_parts in parts for box, psm, _ in table_parts]
    box_hocr = iter(engine.recognise_boxes(unruled, dpi, boxes) if boxes else [])
    read = [
        (table, [(cells, next(box_hocr)) for _, _, cells in table_parts]) for table, table_parts in zip(tables, parts)
    ]
    hocr, text = merge(page.hocr, read)
    return OcrOutput(hocr, text, time.perf_counter() - start)


def _read_regions(
    engine: OcrEngine, image: np.ndarray, dpi: float, layout: PageLayout, read_tables: bool
) -> tuple[str, str]:
    """Each region of the layout read as a column of lines (REGION_PSM), the ruled tables whose
    centre lies in it cell by cell, merged region by region into one page: (hOCR, text)."""
    tables, rules = find_tables(image, dpi) if read_tables and engine.reads_boxes else ([], None)
    outside = image
    if tables:
        outside = image.copy()
        for table in tables:
            x0, y0, x1, y1 = table.box
            outside[y0:y1, x0:x1] = 255
    regions = [region.box for region in layout.regions]
    if engine.reads_boxes:
        region_hocr = engine.recognise_boxes(outside, dpi, [(box, REGION_PSM) for box in regions])
    else:  # an engine that reads whole images only reads each region cut out of the page
        region_hocr = [
            shift_hocr(engine.recognise(np.ascontiguousarray(outside[y0:y1, x0:x1]), dpi, REGION_PSM).hocr, x0, y0)
            for x0, y0, x1, y1 in regions
        ]
    read_tables_of: list[list[tuple[Table, list[tuple[list[Box], str]]]]] = [[] for _ in regions]
    if tables and rules is not None:
        unruled = image.copy()
        unruled[rules > 0] = 255
        tables = [by_text_rows(table, unruled, dpi) for table in tables]
        parts = [_parts(table, unruled, dpi) for table in tables]
        boxes = [(box, psm) for table_parts in parts for box, psm, _ in table_parts]
        box_hocr = iter(engine.recognise_boxes(unruled, dpi, boxes) if boxes else [])
        for table, table_parts in zip(tables, parts):
            read = (table, [(cells, next(box_hocr)) for _, _, cells in table_parts])
            read_tables_of[_region_of(table.box, regions)].append(read)
    height, width = image.shape[:2]
    page = etree.Element("div", {"class": "ocr_page", "id": "page_1", "title": f"bbox 0 0 {width} {height}"})
    texts = []
    for hocr, region_tables in zip(region_hocr, read_tables_of):
        region_page, text = merge(hocr, region_tables)
        page.extend(list(_page_div(region_page)))
        texts.append(text.strip("\n"))
    _renumber(page)
    return etree.tostring(page, encoding="unicode"), "\n".join(t for t in texts if t) + "\n"


def _region_of(box: Box, regions: list[Box]) -> int:
    """Index of the region holding the centre of `box` (the nearest one if none does)."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2

    def distance(region: Box) -> float:
        dx = max(region[0] - cx, 0.0, cx - region[2])
        dy = max(region[1] - cy, 0.0, cy - region[3])
        return dx + dy

    return min(range(len(regions)), key=lambda i: distance(regions[i]))


def shift_hocr(hocr: str, dx: int, dy: int) -> str:
    """hOCR of a cut-out read by itself, moved to page coordinates (every bbox shifted)."""
    if not (dx or dy):
        return hocr

    def moved(match: re.Match[str]) -> str:
        x0, y0, x1, y1 = (int(v) for v in match.groups())
        return f"bbox {x0 + dx} {y0 + dy} {x1 + dx} {y1 + dy}"

    return _BBOX.sub(moved, hocr)


def by_text_rows(table: Table, unruled: np.ndarray, dpi: float) -> Table:
    """The table with each row that holds several lines of text in UNRULED_MIN_CELLS cells or
    more, most lines running through that many cells, divided at the blank bands running through
    all of its cells: a table whose body rows
    are not ruled (a goods list: one tall row, ten lines in every column) is then read row by
    row, not each column's body as one cell. Rows of one line, and forms whose rows have one
    or two multi-line cells, stay as they are."""
    one_line = ONE_LINE_MM * dpi / 25.4
    rows: list[tuple[Box, ...]] = []
    for row in table.rows:
        if sum(_ink_height(unruled, cell) > one_line for cell in row) < UNRULED_MIN_CELLS:
            rows.append(row)
            continue
        top, bottom = min(c[1] for c in row), max(c[3] for c in row)
        inked = np.zeros((len(row), bottom - top), bool)  # rows of each cell with ink
        for i, (x0, y0, x1, y1) in enumerate(row):
            inked[i, y0 - top : y1 - top] = (unruled[y0:y1, x0:x1] < INK_LEVEL).sum(axis=1) >= 2
        lines = runs(np.asarray(inked.any(axis=0)))
        if lines:  # specks and rule remains are no lines of text
            tall = np.median([b - a for a, b in lines])
            lines = [(a, b) for a, b in lines if b - a >= 0.4 * tall]
        # a table's row of text runs through its cells; a form's multi-line cells do not line up
        through = [int(inked[:, a:b].any(axis=1).sum()) >= UNRULED_MIN_CELLS for a, b in lines]
        if len(lines) < UNRULED_MIN_LINES or np.mean(through) < UNRULED_LINE_SHARE:
            rows.append(row)
            continue
        cuts = [top] + [top + (a_end + b_start) // 2 for (_, a_end), (b_start, _) in zip(lines, lines[1:])] + [bottom]
        for y0, y1 in zip(cuts, cuts[1:]):
            rows.append(tuple((c[0], max(c[1], y0), c[2], min(c[3], y1)) for c in row))
    return Table(table.box, tuple(rows))


def _parts(table: Table, unruled: np.ndarray, dpi: float) -> list[tuple[Box, int, list[Box]]]:
    """What to read of a table: (box, page segmentation mode, the cells it covers).

    A row of many cells that each hold one line of text (a dense table: hundreds of cells) is
    read as one strip, one recognition call instead of one per cell; any other cell on its own.
    Strips read as well as cells there, but worse on forms, whose rows have fewer, wider cells.
    """
    one_line = ONE_LINE_MM * dpi / 25.4
    parts = []
    for row in table.rows:
        heights = [_ink_height(unruled, cell) for cell in row]
        inked = [cell for cell, height in zip(row, heights) if height > 0]
        if len(inked) >= STRIP_MIN_CELLS and all(height <= one_line for height in heights):
            strip = (min(c[0] for c in row), min(c[1] for c in row), max(c[2] for c in row), max(c[3] for c in row))
            parts.append((strip, STRIP_PSM, inked))
        else:
            parts += [(cell, CELL_PSM, [cell]) for cell in inked]
    return parts


def _ink_height(image: np.ndarray, box: Box) -> int:
    """Height of the ink in a box (0: no ink)."""
    x0, y0, x1, y1 = box
    rows = np.flatnonzero((image[y0:y1, x0:x1] < INK_LEVEL).sum(axis=1) >= 2)
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def _classes(el: etree._Element) -> set[str]:
    return set((el.get("class") or "").split())


def _is_line(el: etree._Element) -> bool:
    return bool(_classes(el) & LINE_CLASSES)


def _page_div(hocr: str) -> etree._Element:
    root = parse_bytes(hocr.encode("utf-8"), "hOCR").getroot()
    if "ocr_page" in _classes(root):
        return root
    found = next((el for el in root.iter() if isinstance(el.tag, str) and "ocr_page" in _classes(el)), None)
    if found is None:
        raise ValueError("hOCR without an ocr_page element")
    return found


def _lines_text(el: etree._Element) -> list[str]:
    lines = []
    for line in el.iter():
        if isinstance(line.tag, str) and _is_line(line):
            words = [
                "".join(w.itertext()).strip()
                for w in line.iter()
                if isinstance(w.tag, str) and "ocrx_word" in _classes(w)
            ]
            text = join_words([w for w in words if w])
            if text:
                lines.append(text)
    return lines


def merge(page_hocr: str, tables: list[tuple[Table, list[tuple[list[Box], str]]]]) -> tuple[str, str]:
    """Merge the layout pass of a page with its tables read cell by cell: (hOCR, text).

    On a page with tables, the text outside them is mostly a form's title, header and footer
    lines, which Tesseract groups into blocks by column; here they are read line by line instead:
    text rows top to bottom, lines of one row (a label at the left, a date at the right) left to
    right, and each table where its top edge falls.
    """
    page = _page_div(page_hocr)
    lines = [el for el in page.iter() if isinstance(el.tag, str) and _is_line(el) and _bbox(el)]
    for el in list(page):
        page.remove(el)
    rows = _text_rows(lines)
    tops: list[tuple[int, int, tuple[Table, list[tuple[list[Box], str]]] | None]]
    tops = [(_bbox(row[0])[1], i, None) for i, row in enumerate(rows)]  # type: ignore[index]
    tops += [(table.box[1], -1, (table, read)) for table, read in tables]
    texts: list[str] = []
    for _, row_index, table in sorted(tops, key=lambda item: (item[0], item[1])):
        if table is not None:
            texts.append(_append_table(page, *table))
            continue
        for line in rows[row_index]:
            _append_line(page, line)
        texts.append("\t".join(t for line in rows[row_index] for t in _lines_text(line)))
    _renumber(page)
    return etree.tostring(page, encoding="unicode"), "\n".join(t for t in texts if t) + "\n"


def _text_rows(lines: list[etree._Element]) -> list[list[etree._Element]]:
    """Lines grouped into text rows (centres within half a line height), each row left to right."""
    rows: list[list[etree._Element]] = []
    for line in sorted(lines, key=lambda el: _bbox(el)[1]):  # type: ignore[index]
        x0, y0, x1, y1 = _bbox(line)  # type: ignore[misc]
        if rows:
            first = _bbox(rows[-1][0])
            if abs((y0 + y1) - (first[1] + first[3])) / 2 < (first[3] - first[1]) / 2:  # type: ignore[index]
                rows[-1].append(line)
                continue
        rows.append([line])
    return [sorted(row, key=lambda el: _bbox(el)[0]) for row in rows]  # type: ignore[index]


def _append_line(page: etree._Element, line: etree._Element) -> None:
    """A line of the layout pass as a text block of its own (block > paragraph > line)."""
    title = f"bbox {' '.join(str(v) for v in _bbox(line))}"  # type: ignore[union-attr]
    par_attrs = {"class": "ocr_par", "id": "par", "title": title}
    old_par = line.getparent()
    if old_par is not None and old_par.get("lang"):
        par_attrs["lang"] = old_par.get("lang")
    block = etree.SubElement(page, "div", {"class": "ocr_carea", "id": "block", "title": title})
    etree.SubElement(block, "p", par_attrs).append(line)


def _append_table(page: etree._Element, table: Table, parts: list[tuple[list[Box], str]]) -> str:
    """The table as an ocr_table element holding the blocks read from it; its text, one row per
    line, cells a tab apart (the words of a strip go to the cell their centre falls in)."""
    x0, y0, x1, y1 = table.box
    div = etree.SubElement(page, "div", {"class": "ocr_table", "id": "table", "title": f"bbox {x0} {y0} {x1} {y1}"})
    words: dict[Box, list[str]] = {}
    for cells, hocr in parts:
        areas = [el for el in _page_div(hocr) if isinstance(el.tag, str)]
        div.extend(areas)
        for area in areas:
            for word in area.iter():
                if not (isinstance(word.tag, str) and "ocrx_word" in _classes(word)):
                    continue
                text, box = "".join(word.itertext()).strip(), _bbox(word)
                if text and box:
                    centre = (box[0] + box[2]) / 2
                    cell = min(
                        cells, key=lambda c: 0 if c[0] <= centre < c[2] else min(abs(c[0] - centre), abs(c[2] - centre))
                    )
                    words.setdefault(cell, []).append(text)
    rows = ["\t".join(join_words(words[c]) for c in row if words.get(c)) for row in table.rows]
    return "\n".join(row for row in rows if row)


def _bbox(el: etree._Element) -> Box | None:
    parts = (el.get("title") or "").split(";")[0].split()
    return tuple(int(v) for v in parts[1:5]) if len(parts) == 5 and parts[0] == "bbox" else None  # type: ignore[return-value]


def _renumber(page: etree._Element) -> None:
    """Unique hOCR ids again after merging passes: block_1_1, par_1_1, line_1_1, word_1_1, ..."""
    counters = dict.fromkeys(_ID_PREFIXES, 0)
    for el in page.iter():
        if not isinstance(el.tag, str) or el is page:
            continue
        ident = el.get("id")
        if ident is None:
            continue
        prefix = ident.split("_", 1)[0]
        if prefix in counters:
            counters[prefix] += 1
            el.set("id", f"{prefix}_1_{counters[prefix]}")
