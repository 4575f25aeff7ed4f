"""Batch statistics for `digitize stats`: documents and pages by 年度, 保管期限, 密级 and type."""

from __future__ import annotations

from typing import Any

from metadata.technical import BatchRecords

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
