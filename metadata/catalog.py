"""Catalog import: a 归档文件目录 as CSV or XLSX → records with canonical field names.

Headers are matched to fields by the DA/T 22-2015 catalogue column names, the other DA/T 18
description fields and common variants, plus the profile's ``catalog.column_aliases``.
Matching ignores whitespace, full-width/half-width differences, case and a leading "*".

CSV encoding is detected, never guessed silently: a UTF-8 BOM, else strict UTF-8, else strict
GB18030; `Catalog.encoding` says which one was used. A file that looks like UTF-8 but has a
broken byte is refused (with the row) rather than read as GB18030 mojibake.

Values are kept as written (XLSX numbers as their plain text, XLSX dates as YYYYMMDD), so the
same catalogue gives identical records from XLSX, UTF-8 CSV and GB18030 CSV. Judging the values
is `metadata.validation`'s job; this module reports only problems of the file itself.
Row numbers are spreadsheet rows: the header is row 1 unless ``catalog.header_row`` says
otherwise. A table with a title above its headers (归档文件目录 in a merged first row, as many
spreadsheets have) is recognised: when row 1 lacks the required columns and one of the next
rows has them all, that row is the header and a warning says so; when none has, the error
says how to set ``header_row``.

A workbook is refused before any XML parser sees it when one of its parts declares a DTD (XXE,
"billion laughs"); formulas without saved values are named by their cells.

Over 500 lines: reading a catalogue is one job -- CSV in its encodings, XLSX with its hazards,
the header found and mapped, the shape checked -- and its parts are used by nothing else.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree.ElementTree import ParseError

from digitize.errors import BadInput
from digitize.settings import CatalogSettings, Settings

# Canonical field -> header names; the first is the DA/T 22 / DA/T 18 name used in messages.
FIELDS: dict[str, tuple[str, ...]] = {
    "sequence": ("序号", "顺序号", "件序号"),
    "archival_code": ("档号", "档案号", "档案编号"),
    "document_number": ("文号", "文件编号", "发文字号", "发文号"),
    "author": ("责任者", "责任人", "责任单位"),
    "title": ("题名", "文件题名", "标题", "文件标题"),
    "date": ("日期", "文件日期", "成文日期", "形成日期"),
    "security": ("密级",),
    "secrecy_period": ("保密期限",),
    "pages": ("页数", "总页数"),
    "retention": ("保管期限", "保管年限"),
    "remarks": ("备注", "附注"),
    "open_status": ("开放标识", "开放状态", "开放情况", "控制标识"),
    "fonds": ("全宗号",),
    "fonds_name": ("全宗名称",),
    "archives_code": ("档案馆代码",),
    "category": ("门类代码", "档案门类代码", "门类"),
    "year": ("年度", "归档年度"),
    "org": ("机构或问题", "机构(问题)", "机构问题", "机构", "问题"),
    "volume": ("案卷号",),
    "item": ("件号",),
    "box": ("盒号",),
    "doc_type": ("文种",),
    "subject": ("主题词", "主题词或关键词", "关键词"),
    "carrier": ("载体形态", "载体类型"),
    "personal_name": ("人名",),
    "manuscript": ("稿本",),
    "language": ("语种", "语言或文字"),
    "attachments": ("附件",),
    "abstract": ("范围和提要", "摘要", "提要"),
    "generation_method": ("生成方式",),
    "disclosure": ("公开属性",),
    "class_code": ("分类号",),
    "location": ("存储位置", "存放位置"),
    "describer": ("著录者", "著录人"),
    "description_date": ("著录日期",),
}
LABELS: dict[str, str] = {name: names[0] for name, names in FIELDS.items()}
HEADER_SEARCH_ROWS = 10  # rows looked at for the header when row 1 is a title
CSV_SUFFIXES = {".csv", ".txt"}
XLSX_SUFFIXES = {".xlsx", ".xlsm"}


class CatalogError(BadInput, ValueError):
    """The catalogue cannot be read at all (unreadable file, undecodable bytes, missing
    required column, ambiguous headers, bad column settings)."""

    def __init__(self, file: str, message: str, row: int | None = None):
        where = f"{file}: row {row}" if row is not None else file
        super().__init__(f"{where}: {message}")
        self.file = file
        self.row = row


@dataclass(frozen=True)
class CatalogProblem:
    """A problem of the file itself that does not stop the import (values are judged by
    `metadata.validation`). ``code``: unknown_column, unnamed_column, extra_cells, no_records."""

    severity: str  # error | warning
    code: str
    message: str
    file: str
    row: int | None = None
    column: str = ""


@dataclass(frozen=True)
class CatalogRecord:
    """One catalogue row: ``fields`` by canonical name (every mapped column, "" when empty),
    ``extra`` by header text for columns no field claims."""

    row: int
    fields: dict[str, str]
    extra: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str:
        """The value as written; "" when empty or when the catalogue has no such column."""
        return self.fields.get(name, "")

    def labelled(self) -> dict[str, str]:
        """The fields keyed by their DA/T names (档号, 题名, 机构或问题, ...), as metadata.records keys them."""
        return {LABELS[name]: value for name, value in self.fields.items()}


@dataclass
class Catalog:
    file: str
    encoding: str  # utf-8-sig, utf-8, gb18030 or xlsx
    columns: dict[str, str]  # canonical field -> header text as written in the file
    records: list[CatalogRecord]
    problems: list[CatalogProblem] = field(default_factory=list)
    defaulted: dict[str, list[int]] = field(default_factory=dict)  # field -> rows given the profile's default

    def column(self, name: str) -> str:
        """The header a field has in this file (for messages), else its DA/T name."""
        return self.columns.get(name, LABELS.get(name, name))


def normalize_header(text: str) -> str:
    """The form headers are compared in: NFKC, no whitespace, case-folded, no leading "*"."""
    folded = "".join(unicodedata.normalize("NFKC", text).split()).casefold()
    return folded.lstrip("*")


def header_map(settings: CatalogSettings) -> dict[str, str]:
    """Normalised header name -> canonical field, built-in names plus the profile's aliases."""
    mapping: dict[str, str] = {}
    names = {name: list(aliases) for name, aliases in FIELDS.items()}
    for name, aliases in settings.column_aliases.items():
        if name not in FIELDS:
            raise CatalogError("settings", f"catalog.column_aliases: unknown field {name!r}")
        names[name].extend([aliases] if isinstance(aliases, str) else aliases)
    for name, aliases in names.items():
        for alias in aliases:
            key = normalize_header(alias)
            if mapping.get(key, name) != name:
                raise CatalogError("settings", f"header {alias!r} is given for both {mapping[key]} and {name}")
            mapping[key] = name
    return mapping


