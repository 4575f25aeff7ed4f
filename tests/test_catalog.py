"""Catalog import: encodings, XLSX, header mapping, malformed files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import openpyxl
import pytest

from digitize.settings import CatalogSettings, Settings
from metadata.catalog import CatalogError, catalog_from_rows, read_catalog

SAMPLE = Path(__file__).parent / "data" / "catalog" / "catalog.csv"
SAMPLE_TEXT = SAMPLE.read_text(encoding="utf-8-sig")
SETTINGS = Settings()


def with_catalog(**changes) -> Settings:
    return dataclasses.replace(SETTINGS, catalog=dataclasses.replace(CatalogSettings(), **changes))


def write(tmp_path: Path, data: bytes | str, name: str = "catalog.csv") -> Path:
    path = tmp_path / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def sample_rows() -> list[list[str]]:
    return [line.split(",") for line in SAMPLE_TEXT.splitlines()]


def test_sample_catalogue():
    catalog = read_catalog(SAMPLE, SETTINGS)
    assert catalog.encoding == "utf-8-sig"
    assert catalog.problems == []
    assert [r.row for r in catalog.records] == [2, 3, 4, 5, 6]
    assert set(catalog.columns) == {
        "archival_code",
        "title",
        "author",
        "date",
        "pages",
        "security",
        "retention",
        "remarks",
    }
    first = catalog.records[0]
    assert first.get("archival_code") == "J022-SB·2019-D10-ZJ-0003"
    assert first.get("title") == "陆宇春社会保险个人缴费明细表（201801—201906）"
    assert first.get("pages") == "4"
    assert first.get("open_status") == ""  # no such column
    assert catalog.records[1].get("remarks") == ""
    assert first.labelled()["档号"] == "J022-SB·2019-D10-ZJ-0003"
    assert set(first.labelled()) == {"档号", "题名", "责任者", "日期", "页数", "密级", "保管期限", "备注"}


def test_bom_plain_utf8_gb18030_and_xlsx_give_identical_records(tmp_path):
    reference = read_catalog(SAMPLE, SETTINGS)
    plain = read_catalog(write(tmp_path, SAMPLE_TEXT, "plain.csv"), SETTINGS)
    gb = read_catalog(write(tmp_path, SAMPLE_TEXT.encode("gb18030"), "gb.csv"), SETTINGS)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in sample_rows():
        # as Excel stores them: dates and page counts as numbers
        sheet.append([int(v) if v.isdigit() else (v or None) for v in row])
    workbook.save(tmp_path / "catalog.xlsx")
    xlsx = read_catalog(tmp_path / "catalog.xlsx", SETTINGS)
    assert (plain.encoding, gb.encoding, xlsx.encoding) == ("utf-8", "gb18030", "xlsx")
    assert plain.records == reference.records
    assert gb.records == reference.records
    assert xlsx.records == reference.records
    assert xlsx.columns == reference.columns


def test_xlsx_row_numbers_dates_and_sheet_choice(tmp_path):
    import datetime as dt

    workbook = openpyxl.Workbook()
    workbook.active.title = "说明"
    workbook.active.append(["not the catalogue"])
    sheet = workbook.create_sheet("目录")
    sheet.append(["档号", "题名", "责任者", "日期", "保管期限", "页数"])
    sheet.append(["J022-SB·2019-Y-ZJ-0001", "甲", "某局", dt.datetime(2019, 6, 24), "永久", 2.0])
    sheet.cell(row=5, column=1, value="J022-SB·2019-Y-ZJ-0002")
    workbook.save(tmp_path / "c.xlsx")
    catalog = read_catalog(tmp_path / "c.xlsx", with_catalog(sheet="目录"))
    assert [r.row for r in catalog.records] == [2, 5]  # blank rows keep their numbers
    assert catalog.records[0].get("date") == "20190624"
    assert catalog.records[0].get("pages") == "2"
    with pytest.raises(CatalogError, match="no worksheet"):
        read_catalog(tmp_path / "c.xlsx", with_catalog(sheet="missing"))


def test_undecodable_bytes_name_file_and_row(tmp_path):
    data = SAMPLE_TEXT.encode("utf-8").replace("潘梅".encode(), b"\xff\xfe")
    path = write(tmp_path, data)
    with pytest.raises(CatalogError) as info:
        read_catalog(path, SETTINGS)
    assert str(path) in str(info.value) and "row 5" in str(info.value)
    assert info.value.row == 5


def test_damaged_utf8_is_not_read_as_gb18030(tmp_path):
    good = SAMPLE_TEXT.encode("utf-8")
    title = "关于做好".encode()
    damaged = good.replace(title, title[:-1], 1)  # cut a byte out of a character on row 3
    with pytest.raises(CatalogError, match="UTF-8") as info:
        read_catalog(write(tmp_path, damaged), SETTINGS)
    assert info.value.row == 3


def test_neither_encoding(tmp_path):
    path = write(tmp_path, b"\xd5\xb5\xba\xc5,\x80\x80\xff\n")
    with pytest.raises(CatalogError, match="neither UTF-8 .* nor GB18030"):
        read_catalog(path, SETTINGS)


def test_configured_encoding_is_strict(tmp_path):
    path = write(tmp_path, SAMPLE_TEXT.encode("gb18030"))
    with pytest.raises(CatalogError, match="not valid utf-8") as info:
        read_catalog(path, with_catalog(encoding="utf-8"))
    assert info.value.row == 1
    assert read_catalog(path, with_catalog(encoding="gb18030")).encoding == "gb18030"


def test_utf16_is_refused_clearly(tmp_path):
    with pytest.raises(CatalogError, match="UTF-16"):
        read_catalog(write(tmp_path, SAMPLE_TEXT.encode("utf-16")), SETTINGS)


def test_missing_required_column(tmp_path):
    text = "\n".join(",".join(c for i, c in enumerate(row) if i != 1) for row in sample_rows())
    with pytest.raises(CatalogError, match="missing required column.*题名") as info:
        read_catalog(write(tmp_path, text), SETTINGS)
    assert info.value.row == 1


def test_open_status_can_be_required(tmp_path):
    settings = with_catalog(required_fields=("archival_code", "title", "open_status"))
    with pytest.raises(CatalogError, match="开放标识"):
        read_catalog(SAMPLE, settings)


@pytest.mark.parametrize("header", ["档号,题名,标题,责任者,日期,保管期限", "档号,题名,责任者,日期,保管期限,题名"])
def test_ambiguous_headers(tmp_path, header):
    with pytest.raises(CatalogError, match="题名|标题"):
        read_catalog(write(tmp_path, header + "\n"), SETTINGS)


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_empty_file(tmp_path, data):
    with pytest.raises(CatalogError, match="empty|missing required"):
        read_catalog(write(tmp_path, data), SETTINGS)


def test_header_only(tmp_path):
    catalog = read_catalog(write(tmp_path, SAMPLE_TEXT.splitlines()[0] + "\r\n"), SETTINGS)
    assert catalog.records == []
    assert [p.code for p in catalog.problems] == ["no_records"]


def test_xml_special_characters_are_kept(tmp_path):
    title = '关于<社会保险>档案 & "整理"的通知'
    text = f'档号,题名,责任者,日期,保管期限\nJ022-SB·2019-Y-ZJ-0001,"{title.replace(chr(34), chr(34) * 2)}",某局,20190101,永久\n'
    catalog = read_catalog(write(tmp_path, text), SETTINGS)
    assert catalog.records[0].get("title") == title


def test_long_fields(tmp_path):
    header = "档号,题名,责任者,日期,保管期限\n"
    long_title = "很长" * 400
    catalog = read_catalog(
        write(tmp_path, header + f"J022-SB·2019-Y-ZJ-0001,{long_title},某局,20190101,永久\n"), SETTINGS
    )
    assert catalog.records[0].get("title") == long_title  # kept whole; validation judges its length
    huge = header + "J022-SB·2019-Y-ZJ-0001,短,某局,20190101,永久\n" + "J022-SB·2019-Y-ZJ-0002," + "x" * 200_000 + "\n"
    with pytest.raises(CatalogError, match="not readable as CSV") as info:
        read_catalog(write(tmp_path, huge), SETTINGS)
    assert info.value.row == 3


def test_header_variants_and_unknown_columns(tmp_path):
    text = (
        "序 号,*档号,文件编号,责任者,文件题名,日期,机构（问题）,总页数,保管期限,盒号,经办人,,\n"
        "1,J022-SB·2019-Y-ZJ-0001,杭社保〔2019〕1号,某局,登记表,20190101,ZJ,2,永久,1,张三,,\n"
        "2,J022-SB·2019-Y-ZJ-0002,,某局,登记表,20190101,ZJ,2,永久,1,李四,备忘,\n"
    )
    catalog = read_catalog(write(tmp_path, text), SETTINGS)
    assert catalog.columns["sequence"] == "序 号"
    assert catalog.columns["org"] == "机构（问题）"
    record = catalog.records[0]
    assert record.get("document_number") == "杭社保〔2019〕1号"
    assert record.get("pages") == "2" and record.get("box") == "1"
    assert record.extra == {"经办人": "张三"}
    problems = [(p.code, p.row, p.column) for p in catalog.problems]
    assert problems == [("unknown_column", 1, "经办人"), ("unnamed_column", 3, "")]


def test_english_headers_from_profile(tmp_path):
    aliases = {
        "archival_code": ["Reference code"],
        "title": ["Title"],
        "author": ["Creator"],
        "date": ["Date"],
        "retention": ["Retention"],
        "pages": "Pages",
    }
    text = "Reference code,Title,Creator,Date,Retention,Pages\nJ022-SB·2019-Y-ZJ-0001,登记表,某局,20190101,永久,2\n"
    catalog = read_catalog(write(tmp_path, text), with_catalog(column_aliases=aliases))
    assert catalog.records[0].fields == {
        "archival_code": "J022-SB·2019-Y-ZJ-0001",
        "title": "登记表",
        "author": "某局",
        "date": "20190101",
        "retention": "永久",
        "pages": "2",
    }
    assert catalog.column("title") == "Title"
    with pytest.raises(CatalogError, match="unknown field 'titel'"):
        read_catalog(write(tmp_path, text), with_catalog(column_aliases={"titel": ["Title"]}))


def test_title_row_above_header_and_quoted_line_breaks(tmp_path):
    text = (
        '归档文件目录,,,,\n档号,题名,责任者,日期,保管期限\nJ022-SB·2019-Y-ZJ-0001,"两行\n题名",某局,20190101,永久\n'
        "J022-SB·2019-Y-ZJ-0002,题名,某局,20190101,永久\n"
    )
    catalog = read_catalog(write(tmp_path, text), with_catalog(header_row=2))
    assert [r.row for r in catalog.records] == [3, 4]
    assert catalog.records[0].get("title") == "两行\n题名"


def test_extra_cells_are_reported(tmp_path):
    text = "档号,题名,责任者,日期,保管期限\nJ022-SB·2019-Y-ZJ-0001,题名,某局,20190101,永久,多余\n"
    catalog = read_catalog(write(tmp_path, text), SETTINGS)
    assert [(p.code, p.severity, p.row) for p in catalog.problems] == [("extra_cells", "error", 2)]


def test_short_rows_and_blank_rows(tmp_path):
    text = (
        "档号,题名,责任者,日期,保管期限,备注\nJ022-SB·2019-Y-ZJ-0001,题名\n,,,,,\n\nJ022-SB·2019-Y-ZJ-0002,题名,某局\n"
    )
    catalog = read_catalog(write(tmp_path, text), SETTINGS)
    assert [r.row for r in catalog.records] == [2, 5]
    assert catalog.records[0].get("remarks") == ""


def test_unsupported_files(tmp_path):
    with pytest.raises(CatalogError, match=r"\.xlsx or CSV"):
        read_catalog(write(tmp_path, b"x", "old.xls"), SETTINGS)
    with pytest.raises(CatalogError, match="unknown catalogue type"):
        read_catalog(write(tmp_path, b"x", "catalog.json"), SETTINGS)
    with pytest.raises(CatalogError, match="not a readable XLSX"):
        read_catalog(write(tmp_path, b"not a zip", "broken.xlsx"), SETTINGS)
    with pytest.raises(CatalogError, match="cannot read"):
        read_catalog(tmp_path / "absent.csv", SETTINGS)


def test_rows_from_memory():
    catalog = catalog_from_rows(sample_rows(), SETTINGS)
    assert catalog.file == "<table>"
    assert catalog.records == read_catalog(SAMPLE, SETTINGS).records
