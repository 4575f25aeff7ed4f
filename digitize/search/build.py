"""Bring an archive index up to date with processed output folders (`digitize index`).

For each OUT folder: every document the journal records as done is indexed with its catalogue
fields and the OCR text of each page (``documents/<档号>/ocr/<档号>-NNNN.txt``); documents that
are unchanged since they were indexed (same fingerprint: PDF, catalogue and text checksums from
the journal) are skipped, reprocessed ones replace their old entry, and documents of this folder
that are no longer done are taken out. A document whose text cannot be read fails alone, with
the file named. Folding, term making and compression run in ``jobs`` worker processes; the
index is written by this process only.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.errors import BadInput
from digitize.journal import DocumentRecord, PageRecord, read_journal
from digitize.layout import require_journal
from digitize.search.index import INDEX_FILE, ArchiveIndex, DocumentEntry, PageEntry, PreparedDocument, prepare
from digitize.settings import Settings
from metadata.archival_code import ArchivalCodeError, CodeTemplate

log = logging.getLogger(__name__)
BATCH_PAGES = 20000  # pages per transaction (fewer, larger FTS5 segments to merge)
CHUNK_DOCUMENTS = 64  # documents per task of a worker process


class SourceError(BadInput):
    """A document whose text cannot be read (it is reported and left out)."""


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    moved: list[dict[str, str]] = field(default_factory=list)  # 档号 indexed before from another folder
    failed: list[dict[str, str]] = field(default_factory=list)
    pages: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "replaced": self.replaced,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "moved": self.moved,
            "failed": self.failed,
            "pages": self.pages,
            "seconds": round(self.seconds, 2),
            "ok": self.ok,
        }


def _catalogue(doc: DocumentRecord, template: CodeTemplate) -> dict[str, str]:
    """The document's catalogue fields by DA/T name, 年度 and 全宗号 filled from 日期 and 档号 when empty."""
    catalogue = {k: str(v) for k, v in doc.catalog.items() if v not in (None, "")}
    catalogue.setdefault("档号", doc.archival_code)
    if doc.title:
        catalogue.setdefault("题名", doc.title)
    if not catalogue.get("年度") and catalogue.get("日期", "")[:4].isdigit():
        catalogue["年度"] = catalogue["日期"][:4]
    if not catalogue.get("全宗号"):
        try:
            fonds = template.parse(doc.archival_code).get("fonds")
        except ArchivalCodeError:
            fonds = None
        if fonds:
            catalogue["全宗号"] = fonds
    return catalogue


def _output(page: PageRecord, role: str, key: str) -> str | None:
    return (page.outputs.get(role) or {}).get(key)


