"""Gather what a hand-off package holds, and write it file by file with its checksums checked.

`gather` reads the journal and the catalogue into a `Handoff`: the documents that may be handed
off (done, allowed by the exports' internal access policy), each with its PDF/A and/or OFD, OCR
files and masters and their journal SHA-256; what is left out and why; the QC state; and any
disagreement inside the journal. `Packer` copies and hashes each journal-recorded file into a
staging folder beside DEST in one pass, against the journal (masters and outputs are checked
again); `commit` renames it into place, `discard` removes it: nothing half-written stays at DEST.
"""

from __future__ import annotations

import logging
import os
import platform
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from digitize.errors import ChecksFailed, DigitizeError, as_interrupted
from digitize.fsutil import sha256_file
from digitize.handoff.fixity import Problem, copy_verified, journal_digests, row_problems, write_bytes_new
from digitize.handoff.qcstatus import QcStatus, read_qc_status
from digitize.journal import (
    AGENT,
    DocumentRecord,
    DocumentState,
    EventType,
    Outcome,
    PageRecord,
    copy_journal,
    open_journal,
    read_journal,
)
from digitize.layout import QC_DIR, OutLayout
from digitize.settings import Settings
from metadata.archival_code import ArchivalCodeError, CodeTemplate, archival_code_filename
from metadata.export import run_exports
from metadata.export.access import INTERNAL_POLICY
from metadata.records import ArchiveRecord, BatchInfo
from metadata.technical import batch_records

log = logging.getLogger("digitize")


class HandoffError(DigitizeError):
    """The package cannot be made; nothing was left at DEST."""


class HandoffRefused(ChecksFailed, HandoffError):
    """The batch is not fit for hand-off (QC, failed documents, checksums, journal)."""

    def __init__(self, reasons: list[str], problems: Iterable[Problem] = ()):
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.problems = list(problems)


@dataclass(frozen=True)
class SourceFile:
    """A file the journal knows, where to read it now and the checksum it must still have."""

    source: Path
    role: str  # master | pdf | hocr | text | alto | json
    rel: str  # path inside the document's folder: "X.pdf", "ocr/X-0001.hocr"; masters: "0001.tif"
    sha256: str
    size: int | None
    label: str  # how a problem names it: OUT-relative path, or the master's batch-relative path
    batch_rel: str | None = None  # masters: the path relative to the batch (as the metadata records name it)


@dataclass
class PackageDocument:
    doc_key: str
    archival_code: str
    name: str  # folder and file name of the document (as in OUT/documents/)
    record: ArchiveRecord
    pages: int
    layout_validated: bool = False  # the pipeline validated each of its layout files (PDF/A, OFD) as written
    outputs: list[SourceFile] = field(default_factory=list)  # the PDF/A and/or OFD first, then per-page OCR files
    masters: list[SourceFile] = field(default_factory=list)

    @property
    def layout(self) -> SourceFile:
        """The document's first layout file: the PDF/A, else the OFD."""
        return self.outputs[0]


