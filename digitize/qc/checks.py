"""Automated QC checks of a processed batch (OUT): run every check family, in the order of SPECS.

Families (one module each): `authenticity` (真实性, DA/T 70 1-x), `integrity` (完整性, 2-x),
`usability` (可用性, 3-x), `safety` (安全性, 4-x), `catalogue` (the catalogue's own findings),
`images` (DA/T 31 image rules). `data` loads what they read; `results` holds what they say.

Stage prefix: GD (归档, archiving) by default; YJ (移交与接收) for a transfer; BC is accepted
but the checks are those of GD/YJ (DA/T 70 Annex A marks which items apply at which stage).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from digitize.errors import BadInput
from digitize.layout import QC_MEASUREMENTS, OutLayout
from digitize.qc import measurecache
from digitize.qc.authenticity import (
    check_capture_fixity,
    check_catalogue_file,
    check_electronic_attributes,
    check_metadata_link,
    check_output_fixity,
    check_package_structure,
)
from digitize.qc.catalogue import check_archives_codes, check_catalogue_findings
from digitize.qc.data import QcData, QcRequest, load_data, measurement_inputs
from digitize.qc.images import (
    check_blank_pages,
    check_blur,
    check_colour_mode,
    check_duplicates,
    check_page_order,
    check_residual_skew,
    check_resolution,
)
from digitize.qc.integrity import (
    check_byte_count,
    check_content_count,
    check_element_completeness,
    check_item_count,
    check_process_information,
    check_retention_schedule,
)
from digitize.qc.measure import measure_documents
from digitize.qc.results import SPECS, CheckResult, CheckStatus, Results
from digitize.qc.safety import check_extra_files, check_operation_security, check_virus
from digitize.qc.usability import (
    check_environment,
    check_formats,
    check_long_term,
    check_metadata_readable,
    check_pdfa,
    check_unreadable,
)
from metadata.validation import RULES

# Defect codes grouped by the names `QcSettings.critical_checks` uses: a document with a
# failing result of one of these groups is inspected in full, on top of the random sample.
CRITICAL_GROUPS: dict[str, frozenset[str]] = {
    "archival_code": frozenset(code for code, rule in RULES.items() if rule.item_id in ("1-7", "1-8", "1-11")),
    "missing_page": frozenset({"missing_page", "page_count_mismatch", "duplicate_slot", "pdf_page_count"}),
    "duplicate_page": frozenset({"duplicate_page"}),
    "unreadable": frozenset({"corrupt_image", "zero_byte", "master_missing", "document_failed"}),
}


@dataclass
class CheckRun:
    results: list[CheckResult]
    data: QcData

    @property
    def status(self) -> CheckStatus:
        """fail when any check failed, else pass (warnings allowed)."""
        return CheckStatus.FAIL if any(r.status == CheckStatus.FAIL for r in self.results) else CheckStatus.PASS

    def by_check(self) -> list[dict[str, Any]]:
        """One summary per check: worst status and counts, in the order of SPECS."""
        summary = []
        for spec in SPECS.values():
            items = [r for r in self.results if r.check == spec.key]
            if not items:
                continue
            worst = max((r.status for r in items), key=lambda s: s.rank)
            counts = Counter(r.status for r in items)
            summary.append(
                {
                    "item": spec.check_id(self.data.stage),
                    "check": spec.key,
                    "title": spec.title,
                    "status": worst,
                    "result": worst,
                    "fail": counts.get(CheckStatus.FAIL, 0),
                    "warn": counts.get(CheckStatus.WARN, 0),
                    "evidence": items[0].evidence if len(items) == 1 else f"{len(items)} findings",
                }
            )
        return summary


def run_checks(request: QcRequest, progress: Callable[[int, int], Any] | None = None) -> CheckRun:
    """Load what the checks read, measure the pages (those of unchanged documents only when no earlier
    run has; `progress(done, total)` counts pages), run every check; results in the order of SPECS."""
    stage = request.stage_prefix
    started = time.perf_counter()
    data = load_data(request)
    data.timings["load"] = time.perf_counter() - started
    started = time.perf_counter()
    data.masters_read = request.verify_masters
    data.measure_inputs = measurement_inputs(data, request.verify_masters)
    kept = measurecache.load(OutLayout(data.out).path(QC_MEASUREMENTS), data.measure_inputs)
    kept = kept if request.reuse_measurements else {}
    todo = [doc for doc in data.measure_inputs if doc.doc_key not in kept]
    data.measures = {**kept, **measure_documents(todo, request.jobs, progress)}
    data.measures_reused = len(kept)
    data.timings["measure"] = time.perf_counter() - started
    started = time.perf_counter()
    r = Results(stage)
    check_capture_fixity(data, r, request.verify_masters)
    check_catalogue_findings(data, r)
    check_archives_codes(data, r)
    check_electronic_attributes(data, r)
    check_metadata_link(data, r)
    check_catalogue_file(data, r)
    check_package_structure(data, r)
    _, journal_bytes, disk_bytes = check_output_fixity(data, r)
    check_item_count(data, r)
    check_byte_count(data, r, journal_bytes, disk_bytes)
    check_element_completeness(data, r)
    check_process_information(data, r)
    check_retention_schedule(data, r)
    check_content_count(data, r)
    check_metadata_readable(data, r)
    check_formats(data, r)
    check_unreadable(data, r)
    check_environment(data, r)
    check_pdfa(data, r)
    check_virus(data, r, request.virus_scanner)
    check_extra_files(data, r)
    check_operation_security(data, r)
    check_colour_mode(data, r)
    check_resolution(data, r)
    check_residual_skew(data, r)
    check_blur(data, r)
    check_blank_pages(data, r)
    check_duplicates(data, r)
    check_page_order(data, r)
    check_long_term(data, r)
    data.timings["checks"] = time.perf_counter() - started
    order = {spec.key: n for n, spec in enumerate(SPECS.values())}
    results = sorted(r.items, key=lambda x: order[x.check])
    return CheckRun(results, data)


def critical_documents(results: Iterable[CheckResult], groups: Iterable[str]) -> dict[str, list[str]]:
    """档号 -> reasons, for documents with a failing result in one of the critical groups."""
    codes: set[str] = set()
    for group in groups:
        if group not in CRITICAL_GROUPS:
            raise BadInput(f"unknown critical check group {group!r}; known: {', '.join(CRITICAL_GROUPS)}")
        codes |= CRITICAL_GROUPS[group]
    found: dict[str, list[str]] = defaultdict(list)
    for result in results:
        if result.status == CheckStatus.FAIL and result.defect in codes and result.document:
            found[result.document].append(f"{result.check_id} {result.defect}")
    return dict(found)
