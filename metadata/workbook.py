"""XLSX workbooks for people: the catalogue, findings and statistics as spreadsheets archivists open.

    write_workbook(path, [Sheet("问题清单", ("档号", "问题"), rows)])

Each sheet has a bold header row that stays in view (frozen), an auto-filter and column widths
fitted to the text (CJK characters count double); numbers stay numbers. The file is written
atomically. openpyxl is the project's XLSX library already (catalogues are read with it).
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digitize.fsutil import atomic_write_bytes

MAX_WIDTH = 60  # characters; longer text wraps in the cell
SHEET_NAME_LIMIT = 31  # Excel's limit


@dataclass(frozen=True)
class Sheet:
    title: str
    columns: Sequence[str]
    rows: Iterable[Sequence[Any]]


def _width(value: Any) -> int:
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        page = workbook.create_sheet(sheet.title[:SHEET_NAME_LIMIT])
        page.append(list(sheet.columns))
        widths = [_width(c) for c in sheet.columns]
        for row in sheet.rows:
            cells = ["" if value is None else value for value in row]
            page.append(cells)
            widths = [max(w, _width(v)) for w, v in zip(widths, cells)] + widths[len(cells) :]
        for cell in page[1]:
            cell.font = Font(bold=True)
        page.freeze_panes = "A2"
        if page.max_row > 1:
            page.auto_filter.ref = page.dimensions
        for index, width in enumerate(widths, start=1):
            page.column_dimensions[get_column_letter(index)].width = min(MAX_WIDTH, width + 2)
            if width > MAX_WIDTH:
                for (cell,) in page.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def write_workbook(path: str | Path, sheets: Sequence[Sheet]) -> None:
    atomic_write_bytes(path, workbook_bytes(sheets))
