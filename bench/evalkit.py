"""The eval-kit's `found.json`: the failing QC results the eval-kit's score.py counts, in its form.

It is a benchmark format, so it lives here and reads what `digitize qc` writes (the "results"
of OUT/qc/report.json), not the library's objects:

    from bench.evalkit import found_defects
    found = found_defects(json.loads((out / "qc" / "report.json").read_text())["results"])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

# The defect types score.py knows (eval-kit/score.py, "qc").
SCORED_TYPES = {
    "missing_page",
    "duplicate_page",
    "low_dpi",
    "corrupt_image",
    "zero_byte",
    "strong_blur",
    "catalog_row_no_folder",
    "folder_no_catalog_row",
}


def found_defects(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Failing results in the eval-kit's `found.json` form: type, doc_id, page_id or file."""
    found: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str | None]] = set()
    for result in results:
        if result["status"] != "fail" or result["defect"] not in SCORED_TYPES:
            continue
        doc_id = result["doc_key"] or result["document"]
        if result["defect"] == "catalog_row_no_folder":
            doc_id = result["document"] or result["object"]
        if not doc_id:
            continue
        item: dict[str, Any] = {"type": result["defect"], "doc_id": doc_id}
        if result["page"]:
            item["page_id"] = f"{doc_id}/{result['page']}"
        if result["file"] and result["page"]:
            item["file"] = result["file"]
        key = (item["type"], item["doc_id"], item.get("page_id"))
        if key in seen:
            continue
        seen.add(key)
        found.append(item)
    return found
