"""Verify, at any later time, that a package or a processed batch is still as recorded.

    report = verify(path)          # a bag, an OUT folder, a DA/T 93 or an Archivematica package

- a package: its format checks it (`PackageFormat.verify` in bag, dat93 and archivematica):
  every changed, missing and extra file is named, not only the first, and the journal copy's
  event chain is checked against what the package says about it.
- OUT: SQLite's integrity check (a damaged journal: exit 6); the event chain, to the head the
  journal recorded with its last event; every document's table rows against the digest its
  commit event recorded; every file the journal vouches for (PDF/A, OCR files, page records,
  exports, QC report: the tables and the events' file ledger) and every master in the batch
  folder recomputed; every other file or folder under OUT reported (leftovers of interrupted
  runs as notes); a "fixity check" event is recorded per document. `docs/reliability.md` says
  what this proves and what it cannot.
- every kind: the QC report must be the one the last QC run recorded in the journal.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path, PurePosixPath

from digitize.fsutil import sha256_file
from digitize.handoff.bag import BagFormat
from digitize.handoff.fixity import Problem, files_below, journal_digests, row_problems
from digitize.handoff.formats import FORMATS
from digitize.handoff.verifying import (
    VerifyError,
    VerifyReport,
    chain_problems,
    check_qc_report,
    compare_checksums,
)
from digitize.journal import EventType, JournalReader, JournalSnapshot, JournalUnreadable, Outcome, open_journal
from digitize.journal.ledger import recorded_files
from digitize.layout import (
    APPENDED,
    JOURNAL,
    JOURNAL_FILES,
    LOCK_FILE,
    QC_REPORT,
    TOP_LEVEL,
    WORK_DIR,
    WORKING_COPIES,
    OutLayout,
    require_journal,
)
from digitize.leftovers import is_debris

OUT_KIND = "out"
KINDS = (BagFormat.kind, OUT_KIND, *(f.kind for f in FORMATS.values() if f is not BagFormat))


def detect(path: Path) -> str:
    """What the folder is: a bag (even one holding a journal copy), an OUT folder, another package."""
    if BagFormat.recognises(path):
        return BagFormat.kind
    if (path / JOURNAL).is_file():
        return OUT_KIND
    for package_format in FORMATS.values():
        if package_format.recognises(path):
            return package_format.kind
    raise VerifyError(f"{path} is not a bag, an OUT folder with {JOURNAL}, a DA/T 93 or an Archivematica package")


def verify(
    path: str | Path, *, batch_dir: str | Path | None = None, record: bool = True, workers: int = 4
) -> VerifyReport:
    """Check `path`; `batch_dir` relocates the masters of an OUT folder; `record` adds fixity events to OUT's journal."""
    started = time.perf_counter()
    path = Path(path)
    if not path.is_dir():
        raise VerifyError(f"{path} is not a folder")
    kind = detect(path)
    report = VerifyReport(str(path), kind)
    if kind == OUT_KIND:
        _verify_out(path, report, Path(batch_dir) if batch_dir else None, record, workers)
    else:
        next(f for f in FORMATS.values() if f.kind == kind).verify(path, report, workers)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _verify_out(out: Path, report: VerifyReport, batch_dir: Path | None, record: bool, workers: int) -> None:
    journal = _read_sound_journal(out)
    chain = journal.chain
    report.journal = {
        "events": chain.events,
        "head": chain.head,
        "chain_ok": chain.intact,
        "head_recorded": chain.recorded,
    }
    report.add(chain_problems(chain))
    expected, owner = _expected_files(out, journal, report, batch_dir)
    problems = compare_checksums(report, expected, workers)
    check_qc_report(report, journal.events, out, QC_REPORT)
    unexpected = _unexpected_files(out, journal, expected, report)
    report.check("BC-1-1", "固化信息有效性检测", not problems, f"{len(expected)} recorded checksums")
    report.check(
        "journal",
        "过程记录哈希链",
        chain.intact,
        f"{chain.events} events" + ("" if chain.recorded else "; its end is not recorded (older journal)"),
    )
    rows = [p for p in report.problems if p.kind == "journal"]
    report.check(
        "journal", "过程记录与数据表一致", not rows, f"{len(journal.done)} documents' rows against their events"
    )
    report.check("structure", "无未记录的文件或文件夹", not unexpected, "every file under OUT against the journal")
    if record:
        _record_fixity(out, journal, report.problems, owner)


def _read_sound_journal(out: Path) -> JournalSnapshot:
    """The journal, after SQLite's integrity check; JournalUnreadable (exit 6) when the file is damaged."""
    path = require_journal(out).journal
    with JournalReader(path) as reader:
        damage = reader.integrity_problems()
        if damage:
            raise JournalUnreadable(
                f"{path}: the journal is damaged (SQLite integrity check: {'; '.join(damage[:5])}); "
                "restore it from a copy (a hand-off package holds one)"
            )
        return reader.snapshot()