@dataclass
class Handoff:
    """A processed batch as the hand-off sees it."""

    out: Path
    settings: Settings
    batch_id: str
    batch_dir: Path  # where the masters were when processed (journal)
    masters_dir: Path  # where they are read from now (--batch, else batch_dir)
    info: BatchInfo
    documents: list[PackageDocument]
    left_out: list[dict[str, str]]  # {"archival_code", "reason"}
    failed: list[str]  # 档号 of documents whose processing failed
    undescribed: list[str]  # 档号 of processed documents no catalogue row describes (no 题名): never packed
    qc: QcStatus
    journal_problems: list[Problem]
    engine: str  # OCR engine of the last run
    include_masters: bool = True

    @property
    def fonds(self) -> str:
        return self.info.fonds_id

    @property
    def codes(self) -> list[str]:
        return [d.archival_code for d in self.documents]

    @property
    def page_count(self) -> int:
        return sum(d.pages for d in self.documents)

    def layout_formats(self) -> list[str]:
        """The layout formats the handed-off documents carry: "PDF/A-2b", "OFD"."""
        kinds = {f.role for d in self.documents for f in d.outputs}
        names = {"pdf": f"PDF/A-{self.settings.pdf.pdfa_flavour}", "ofd": "OFD"}
        return [name for kind, name in names.items() if kind in kinds]

    def code_range(self) -> tuple[str, str]:
        codes = self.codes
        return (codes[0], codes[-1]) if codes else ("", "")

    def source_organization(self) -> str:
        h, a = self.settings.handoff, self.settings.archive
        return h.source_organization or a.creating_unit or a.archives_name

    def receiving_unit(self) -> str:
        return self.settings.handoff.receiving_unit or self.settings.archive.archives_name

    def environment(self) -> dict[str, str]:
        """Software and hardware the outputs were made with (DA/T 93 说明文件)."""
        return {
            "software": f"{AGENT}; {self.engine}; pikepdf; Python {platform.python_version()}",
            "os": platform.platform(terse=True),
            "hardware": f"{platform.machine()}, {os.cpu_count() or 1} CPU",
        }

    def refusals(self, force: bool) -> list[str]:
        """Why this batch must not be handed off; with `force`, only what no override can excuse."""
        reasons = []
        if self.journal_problems:
            reasons.append(
                f"the journal is inconsistent ({len(self.journal_problems)} problem(s)); run `digitize verify {self.out}`"
            )
        if not self.documents:
            reasons.append(
                "no processed document may be handed off"
                + (f" ({len(self.undescribed)} without a catalogue row)" if self.undescribed else "")
            )
        if force:
            return reasons
        if self.undescribed:
            reasons.append(
                f"{len(self.undescribed)} document(s) have no catalogue row, so no 题名 for the 目录文件 and the "
                f"DA/T 46 records: {', '.join(self.undescribed)}; link the catalogue with `digitize process BATCH "
                f"--catalog FILE --out {self.out}` (nothing is OCRed again), or hand off the others with "
                "--force --reason TEXT"
            )
        if not self.qc.passed:
            reasons.append(f"QC has not passed: {self.qc.message} (use --force --reason TEXT to hand off anyway)")
        if self.failed:
            reasons.append(
                f"{len(self.failed)} document(s) failed processing: {', '.join(self.failed)} "
                "(use --force --reason TEXT to hand off the others)"
            )
        return reasons


UNDESCRIBED = "没有目录条目（题名为空） no catalogue row (题名 empty)"


def _rel_to(path: str, base: str | os.PathLike[str] | None) -> str | None:
    if not base:
        return None
    try:
        rel = PurePosixPath(Path(path).as_posix()).relative_to(Path(base).as_posix()).as_posix()
    except ValueError:
        return None
    return None if rel == "." else rel


def master_name(source_path: str, document_source: str | None) -> str:
    """A master's name inside its document's folder: its path below the document's folder in
    the batch, or its file name when the document is a single file."""
    return _rel_to(source_path, document_source) or Path(source_path).name


def _document_name(row: DocumentRecord) -> str:
    return PurePosixPath(row.output_dir or "").name


def gather(out: Path, settings: Settings, batch_dir: Path | None = None, include_masters: bool = True) -> Handoff:
    """Read OUT's journal and catalogue; check the journal against its own event chain."""
    journal = read_journal(out)
    batch = batch_records(journal, settings)
    by_code = {r.archival_code: r for r in batch.records}
    recorded_batch = journal.batch_dir or Path(".")
    problems = [Problem("chain", p.object, p.reason, p.seq) for p in journal.chain.problems]
    digests = journal_digests(journal.events)
    masters_dir = batch_dir or recorded_batch
    documents: list[PackageDocument] = []
    left_out: list[dict[str, str]] = []
    failed: list[str] = []
    undescribed: list[str] = []
    for row in journal.documents:
        code = row.archival_code
        if row.state == DocumentState.WITHHELD:  # classified, not processed ([access] classified = refuse)
            left_out.append({"archival_code": code, "reason": row.error or "classified: not processed"})
            continue
        if not row.done:
            failed.append(code)
            continue
        record = by_code.get(code)
        if record is None or not record.scanned:
            problems.append(Problem("journal", code, "processed document has no metadata record"))
            continue
        reason = INTERNAL_POLICY.reason_to_exclude(record)
        if not record.get("题名").strip():
            undescribed.append(code)
            reason = UNDESCRIBED
        if reason:
            left_out.append({"archival_code": code, "reason": reason})
            continue
        problems += row_problems(journal, row.doc_key)
        pages = journal.pages_of(row.doc_key)
        layouts = ((row.pdf_path, row.pdfa), (row.ofd_path, row.ofd))
        validated = all(bool(recorded.get("validated")) for path, recorded in layouts if path)
        doc = PackageDocument(row.doc_key, code, _document_name(row), record, len(pages), validated)
        _add_outputs(doc, row, pages, out, digests, problems)
        _add_masters(doc, row, pages, recorded_batch, masters_dir, digests, problems)
        documents.append(doc)
    documents.sort(key=lambda d: d.archival_code)
    engine = ((journal.last_run.engine if journal.last_run else None) or "tesseract").split(" (")[0]
    return Handoff(
        out=out,
        settings=settings,
        batch_id=batch.batch.batch_id,
        batch_dir=recorded_batch,
        masters_dir=masters_dir,
        info=batch.batch,
        documents=documents,
        left_out=left_out,
        failed=sorted(failed),
        undescribed=undescribed,
        qc=read_qc_status(out, journal.events),
        journal_problems=problems,
        engine=engine,
        include_masters=include_masters,
    )