def read_catalog(path: str | os.PathLike[str], settings: Settings) -> Catalog:
    """Read a CSV or XLSX catalogue. Raises CatalogError when it cannot be used at all."""
    file = str(path)
    suffix = Path(path).suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return _read_xlsx(Path(path), settings)
    if suffix in CSV_SUFFIXES:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CatalogError(file, f"cannot read the file ({exc.strerror or exc})") from None
        text, encoding = decode_csv_bytes(data, file, settings.catalog.encoding)
        return catalog_from_rows(_csv_rows(text, file), settings, file=file, encoding=encoding)
    if suffix == ".xls":
        raise CatalogError(file, "old Excel .xls is not read; save the catalogue as .xlsx or CSV")
    raise CatalogError(file, f"unknown catalogue type {suffix or '(no suffix)'}; use .csv or .xlsx")


def decode_csv_bytes(data: bytes, file: str, encoding: str = "auto") -> tuple[str, str]:
    """Decode a CSV file; returns (text, encoding used). ``encoding``: auto, utf-8, gb18030."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise CatalogError(file, "UTF-16 text is not read; save the catalogue as UTF-8 or GB18030 CSV")
    if data.startswith(codecs.BOM_UTF8):
        return _strict_decode(data, file, "utf-8-sig"), "utf-8-sig"
    if encoding in ("utf-8", "gb18030"):
        return _strict_decode(data, file, encoding), encoding
    if encoding != "auto":
        raise CatalogError(file, f"catalog.encoding must be auto, utf-8 or gb18030, not {encoding!r}")
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    if _looks_like_utf8(data):
        raise CatalogError(
            file,
            f"UTF-8 text with an undecodable byte 0x{data[utf8_error.start]:02X} "
            "(the file is damaged or mixes encodings)",
            row=_row_at(data, utf8_error.start, "utf-8"),
        )
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise CatalogError(
            file,
            f"neither UTF-8 (bad byte 0x{data[utf8_error.start]:02X} on row "
            f"{_row_at(data, utf8_error.start, 'utf-8')}) nor GB18030 (bad byte "
            f"0x{data[exc.start]:02X} on row {_row_at(data, exc.start, 'gb18030')}); "
            "save the catalogue as UTF-8 or GB18030",
        ) from None


def _strict_decode(data: bytes, file: str, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise CatalogError(
            file, f"byte 0x{data[exc.start]:02X} is not valid {encoding}", row=_row_at(data, exc.start, encoding)
        ) from None


def _looks_like_utf8(data: bytes) -> bool:
    """Mostly valid UTF-8 multi-byte text with a few bad bytes (GB18030 text is mostly invalid)."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127 and ch != "\ufffd")
    return good > 4 * bad


