"""Reading order of detected lines (digitize.ocr.order): columns, form rows, letters, regions."""

from __future__ import annotations

from digitize.ocr.order import reading_order


def _column(
    x0: int, x1: int, top: int, lines: int, step: int = 50, height: int = 30
) -> list[tuple[int, int, int, int]]:
    return [(x0, top + i * step, x1, top + i * step + height) for i in range(lines)]


def test_two_columns_under_a_title_are_read_column_by_column():
    title = [(100, 40, 1900, 90)]
    left = _column(100, 950, 150, 10)
    right = _column(1050, 1900, 175, 10)  # the right column's lines sit between the left's
    boxes = title + right + left  # detection order is not reading order
    order = reading_order(boxes)
    assert order == [0, *range(11, 21), *range(1, 11)]


def test_columns_with_aligned_gaps_stay_columns():
    left = _column(100, 950, 100, 6) + _column(100, 950, 500, 6)  # a paragraph break at 400..500
    right = _column(1050, 1900, 100, 6) + _column(1050, 1900, 500, 6)  # at the same height
    order = reading_order(left + right)
    assert order == list(range(24))


def test_form_rows_are_read_across_label_then_value():
    boxes = []
    for row in range(6):
        y = 100 + row * 60
        boxes += [(100, y, 300, y + 30), (500, y, 1200, y + 30)]  # label | value, one gutter
    order = reading_order(boxes)
    assert order == list(range(12))


def test_letter_end_keeps_top_to_bottom_order():
    body = _column(100, 1900, 100, 5)
    office = [(1300, 500, 1900, 530)]
    date = [(1400, 560, 1900, 590)]
    page_no = [(950, 900, 1050, 930)]
    boxes = page_no + date + office + body
    assert [boxes[i] for i in reading_order(boxes)] == body + office + date + page_no


def test_layout_regions_decide_the_order():
    left = _column(100, 950, 100, 3)
    right = _column(1050, 1900, 100, 3)
    boxes = left + right
    regions = [(1000, 0, 2000, 1000), (0, 0, 1000, 1000)]  # the layout says: right region first
    assert reading_order(boxes, regions) == [3, 4, 5, 0, 1, 2]