def _add_outputs(
    doc: PackageDocument,
    row: DocumentRecord,
    pages: list[PageRecord],
    out: Path,
    digests: dict[str, dict[str, str]],
    problems: list[Problem],
) -> None:
    base = row.output_dir or ""
    layout = (
        ("pdf", row.pdf_path, row.pdf_sha256, row.pdf_bytes),
        ("ofd", row.ofd_path, row.ofd_sha256, row.ofd_bytes),
    )
    for role, path, digest, size in layout:  # the PDF/A and/or the OFD
        if not path:
            continue
        chained = digests["out"].get(path)
        if chained and chained != digest:
            problems.append(
                Problem("journal", path, "the document table's SHA-256 differs from the one in its creation event")
            )
        doc.outputs.append(
            SourceFile(out / path, role, _rel_to(path, base) or PurePosixPath(path).name, digest or "", size, path)
        )
    for page in pages:
        for role, info in sorted(page.outputs.items()):
            rel = _rel_to(info["path"], base)
            if rel is None:
                problems.append(Problem("journal", info["path"], f"page output outside {base}"))
                continue
            doc.outputs.append(
                SourceFile(out / info["path"], role, rel, info["sha256"], info.get("bytes"), info["path"])
            )


def _add_masters(
    doc: PackageDocument,
    row: DocumentRecord,
    pages: list[PageRecord],
    recorded_batch: Path,
    masters_dir: Path,
    digests: dict[str, dict[str, str]],
    problems: list[Problem],
) -> None:
    seen: dict[str, str] = {}
    names: set[str] = set()
    for page in pages:
        path = page.source_path or ""
        master_sha256 = page.master_sha256 or ""
        if path in seen:
            if seen[path] != master_sha256:
                problems.append(Problem("journal", path, "pages of one master file record different checksums"))
            continue
        seen[path] = master_sha256
        batch_rel = _rel_to(path, recorded_batch) or Path(path).name
        chained = digests["batch"].get(batch_rel)
        if chained and chained != master_sha256:
            problems.append(
                Problem(
                    "journal", f"master {batch_rel}", "the page table's SHA-256 differs from its message digest event"
                )
            )
        name = master_name(path, row.source)
        if name in names:
            problems.append(
                Problem(
                    "journal", f"master {batch_rel}", f"two masters of {doc.archival_code} would both be named {name}"
                )
            )
            continue
        names.add(name)
        source = masters_dir / batch_rel if _rel_to(path, recorded_batch) else Path(path)
        doc.masters.append(
            SourceFile(source, "master", name, master_sha256, page.master_bytes, f"master {batch_rel}", batch_rel)
        )


# --------------------------------------------------------------------------- classification
def classification_levels(settings: Settings) -> list[str]:
    """The folder levels above each record folder (DA/T 93 transfer layout, built level by level
    from the 档号 as DA/T 92 has it): 全宗号, 年度, 保管期限, then 机构或问题 and 案卷号 when
    the profile's 档号 template has them."""
    fields = CodeTemplate(settings.archival_code).fields
    return ["全宗号", "年度", "保管期限"] + [
        name for key, name in (("org", "机构或问题"), ("volume", "案卷号")) if key in fields
    ]


def classification(handoff: Handoff, record: ArchiveRecord) -> list[str]:
    """The folders above a record's own folder, one per `classification_levels`.

    Taken from the 档号 components (so that the folders say what the 档号 says); the catalogue's
    columns fill in when the 档号 does not follow the template.
    """
    parts: dict[str, str] = {}
    try:
        parts = CodeTemplate(handoff.settings.archival_code).parse(record.archival_code).parts
    except ArchivalCodeError:
        pass
    values = {
        "全宗号": parts.get("fonds") or record.get("全宗号") or handoff.fonds or "未定全宗",
        "年度": parts.get("year") or record.get("年度") or record.year or "未定年度",
        "保管期限": parts.get("retention") or record.get("保管期限") or "未定期限",
        "机构或问题": parts.get("org") or record.get("机构或问题") or "未定机构",
        "案卷号": parts.get("volume") or record.get("案卷号") or "未定案卷",
    }
    return [archival_code_filename(values[level]) for level in classification_levels(handoff.settings)]