def _fingerprint(source: str, doc: DocumentRecord, catalogue: dict[str, str], pages: list[PageRecord]) -> str:
    outputs = [(p.page_no, _output(p, "text", "sha256"), _output(p, "hocr", "sha256")) for p in pages]
    data = json.dumps([source, doc.pdf_sha256, doc.pdf_path, catalogue, outputs], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PlannedDocument:
    """A document of an OUT folder, before its text is read."""

    archival_code: str
    doc_key: str
    catalogue: dict[str, str]
    pdf: str | None
    pages: tuple[tuple[int, str | None, str | None], ...]  # page number, text file, hOCR file (OUT-relative)
    fingerprint: str


def plan_source(out: Path, settings: Settings) -> list[PlannedDocument]:
    """The done documents of an OUT folder, from its journal."""
    journal = read_journal(out)
    template = CodeTemplate(settings.archival_code)
    planned = []
    for doc in journal.done:
        catalogue = _catalogue(doc, template)
        pages = journal.pages_of(doc.doc_key)
        files = tuple((p.page_no, _output(p, "text", "path"), _output(p, "hocr", "path")) for p in pages)
        fingerprint = _fingerprint(str(out), doc, catalogue, pages)
        planned.append(PlannedDocument(doc.archival_code, doc.doc_key, catalogue, doc.pdf_path, files, fingerprint))
    return planned


def read_entry(out: Path, planned: PlannedDocument) -> DocumentEntry:
    """The document with the text of its pages (a blank page has no text file and empty text)."""
    pages = []
    for page_no, text_path, hocr_path in planned.pages:
        text = ""
        if text_path:
            path = out / text_path
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SourceError(f"{path}: {exc}") from None
        pages.append(PageEntry(page_no, text, hocr_path))
    return DocumentEntry(
        planned.archival_code,
        planned.catalogue,
        tuple(pages),
        str(out),
        planned.doc_key,
        planned.pdf,
        planned.fingerprint,
    )


def _prepare_chunk(entries: list[DocumentEntry]) -> list[PreparedDocument]:
    return [prepare(entry) for entry in entries]


def _prepared(entries: Iterable[DocumentEntry], jobs: int) -> Iterator[PreparedDocument]:
    """Prepared documents in input order; with jobs > 1, chunks run in worker processes, a few
    chunks ahead of the writer (so memory stays bounded however many documents come)."""
    if jobs <= 1:
        yield from map(prepare, entries)
        return
    source = iter(entries)
    with ProcessPoolExecutor(jobs) as pool:
        in_flight: deque[Future[list[PreparedDocument]]] = deque()
        while True:
            while len(in_flight) < 2 * jobs and (chunk := list(itertools.islice(source, CHUNK_DOCUMENTS))):
                in_flight.append(pool.submit(_prepare_chunk, chunk))
            if not in_flight:
                return
            yield from in_flight.popleft().result()


def write_documents(
    index: ArchiveIndex,
    entries: Iterable[DocumentEntry],
    source_id: int | None,
    jobs: int = 1,
    report: IndexReport | None = None,
    progress: Callable[[int], None] | None = None,
) -> IndexReport:
    """Prepare entries (in `jobs` processes) and write them, a transaction per BATCH_PAGES pages."""
    report = report if report is not None else IndexReport()
    pending = 0
    index.db.execute("BEGIN IMMEDIATE")
    try:
        for prepared in _prepared(entries, jobs):
            outcome = index.put(prepared, source_id)
            (report.added if outcome == "added" else report.replaced).append(prepared.entry.archival_code)
            report.pages += prepared.page_count
            pending += len(prepared.pages)
            if progress is not None:
                progress(prepared.page_count)
            if pending >= BATCH_PAGES:
                index.db.execute("COMMIT")
                index.db.execute("BEGIN IMMEDIATE")
                pending = 0
    except BaseException:
        index.db.execute("ROLLBACK")
        raise
    index.db.execute("COMMIT")
    return report


def index_source(
    index: ArchiveIndex,
    out: Path,
    settings: Settings,
    jobs: int = 1,
    report: IndexReport | None = None,
    progress: Callable[[int], None] | None = None,
) -> IndexReport:
    """Index the documents of one OUT folder (see the module docstring)."""
    started = time.perf_counter()
    report = report if report is not None else IndexReport()
    out = out.resolve()
    planned = plan_source(out, settings)
    with index.transaction():
        source_id = index.source_id(str(out))
    known = index.fingerprints()
    mine = index.fingerprints(source_id)
    todo = []
    for doc in planned:
        if known.get(doc.archival_code) == doc.fingerprint:
            report.unchanged += 1
            continue
        previous = index.source_of(doc.archival_code)
        if previous is not None and previous != str(out):
            report.moved.append({"archival_code": doc.archival_code, "from": previous, "to": str(out)})
            log.warning("%s was indexed from %s; now from %s", doc.archival_code, previous, out)
        todo.append(doc)

    def entries() -> Iterator[DocumentEntry]:
        for doc in todo:
            try:
                yield read_entry(out, doc)
            except SourceError as exc:
                report.failed.append({"archival_code": doc.archival_code, "error": str(exc)})
                log.error("not indexed: %s: %s", doc.archival_code, exc)

    write_documents(index, entries(), source_id, jobs, report, progress)
    done_codes = {doc.archival_code for doc in planned}
    with index.transaction():
        for code in sorted(set(mine) - done_codes):
            if index.remove(code):
                report.removed.append(code)
        index.mark_source_indexed(source_id)
    report.seconds += time.perf_counter() - started
    log.info(
        "indexed %s: %d added, %d replaced, %d unchanged, %d removed, %d failed",
        out,
        len(report.added),
        len(report.replaced),
        report.unchanged,
        len(report.removed),
        len(report.failed),
    )
    return report


def update_archive(
    archive: Path,
    outs: Iterable[Path],
    settings: Settings,
    jobs: int = 1,
    rebuild: bool = False,
    progress: Callable[[int], None] | None = None,
    optimize: bool = False,
) -> IndexReport:
    """Index OUT folders into ARCHIVE (created when missing; emptied first with `rebuild`;
    merged into one full-text segment afterwards with `optimize`)."""
    outs = list(outs)
    for out in outs:
        require_journal(out)
    if rebuild:
        for path in archive.glob(INDEX_FILE + "*"):
            path.unlink()
    report = IndexReport()
    with ArchiveIndex(archive, create=True) as index:
        for out in outs:
            index_source(index, out, settings, jobs, report, progress)
        if optimize:
            started = time.perf_counter()
            index.optimize()
            report.seconds += time.perf_counter() - started
    return report
