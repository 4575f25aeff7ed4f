"""Catalogue findings (DA/T 70 items 1-2 … 1-8, 1-11, 2-4, 2-6, 2-11) as check results: what
`metadata.validation` and `metadata.linking` found when the catalogue was read.
"""

from __future__ import annotations

from digitize.qc.data import QcData
from digitize.qc.results import CheckStatus, Results

SEVERITY_STATUS = {"error": CheckStatus.FAIL, "warning": CheckStatus.WARN}


# Catalogue validation findings: DA/T 70 item -> check key.
_ITEM_TO_KEY = {
    "1-2": "field_length",
    "1-3": "field_format",
    "1-4": "value_domain",
    "1-5": "plausibility",
    "1-6": "special_characters",
    "1-7": "archival_code",
    "1-8": "duplicates",
    "1-11": "metadata_link",
    "2-4": "required_fields",
    "2-6": "item_continuity",
    "2-11": "content_count",
}
# Checks that only the catalogue's findings answer (the others also look at the journal and files).
CATALOGUE_ONLY_CHECKS = (
    "field_length",
    "field_format",
    "value_domain",
    "plausibility",
    "special_characters",
    "archival_code",
    "duplicates",
    "required_fields",
    "item_continuity",
)


def check_catalogue_findings(data: QcData, r: Results) -> None:
    codes_by_key = {doc.doc_key: doc.archival_code for doc in data.documents}
    for finding in data.findings:
        key = _ITEM_TO_KEY.get(finding.item_id)
        if key is None:
            continue
        where = finding.archival_code or finding.document or "catalogue"
        place = (
            f"catalogue row {finding.row}" + (f", column {finding.column}" if finding.column else "")
            if finding.row
            else ""
        )
        doc_key = finding.document or None
        if doc_key is None and finding.archival_code:
            doc_key = next((k for k, c in codes_by_key.items() if c == finding.archival_code), None)
        document = codes_by_key.get(doc_key) if doc_key else None
        defect = finding.code
        if finding.code == "row_without_scan":
            defect = "catalog_row_no_folder"
        elif finding.code == "scan_without_row":
            defect = "folder_no_catalog_row"
        r.add(
            key,
            SEVERITY_STATUS[finding.severity],
            f"{finding.message}" + (f" ({place})" if place else ""),
            object=where,
            document=document or finding.archival_code or None,
            doc_key=doc_key,
            defect=defect,
        )
    if data.catalog is None:
        for key in CATALOGUE_ONLY_CHECKS:
            r.finish(key, data.catalog_note, CheckStatus.NOT_CHECKED)
        return
    checked = f"{len(data.catalog.records)} catalogue rows of {data.catalog_path} checked"
    for key in CATALOGUE_ONLY_CHECKS:
        r.finish(key, checked)
