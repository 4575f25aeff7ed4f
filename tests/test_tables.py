"""Ruled tables: the grid found from its rules, and cells read one by one in reading order."""

from __future__ import annotations

import json
from collections import Counter

import cv2
import numpy as np
import pytest

from digitize.imaging import process_page
from digitize.ocr.hocr import parse_hocr
from digitize.ocr.reading import by_text_rows, read_page
from digitize.ocr.tables import find_tables
from digitize.ocr.tesseract import make_engine
from digitize.settings import ImagingSettings
from digitize.xmlsafe import parse_bytes
from tests.realpages import real_page
from tests.textscore import cer

DPI = 300.0
XS = [300, 700, 1100, 1500, 1900]  # column rules
YS = [500, 620, 740, 860]  # row rules


def form(broken: bool = False, edges: bool = False) -> np.ndarray:
    """A 4 x 3 ruled table with the first two cells of the last row merged, 'text' in every cell."""
    page = np.full((3508, 2480), 255, np.uint8)
    for y in YS:
        cv2.line(page, (XS[0], y), (XS[-1], y), 0, 3)
    for i, x in enumerate(XS):
        top = YS[0]
        bottom = YS[-1] if i != 1 else YS[2]  # no rule between the first two cells of row 3
        cv2.line(page, (x, top), (x, bottom), 0, 3)
    for r in range(3):
        for c in range(4):
            for k in range(4):  # four "characters"
                x = XS[c] + 60 + 45 * k
                cv2.rectangle(page, (x, YS[r] + 40), (x + 32, YS[r] + 78), 0, 3)
    if broken:  # a worn rule: a 4-pixel break every 40 pixels
        for x in range(XS[0] + 20, XS[-1], 40):
            page[YS[1] - 3 : YS[1] + 4, x : x + 4] = 255
    if edges:  # the paper edge along the image border
        cv2.rectangle(page, (5, 5), (2474, 3502), 0, 8)
    return page


def test_grid_rows_and_merged_cell():
    tables, rules = find_tables(form(), DPI)
    assert len(tables) == 1
    (table,) = tables
    assert [len(row) for row in table.rows] == [4, 4, 3]
    merged = table.rows[2][0]
    assert merged[0] < XS[0] + 10 and merged[2] > XS[2] - 10  # spans the first two columns
    for row in table.rows:
        assert [cell[0] for cell in row] == sorted(cell[0] for cell in row)
    assert rules[YS[1], XS[0] + 50] and not rules[YS[0] + 60, XS[0] + 100]


def test_worn_rules_give_the_same_cells_and_the_paper_edge_is_no_table():
    clean, _ = find_tables(form(), DPI)
    worn, _ = find_tables(form(broken=True, edges=True), DPI)
    assert [t.rows for t in worn] == [t.rows for t in clean]


def test_text_without_rules_is_no_table():
    page = np.full((3508, 2480), 255, np.uint8)
    for y in range(400, 1400, 60):  # lines of "characters" with a few long underlines
        for x in range(300, 2000, 45):
            cv2.rectangle(page, (x, y), (x + 30, y + 35), 0, 2)
    cv2.line(page, (300, 1500), (1200, 1500), 0, 3)
    tables, _ = find_tables(page, DPI)
    assert tables == []


@pytest.fixture(scope="module")
def sample_form(samples_dir):
    """The 300 dpi registration form of the samples, corrected, and its reference text."""
    page_id = "J022-SB·2019-D30-ZJ-0001/0002"
    truth = next(
        json.loads(line)
        for line in (samples_dir / "truth" / "pages.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip() and json.loads(line)["page_id"] == page_id
    )
    image = cv2.imread(str(samples_dir / "batch" / truth["file"]), cv2.IMREAD_GRAYSCALE)
    processed = process_page(image, DPI, ImagingSettings())
    return processed.ocr_image, truth["text"]


def test_form_read_cell_by_cell(sample_form):
    image, reference = sample_form
    engine = make_engine("tesserocr", "chi_sim+eng", 3, 120)
    whole = engine.recognise(image, DPI)
    cells = read_page(engine, image, DPI)
    whole_cer = cer(reference, whole.text)
    cells_cer = cer(reference, cells.text)
    assert cells_cer[0] / cells_cer[1] < 0.6 * whole_cer[0] / whole_cer[1]
    assert "姓名\t" in cells.text  # the label and the value of a row, in order, a tab apart
    # one valid hOCR page: the table as an element of its own, ids unique, words in page pixels
    root = parse_bytes(cells.hocr.encode("utf-8")).getroot()
    assert len(root.findall(".//*[@class='ocr_table']")) == 1
    ids = Counter(el.get("id") for el in root.iter() if el.get("id"))
    assert ids and max(ids.values()) == 1
    page = parse_hocr(cells.hocr)
    assert page.width == image.shape[1] and page.height == image.shape[0]
    assert all(0 <= w.bbox[0] < w.bbox[2] <= image.shape[1] for w in page.words)


def test_whole_page_engine_reads_the_page_as_before(sample_form):
    image, _ = sample_form
    engine = make_engine("program", "chi_sim+eng", 3, 120)
    assert not engine.reads_boxes
    output = read_page(engine, image, DPI)
    assert "ocr_table" not in output.hocr and parse_hocr(output.hocr).words


def _tables_of(image: np.ndarray, dpi: float):
    tables, rules = find_tables(image, dpi)
    unruled = image.copy()
    unruled[rules > 0] = 255
    return [(table, by_text_rows(table, unruled, dpi)) for table in tables]


def test_a_table_whose_body_rows_are_not_ruled_is_read_row_by_row() -> None:
    loaded, _ = real_page("0001/0001")  # a VAT goods list: ten goods in one unruled body row
    page = process_page(loaded.image, loaded.dpi, ImagingSettings(), dpi_source=loaded.dpi_source)
    ((table, rows),) = _tables_of(page.ocr_image, page.resolution.working_dpi * page.ocr_scale)
    assert len(table.rows) == 3 and len(rows.rows) >= 12  # header, ten goods and the totals


def test_a_forms_rows_are_kept_as_they_are(sample_form) -> None:
    image, _ = sample_form
    for table, rows in _tables_of(image, DPI):
        assert rows == table
