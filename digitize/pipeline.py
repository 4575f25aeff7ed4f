"""The coordinator: discover the batch, schedule document jobs, record their manifests, report.

Data flows one way: masters → document jobs (in workers: hash, page tasks, PDF/A, atomic
commit of documents/<档号>/, a manifest) → the journal. The coordinator only schedules, records
manifests (many per transaction) and reports; it keeps nothing per finished page or document
beyond counters, so its memory does not grow with the batch. This module is the only writer
of the journal's documents, pages and runs (other commands only append events).

A rerun skips every document whose outputs the journal and their checksums still confirm
(checked by a worker), adopts folders a worker committed but the journal never recorded,
skips failed documents unless asked to retry them, and does the rest.

Work units: a task is one document job, or a few consecutive small documents (up to
`TASK_PAGES` pages, fewer when the batch is too small to fill every worker otherwise).
For a small batch on the local pool the pages of a document are tasks of their own, so all
workers share a document's pages (`page_level`): prepare → one task per page → finish.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from digitize.batch import SourceDocument
from digitize.describe import BatchPlan
from digitize.errors import Interrupted, as_interrupted
from digitize.executors import WINDOW_PER_THREAD, Executor, Lost
from digitize.jobs import (
    Committed,
    DocumentJob,
    DocumentManifest,
    JobStatus,
    Masters,
    confirm_unchanged,
    finish,
    prepare,
    run_documents,
    stage_page,
)
from digitize.journal import AGENT, DocumentState, EventType, Journal, Outcome, PageState, RunStatus
from digitize.layout import OutLayout, document_dir, protected_dir, staged_page_record
from digitize.leftovers import sweep_work
from digitize.ocr import engines
from digitize.ofd import OfdError
from digitize.pdfa import PdfAError
from digitize.recording import BatchSummary, Recorder
from digitize.relink import document_meta, relink_document
from digitize.settings import Settings
from digitize.storage import require_local_journal
from digitize.tasks import PageResult
from metadata.archival_code import ArchivalCodeError, CodeTemplate, archival_code_filename
from metadata.export.access import classified_reason

log = logging.getLogger("digitize")
SOFTWARE = AGENT  # the software that made every output and recorded every event
TASK_PAGES = 8  # documents smaller than this share a task, up to this many pages (fewer in a small batch)
PAGE_LEVEL_BELOW = 2  # page tasks on the local pool when the batch has fewer documents than this × workers
TASK_SECONDS_PER_PAGE = 4  # × the OCR page timeout: a task running longer than that is given up
TASK_SECONDS_MIN = 300.0


def settings_key(settings: Settings) -> str:
    """Fingerprint of everything that changes the outputs: a change means redo."""
    relevant = {k: v for k, v in settings.to_dict().items() if k in ("input", "imaging", "ocr", "pdf", "output")}
    relevant["software"] = SOFTWARE
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(eq=False)
class _Task:
    """What one submitted task is doing: whole jobs, or one part of a page-level job."""

    jobs: list[DocumentJob]
    part: str = "jobs"  # jobs | prepare | page | finish
    page_no: int = 0
    deadline: float = 0.0


@dataclass
class _OpenDocument:
    """A page-level document between its prepare and finish tasks."""

    job: DocumentJob
    masters: Masters
    results: dict[int, PageResult] = field(default_factory=dict)


class Coordinator:
    def __init__(
        self,
        plan: BatchPlan,
        executor: Executor,
        progress: Callable[[int, int], Any] | None = None,
        *,
        retry_failed: bool = False,
        run_jobs: Callable[[list[DocumentJob]], list[DocumentManifest]] = run_documents,
        task_pages: int = TASK_PAGES,
        work_unit: str = "auto",
    ):
        request = plan.request
        self.batch = request.batch.resolve()
        self.out = request.out.resolve()
        self.settings = request.settings
        self.settings_dict = request.settings.to_dict()
        self.key = settings_key(request.settings)
        self.executor = executor
        self.descriptions = plan.description.descriptions
        self.catalog_path = str(request.catalog.resolve()) if request.catalog else None
        self.progress = progress
        self.retry_failed = retry_failed
        self.run_jobs = run_jobs
        self.task_pages = task_pages
        self.work_unit = work_unit  # auto | document | page
        self.layout = OutLayout(self.out)
        require_local_journal(self.out)
        self.journal = Journal(self.layout.journal)
        self.summary = BatchSummary(
            findings=plan.description.findings_for_summary(),
            warnings=list(plan.warnings),
            skipped=[dataclasses.asdict(s) for s in plan.scan.skipped],
            outside_links=[dataclasses.asdict(link) for link in plan.scan.outside_links],
        )
        self._open: dict[str, _OpenDocument] = {}
        self._ready: deque[_Task] = deque()  # follow-up and retried tasks: before new work
        self._finished_stages: list[Path] = []
        self._pages_done = 0
        try:
            self.template: CodeTemplate | None = CodeTemplate(request.settings.archival_code)
        except ArchivalCodeError:  # the catalogue's validation names the broken template
            self.template = None

    # ------------------------------------------------------------------ the run
    def run(self, docs: list[SourceDocument], command: str) -> BatchSummary:
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            self._start(docs, command)
            self._schedule(self._tasks(docs))
            status = RunStatus.OK if self.summary.documents_failed == 0 else RunStatus.FAILURES
            self._finish(status, started, cpu_started)
            return self.summary
        except KeyboardInterrupt:
            self._stopped("interrupted (SIGINT)", started, cpu_started)
        except (Exception, MemoryError) as exc:
            interrupted = as_interrupted(exc, self.out)  # a failure of the machine (disk full, no memory)
            if interrupted is None:
                raise  # a bug: its traceback says where
            self._stopped(str(interrupted), started, cpu_started)
        finally:
            self.journal.close()

    def _stopped(self, reason: str, started: float, cpu_started: float) -> NoReturn:
        """Record that the run stopped, if the journal can still be written (else the next run marks it)."""
        self.summary.warnings.append(reason)
        if hasattr(self, "run_id"):  # else it stopped before its run started
            try:
                self._finish(RunStatus.INTERRUPTED, started, cpu_started)
            except Interrupted as exc:  # the disk is still full, say
                log.error("the run could not be marked interrupted (%s); the next run will mark it", exc)
        if "run the same command again" not in reason:  # errors.as_interrupted's messages say so already
            reason += "; what was committed is kept: run the same command again to resume"
        log.error("run interrupted: %s", reason)
        raise Interrupted(reason) from None

    def _start(self, docs: list[SourceDocument], command: str) -> None:
        ocr = self.settings.ocr
        self.engine_version = engines.version(engines.resolve(ocr)[0])
        self.ocr_software = self.engine_version.split(" (")[0]
        self.executor.check_paths([str(self.batch)], [str(self.out)])
        self.run_id = self.journal.start_run(
            command=command,
            batch=str(self.batch),
            catalog=self.catalog_path,
            settings=self.settings_dict,
            software=SOFTWARE,
            engine=self.engine_version,
            jobs=self.executor.window() // WINDOW_PER_THREAD,  # worker threads at the start
        )
        self.recorder = Recorder(
            self.journal,
            self.run_id,
            batch=self.batch,
            settings=self.settings,
            settings_key=self.key,
            engine_version=self.engine_version,
            descriptions=self.descriptions,
            summary=self.summary,
        )
        self.journal.set_meta("batch", str(self.batch))
        if self.journal.meta("batch_id") is None:
            self.journal.set_meta("batch_id", os.urandom(16).hex())
        if self.summary.skipped or self.summary.outside_links:
            self.journal.record_event(
                EventType.VALIDATION,
                "batch",
                Outcome.WARNING if self.summary.outside_links else Outcome.SUCCESS,
                {"step": "discovery", "skipped": self.summary.skipped, "outside_links": self.summary.outside_links},
            )
        self.summary.documents = len(docs)
        self.summary.pages = sum(len(d.pages) for d in docs)
        if self.work_unit == "auto":
            workers = max(1, self.executor.window() // WINDOW_PER_THREAD)
            self.page_level = self.executor.local and len(docs) < PAGE_LEVEL_BELOW * workers
        else:
            self.page_level = self.work_unit == "page"
        self.summary.work_unit = "page" if self.page_level else "document"
        # Small batches: no fewer tasks than the window holds, so that every worker gets work.
        self.task_pages = max(1, min(self.task_pages, self.summary.pages // self.executor.window()))
        if self.progress:
            self.progress(0, self.summary.pages)

    def _finish(self, status: RunStatus, started: float, cpu_started: float) -> None:
        self._cleanup_work()
        summary = self.summary
        summary.wall_seconds = round(time.perf_counter() - started, 3)
        summary.coordinator_cpu_seconds = round(time.process_time() - cpu_started, 3)
        if summary.pages_processed and summary.wall_seconds:
            summary.pages_per_minute = round(60 * summary.pages_processed / summary.wall_seconds, 1)
        mean = self.journal.mean_ocr_confidence()
        summary.mean_confidence = round(mean, 2) if mean is not None else None
        self.journal.finish_run(self.run_id, status, summary.to_dict())

    # ------------------------------------------------------------------ jobs
    def _tasks(self, docs: Iterable[SourceDocument]) -> Iterator[_Task]:
        """The work, one task at a time: consecutive small documents share a task."""
        batch: list[DocumentJob] = []
        pages = 0
        for doc in docs:
            job = self._job(doc)
            if job is None:
                continue
            if self.executor.local and job.committed is not None:  # a rerun with nothing to do starts no worker
                unchanged = confirm_unchanged(job)
                if unchanged is not None:
                    self._record(unchanged, len(job.pages))
                    continue
            if self.page_level:
                yield _Task([job], "prepare")
                continue
            batch.append(job)
            pages += len(job.pages)
            if pages >= self.task_pages:
                yield _Task(batch)
                batch, pages = [], 0
        if batch:
            yield _Task(batch)

    def _job(self, doc: SourceDocument) -> DocumentJob | None:
        """The job of a document, or None when it needs none (bad input; failed before and not retried)."""
        self.summary.warnings.extend(doc.warnings)
        if doc.error:
            self.recorder.pending(doc)
            self._fail(doc.key, doc.error)
            self._progress_pages(len(doc.pages))
            return None
        row = self.journal.document(doc.key)
        same_settings = row is not None and row.settings_key == self.key
        if row is not None and same_settings and row.state == DocumentState.FAILED and not self.retry_failed:
            self.summary.documents_quarantined += 1
            self.recorder.count_failure(doc.key, f"{row.error} (failed before; --retry-failed to try again)")
            self._progress_pages(len(doc.pages))
            return None
        reason = classified_reason(self.recorder.description(doc).fields.get("密级", ""))
        if reason and self.settings.access.classified == "refuse":
            self.recorder.withhold(doc, reason)
            self._progress_pages(len(doc.pages))
            return None
        committed = self._committed(doc) if row is not None and same_settings and row.done else None
        if committed is None:
            self.recorder.pending(doc)
        desc = self.recorder.description(doc)
        meta = document_meta(desc, self.settings, self.template)
        name = archival_code_filename(desc.archival_code)
        return DocumentJob(
            doc_key=doc.key,
            name=name,
            output_dir=protected_dir(name) if reason else document_dir(name),
            out=str(self.out),
            batch=str(self.batch),
            pages=tuple(doc.pages),
            master_files=tuple(doc.master_files),
            meta=meta,
            settings=self.settings_dict,
            settings_key=self.key,
            ocr_software=self.ocr_software,
            committed=committed,
        )

    def _committed(self, doc: SourceDocument) -> Committed | None:
        """What a worker must confirm before a done document is skipped (None: redo it)."""
        row = self.journal.document(doc.key)
        if row is None:
            return None
        recorded = {
            "pdfa": (row.pdf_path, row.pdf_sha256, row.pdf_bytes),
            "ofd": (row.ofd_path, row.ofd_sha256, row.ofd_bytes),
        }
        files = []
        for fmt in self.settings.output.formats:
            rel, digest, size = recorded[fmt]
            if rel is None or digest is None or size is None:
                return None
            files.append((str(self.layout.path(rel)), digest, size))
        pages = self.journal.pages(doc.key)
        if len(pages) != len(doc.pages):
            return None
        for ref, page in zip(doc.pages, pages):
            if page.state != PageState.DONE or page.source_path != ref.path or page.frame != ref.frame:
                return None
        masters = {p.source_path: p.master_sha256 for p in pages if p.source_path and p.master_sha256}
        blank = sum(1 for p in pages if p.is_blank)
        return Committed(masters, tuple(files), blank)

    # ------------------------------------------------------------------ scheduling
    def _schedule(self, tasks: Iterator[_Task]) -> None:
        """Keep the cluster's window full; record what finishes, many manifests per transaction."""
        running: dict[Any, _Task] = {}
        more = True
        while True:
            with self.journal.batch():
                window = self.executor.window()
                while len(running) < window:
                    task = self._ready.popleft() if self._ready else next(tasks, None) if more else None
                    if task is None:
                        more = bool(self._ready)
                        break
                    running[self._submit(task)] = task
            if not running:
                return
            finished = self.executor.wait_some(running, timeout=self._next_deadline(running))
            with self.journal.batch():
                for handle in finished:
                    self._task_done(running.pop(handle), self.executor.outcome(handle))
                self._give_up_late(running)
            self._remove_finished_stages()

    def _submit(self, task: _Task) -> Any:
        pages = sum(len(job.pages) for job in task.jobs) if task.part in ("jobs", "prepare") else 1
        limit = max(TASK_SECONDS_MIN, pages * TASK_SECONDS_PER_PAGE * self.settings.ocr.page_timeout_s)
        task.deadline = time.monotonic() + limit
        if task.part == "jobs":
            return self.executor.submit(self.run_jobs, task.jobs)
        job = task.jobs[0]
        if task.part == "prepare":
            return self.executor.submit(prepare, job)
        masters = self._open[job.doc_key].masters
        if task.part == "page":
            return self.executor.submit(stage_page, job, task.page_no, masters)
        results = [self._open[job.doc_key].results[ref.page_no] for ref in job.pages]
        return self.executor.submit(finish, job, masters, results)

    @staticmethod
    def _next_deadline(running: dict[Any, _Task]) -> float:
        return max(0.1, min(t.deadline for t in running.values()) - time.monotonic())

    def _give_up_late(self, running: dict[Any, _Task]) -> None:
        now = time.monotonic()
        for handle, task in list(running.items()):
            if task.deadline <= now:
                self.executor.cancel(handle)
                del running[handle]
                minutes = round((now - task.deadline) / 60 + 0.5)
                self._task_done(task, Lost(f"timed out (no result after {minutes} min past its limit)"))

    def _task_done(self, task: _Task, outcome: Any) -> None:
        if isinstance(outcome, Lost):
            self._task_lost(task, outcome)
        elif task.part == "jobs":
            for job, manifest in zip(task.jobs, outcome):
                self._record(manifest, len(job.pages))
        elif task.part == "prepare":
            self._prepared(task.jobs[0], outcome)
        elif task.part == "page":
            self._page_staged(task.jobs[0], outcome)
        else:  # finish: its pages were counted as they were staged
            self._open.pop(task.jobs[0].doc_key, None)
            self._record(outcome, 0)

    def _prepared(self, job: DocumentJob, outcome: DocumentManifest | Masters) -> None:
        if isinstance(outcome, DocumentManifest):
            self._record(outcome, len(job.pages))
            return
        self._open[job.doc_key] = _OpenDocument(job, outcome)
        self._ready.extend(_Task([job], "page", ref.page_no) for ref in job.pages)

    def _page_staged(self, job: DocumentJob, result: PageResult) -> None:
        self._progress_pages(1)
        document = self._open[job.doc_key]
        document.results[result.page_no] = result
        if len(document.results) == len(job.pages):
            self._ready.appendleft(_Task([job], "finish"))

    def _task_lost(self, task: _Task, lost: Lost) -> None:
        """A task's worker died, it timed out or was cancelled: fail its document; a task of several
        documents is retried one document per task, so only the one that loses a worker again fails."""
        if task.part == "page":
            job = task.jobs[0]
            failed = PageResult(job.doc_key, task.page_no, ok=False, error=f"{lost.reason} on page {task.page_no}")
            self._page_staged(job, failed)
            return
        if task.part != "jobs":
            job = task.jobs[0]
            if self._open.pop(job.doc_key, None) is None:  # prepare: no page was counted yet
                self._progress_pages(len(job.pages))
            self._fail(job.doc_key, f"{lost.reason} ({task.part} of the document)")
            return
        if len(task.jobs) > 1:  # which document it was on is not known: each is retried alone
            self._ready.extend(_Task([job]) for job in task.jobs)  # one committed before is adopted
            return
        job = task.jobs[0]
        self._progress_pages(len(job.pages))
        self._fail(job.doc_key, f"{lost.reason} on page {self._page_in_work(job)}")

    def _page_in_work(self, job: DocumentJob) -> str:
        """The first page of a job without a staged record: the one its worker was on."""
        stage = self.layout.stage_dir(job.doc_key)
        for ref in job.pages:
            if not (stage / staged_page_record(ref.page_no)).is_file():
                return f"{ref.page_no} ({os.path.basename(ref.path)})"
        return "(all pages staged; assembling the document)"

    # ------------------------------------------------------------------ recording
    # ------------------------------------------------------------------ recording
    def _progress_pages(self, pages: int) -> None:
        self._pages_done += pages
        if self.progress:
            self.progress(self._pages_done, self.summary.pages)

    def _fail(self, doc_key: str, error: str) -> None:
        self.recorder.fail(doc_key, error)

    def _record(self, manifest: DocumentManifest, pages: int) -> None:
        """Record what a worker did for a document; `pages` for the progress bar."""
        self._progress_pages(pages)
        if self.recorder.record(manifest):
            self._finished_stages.append(self.layout.stage_dir(manifest.doc_key))
        elif manifest.status == JobStatus.UNCHANGED:
            self._describe_anew(manifest.doc_key)

    def _describe_anew(self, doc_key: str) -> None:
        """A finished document whose catalogue row is new or changed gets it, without OCR (`digitize.relink`)."""
        desc = self.descriptions.get(doc_key)
        if desc is None:
            return
        try:
            if relink_document(self.journal, self.out, doc_key, desc, self.settings, self.template, self.catalog_path):
                self.summary.documents_relinked += 1
                log.info("%s: described anew from the catalogue (no OCR redone)", doc_key)
        except (PdfAError, OfdError, OSError) as exc:  # the document stays as it was; the next run tries again
            self.summary.warnings.append(f"{doc_key}: not described anew from the catalogue: {exc}")

    # ------------------------------------------------------------------ temporary files
    def _remove_finished_stages(self) -> None:
        """Staging folders of recorded documents go once their transaction is committed."""
        for stage in self._finished_stages:
            shutil.rmtree(stage, ignore_errors=True)
        self._finished_stages.clear()

    def _cleanup_work(self) -> None:
        self._remove_finished_stages()
        work = self.layout.work
        if work.is_dir() and not any(work.iterdir()):
            work.rmdir()


def process_batch(
    plan: BatchPlan,
    executor: Executor,
    progress: Callable[[int, int], Any] | None = None,
    *,
    retry_failed: bool = False,
    work_unit: str = "auto",
) -> BatchSummary:
    """Process the documents of a planned batch (`digitize.describe.plan_batch`) into OUT.

    The caller holds OUT's lock (`digitize.outlock`; the command line takes it).
    """
    plan.request.out.mkdir(parents=True, exist_ok=True)
    sweep_work(plan.request.out, batch_keys=[d.key for d in plan.documents])
    coordinator = Coordinator(plan, executor, progress, retry_failed=retry_failed, work_unit=work_unit)
    return coordinator.run(plan.documents, plan.request.command)
