"""What a finished document means in the journal: the writes the coordinator makes for a manifest.

`Recorder` turns a worker's `DocumentManifest` into the journal's rows and events (master
digests, page measurements and outputs, the PDF/A and its validation) and keeps the run's
summary counters. It writes inside the caller's transaction (`Journal.batch`), so the
coordinator records many manifests at once; it keeps nothing per page or document.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.batch import SourceDocument
from digitize.describe import Description
from digitize.jobs import DocumentManifest, JobStatus
from digitize.journal import DocumentState, EventType, Journal, Outcome, PageState
from digitize.journal.ledger import folder_written
from digitize.layout import PAGE_FILES, page_file
from digitize.settings import Settings
from digitize.tasks import PageResult
from metadata.archival_code import archival_code_filename
from metadata.records import UNKNOWN_DPI_SOURCES

log = logging.getLogger("digitize")


@dataclass
class BatchSummary:
    documents: int = 0
    documents_ok: int = 0
    documents_failed: int = 0
    documents_skipped: int = 0
    documents_withheld: int = 0  # classified records the profile does not let this run process
    documents_relinked: int = 0  # done before; described anew from the catalogue (no OCR redone)
    documents_adopted: int = 0  # committed by a worker before an interruption, recorded now
    documents_quarantined: int = 0  # failed in an earlier run, not retried (--retry-failed)
    pages: int = 0
    pages_processed: int = 0
    pages_reused: int = 0
    blank_pages: int = 0
    mean_confidence: float | None = None
    wall_seconds: float = 0.0
    coordinator_cpu_seconds: float = 0.0
    pages_per_minute: float | None = None
    work_unit: str = "document"  # or "page"
    failures: list[dict[str, str]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)  # files and folders not read, with the reason
    outside_links: list[dict[str, str]] = field(default_factory=list)  # links followed out of the batch

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class Recorder:
    """The journal writes of one run of `process` (documents, pages and their events)."""

    def __init__(
        self,
        journal: Journal,
        run_id: int,
        *,
        batch: Path,
        settings: Settings,
        settings_key: str,
        engine_version: str,
        descriptions: dict[str, Description],
        summary: BatchSummary,
    ):
        self.journal = journal
        self.run_id = run_id
        self.batch = batch
        self.settings = settings
        self.key = settings_key
        self.engine_version = engine_version
        self.descriptions = descriptions
        self.summary = summary

    def description(self, doc: SourceDocument) -> Description:
        return self.descriptions.get(doc.key) or Description(archival_code=doc.key)

    def pending(self, doc: SourceDocument) -> None:
        desc = self.description(doc)
        self.journal.upsert_document(
            doc.key,
            archival_code=desc.archival_code,
            title=desc.title,
            source=doc.source,
            catalog=desc.fields,
            state=DocumentState.PENDING,
            n_pages=len(doc.pages),
            error=None,
            warnings=doc.warnings,
            settings_key=self.key,
            run_id=self.run_id,
        )

    def withhold(self, doc: SourceDocument, reason: str) -> None:
        """[access] classified = refuse: the document is not read; the journal and summary say why."""
        message = f"{reason}: not processed ([access] classified = refuse; use an approved classified system)"
        desc = self.description(doc)
        self.pending(doc)
        self.journal.upsert_document(
            doc.key, archival_code=desc.archival_code, state=DocumentState.WITHHELD, error=message
        )
        self.journal.record_event(
            EventType.VALIDATION, doc.key, Outcome.WARNING, {"step": "classified record policy", "decision": "withheld"}
        )
        self.summary.documents_withheld += 1
        self.summary.findings.append(
            {
                "severity": "warning",
                "item": "GD-4-7",
                "code": "classified_withheld",
                "object": desc.archival_code,
                "message": message,
                "document": doc.key,
            }
        )
        log.warning("%s: %s", doc.key, message)

    def count_failure(self, doc_key: str, error: str) -> None:
        self.summary.documents_failed += 1
        self.summary.failures.append({"document": doc_key, "error": error})
        log.error("%s: failed: %s", doc_key, error)

    def fail(self, doc_key: str, error: str) -> None:
        self.journal.upsert_document(
            doc_key,
            archival_code=self.archival_code(doc_key),
            state=DocumentState.FAILED,
            error=error,
            run_id=self.run_id,
        )
        self.journal.record_event(
            EventType.VALIDATION, doc_key, Outcome.FAILURE, {"step": "processing", "error": error}
        )
        self.count_failure(doc_key, error)

    def record(self, manifest: DocumentManifest) -> bool:
        """Record what a worker did for a document (in the caller's transaction); True if it is committed now."""
        doc_key = manifest.doc_key
        summary = self.summary
        if manifest.status == JobStatus.UNCHANGED:
            self.journal.record_event(
                EventType.FIXITY_CHECK,
                doc_key,
                Outcome.SUCCESS,
                {"step": "rerun: masters and outputs still match the journal", "masters": len(manifest.masters)},
            )
            summary.documents_skipped += 1
            summary.documents_ok += 1
            summary.blank_pages += manifest.blank_pages
            for page in self.journal.pages(doc_key):  # its findings stand until the page is scanned again
                master = os.path.basename(page.source_path or "")
                self._resolution_finding(doc_key, page.page_no, master, page.dpi, page.dpi_source or "")
            log.info("%s: already done and its checksums still match; skipped", doc_key)
            return False
        self._record_masters(manifest)
        if manifest.pages:  # none when the job could not read the masters: the rows of its last commit stand
            self._record_pages(manifest)
        if manifest.status == JobStatus.FAILED:
            self.fail(doc_key, manifest.error or "unknown error")
            return False
        self._record_document(manifest)
        summary.documents_ok += 1
        summary.blank_pages += manifest.blank_pages
        summary.pages_reused += manifest.pages_reused
        if manifest.status == JobStatus.ADOPTED:
            summary.documents_adopted += 1
            log.info("%s: adopted the folder a worker had committed (its manifest verified)", doc_key)
        else:
            summary.pages_processed += len(manifest.pages) - manifest.pages_reused
            log.info("%s: done (%d pages)", doc_key, len(manifest.pages))
        return True

    def _record_masters(self, manifest: DocumentManifest) -> None:
        for path, (digest, size) in manifest.masters.items():
            self.journal.record_event(
                EventType.MESSAGE_DIGEST,
                manifest.doc_key,
                Outcome.SUCCESS,
                {"file": os.path.relpath(path, self.batch), "sha256": digest, "bytes": size},
            )

    def _record_pages(self, manifest: DocumentManifest) -> None:
        doc_key = manifest.doc_key
        name = archival_code_filename(self.archival_code(doc_key))
        rel = manifest.output_dir
        self.journal.delete_pages_after(doc_key, len(manifest.pages))
        identified: set[str] = set()  # master files whose format identification is recorded
        for page in manifest.pages:
            result = PageResult(**page["result"])
            outputs = {}
            if rel is not None:
                files = {role: page_file(name, result.page_no, role) for role in PAGE_FILES}
                outputs = {
                    role: {"path": f"{rel}/{path}", **manifest.files[path]}
                    for role, path in files.items()
                    if path in manifest.files
                }
            self._record_page(manifest, result, page["source"], outputs)
            master = page["source"]["source_path"]
            if result.ok and master not in identified:
                identified.add(master)
                self._identification(doc_key, master, result.facts)

    def _identification(self, doc_key: str, master: str, facts: dict[str, Any]) -> None:
        """One "format identification" event per master file: the format it was decoded as."""
        self.journal.record_event(
            EventType.FORMAT_IDENTIFICATION,
            doc_key,
            Outcome.SUCCESS,
            {
                "file": os.path.relpath(master, self.batch),
                "format": facts["file_format"],
                "compression": facts["compression"],
            },
        )

    def archival_code(self, doc_key: str) -> str:
        desc = self.descriptions.get(doc_key)
        return desc.archival_code if desc else doc_key

    def _record_page(
        self, manifest: DocumentManifest, result: PageResult, source: dict[str, Any], outputs: dict[str, Any]
    ) -> None:
        doc_key, page_no = result.doc_key, result.page_no
        committed = manifest.status != JobStatus.FAILED
        state = (PageState.DONE if committed else PageState.STAGED) if result.ok else PageState.FAILED
        geometry, facts = result.geometry, result.facts
        fields: dict[str, Any] = {
            "state": state,
            "error": result.error,
            "warnings": result.warnings,
            "timings": {k: round(v, 4) for k, v in result.timings.items()},
            "metrics": {**geometry, **facts},
            "staged": result.staged,
            "outputs": outputs,
            "ocr_confidence": result.ocr_confidence,
            "ocr_status": result.ocr_status,
            "settings_key": manifest.settings_key,
            "run_id": self.run_id,
            **source,
        }
        obj = f"{doc_key}/{page_no:04d}"  # PageRecord.object_id
        if not result.ok:
            self.journal.upsert_page(doc_key, page_no, **fields)
            self.journal.record_event(EventType.MODIFICATION, obj, Outcome.FAILURE, {"error": result.error})
            return
        fields.update(
            file_format=facts["file_format"],
            compression=facts["compression"],
            dpi=facts["dpi"],
            dpi_source=facts["dpi_source"],
            source_mode=facts["source_mode"],
            output_mode=facts["output_mode"],
            width=facts["width"],
            height=facts["height"],
            skew_deg=geometry.get("skew_deg"),
            orientation_deg=geometry.get("orientation_deg"),
            is_blank=int(bool(geometry.get("is_blank"))),
            needs_colour=int(bool(geometry.get("needs_colour"))),
        )
        self.journal.upsert_page(doc_key, page_no, **fields)
        self.journal.record_event(
            EventType.MODIFICATION,
            obj,
            Outcome.SUCCESS,
            {
                "step": "image processing",
                "orientation_deg": geometry.get("orientation_deg"),
                "skew_deg": geometry.get("skew_deg"),
                "crop_box": geometry.get("crop_box"),
                "crop_withheld": geometry.get("crop_withheld"),
                "dpi": facts.get("dpi"),
                "dpi_source": facts.get("dpi_source"),
                "columns": (geometry.get("layout") or {}).get("columns"),
                "spread": (geometry.get("layout") or {}).get("spread"),
                "blank": geometry.get("is_blank"),
                "output_mode": facts.get("output_mode"),
            },
        )
        self.journal.record_event(
            EventType.CREATION,
            obj,
            Outcome.SUCCESS if result.ocr_status.startswith(("ok", "skipped")) else Outcome.WARNING,
            {
                "step": "OCR",
                "engine": self.engine_version,
                "status": result.ocr_status,
                "languages": self.settings.ocr.languages,
                "mean_confidence": result.ocr_confidence,
            },
        )
        for warning in result.warnings:
            if not warning.startswith("Traceback"):
                self.summary.warnings.append(warning)
        master = os.path.basename(source["source_path"])
        self._resolution_finding(doc_key, page_no, master, facts["dpi"], facts["dpi_source"])

    def _record_document(self, manifest: DocumentManifest) -> None:
        doc_key, rel, pdf, ofd = manifest.doc_key, manifest.output_dir, manifest.pdf, manifest.ofd
        layout: dict[str, Any] = {"pdf_path": None, "pdf_sha256": None, "pdf_bytes": None, "pdfa": None}
        layout.update(ofd_path=None, ofd_sha256=None, ofd_bytes=None, ofd=None)
        if pdf:
            layout.update(pdf_path=f"{rel}/{pdf['name']}", pdf_sha256=pdf["sha256"], pdf_bytes=pdf["bytes"])
            layout["pdfa"] = {"flavour": pdf["flavour"], "validated": pdf["validated"], "findings": pdf["findings"]}
        if ofd:
            layout.update(ofd_path=f"{rel}/{ofd['name']}", ofd_sha256=ofd["sha256"], ofd_bytes=ofd["bytes"])
            layout["ofd"] = {"version": ofd["version"], "validated": ofd["validated"], "parts": ofd["parts"]}
        self.journal.upsert_document(
            doc_key,
            archival_code=self.archival_code(doc_key),
            state=DocumentState.DONE,
            output_dir=rel,
            **layout,
            error=None,
            seconds=manifest.seconds,
            settings_key=manifest.settings_key,
            run_id=self.run_id,
        )
        committed: dict[str, Any] | None = folder_written(rel or "", manifest.files)  # the first layout event's
        if pdf:
            step, check = "PDF/A packaging", f"PDF/A-{pdf['flavour']} (pikepdf.pdfa)"
            self._record_layout_file(doc_key, rel, pdf, step, check, committed)
            committed = None
        if ofd:
            check = f"OFD {ofd['version']}: {ofd['parts']} XML parts against GB/T 33190-2016"
            self._record_layout_file(doc_key, rel, ofd, "OFD packaging", check, committed)

    def _record_layout_file(
        self,
        doc_key: str,
        rel: str | None,
        info: dict[str, Any],
        step: str,
        check: str,
        committed: dict[str, Any] | None,
    ) -> None:
        """Creation and validation events of a PDF/A or OFD file, with its fixity. `committed`: the
        folder's files (`digitize.journal.ledger`), recorded with the document's rows by the first."""
        path = f"{rel}/{info['name']}"
        self.journal.record_event(
            EventType.CREATION,
            doc_key,
            Outcome.SUCCESS,
            {"step": step, "file": path, "sha256": info["sha256"], "bytes": info["bytes"], **(committed or {})},
            rows_of=doc_key if committed is not None else None,
        )
        self.journal.record_event(
            EventType.VALIDATION,
            doc_key,
            Outcome.SUCCESS if info["validated"] else Outcome.NOT_CHECKED,
            {"check": check, "file": path},
        )

    def _resolution_finding(self, doc_key: str, page_no: int, master: str, dpi: float | None, source: str) -> None:
        """DA/T 31 §9.4: below the minimum resolution is a warning, below the floor a failure;
        a resolution nobody measured (no tag, nothing estimated) cannot be judged."""
        qc = self.settings.qc
        where = {"object": f"{self.archival_code(doc_key)} page {page_no}", "document": doc_key, "page_no": page_no}
        if dpi is None or source in UNKNOWN_DPI_SOURCES:
            message = (
                f"{master} carries no resolution; DA/T 31 §9.4 not checked "
                "(give the scan resolution with --dpi or [input] dpi_override)"
            )
            finding = {"severity": "warning", "item": "DA/T 31 §9.4", "code": "unknown_dpi", "message": message}
            self.summary.findings.append({**finding, **where})
            return
        if dpi >= qc.min_dpi:
            return
        severity = "error" if dpi < qc.fail_dpi else "warning"
        measured = "estimated from the page at about" if source == "estimated" else "scanned at"
        message = f"{master} {measured} {dpi:g} dpi; the minimum is {qc.min_dpi} (below {qc.fail_dpi} fails)"
        self.summary.findings.append(
            {"severity": severity, "item": "DA/T 31 §9.4", "code": "low_dpi", "message": message, **where}
        )
