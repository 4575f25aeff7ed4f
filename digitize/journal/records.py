"""The journal's records as typed values: states, documents, pages, runs, events, the chain, a snapshot.

Stored strings are the enum values, unchanged since the first journal, so old journals read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


# ------------------------------------------------------------------------------ values
class DocumentState(StrEnum):
    PENDING = "pending"  # being processed (or the run was interrupted)
    DONE = "done"  # committed to documents/<档号>/
    FAILED = "failed"
    WITHHELD = "withheld"  # classified and not read ([access] classified = refuse)


class PageState(StrEnum):
    PENDING = "pending"
    STAGED = "staged"  # processed; its files wait under .work/ for the document
    DONE = "done"
    FAILED = "failed"


class RunStatus(StrEnum):
    RUNNING = "running"  # still running (or its process died without a word)
    INTERRUPTED = "interrupted"  # stopped before its end: signal, lost workers, disk full, out of memory
    OK = "ok"
    FAILURES = "failures"  # finished; some documents failed


class EventType(StrEnum):
    """PREMIS 3 event types (id.loc.gov/vocabulary/preservation/eventType)."""

    MESSAGE_DIGEST = "message digest calculation"
    MODIFICATION = "modification"
    CREATION = "creation"
    VALIDATION = "validation"
    FIXITY_CHECK = "fixity check"
    FORMAT_IDENTIFICATION = "format identification"
    DISSEMINATION = "dissemination"  # a document viewed or downloaded (利用登记, digitize.web.usage)


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    WARNING = "warning"
    NOT_CHECKED = "not checked"


# ------------------------------------------------------------------------------ records
@dataclass(frozen=True)
class DocumentRecord:
    """One document (件) of the batch."""

    doc_key: str  # folder or file name in the batch
    archival_code: str  # 档号
    state: DocumentState
    title: str | None = None
    source: str | None = None  # the folder or file it comes from
    catalog: dict[str, str] = field(default_factory=dict)  # catalogue fields by DA/T name
    n_pages: int | None = None
    output_dir: str | None = None  # OUT-relative, documents/<name>
    pdf_path: str | None = None  # OUT-relative
    pdf_sha256: str | None = None
    pdf_bytes: int | None = None
    pdfa: dict[str, Any] = field(default_factory=dict)  # flavour, validated, findings
    ofd_path: str | None = None  # OUT-relative; None unless the profile asks for OFD
    ofd_sha256: str | None = None
    ofd_bytes: int | None = None
    ofd: dict[str, Any] = field(default_factory=dict)  # version, validated, parts
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    settings_key: str | None = None
    seconds: float | None = None
    run_id: int | None = None
    updated: str | None = None

    @property
    def done(self) -> bool:
        return self.state == DocumentState.DONE


@dataclass(frozen=True)
class PageRecord:
    """One page of a document, with its master, measurements and outputs."""

    doc_key: str
    page_no: int  # 1-based position in the document
    state: PageState
    source_path: str | None = None  # the master file
    frame: int | None = None  # frame of a multi-page TIFF or page of a PDF (0-based)
    slot: int | None = None  # number in a single-page file's name
    container: str | None = None  # image | tiff | pdf
    master_sha256: str | None = None
    master_bytes: int | None = None
    file_format: str | None = None
    compression: str | None = None
    dpi: float | None = None
    dpi_source: str | None = None
    source_mode: str | None = None
    output_mode: str | None = None
    width: int | None = None
    height: int | None = None
    skew_deg: float | None = None
    orientation_deg: int | None = None
    is_blank: int | None = None  # 0 / 1; None until processed
    needs_colour: int | None = None
    ocr_confidence: float | None = None
    ocr_status: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    staged: dict[str, Any] = field(default_factory=dict)  # role -> {name, sha256, bytes} under .work/
    outputs: dict[str, Any] = field(default_factory=dict)  # role -> {path, sha256, bytes}, OUT-relative
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    settings_key: str | None = None
    run_id: int | None = None
    updated: str | None = None

    @property
    def object_id(self) -> str:
        """How events name the page: <doc_key>/0001."""
        return f"{self.doc_key}/{self.page_no:04d}"


@dataclass(frozen=True)
class Run:
    """One `digitize process` run."""

    id: int
    started: str
    status: RunStatus
    finished: str | None = None
    command: str | None = None
    batch: str | None = None
    catalog: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    software: str | None = None
    engine: str | None = None  # OCR engine and version
    jobs: int | None = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One link of the hash chain."""

    seq: int
    ts: str
    type: str  # an EventType value
    object: str  # doc_key, doc_key/0001 (a page), or "batch"
    outcome: str  # an Outcome value
    detail: dict[str, Any]
    agent: str
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    object: str
    reason: str


@dataclass(frozen=True)
class Chain:
    """The event chain as checked: its head, length and every broken link."""

    head: str
    events: int
    problems: tuple[ChainProblem, ...] = ()
    recorded: bool = False  # the journal records its head, so a chain cut short at its end is found

    @property
    def intact(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class JournalSnapshot:
    """Everything a journal holds, read in one transaction."""

    path: Path
    meta: dict[str, str]
    runs: tuple[Run, ...]
    documents: tuple[DocumentRecord, ...]
    pages: tuple[PageRecord, ...]  # by document, then page number
    events: tuple[Event, ...]
    chain: Chain
    row_digests: dict[str, str] = field(default_factory=dict)  # doc_key -> `rows_digest` of its rows as read
    _pages_by_doc: dict[str, list[PageRecord]] = field(default_factory=dict, repr=False, compare=False)
    _events_by_doc: dict[str, list[Event]] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for page in self.pages:
            self._pages_by_doc.setdefault(page.doc_key, []).append(page)
        for event in self.events:  # "A" and "A/0001" are about document A (a document key holds no "/")
            self._events_by_doc.setdefault(event.object.split("/", 1)[0], []).append(event)

    def pages_of(self, doc_key: str) -> list[PageRecord]:
        return list(self._pages_by_doc.get(doc_key, []))

    def document(self, doc_key: str) -> DocumentRecord | None:
        return next((d for d in self.documents if d.doc_key == doc_key), None)

    def events_about(self, doc_key: str) -> list[Event]:
        """The events of a document and its pages, in order."""
        return list(self._events_by_doc.get(doc_key, []))

    @property
    def done(self) -> list[DocumentRecord]:
        return [d for d in self.documents if d.done]

    @property
    def last_run(self) -> Run | None:
        return self.runs[-1] if self.runs else None

    @property
    def batch_dir(self) -> Path | None:
        """The batch folder as `process` last recorded it (absolute)."""
        batch = self.meta.get("batch")
        return Path(batch) if batch else None

    @property
    def batch_id(self) -> str | None:
        return self.meta.get("batch_id")
