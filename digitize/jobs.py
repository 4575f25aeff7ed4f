"""The document job: everything a worker does for a document, ending in one atomic commit.

A job hashes the document's masters (the worker reads them anyway), runs the page task
(`digitize.tasks.run_page`) for every page, assembles and validates the document's outputs
(`digitize.assemble`), writes its manifest, moves the finished folder to documents/<name>/ in
one rename and returns the manifest: a small JSON-able account (master digests, page
measurements, output digests) that the coordinator records in the journal. Nothing here
touches the journal.

Work is kept on shared storage as it goes, so a retry redoes little:
- a staged page has a record (.work/<doc>/0001.page.json); a retry reuses it while the master
  and the settings are unchanged (a worker that died on page 5 resumes at page 5);
- the manifest is written before the rename; a rerun adopts a committed folder whose files
  still match its manifest, also when the coordinator died before recording it;
- a document the journal has as done is checked (masters and PDF hashed) and left alone.

The local pool may run the parts of a job as separate tasks, to spread the pages of a small
batch over all workers: `prepare`, then `stage_page` for each page, then `finish`.
`run_documents` runs whole jobs, one after the other (a task of a few tiny documents).

Test hook (tests only, never set in production): when the environment variable
`DIGITIZE_TEST_KILL_WORKER_ON_PAGE` is `<doc_key>/<page_no>`, the worker process that comes to
that page kills itself with SIGKILL, as a crash or the OOM killer would.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from digitize import assemble
from digitize.batch import PageRef
from digitize.errors import Interrupted, as_interrupted
from digitize.fsutil import atomic_write_bytes, commit_directory, sha256_file
from digitize.layout import MANIFEST_FILE, PROTECTED_DIR, OutLayout, staged_page_record
from digitize.pdfa import DocumentMeta
from digitize.settings import settings_from_dict
from digitize.tasks import PageResult, PageTask, run_page

KILL_HOOK = "DIGITIZE_TEST_KILL_WORKER_ON_PAGE"

Masters = dict[str, tuple[str, int]]  # master file -> (sha256, bytes)


class JobStatus(StrEnum):
    DONE = "done"  # processed and committed now
    ADOPTED = "adopted"  # committed earlier by a worker, its manifest verified
    UNCHANGED = "unchanged"  # done in the journal; masters and PDF still match
    FAILED = "failed"


@dataclass(frozen=True)
class Committed:
    """What the journal says of a document done earlier, to be checked before it is skipped."""

    masters: dict[str, str]  # master file -> sha256
    layout_files: tuple[tuple[str, str, int], ...]  # the PDF/A and/or OFD: absolute path, sha256, bytes
    blank_pages: int


@dataclass(frozen=True)
class DocumentJob:
    doc_key: str
    name: str  # file-name form of the 档号
    output_dir: str  # OUT-relative: documents/<name> (protected/<name> for a classified record kept apart)
    out: str  # absolute
    batch: str  # absolute
    pages: tuple[PageRef, ...]
    master_files: tuple[str, ...]
    meta: DocumentMeta
    settings: dict[str, Any]
    settings_key: str
    ocr_software: str  # "tesseract 5.5.4"
    committed: Committed | None = None


@dataclass
class DocumentManifest:
    doc_key: str
    status: JobStatus
    settings_key: str
    masters: dict[str, list[Any]] = field(default_factory=dict)  # master file -> [sha256, bytes]
    pages: list[dict[str, Any]] = field(default_factory=list)  # {"source": ..., "result": PageResult}, in order
    output_dir: str | None = None  # OUT-relative
    pdf: dict[str, Any] = field(default_factory=dict)  # empty when the profile asks for no PDF/A
    ofd: dict[str, Any] = field(default_factory=dict)  # empty when the profile asks for no OFD
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # path in the folder -> sha256, bytes
    error: str | None = None
    blank_pages: int = 0
    pages_reused: int = 0
    seconds: float = 0.0
    worker: str = ""

    def to_json(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> DocumentManifest:
        values = json.loads(data)
        values["status"] = JobStatus(values["status"])
        return cls(**values)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _manifest(job: DocumentJob, status: JobStatus, masters: Masters, **fields: Any) -> DocumentManifest:
    digests = {path: list(value) for path, value in masters.items()}
    return DocumentManifest(job.doc_key, status, job.settings_key, digests, worker=_worker_name(), **fields)


def _failed(job: DocumentJob, error: str, masters: Masters | None = None) -> DocumentManifest:
    return _manifest(job, JobStatus.FAILED, masters or {}, error=error)


# ---------------------------------------------------------------------------- whole jobs
def run_documents(jobs: Sequence[DocumentJob]) -> list[DocumentManifest]:
    """Run whole document jobs one after the other (one task of a few small documents)."""
    return [run_document(job) for job in jobs]


def run_document(job: DocumentJob) -> DocumentManifest:
    started = time.perf_counter()
    prepared = prepare(job)
    if isinstance(prepared, DocumentManifest):
        return prepared
    results = [stage_page(job, ref.page_no, prepared) for ref in job.pages]
    manifest = finish(job, prepared, results)
    manifest.seconds = round(time.perf_counter() - started, 3)
    return manifest


# ---------------------------------------------------------------------------- the parts
def prepare(job: DocumentJob) -> DocumentManifest | Masters:
    """Hash the masters; a manifest when there is nothing to do (unchanged, adoptable or unreadable)."""
    try:
        masters = _hash_masters(job)
    except OSError as exc:
        interrupted = as_interrupted(exc)  # an I/O error or no memory: the run stops, as in the page task
        if interrupted is not None:
            raise interrupted from None
        return _failed(job, f"{exc.filename}: cannot be read: {exc.strerror}")
    if job.committed is not None and _still_committed(job.committed, masters):
        return _manifest(job, JobStatus.UNCHANGED, masters, blank_pages=job.committed.blank_pages)
    adopted = _adoptable(job, masters)
    if adopted is not None:
        adopted.status = JobStatus.ADOPTED
        return adopted
    OutLayout(Path(job.out)).stage_dir(job.doc_key).mkdir(parents=True, exist_ok=True)
    return masters


def confirm_unchanged(job: DocumentJob) -> DocumentManifest | None:
    """The manifest of a done document whose masters and layout files still match the journal, else None.

    The local pool's coordinator calls it itself, so that a rerun with nothing to do starts no worker.
    """
    if job.committed is None:
        return None
    try:
        masters = _hash_masters(job)
    except OSError:
        return None
    if not _still_committed(job.committed, masters):
        return None
    return _manifest(job, JobStatus.UNCHANGED, masters, blank_pages=job.committed.blank_pages)


def _hash_masters(job: DocumentJob) -> Masters:
    return {path: (sha256_file(path), os.path.getsize(path)) for path in job.master_files}


def stage_page(job: DocumentJob, page_no: int, masters: Masters) -> PageResult:
    """Run the page task, or reuse the page staged by an earlier try of this document."""
    ref = job.pages[page_no - 1]
    stage = OutLayout(Path(job.out)).stage_dir(job.doc_key)
    record = stage / staged_page_record(page_no)
    master_sha = masters[ref.path][0]
    reused = _staged_result(record, job.settings_key, master_sha, ref)
    if reused is not None:
        return reused
    if os.environ.get(KILL_HOOK) == f"{job.doc_key}/{page_no}":
        os.kill(os.getpid(), signal.SIGKILL)
    result = run_page(PageTask(ref, str(stage), job.settings))
    if result.interrupted:  # a failure of the machine, not of the page: the run stops
        raise Interrupted(result.interrupted)
    if result.ok:
        entry = {"settings_key": job.settings_key, "master_sha256": master_sha, "result": dataclasses.asdict(result)}
        atomic_write_bytes(record, json.dumps(entry, ensure_ascii=False).encode("utf-8"))
    return result


def finish(job: DocumentJob, masters: Masters, results: Sequence[PageResult]) -> DocumentManifest:
    """Assemble the document from its staged pages, write the manifest, commit the folder in one rename."""
    pages = [_page_fields(ref, result, masters) for ref, result in zip(job.pages, results)]
    manifest = _manifest(job, JobStatus.DONE, masters, pages=pages)
    manifest.pages_reused = sum(1 for r in results if r.reused)
    manifest.blank_pages = sum(1 for r in results if r.geometry.get("is_blank"))
    errors = [r.error or "unknown error" for r in results if not r.ok]
    if errors:
        manifest.status, manifest.error = JobStatus.FAILED, "; ".join(errors)
        return manifest
    layout = OutLayout(Path(job.out))
    stage = layout.stage_dir(job.doc_key)
    document = assemble.run_document(_document_task(job, masters, results, stage, layout))
    if not document.ok:
        manifest.status, manifest.error = JobStatus.FAILED, document.error
        return manifest
    manifest.output_dir = job.output_dir
    manifest.pdf, manifest.ofd, manifest.files = document.pdf, document.ofd, document.files
    atomic_write_bytes(layout.manifest(job.doc_key), manifest.to_json())
    final = layout.path(job.output_dir)
    if final.parent.name == PROTECTED_DIR:  # classified records kept apart: owner-only
        final.parent.mkdir(mode=0o700, exist_ok=True)
        os.chmod(final.parent, 0o700)
    commit_directory(layout.commit_dir(job.doc_key), final)
    for path in stage.iterdir():  # the staged pages are in the PDF now; the manifest stays until recorded
        if path.name != MANIFEST_FILE:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return manifest


def _page_fields(ref: PageRef, result: PageResult, masters: Masters) -> dict[str, Any]:
    """A page in the manifest: where it comes from (journal columns) and what the page task found."""
    digest, size = masters[ref.path]
    source = {
        "source_path": ref.path,
        "frame": ref.frame,
        "slot": ref.slot,
        "container": ref.container,
        "master_sha256": digest,
        "master_bytes": size,
    }
    return {"source": source, "result": dataclasses.asdict(result)}


def _document_task(
    job: DocumentJob, masters: Masters, results: Sequence[PageResult], stage: Path, layout: OutLayout
) -> assemble.DocumentTask:
    pages = []
    for ref, result in zip(job.pages, results):
        metrics = {
            "document": job.meta.identifier,
            "page_no": ref.page_no,
            "master": os.path.relpath(ref.path, job.batch),
            "frame": ref.frame,
            "master_sha256": masters[ref.path][0],
            **result.geometry,
            **result.facts,
            "ocr_confidence": result.ocr_confidence,
            "ocr_status": result.ocr_status,
            "timings": {k: round(v, 4) for k, v in result.timings.items()},
        }
        pages.append(assemble.StagedPage(ref.page_no, str(stage), result.staged, metrics))
    settings = settings_from_dict(job.settings)
    commit = str(layout.commit_dir(job.doc_key))
    return assemble.DocumentTask(job.doc_key, job.name, job.meta, tuple(pages), commit, settings, job.ocr_software)


# ---------------------------------------------------------------------------- reuse and adoption
def _still_committed(committed: Committed, masters: Masters) -> bool:
    if {path: digest for path, (digest, _) in masters.items()} != committed.masters:
        return False
    for path, digest, size in committed.layout_files:
        if not os.path.isfile(path) or os.path.getsize(path) != size or sha256_file(path) != digest:
            return False
    return True


def _adoptable(job: DocumentJob, masters: Masters) -> DocumentManifest | None:
    """The manifest of a folder a worker committed for this document, if every file still matches it."""
    layout = OutLayout(Path(job.out))
    try:
        manifest = DocumentManifest.from_json(layout.manifest(job.doc_key).read_bytes())
    except (OSError, ValueError, TypeError, KeyError):
        return None
    expected = {path: list(value) for path, value in masters.items()}
    if manifest.status != JobStatus.DONE or manifest.settings_key != job.settings_key or manifest.masters != expected:
        return None
    if manifest.output_dir != job.output_dir or len(manifest.pages) != len(job.pages):
        return None
    folder = layout.path(manifest.output_dir)
    for rel, info in manifest.files.items():
        path = folder / rel
        if not path.is_file() or path.stat().st_size != info["bytes"] or sha256_file(path) != info["sha256"]:
            return None
    return manifest


def _staged_result(record: Path, settings_key: str, master_sha: str, ref: PageRef) -> PageResult | None:
    try:
        entry = json.loads(record.read_bytes())
        result = PageResult(**entry["result"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if entry.get("settings_key") != settings_key or entry.get("master_sha256") != master_sha:
        return None
    if (result.doc_key, result.page_no) != (ref.doc_key, ref.page_no) or not result.ok:
        return None
    for info in result.staged.values():
        if isinstance(info, dict) and "name" in info:
            path = record.parent / info["name"]
            if not path.is_file() or path.stat().st_size != info["bytes"]:
                return None
    result.reused = True
    return result