def _row_at(data: bytes, offset: int, encoding: str) -> int:
    """The spreadsheet row holding byte ``offset`` (quoted line breaks stay in their row)."""
    prefix = data[:offset].decode(encoding, errors="replace") + "x"
    return sum(1 for _ in csv.reader(io.StringIO(prefix, newline="")))


def _csv_rows(text: str, file: str) -> Iterable[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        yield from reader
    except csv.Error as exc:
        raise CatalogError(file, f"not readable as CSV ({exc})", row=reader.line_num) from None


def _read_xlsx(path: Path, settings: Settings) -> Catalog:
    """An XLSX catalogue: the cells' values as saved. A workbook whose XML declares a DTD (XXE,
    "billion laughs") is refused before openpyxl parses it (it may parse with lxml or the standard
    library, depending on what is installed); a formula whose value was never saved is refused
    too, naming its cells, rather than read as an empty cell."""
    file = str(path)
    _refuse_dtd(path)
    rows = _xlsx_rows(path, settings, data_only=True)
    unsaved = [
        f"{_column_letter(col)}{row_no}"
        for row_no, (values, formulas) in enumerate(zip(rows, _xlsx_rows(path, settings, data_only=False)), start=1)
        for col, (value, formula) in enumerate(zip(values, formulas), start=1)
        if value is None and isinstance(formula, str) and formula.startswith("=")
    ]
    if unsaved:
        cells = ", ".join(unsaved[:10]) + (f" and {len(unsaved) - 10} more" if len(unsaved) > 10 else "")
        raise CatalogError(
            file,
            f"cells {cells} hold formulas whose values were never saved (the file was written by a program "
            "that does not calculate); open it in Excel, WPS or LibreOffice and save it again, or replace the "
            "formulas by their values",
        )
    return catalog_from_rows(rows, settings, file=file, encoding="xlsx")


_PROLOG_BYTES = 1 << 16
_ELEMENT_START = re.compile(r"<[^?!]")


def _refuse_dtd(path: Path) -> None:
    """Refuse a workbook any of whose XML parts declares a DTD (XXE, entity expansion), before any parser sees it."""
    file = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if not member.filename.endswith((".xml", ".rels")):
                    continue
                with archive.open(member) as fh:
                    head = fh.read(_PROLOG_BYTES)
                text = head.decode(
                    "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else "utf-8", "replace"
                )
                start = _ELEMENT_START.search(text)
                prolog = text[: start.start()] if start else text
                if "<!DOCTYPE" in prolog.upper():
                    raise CatalogError(
                        file,
                        f"{member.filename} in the workbook declares a DTD (it could pull in other files or expand "
                        "entities without end); refused: save the catalogue again from a spreadsheet program",
                    )
    except (OSError, zipfile.BadZipFile) as exc:
        raise CatalogError(file, f"not a readable XLSX workbook ({exc})") from None


def _xlsx_rows(path: Path, settings: Settings, data_only: bool) -> list[tuple[object, ...]]:
    """Every row of the catalogue's sheet: saved values (`data_only`), else formulas where there are any."""
    import openpyxl  # imported here: only XLSX catalogues need it
    from openpyxl.utils.exceptions import InvalidFileException

    file = str(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=data_only)
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, InvalidFileException, ParseError, SyntaxError) as exc:
        raise CatalogError(file, f"not a readable XLSX workbook ({exc})") from None
    try:
        name = settings.catalog.sheet
        if name and name not in workbook.sheetnames:
            raise CatalogError(file, f"no worksheet {name!r}; sheets: {', '.join(workbook.sheetnames)}")
        sheet = workbook[name] if name else workbook.worksheets[0]
        return list(sheet.iter_rows(min_row=1, values_only=True))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError, ParseError, SyntaxError) as exc:
        raise CatalogError(file, f"not a readable XLSX workbook ({exc.__class__.__name__}: {exc})") from None
    finally:
        workbook.close()


