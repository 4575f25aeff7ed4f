"""Batch statistics for `digitize stats`: documents and pages by 年度, 保管期限, 密级 and type."""

from __future__ import annotations

from typing import Any

from metadata.technical import BatchRecords
from metadata.workbook import Sheet

DIMENSIONS = ("年度", "保管期限", "密级", "文种")


def batch_statistics(batch: BatchRecords) -> dict[str, Any]:
    scanned = [r for r in batch.records if r.scanned]
    by: dict[str, dict[str, dict[str, int]]] = {d: {} for d in DIMENSIONS}
    for record in scanned:
        for dimension in DIMENSIONS:
            value = record.year if dimension == "年度" else record.get(dimension)
            counts = by[dimension].setdefault(value, {"documents": 0, "pages": 0})
            counts["documents"] += 1
            counts["pages"] += len(record.pages)
    if all(not value for value in by["文种"]):
        by["文种"] = {}
    return {
        "totals": {
            "documents": len(scanned),
            "catalogue_only": len(batch.records) - len(scanned),
            "failed": len(batch.failed_documents),
            "pages": sum(len(r.pages) for r in scanned),
            "blank_pages": sum(1 for r in scanned for p in r.pages if p.is_blank),
        },
        "by": {d: dict(sorted(v.items())) for d, v in by.items()},
        "scans_missing": [r.archival_code for r in batch.records if not r.scanned],
        "failed_documents": batch.failed_documents,
    }


def statistics_workbook(data: dict[str, Any]) -> list[Sheet]:
    """The statistics as spreadsheet sheets: one table by dimension, then the rows without scans."""
    by = Sheet(
        "统计 statistics",
        ("项目 dimension", "值 value", "件数 documents", "页数 pages"),
        (
            [dimension, value or "（空）", counts["documents"], counts["pages"]]
            for dimension, values in data["by"].items()
            for value, counts in values.items()
        ),
    )
    totals = data["totals"]
    summary = Sheet(
        "合计 totals",
        ("项目", "数量"),
        [
            ["已扫描件数 documents scanned", totals["documents"]],
            ["缺扫（目录有、无扫描）catalogue rows without scans", totals["catalogue_only"]],
            ["处理失败 failed", totals["failed"]],
            ["页数 pages", totals["pages"]],
            ["空白页 blank pages", totals["blank_pages"]],
        ],
    )
    missing = Sheet(
        "缺扫 scans missing",
        ("档号", "情况"),
        [[code, "目录有、无扫描 no scans"] for code in data["scans_missing"]]
        + [[code, "处理失败 processing failed"] for code in data["failed_documents"]],
    )
    return [summary, by, missing]
