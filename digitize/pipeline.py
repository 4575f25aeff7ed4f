"""The coordinator: discover the batch, schedule page and document tasks, record everything.

Data flows one way: masters → page tasks (in workers) → document tasks (in the coordinator) →
atomic commit of documents/<档号>/ → journal. This module is the only writer of the journal's
documents, pages and runs (other commands only append events). A rerun skips every document
whose outputs the journal and their checksums still confirm, reuses staged pages of unfinished
documents, and does the rest.

Over 500 lines because the coordinator is one state machine — start, page done, document
done, resume checks — and every step of it records what happened in the journal (events for
fixity, format identification, each layout file); split apart, one run's flow would be read
across modules.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.assemble import DocumentResult, DocumentTask, StagedPage, run_document
from digitize.batch import PageRef, SourceDocument
from digitize.describe import BatchPlan, Description
from digitize.executors import Executor
from digitize.fsutil import commit_directory, sha256_file
from digitize.journal import AGENT, DocumentState, EventType, Journal, Outcome, PageRecord, PageState, RunStatus
from digitize.layout import PAGE_FILES, PROTECTED_DIR, STAGED_FILES, OutLayout, document_dir, page_file, protected_dir
from digitize.ocr.tesseract import engine_version as ocr_engine_version
from digitize.ocr.tesseract import resolve_engine
from digitize.pdfa import PdfAError
from digitize.relink import document_meta, relink_document
from digitize.settings import Settings
from digitize.tasks import PageResult, PageTask, run_page
from metadata.archival_code import ArchivalCodeError, CodeTemplate, archival_code_filename
from metadata.export.access import classified_reason
from metadata.records import UNKNOWN_DPI_SOURCES

log = logging.getLogger("digitize")
SOFTWARE = AGENT  # the software that made every output and recorded every event


@dataclass
class BatchSummary:
    documents: int = 0
    documents_ok: int = 0
    documents_failed: int = 0
    documents_skipped: int = 0
    documents_withheld: int = 0  # classified records the profile does not let this run process
    documents_relinked: int = 0  # done before; described anew from the catalogue (no OCR redone)
    pages: int = 0
    pages_processed: int = 0
    pages_reused: int = 0
    blank_pages: int = 0
    mean_confidence: float | None = None
    wall_seconds: float = 0.0
    pages_per_minute: float | None = None
    failures: list[dict[str, str]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def settings_key(settings: Settings) -> str:
    """Fingerprint of everything that changes the outputs: a change means redo."""
    relevant = {k: v for k, v in settings.to_dict().items() if k in ("input", "imaging", "ocr", "pdf", "output")}
    relevant["software"] = SOFTWARE
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def _hash_masters(docs: list[SourceDocument]) -> dict[str, tuple[str, int]]:
    files = sorted({f for d in docs if d.error is None for f in d.master_files})
    with ThreadPoolExecutor(max_workers=4) as pool:
        digests = list(pool.map(sha256_file, files))
    return {f: (digest, os.path.getsize(f)) for f, digest in zip(files, digests)}


class Coordinator:
    def __init__(self, plan: BatchPlan, executor: Executor, progress: Callable[[int, int], Any] | None = None):
        request = plan.request
        self.batch = request.batch
        self.out = request.out
        self.settings = request.settings
        self.settings_dict = request.settings.to_dict()
        self.key = settings_key(request.settings)
        self.executor = executor
        self.descriptions = dict(plan.description.descriptions)
        self.catalog_path = str(request.catalog.resolve()) if request.catalog else None
        self.progress = progress
        self.layout = OutLayout(request.out)
        self.journal = Journal(self.layout.journal)
        self.summary = BatchSummary(findings=plan.description.findings_for_summary(), warnings=list(plan.warnings))
        self._ready_documents: list[str] = []
        self._identified: set[str] = set()  # master files whose format identification is recorded
        try:
            self.template: CodeTemplate | None = CodeTemplate(request.settings.archival_code)
        except ArchivalCodeError:  # the catalogue's validation names the broken template
            self.template = None

    # ------------------------------------------------------------------ helpers
    def _name(self, doc: SourceDocument) -> str:
        return archival_code_filename(self.descriptions[doc.key].archival_code)

    def _stage(self, doc_key: str) -> Path:
        return self.layout.stage_dir(doc_key)

    def _record_document(self, doc: SourceDocument, state: DocumentState, error: str | None) -> None:
        desc = self.descriptions[doc.key]
        self.journal.upsert_document(
            doc.key,
            archival_code=desc.archival_code,
            title=desc.title,
            source=doc.source,
            catalog=desc.fields,
            state=state,
            n_pages=len(doc.pages),
            error=error,
            warnings=doc.warnings,
            settings_key=self.key,
            run_id=self.run_id,
        )

    def _fail_document(self, doc: SourceDocument, error: str) -> None:
        self._record_document(doc, DocumentState.FAILED, error)
        self.journal.record_event(
            EventType.VALIDATION, doc.key, Outcome.FAILURE, {"step": "processing", "error": error}
        )
        self.summary.documents_failed += 1
        self.summary.failures.append({"document": doc.key, "error": error})
        log.error("%s: failed: %s", doc.key, error)

    def _document_still_valid(self, doc: SourceDocument, hashes: dict[str, tuple[str, int]]) -> bool:
        row = self.journal.document(doc.key)
        if not row or row.state != DocumentState.DONE or row.settings_key != self.key:
            return False
        layout = [
            (row.pdf_path, row.pdf_sha256, row.pdf_bytes)
            if fmt == "pdfa"
            else (row.ofd_path, row.ofd_sha256, row.ofd_bytes)
            for fmt in self.settings.output.formats
        ]
        for rel, _, size in layout:
            if not rel or not (self.out / rel).is_file() or os.path.getsize(self.out / rel) != size:
                return False
        pages = self.journal.pages(doc.key)
        if len(pages) != len(doc.pages):
            return False
        for ref, page in zip(doc.pages, pages):
            if page.state != PageState.DONE or page.source_path != ref.path or page.frame != ref.frame:
                return False
            if page.master_sha256 != hashes[ref.path][0]:
                return False
        return all(sha256_file(self.out / (rel or "")) == digest for rel, digest, _ in layout)

    def _reusable_page(self, ref: PageRef, master_sha: str) -> PageRecord | None:
        row = self.journal.page(ref.doc_key, ref.page_no)
        if not row or row.state != PageState.STAGED or row.settings_key != self.key:
            return None
        if row.source_path != ref.path or row.frame != ref.frame or row.master_sha256 != master_sha:
            return None
        stage = self._stage(ref.doc_key)
        for role in STAGED_FILES:
            info = row.staged.get(role)
            if not info or not (stage / info["name"]).is_file():
                return None
            if os.path.getsize(stage / info["name"]) != info["bytes"]:
                return None
        return row

    # ------------------------------------------------------------------ the run
    def run(self, docs: list[SourceDocument], command: str) -> BatchSummary:
        try:
            return self._run(docs, command)
        finally:
            self.journal.close()

    def _run(self, docs: list[SourceDocument], command: str) -> BatchSummary:
        started = time.perf_counter()
        ocr = self.settings.ocr
        engine_version = ocr_engine_version(resolve_engine(ocr.engine, ocr.languages, ocr.tessdata_dir)[0])
        self.engine_version = engine_version
        self.ocr_software = engine_version.split(" (")[0]
        self.run_id = self.journal.start_run(
            command=command,
            batch=str(self.batch),
            catalog=self.catalog_path,
            settings=self.settings_dict,
            software=SOFTWARE,
            engine=engine_version,
            jobs=self.executor.workers,
        )
        self.journal.set_meta("batch", str(self.batch.resolve()))
        if self.journal.meta("batch_id") is None:
            self.journal.set_meta("batch_id", str(uuid.uuid4()))
        for doc in docs:
            self.descriptions.setdefault(doc.key, Description(archival_code=doc.key))
        self.summary.documents = len(docs)
        self.summary.pages = sum(len(d.pages) for d in docs)
        hashes = _hash_masters(docs)

        pending_pages: list[PageTask] = []
        self.doc_pages: dict[str, dict[int, PageRecord]] = {}
        self.doc_failed: dict[str, list[str]] = {}
        self.docs = {d.key: d for d in docs}
        for doc in docs:
            self.summary.warnings.extend(doc.warnings)
            if doc.error:
                self._fail_document(doc, doc.error)
                continue
            if self._classified(doc.key) and self.settings.access.classified == "refuse":
                self._withhold(doc, self._classified(doc.key) or "")
                continue
            if self._document_still_valid(doc, hashes):
                self.journal.record_event(
                    EventType.FIXITY_CHECK,
                    doc.key,
                    Outcome.SUCCESS,
                    {"step": "rerun: masters and outputs still match the journal", "masters": len(doc.master_files)},
                )
                self.summary.documents_skipped += 1
                self.summary.documents_ok += 1
                pages = self.journal.pages(doc.key)
                self.summary.blank_pages += sum(1 for p in pages if p.is_blank)
                for page in pages:  # its findings stand until the page is scanned again
                    ref = PageRef(doc.key, page.page_no, page.source_path or "")
                    self._resolution_finding(ref, page.dpi, page.dpi_source or "")
                self._describe_anew(doc)
                log.info("%s: already done and its checksums still match; skipped", doc.key)
                continue
            self._start_document(doc, hashes, pending_pages)

        total = len(pending_pages)
        self._progress_total = total
        self._progress_done = 0
        if self.progress:
            self.progress(0, total)
        self._schedule(pending_pages)
        self._cleanup_work()

        self.summary.wall_seconds = round(time.perf_counter() - started, 3)
        if self.summary.pages_processed and self.summary.wall_seconds:
            self.summary.pages_per_minute = round(60 * self.summary.pages_processed / self.summary.wall_seconds, 1)
        confidences = [p.ocr_confidence for p in self.journal.pages() if p.ocr_confidence is not None]
        if confidences:
            self.summary.mean_confidence = round(sum(confidences) / len(confidences), 2)
        status = RunStatus.OK if self.summary.documents_failed == 0 else RunStatus.FAILURES
        self.journal.finish_run(self.run_id, status, self.summary.to_dict())
        return self.summary

    def _classified(self, doc_key: str) -> str | None:
        """Why the document is classified (its catalogue 密级), else None."""
        return classified_reason(self.descriptions[doc_key].fields.get("密级", ""))

    def _withhold(self, doc: SourceDocument, reason: str) -> None:
        """[access] classified = refuse: the document is not read; the journal and summary say why."""
        message = f"{reason}: not processed ([access] classified = refuse; use an approved classified system)"
        self._record_document(doc, DocumentState.WITHHELD, message)
        self.journal.record_event(
            EventType.VALIDATION, doc.key, Outcome.WARNING, {"step": "classified record policy", "decision": "withheld"}
        )
        self.summary.documents_withheld += 1
        self.summary.findings.append(
            {
                "severity": "warning",
                "item": "GD-4-7",
                "code": "classified_withheld",
                "object": self.descriptions[doc.key].archival_code,
                "message": message,
                "document": doc.key,
            }
        )
        log.warning("%s: %s", doc.key, message)

    def _start_document(self, doc: SourceDocument, hashes: dict[str, tuple[str, int]], pending: list[PageTask]) -> None:
        self._record_document(doc, DocumentState.PENDING, None)
        self.journal.delete_pages_after(doc.key, len(doc.pages))
        stage = self._stage(doc.key)
        stage.mkdir(parents=True, exist_ok=True)
        self.doc_pages[doc.key] = {}
        self.doc_failed[doc.key] = []
        for path in doc.master_files:
            digest, size = hashes[path]
            self.journal.record_event(
                EventType.MESSAGE_DIGEST,
                doc.key,
                Outcome.SUCCESS,
                {"file": os.path.relpath(path, self.batch), "sha256": digest, "bytes": size},
            )
        for ref in doc.pages:
            digest, size = hashes[ref.path]
            reused = self._reusable_page(ref, digest)
            if reused is not None:
                self.doc_pages[doc.key][ref.page_no] = reused
                self.summary.pages_reused += 1
                continue
            self.journal.upsert_page(
                doc.key,
                ref.page_no,
                source_path=ref.path,
                frame=ref.frame,
                slot=ref.slot,
                container=ref.container,
                master_sha256=digest,
                master_bytes=size,
                state=PageState.PENDING,
                error=None,
                settings_key=self.key,
                run_id=self.run_id,
            )
            pending.append(PageTask(ref, str(stage), self.settings_dict))
        if len(self.doc_pages[doc.key]) == len(doc.pages):
            self._ready_documents.append(doc.key)

    def _schedule(self, tasks: list[PageTask]) -> None:
        """Keep every worker busy with a small window of page tasks; assemble documents as soon as ready."""
        window = max(2, self.executor.workers * 2)
        queue = list(reversed(tasks))
        running: dict[Any, PageTask] = {}
        while queue or running or self._ready_documents:
            while queue and len(running) < window:
                task = queue.pop()
                running[self.executor.submit(run_page, task)] = task
            # Documents are assembled here while the workers go on with the next pages.
            while self._ready_documents:
                doc_key = self._ready_documents.pop(0)
                self._document_done(doc_key, run_document(self._document_task(doc_key)))
            if not running:
                continue
            for handle in self.executor.wait_some(running):
                self._page_done(running.pop(handle), self.executor.result(handle))

    def _page_done(self, task: PageTask, result: PageResult) -> None:
        ref = task.ref
        self._progress_done += 1
        if self.progress:
            self.progress(self._progress_done, self._progress_total)
        geometry = result.geometry
        fields: dict[str, Any] = {
            "state": PageState.STAGED if result.ok else PageState.FAILED,
            "error": result.error,
            "warnings": result.warnings,
            "timings": {k: round(v, 4) for k, v in result.timings.items()},
            "metrics": geometry,
            "staged": result.staged,
            "ocr_confidence": result.ocr_confidence,
            "ocr_status": result.ocr_status,
        }
        if result.ok:
            facts = result.facts
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
            fields["metrics"] = {**geometry, **facts}
        self.journal.upsert_page(ref.doc_key, ref.page_no, **fields)
        obj = f"{ref.doc_key}/{ref.page_no:04d}"  # PageRecord.object_id
        if result.ok:
            self.summary.pages_processed += 1
            self.journal.record_event(
                EventType.MODIFICATION,
                obj,
                Outcome.SUCCESS,
                {
                    "step": "image processing",
                    "orientation_deg": geometry.get("orientation_deg"),
                    "skew_deg": geometry.get("skew_deg"),
                    "crop_box": geometry.get("crop_box"),
                    "blank": geometry.get("is_blank"),
                    "output_mode": result.facts.get("output_mode"),
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
            self._identification(ref, result.facts)
            for warning in result.warnings:
                if not warning.startswith("Traceback"):
                    self.summary.warnings.append(warning)
            self._resolution_finding(ref, result.facts["dpi"], result.facts["dpi_source"])
            recorded = self.journal.page(ref.doc_key, ref.page_no)
            assert recorded is not None  # written just above
            self.doc_pages[ref.doc_key][ref.page_no] = recorded
        else:
            self.journal.record_event(EventType.MODIFICATION, obj, Outcome.FAILURE, {"error": result.error})
            self.doc_failed[ref.doc_key].append(result.error or "unknown error")
        doc = self.docs[ref.doc_key]
        if len(self.doc_pages[ref.doc_key]) + len(self.doc_failed[ref.doc_key]) == len(doc.pages):
            if self.doc_failed[ref.doc_key]:
                self._fail_document(doc, "; ".join(self.doc_failed[ref.doc_key]))
            else:
                self._ready_documents.append(ref.doc_key)

    def _identification(self, ref, facts: dict[str, Any]) -> None:
        """One "format identification" event per master file: the format it was decoded as."""
        if ref.path in self._identified:
            return
        self._identified.add(ref.path)
        self.journal.record_event(
            EventType.FORMAT_IDENTIFICATION,
            ref.doc_key,
            Outcome.SUCCESS,
            {
                "file": os.path.relpath(ref.path, self.batch),
                "format": facts["file_format"],
                "compression": facts["compression"],
            },
        )

    def _resolution_finding(self, ref, dpi: float | None, source: str) -> None:
        """DA/T 31 §9.4: below the minimum resolution is a warning, below the floor a failure;
        a resolution nobody measured (no tag, nothing estimated) cannot be judged."""
        qc = self.settings.qc
        if dpi is None or source in UNKNOWN_DPI_SOURCES:
            self.summary.findings.append(
                {
                    "severity": "warning",
                    "item": "DA/T 31 §9.4",
                    "code": "unknown_dpi",
                    "object": f"{self.descriptions[ref.doc_key].archival_code} page {ref.page_no}",
                    "message": f"{os.path.basename(ref.path)} carries no resolution; DA/T 31 §9.4 not checked "
                    "(give the scan resolution with --dpi or [input] dpi_override)",
                    "document": ref.doc_key,
                    "page_no": ref.page_no,
                }
            )
            return
        if dpi >= qc.min_dpi:
            return
        severity = "error" if dpi < qc.fail_dpi else "warning"
        self.summary.findings.append(
            {
                "severity": severity,
                "item": "DA/T 31 §9.4",
                "code": "low_dpi",
                "object": f"{self.descriptions[ref.doc_key].archival_code} page {ref.page_no}",
                "message": f"{os.path.basename(ref.path)} scanned at {dpi:g} dpi; the minimum is {qc.min_dpi} "
                f"(below {qc.fail_dpi} fails)",
                "document": ref.doc_key,
                "page_no": ref.page_no,
            }
        )

    def _document_task(self, doc_key: str) -> DocumentTask:
        doc = self.docs[doc_key]
        desc = self.descriptions[doc_key]
        name = self._name(doc)
        pages = []
        for page_no in sorted(self.doc_pages[doc_key]):
            row = self.doc_pages[doc_key][page_no]
            metrics = {
                "document": desc.archival_code,
                "page_no": page_no,
                "master": os.path.relpath(row.source_path or "", self.batch),
                "frame": row.frame,
                "master_sha256": row.master_sha256,
                **row.metrics,
                "ocr_confidence": row.ocr_confidence,
                "ocr_status": row.ocr_status,
                "timings": row.timings,
            }
            pages.append(StagedPage(page_no, str(self._stage(doc_key)), row.staged, metrics))
        meta = document_meta(desc, self.settings, self.template)
        commit_dir = self.layout.commit_dir(doc_key)
        return DocumentTask(doc_key, name, meta, tuple(pages), str(commit_dir), self.settings, self.ocr_software)

    def _describe_anew(self, doc: SourceDocument) -> None:
        """A finished document whose catalogue row is new or changed gets it, without OCR (`digitize.relink`)."""
        desc = self.descriptions[doc.key]
        try:
            if relink_document(self.journal, self.out, doc.key, desc, self.settings, self.template, self.catalog_path):
                self.summary.documents_relinked += 1
                log.info("%s: described anew from the catalogue (no OCR redone)", doc.key)
        except (PdfAError, OSError) as exc:  # the document stays as it was; the next run tries again
            self.summary.warnings.append(f"{doc.key}: not described anew from the catalogue: {exc}")

    def _document_done(self, doc_key: str, result: DocumentResult) -> None:
        doc = self.docs[doc_key]
        if not result.ok:
            self._fail_document(doc, result.error or "unknown error")
            return
        name = self._name(doc)
        rel = protected_dir(name) if self._classified(doc_key) else document_dir(name)
        if rel == protected_dir(name):
            self.layout.path(PROTECTED_DIR).mkdir(mode=0o700, exist_ok=True)
            os.chmod(self.layout.path(PROTECTED_DIR), 0o700)
        commit_directory(self.layout.commit_dir(doc_key), self.layout.path(rel))
        for page_no in self.doc_pages[doc_key]:
            files = {role: page_file(name, page_no, role) for role in PAGE_FILES}
            outputs = {
                role: {"path": f"{rel}/{path}", **result.files[path]}
                for role, path in files.items()
                if path in result.files
            }
            self.journal.upsert_page(doc_key, page_no, state=PageState.DONE, outputs=outputs)
        desc = self.descriptions[doc_key]
        pdf, ofd = result.pdf, result.ofd
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
            archival_code=desc.archival_code,
            state=DocumentState.DONE,
            output_dir=rel,
            **layout,
            error=None,
            seconds=round(result.seconds, 3),
            run_id=self.run_id,
        )
        if pdf:
            self._record_layout_file(doc_key, rel, pdf, "PDF/A packaging", f"PDF/A-{pdf['flavour']} (pikepdf.pdfa)")
        if ofd:
            check = f"OFD {ofd['version']}: {ofd['parts']} XML parts against GB/T 33190-2016"
            self._record_layout_file(doc_key, rel, ofd, "OFD packaging", check)
        shutil.rmtree(self._stage(doc_key), ignore_errors=True)
        self.summary.documents_ok += 1
        self.summary.blank_pages += sum(1 for row in self.doc_pages[doc_key].values() if row.is_blank)
        log.info("%s: done (%d pages)", doc_key, len(doc.pages))

    def _record_layout_file(self, doc_key: str, rel: str, info: dict[str, Any], step: str, check: str) -> None:
        """Creation and validation events of a PDF/A or OFD file, with its fixity."""
        path = f"{rel}/{info['name']}"
        self.journal.record_event(
            EventType.CREATION,
            doc_key,
            Outcome.SUCCESS,
            {"step": step, "file": path, "sha256": info["sha256"], "bytes": info["bytes"]},
        )
        self.journal.record_event(
            EventType.VALIDATION,
            doc_key,
            Outcome.SUCCESS if info["validated"] else Outcome.NOT_CHECKED,
            {"check": check, "file": path},
        )

    def _cleanup_work(self) -> None:
        work = self.layout.work
        if work.is_dir() and not any(work.iterdir()):
            work.rmdir()


def process_batch(
    plan: BatchPlan, executor: Executor, progress: Callable[[int, int], Any] | None = None
) -> BatchSummary:
    """Process the documents of a planned batch (`digitize.describe.plan_batch`) into OUT."""
    plan.request.out.mkdir(parents=True, exist_ok=True)
    return Coordinator(plan, executor, progress).run(plan.documents, plan.request.command)
