"""数据挂接: catalogue rows ↔ scanned documents, page counts and missing pages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from digitize.settings import CatalogSettings, Settings
from metadata.catalog import catalog_from_rows, read_catalog
from metadata.linking import ScannedDocument, link_documents

SAMPLE = Path(__file__).parent / "data" / "catalog" / "catalog.csv"
SETTINGS = Settings()


def doc(code: str, pages: int, slots: tuple[int, ...] = ()) -> ScannedDocument:
    return ScannedDocument(key=code, archival_code=code, page_count=pages, slots=slots)


# The sample batch as the batch scanner sees it: a PDF, a multi-page TIFF, two folders of page
# files (the last one with 0002 missing), and no folder for J022-SB·2019-Y-ZJ-0005.
SAMPLE_DOCUMENTS = [
    doc("J022-SB·2019-D10-ZJ-0003", 4),
    doc("J022-SB·2019-D30-BGS-0002", 3),
    doc("J022-SB·2019-D30-ZJ-0001", 2, (1, 2)),
    doc("J022-SB·2019-Y-DY-0004", 2, (1, 3)),
]


def small_catalog(*rows: tuple[str, str]):
    table = [["档号", "题名", "责任者", "日期", "保管期限", "页数"]]
    table += [[code, "题名", "某局", "20190101", "永久", pages] for code, pages in rows]
    return catalog_from_rows(table, SETTINGS, file="c.csv")


def test_sample_batch():
    catalog = read_catalog(SAMPLE, SETTINGS)
    result = link_documents(catalog, SAMPLE_DOCUMENTS, SETTINGS)
    assert sorted((link.record.row, link.document.key) for link in result.links) == [
        (2, "J022-SB·2019-D10-ZJ-0003"),
        (3, "J022-SB·2019-D30-BGS-0002"),
        (4, "J022-SB·2019-D30-ZJ-0001"),
        (5, "J022-SB·2019-Y-DY-0004"),
    ]
    found = {(f.item_id, f.code, f.archival_code): f for f in result.findings}
    assert set(found) == {
        ("1-11", "row_without_scan", "J022-SB·2019-Y-ZJ-0005"),
        ("2-11", "missing_page", "J022-SB·2019-Y-DY-0004"),
    }
    missing = found["2-11", "missing_page", "J022-SB·2019-Y-DY-0004"]
    assert missing.row == 5 and missing.document == "J022-SB·2019-Y-DY-0004" and missing.severity == "error"
    assert "0002" in missing.message and "页数 3" in missing.message and "2 page images" in missing.message
    assert found["1-11", "row_without_scan", "J022-SB·2019-Y-ZJ-0005"].row == 6
    linked = {link.document.key: link.record for link in result.links}
    assert linked["J022-SB·2019-D30-ZJ-0001"].get("pages") == "2"
    assert "J022-SB·2019-Y-ZJ-0005" not in linked


def test_scan_without_row():
    result = link_documents(
        small_catalog(("J022-SB·2019-Y-ZJ-0001", "1")),
        [doc("J022-SB·2019-Y-ZJ-0001", 1), doc("J022-SB·2019-Y-ZJ-0009", 2)],
        SETTINGS,
    )
    [finding] = result.findings
    assert (finding.code, finding.item_id, finding.row, finding.document) == (
        "scan_without_row",
        "1-11",
        None,
        "J022-SB·2019-Y-ZJ-0009",
    )


def test_link_after_normalising_lookalikes_is_reported():
    catalog = small_catalog(("J022-SB・2019-Y-ZJ-0001", "1"))
    result = link_documents(catalog, [doc("J022-SB·2019-Y-ZJ-0001", 1)], SETTINGS)
    assert [link.normalised for link in result.links] == [True]
    assert [(f.code, f.severity, f.row) for f in result.findings] == [("linked_after_normalising", "warning", 2)]


def test_exact_match_wins_over_normalised():
    catalog = small_catalog(("J022-SB·2019-Y-ZJ-0001", "1"))
    documents = [doc("J022-SB・2019-Y-ZJ-0001", 1), doc("J022-SB·2019-Y-ZJ-0001", 1)]
    result = link_documents(catalog, documents, SETTINGS)
    assert [(link.document.key, link.normalised) for link in result.links] == [("J022-SB·2019-Y-ZJ-0001", False)]
    assert [(f.code, f.document) for f in result.findings] == [("scan_without_row", "J022-SB・2019-Y-ZJ-0001")]


def test_duplicate_archival_code_is_ambiguous():
    catalog = small_catalog(("J022-SB·2019-Y-ZJ-0001", "1"), ("J022-SB·2019-Y-ZJ-0001", "1"))
    result = link_documents(catalog, [doc("J022-SB·2019-Y-ZJ-0001", 1)], SETTINGS)
    assert result.links == []
    assert [(f.code, f.row) for f in result.findings] == [("ambiguous_link", 2), ("ambiguous_link", 3)]


def test_page_count_mismatch():
    catalog = small_catalog(("J022-SB·2019-Y-ZJ-0001", "4"), ("J022-SB·2019-Y-ZJ-0002", "2"))
    documents = [doc("J022-SB·2019-Y-ZJ-0001", 3, (1, 2, 3)), doc("J022-SB·2019-Y-ZJ-0002", 2)]
    [finding] = link_documents(catalog, documents, SETTINGS).findings
    assert (finding.code, finding.item_id, finding.row, finding.column) == ("page_count_mismatch", "2-11", 2, "页数")
    assert "页数 4" in finding.message and "3 page images" in finding.message


def test_blank_reverse_sides_count_as_pages():
    catalog = small_catalog(("J022-SB·2019-Y-ZJ-0001", "4"))
    assert link_documents(catalog, [doc("J022-SB·2019-Y-ZJ-0001", 4, (1, 2, 3, 4))], SETTINGS).findings == []


def test_gap_and_count_both_wrong():
    catalog = small_catalog(("J022-SB·2019-Y-ZJ-0001", "5"))
    found = link_documents(catalog, [doc("J022-SB·2019-Y-ZJ-0001", 2, (1, 3))], SETTINGS).findings
    assert [f.code for f in found] == ["missing_page", "page_count_mismatch"]


def test_duplicate_slot():
    catalog = small_catalog(("J022-SB·2019-Y-ZJ-0001", "2"))
    found = link_documents(catalog, [doc("J022-SB·2019-Y-ZJ-0001", 3, (1, 2, 2))], SETTINGS).findings
    assert [f.code for f in found] == ["duplicate_slot", "page_count_mismatch"]
    assert "0002" in found[0].message


def test_row_without_archival_code():
    catalog = small_catalog(("", "1"))
    [finding] = link_documents(catalog, [], SETTINGS).findings
    assert finding.code == "row_without_scan" and "no 档号" in finding.message


def test_unreadable_page_count_is_left_to_validation():
    catalog = small_catalog(("J022-SB·2019-Y-ZJ-0001", "两页"))
    assert link_documents(catalog, [doc("J022-SB·2019-Y-ZJ-0001", 2, (1, 2))], SETTINGS).findings == []


def test_severities_apply_to_linking():
    settings = dataclasses.replace(SETTINGS, catalog=CatalogSettings(severities={"2-11": "warning"}))
    catalog = read_catalog(SAMPLE, settings)
    found = link_documents(catalog, SAMPLE_DOCUMENTS, settings).findings
    assert {(f.code, f.severity) for f in found} == {("row_without_scan", "error"), ("missing_page", "warning")}