def _column_letter(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def cell_text(value: object) -> str:
    """Spreadsheet cell → text as a person reads it: 3.0 → "3", a date → "YYYYMMDD"."""
    if value is None:
        return ""
    if isinstance(value, (dt.datetime, dt.date)):
        return value.strftime("%Y%m%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def catalog_from_rows(
    rows: Iterable[Sequence[object]], settings: Settings, file: str = "<table>", encoding: str = ""
) -> Catalog:
    """Build a Catalog from rows of cells; the first row is spreadsheet row 1."""
    config = settings.catalog
    names = header_map(config)
    unknown_required = [name for name in config.required_fields if name not in FIELDS]
    if unknown_required:
        raise CatalogError("settings", f"catalog.required_fields: unknown fields {', '.join(unknown_required)}")
    header: list[str] | None = None
    columns: dict[str, int] = {}
    extra_columns: dict[str, int] = {}
    unnamed: list[int] = []
    reported_unnamed: set[int] = set()
    records: list[CatalogRecord] = []
    problems: list[CatalogProblem] = []
    rows = iter(rows)
    first = [[cell_text(value) for value in raw] for raw in itertools.islice(rows, HEADER_SEARCH_ROWS)]
    header_row = _header_row(first, names, config, file, problems)
    cell_rows = itertools.chain(first, ([cell_text(value) for value in raw] for raw in rows))
    for row_no, cells in enumerate(cell_rows, start=1):
        if row_no < header_row:
            continue
        if header is None:
            header = cells
            columns, extra_columns, unnamed = _map_header(header, names, file, row_no, problems)
            missing = [name for name in config.required_fields if name not in columns]
            if missing:
                found = ", ".join(h for h in header if h.strip()) or "none"
                raise CatalogError(
                    file,
                    f"missing required column(s) {', '.join(LABELS[m] for m in missing)} (headers found: {found}); "
                    f"if the column headers are not on row {row_no}, give their row as header_row in the "
                    "[catalog] section of the profile (--profile)",
                    row=row_no,
                )
            continue
        if not any(cell.strip() for cell in cells):
            continue
        _check_shape(cells, header, unnamed, reported_unnamed, file, row_no, problems)
        records.append(
            CatalogRecord(
                row=row_no,
                fields={name: _cell(cells, index) for name, index in columns.items()},
                extra={text: _cell(cells, index) for text, index in extra_columns.items()},
            )
        )
    if header is None:
        raise CatalogError(file, f"empty: no header row (expected on row {header_row})")
    if not records:
        problems.append(CatalogProblem("warning", "no_records", "the catalogue has a header but no rows", file))
    defaulted: dict[str, list[int]] = {}
    if config.open_status_default:
        if config.open_status_default not in config.open_status_values:
            raise CatalogError(
                "settings",
                f"catalog.open_status_default {config.open_status_default!r} is not one of "
                f"{'/'.join(config.open_status_values)}",
            )
        for record in records:
            if not record.get("open_status").strip():
                record.fields["open_status"] = config.open_status_default
                defaulted.setdefault("open_status", []).append(record.row)
    return Catalog(
        file=file,
        encoding=encoding,
        columns={name: header[index].strip() for name, index in columns.items()},
        records=records,
        problems=problems,
        defaulted=defaulted,
    )


def _header_row(
    first: list[list[str]], names: dict[str, str], config: CatalogSettings, file: str, problems: list[CatalogProblem]
) -> int:
    """The row of the column headers: the profile's, else row 1, else the first of the next rows
    that has every required column when row 1 has not (a title row above the table)."""
    if config.header_row != 1 or not first:
        return config.header_row
    required = set(config.required_fields)

    def has_required(cells: list[str]) -> bool:
        return required <= {names.get(normalize_header(cell)) for cell in cells}

    if has_required(first[0]):
        return 1
    row_no = next((n for n, cells in enumerate(first[1:], start=2) if has_required(cells)), None)
    if row_no is None:
        return 1
    problems.append(
        CatalogProblem(
            "warning",
            "header_row",
            f"the column headers are on row {row_no}; the row(s) above are taken for a title and skipped "
            f"(to say so, set header_row = {row_no} in the [catalog] section of the profile)",
            file,
            row_no,
        )
    )
    return row_no


def _cell(cells: list[str], index: int) -> str:
    return cells[index] if index < len(cells) else ""


def _map_header(
    header: list[str], names: dict[str, str], file: str, row_no: int, problems: list[CatalogProblem]
) -> tuple[dict[str, int], dict[str, int], list[int]]:
    columns: dict[str, int] = {}
    extra: dict[str, int] = {}
    unnamed: list[int] = []
    seen: dict[str, int] = {}
    for index, text in enumerate(header):
        key = normalize_header(text)
        if not key:
            unnamed.append(index)
            continue
        if key in seen:
            raise CatalogError(
                file,
                f"columns {_letter(seen[key])} and {_letter(index)} have the same header {text.strip()!r}",
                row=row_no,
            )
        seen[key] = index
        name = names.get(key)
        if name is None:
            extra[text.strip()] = index
            problems.append(
                CatalogProblem(
                    "warning",
                    "unknown_column",
                    f"column {_letter(index)} {text.strip()!r} is not a known catalogue field; kept as extra",
                    file,
                    row_no,
                    text.strip(),
                )
            )
        elif name in columns:
            raise CatalogError(
                file,
                f"columns {_letter(columns[name])} {header[columns[name]].strip()!r} and {_letter(index)} "
                f"{text.strip()!r} both mean {LABELS[name]}",
                row=row_no,
            )
        else:
            columns[name] = index
    return columns, extra, unnamed


def _check_shape(
    cells: list[str],
    header: list[str],
    unnamed: list[int],
    reported_unnamed: set[int],
    file: str,
    row_no: int,
    problems: list[CatalogProblem],
) -> None:
    overflow = [i for i in range(len(header), len(cells)) if cells[i].strip()]
    if overflow:
        problems.append(
            CatalogProblem(
                "error",
                "extra_cells",
                f"values beyond the last header column (from column {_letter(overflow[0])}) are ignored",
                file,
                row_no,
            )
        )
    for index in unnamed:
        if index not in reported_unnamed and _cell(cells, index).strip():
            reported_unnamed.add(index)
            problems.append(
                CatalogProblem(
                    "warning",
                    "unnamed_column",
                    f"column {_letter(index)} has values but no header (first on this row); ignored",
                    file,
                    row_no,
                )
            )


def _letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA (spreadsheet column letters)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
