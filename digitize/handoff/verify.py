"""Verify, at any later time, that a package or a processed batch is still as recorded.

    report = verify(path)          # a bag, an OUT folder, a DA/T 93 or an Archivematica package

- a package: its format checks it (`PackageFormat.verify` in bag, dat93 and archivematica):
  every changed, missing and extra file is named, not only the first, and the journal copy's
  event chain is checked against what the package says about it.
- OUT: every checksum the journal records (PDF/A, OCR files, masters in the batch folder)
  recomputed, the event chain checked, unknown files in documents/<档号>/ reported; a
  "fixity check" event is recorded per document.
- every kind: the QC report must be the one the last QC run recorded in the journal.
"""

from __future__ import annotations

import time
from pathlib import Path, PurePosixPath

from digitize.handoff.bag import BagFormat
from digitize.handoff.fixity import Problem, files_below, journal_digests
from digitize.handoff.formats import FORMATS
from digitize.handoff.verifying import (
    VerifyError,
    VerifyReport,
    chain_problems,
    check_qc_report,
    compare_checksums,
)
from digitize.journal import EventType, JournalSnapshot, Outcome, open_journal, read_journal
from digitize.layout import JOURNAL, QC_REPORT, dat46_file

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
    journal = read_journal(out)
    chain = journal.chain
    report.journal = {"events": chain.events, "head": chain.head, "chain_ok": chain.intact}
    report.add(chain_problems(chain))
    digests = journal_digests(journal.events)
    recorded_batch = journal.batch_dir or Path(".")
    masters_dir = batch_dir or recorded_batch
    expected: dict[str, tuple[Path, str]] = {}
    owner: dict[str, str] = {}  # name -> doc_key
    known: dict[str, set[str]] = {}
    for row in journal.done:
        key, base = row.doc_key, row.output_dir or ""
        known[base] = {dat46_file(PurePosixPath(base).name)}  # DA/T 46 export
        files: list[tuple[str, str]] = []
        for path, digest in ((row.pdf_path, row.pdf_sha256), (row.ofd_path, row.ofd_sha256)):  # PDF/A, OFD
            if not path:
                continue
            files.append((path, digest or ""))
            chained = digests["out"].get(path)
            if chained and chained != digest:
                report.add([Problem("journal", path, "the document table's SHA-256 differs from its creation event")])
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
            expected[rel] = (out / rel, digest)
            owner[rel] = key
            known[base].add(rel)
    problems = compare_checksums(report, expected, workers)
    check_qc_report(report, journal.events, out, QC_REPORT)
    for base, names in sorted(known.items()):
        folder = out / base
        if not folder.is_dir():
            continue
        for rel in files_below(folder):
            full = PurePosixPath(base, rel).as_posix()
            if full not in names:
                report.add([Problem("extra", full, "not recorded in the journal")])
    report.check("BC-1-1", "固化信息有效性检测", not problems, f"{len(expected)} recorded checksums")
    report.check("journal", "过程记录哈希链", chain.intact, f"{chain.events} events")
    if record:
        _record_fixity(out, journal, report.problems, owner)


def _record_fixity(out: Path, journal: JournalSnapshot, problems: list[Problem], owner: dict[str, str]) -> None:
    """One "fixity check" event per processed document, naming what was found wrong with it."""
    folders = {d.output_dir: d.doc_key for d in journal.documents if d.output_dir}
    by_doc: dict[str, list[Problem]] = {}
    for p in problems:
        doc = owner.get(p.path) or next((k for base, k in folders.items() if p.path.startswith(base + "/")), None)
        if doc:
            by_doc.setdefault(doc, []).append(p)
    with open_journal(out) as writer:
        for row in journal.done:
            found = by_doc.get(row.doc_key, [])
            writer.record_event(
                EventType.FIXITY_CHECK,
                row.doc_key,
                Outcome.FAILURE if found else Outcome.SUCCESS,
                {
                    "step": "verify",
                    "files": sum(1 for v in owner.values() if v == row.doc_key),
                    "problems": [str(p) for p in found],
                },
            )


__all__ = ["KINDS", "VerifyError", "VerifyReport", "detect", "verify"]