def _expected_files(
    out: Path, journal: JournalSnapshot, report: VerifyReport, batch_dir: Path | None
) -> tuple[dict[str, tuple[Path, str]], dict[str, str]]:
    """Every file the journal vouches for -> (where it is now, its SHA-256); and which document owns it.

    The tables (documents, pages) must agree with the events that recorded them; the event
    ledger (`digitize.journal.ledger`) adds what other commands wrote (exports, QC report).
    """
    ledger = recorded_files(journal.events)
    digests = journal_digests(journal.events)
    recorded_batch = journal.batch_dir or Path(".")
    masters_dir = batch_dir or recorded_batch
    expected: dict[str, tuple[Path, str]] = {}
    owner: dict[str, str] = {}  # name -> doc_key
    for row in journal.done:
        key = row.doc_key
        report.add(row_problems(journal, key))
        files: list[tuple[str, str]] = []
        for path, digest in ((row.pdf_path, row.pdf_sha256), (row.ofd_path, row.ofd_sha256)):  # PDF/A, OFD
            if not path:
                continue
            files.append((path, digest or ""))
            if digests["out"].get(path) != digest:
                why = "differs from" if path in digests["out"] else "is not in"
                report.add([Problem("journal", path, f"the document table's SHA-256 {why} its creation event")])
        for page in journal.pages_of(key):
            files += [(info["path"], info["sha256"]) for info in page.outputs.values()]
            source_path = page.source_path or ""
            try:
                batch_rel = Path(source_path).relative_to(recorded_batch).as_posix()
                source = masters_dir / batch_rel
            except ValueError:
                batch_rel, source = source_path, Path(source_path)
            chained = digests["batch"].get(batch_rel)
            if chained and chained != page.master_sha256:
                report.add(
                    [
                        Problem(
                            "journal",
                            f"master {batch_rel}",
                            "the page table's SHA-256 differs from its message digest event",
                        )
                    ]
                )
            expected[f"master {batch_rel}"] = (source, page.master_sha256 or "")
            owner[f"master {batch_rel}"] = key
        for rel, digest in files:
            entry = ledger.get(rel)
            if entry is not None and entry.sha256 != digest:
                report.add([Problem("journal", rel, f"the table's SHA-256 differs from event {entry.seq}")])
            expected[rel] = (out / rel, digest)
            owner[rel] = key
    for rel, entry in ledger.items():
        if rel not in expected and rel not in WORKING_COPIES:
            expected[rel] = (out / rel, entry.sha256)
    return expected, owner


def _unexpected_files(
    out: Path, journal: JournalSnapshot, expected: dict[str, tuple[Path, str]], report: VerifyReport
) -> list[Problem]:
    """Files and folders under OUT that the journal does not vouch for; leftovers of interrupted runs are notes."""
    layout = OutLayout(out)
    ledger = recorded_files(journal.events)
    known = {rel for rel in expected if not rel.startswith("master ")} | set(JOURNAL_FILES) | {LOCK_FILE, *APPENDED}
    known |= {rel for rel in WORKING_COPIES if rel in ledger}
    known_dirs = {str(PurePosixPath(rel).parent) for rel in known} | {"."}
    known_dirs |= {str(parent) for rel in known for parent in PurePosixPath(rel).parents}
    problems: list[Problem] = []
    extra_folders: dict[str, int] = {}
    staging = debris = 0
    for rel in files_below(out):
        if rel in known:
            continue
        path = PurePosixPath(rel)
        if path.parts[0] == WORK_DIR:
            staging += 1
        elif any(is_debris(part) for part in path.parts):
            debris += 1
        else:
            folder = _unknown_folder(path, known_dirs)
            if folder is not None:
                extra_folders[folder] = extra_folders.get(folder, 0) + 1
            else:
                problems.append(Problem("extra", rel, "not recorded in the journal"))
    for folder in _empty_folders(out, known_dirs):
        extra_folders.setdefault(folder, 0)
    for folder, count in sorted(extra_folders.items()):
        problems.append(Problem("extra", folder + "/", f"a folder the journal does not know ({count} files)"))
    for rel in WORKING_COPIES:
        entry = ledger.get(rel)
        if entry is not None and layout.path(rel).is_file() and sha256_file(layout.path(rel)) != entry.sha256:
            report.notes.append(
                f"{rel} was changed after QC wrote it (filled in? record it with `digitize qc --record`)"
            )
    if staging:
        report.notes.append(
            f"{staging} staged file(s) of an unfinished run in {WORK_DIR}/: run `digitize process` again"
        )
    if debris:
        report.notes.append(
            f"{debris} temporary file(s) of an interrupted write: the next command that writes to OUT removes them"
        )
    return report.add(problems)


def _unknown_folder(path: PurePosixPath, known_dirs: set[str]) -> str | None:
    """The outermost folder of `path` that holds nothing the journal knows (None: its folder is known)."""
    for parent in reversed(path.parents):
        if str(parent) not in known_dirs:
            return str(parent)
    return None


def _empty_folders(out: Path, known_dirs: set[str]) -> list[str]:
    found = []
    for root, dirs, files in os.walk(out):
        rel = Path(root).relative_to(out).as_posix()
        if rel.split("/")[0] == WORK_DIR or any(is_debris(part) for part in rel.split("/")):
            dirs[:] = []
            continue
        if not files and not dirs and rel not in known_dirs and rel not in TOP_LEVEL:
            found.append(rel)
    return found


def _record_fixity(out: Path, journal: JournalSnapshot, problems: list[Problem], owner: dict[str, str]) -> None:
    """One "fixity check" event per processed document, naming what was found wrong with it."""
    folders = {d.output_dir: d.doc_key for d in journal.documents if d.output_dir}
    by_doc: dict[str, list[Problem]] = {}
    for p in problems:
        doc = owner.get(p.path) or next((k for base, k in folders.items() if p.path.startswith(base + "/")), None)
        if doc:
            by_doc.setdefault(doc, []).append(p)
    files = Counter(owner.values())  # doc_key -> the files checked for it
    with open_journal(out) as writer:
        for row in journal.done:
            found = by_doc.get(row.doc_key, [])
            writer.record_event(
                EventType.FIXITY_CHECK,
                row.doc_key,
                Outcome.FAILURE if found else Outcome.SUCCESS,
                {
                    "step": "verify",
                    "files": files[row.doc_key],
                    "problems": [str(p) for p in found],
                },
            )


__all__ = ["KINDS", "VerifyError", "VerifyReport", "detect", "verify"]