# --------------------------------------------------------------------------- writing
class Packer:
    """Writes files into a staging folder and remembers the SHA-256 and size of each."""

    def __init__(self, root: Path, workers: int = 4, progress: Callable[[int, int], Any] | None = None):
        self.root = root
        self.workers = max(1, workers)
        self.progress = progress
        self.written: dict[str, tuple[str, int]] = {}  # package-relative POSIX path -> (sha256, bytes)
        self.problems: list[Problem] = []

    def _target(self, rel: str) -> Path:
        if rel in self.written:
            raise HandoffError(f"two files would be written to {rel}")
        return self.root / rel

    def copy_checked(self, items: list[tuple[SourceFile, str]]) -> list[Problem]:
        """Copy journal-recorded files; every one whose bytes differ from the journal is a problem.
        A failure of the machine (the package's disk full, an I/O error) is `Interrupted`, not a problem."""
        total = sum(f.size or 0 for f, _ in items)
        done = 0
        if self.progress:
            self.progress(0, total)
        targets = [(f, self._target(rel), rel) for f, rel in items]

        def one(item: tuple[SourceFile, Path, str]) -> tuple[SourceFile, str, tuple[str, int] | Problem]:
            f, target, rel = item
            try:
                return f, rel, copy_verified(f.source, target)
            except FileNotFoundError:
                return f, rel, Problem("missing", f.label, f"not found at {f.source}")
            except OSError as exc:
                interrupted = as_interrupted(exc, self.root)  # the package's disk full, say: not the file's fault
                if interrupted is not None:
                    raise interrupted from None
                return f, rel, Problem("missing", f.label, f"cannot be read: {exc}")

        problems = []
        with ThreadPoolExecutor(self.workers) as pool:
            for f, rel, result in pool.map(one, targets):
                if isinstance(result, Problem):
                    problems.append(result)
                    continue
                digest, size = result
                self.written[rel] = result
                if digest != f.sha256:
                    problems.append(
                        Problem("changed", f.label, f"SHA-256 is {digest}, the journal recorded {f.sha256}")
                    )
                elif f.size is not None and size != f.size:
                    problems.append(Problem("changed", f.label, f"{size} bytes, the journal recorded {f.size}"))
                done += f.size or size
                if self.progress:
                    self.progress(done, total)
        self.problems.extend(problems)
        return problems

    def copy_plain(self, source: Path, rel: str) -> None:
        self.written[rel] = copy_verified(source, self._target(rel))

    def write(self, rel: str, data: bytes) -> None:
        self.written[rel] = write_bytes_new(self._target(rel), data)

    def journal_copy(self, out: Path, rel: str) -> None:
        target = self._target(rel)
        copy_journal(OutLayout(out).journal, target)
        self.written[rel] = (sha256_file(target), target.stat().st_size)

    def total_bytes(self) -> int:
        return sum(size for _, size in self.written.values())


def qc_files(out: Path) -> list[Path]:
    """The QC report files of OUT (report.json, report.html, checks.csv, sample.csv, ...)."""
    folder = out / QC_DIR
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def exports(handoff: Handoff, master_paths: dict[str, str] | None = None) -> dict[str, bytes]:
    """Every metadata export of the documents being handed off, as OUT-relative path -> bytes.

    Made fresh from the journal at hand-off time (so they describe exactly what is packed),
    each validated against its schema; any export problem stops the hand-off. `master_paths`:
    where the package puts each master, relative to its mirror of OUT (METS links them).
    """
    records = [d.record for d in handoff.documents]
    with tempfile.TemporaryDirectory(prefix="digitize-handoff-") as tmp:
        report = run_exports(records, handoff.info, tmp, master_paths=master_paths)
        if not report.ok:
            details = report.errors + [f"{v.path}: {v.errors[0]}" for v in report.validations if v.errors]
            raise HandoffError("metadata exports failed: " + "; ".join(details[:5]))
        return {rel: (Path(tmp) / rel).read_bytes() for rel in report.written}


def record_fixity_events(handoff: Handoff, problems: list[Problem], stage: str) -> None:
    """One "fixity check" event per document: the masters and outputs as checked just now."""
    by_label: dict[str, list[Problem]] = {}
    for p in problems:
        by_label.setdefault(p.path, []).append(p)
    with open_journal(handoff.out) as journal:
        for doc in handoff.documents:
            files = doc.outputs + (doc.masters if handoff.include_masters else [])
            found = [p for f in files for p in by_label.get(f.label, [])]
            journal.record_event(
                EventType.FIXITY_CHECK,
                doc.doc_key,
                Outcome.FAILURE if found else Outcome.SUCCESS,
                {
                    "step": stage,
                    "files": len(files),
                    "masters": len(doc.masters) if handoff.include_masters else 0,
                    "problems": [str(p) for p in found],
                },
            )
