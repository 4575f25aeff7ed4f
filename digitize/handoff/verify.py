"""Verify, at any later time, that a package or a processed batch is still as recorded.

    report = verify(path)          # a bag, an OUT folder, a DA/T 93 or an Archivematica package

- bag: full bagit validation (payload and tag manifests, Payload-Oxum, completeness); every
  changed, missing and extra file is named, not only the first; then the journal copy's event
  chain, its head against bag-info's Journal-Head-Hash, and the journal's own checksums against
  the bag's manifest (a file replaced together with its manifest line is still caught).
- OUT: every checksum the journal records (PDF/A, OCR files, masters in the batch folder)
  recomputed, the event chain checked, unknown files in documents/<档号>/ reported; a
  "fixity check" event is recorded per document.
- every kind: the QC report must be the one the last QC run recorded in the journal.
- DA/T 93 transfer package: 说明文件 and 目录文件 (DA/T 70 YJ-1-12), folder structure (YJ-1-13),
  the fixity list (YJ-1-1, YJ-1-14), 件数 and 字节数 against 说明文件 (YJ-2-1, YJ-2-2), and the
  journal copy's chain.
- Archivematica transfer: metadata/checksum.sha256 against objects/ (one line per file), the
  metadata.csv file names, and the journal copy's chain.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import bagit

from digitize.errors import BadInput
from digitize.fsutil import sha256_file
from digitize.handoff import archivematica as am
from digitize.handoff import dat93
from digitize.handoff.bag import JOURNAL_PATH as BAG_JOURNAL
from digitize.handoff.bag import payload_path
from digitize.handoff.collect import master_name
from digitize.handoff.fixity import (
    Problem,
    files_below,
    journal_digests,
    read_checksum_list,
)
from digitize.handoff.qcstatus import qc_event
from digitize.journal import (
    Chain,
    Event,
    EventType,
    JournalSnapshot,
    JournalUnreadable,
    Outcome,
    open_journal,
    read_journal,
    read_journal_copy,
)
from digitize.layout import JOURNAL, QC_REPORT, dat46_file
from digitize.xmlsafe import UnsafeXmlError, parse_file
from metadata.archival_code import archival_code_filename
from metadata.export.validate import validate as validate_xml

KINDS = ("bag", "out", "dat93", "archivematica")


class VerifyError(BadInput, ValueError):
    """The path is none of the things `verify` knows how to check."""


@dataclass
class VerifyReport:
    target: str
    kind: str
    files_checked: int = 0
    bytes_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    checks: list[dict[str, str]] = field(default_factory=list)  # DA/T 70 items: item, name, result, detail
    journal: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def check(self, item: str, name: str, passed: bool | None, detail: str = "") -> None:
        result = "not checked" if passed is None else ("pass" if passed else "fail")
        self.checks.append({"item": item, "name": name, "result": result, "detail": detail})

    def add(self, problems: Iterable[Problem]) -> list[Problem]:
        added = list(problems)
        self.problems.extend(added)
        return added

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "kind": self.kind,
            "ok": self.ok,
            "files_checked": self.files_checked,
            "bytes_checked": self.bytes_checked,
            "problems": [p.to_dict() for p in self.problems],
            "checks": self.checks,
            "journal": self.journal,
            "seconds": self.seconds,
        }


def detect(path: Path) -> str:
    if (path / "bagit.txt").is_file():
        return "bag"
    if (path / JOURNAL).is_file():
        return "out"
    if (path / dat93.STATEMENT).is_file() or (path / dat93.FIXITY).is_file():
        return "dat93"
    if (path / am.CHECKSUMS).is_file() or ((path / am.OBJECTS).is_dir() and (path / "metadata").is_dir()):
        return "archivematica"
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
    if kind == "bag":
        _verify_bag(path, report, workers)
    elif kind == "out":
        _verify_out(path, report, Path(batch_dir) if batch_dir else None, record, workers)
    elif kind == "dat93":
        _verify_dat93(path, report, workers)
    else:
        _verify_archivematica(path, report, workers)
    report.seconds = round(time.perf_counter() - started, 3)
    return report


# --------------------------------------------------------------------------- shared
def _hash_all(paths: dict[str, Path], workers: int) -> dict[str, tuple[str, int] | OSError]:
    def one(item: tuple[str, Path]) -> tuple[str, tuple[str, int] | OSError]:
        key, p = item
        try:
            return key, (sha256_file(p), p.stat().st_size)
        except OSError as exc:
            return key, exc

    with ThreadPoolExecutor(max(1, workers)) as pool:
        return dict(pool.map(one, paths.items()))


def _compare(report: VerifyReport, expected: dict[str, tuple[Path, str]], workers: int) -> list[Problem]:
    """Hash each file and compare with its expected SHA-256; expected: name -> (path, sha256)."""
    results = _hash_all({name: path for name, (path, _) in expected.items()}, workers)
    problems = []
    for name, (_, digest) in sorted(expected.items()):
        result = results[name]
        if isinstance(result, FileNotFoundError):
            problems.append(Problem("missing", name))
        elif isinstance(result, OSError):
            problems.append(Problem("missing", name, f"cannot be read: {result}"))
        else:
            report.files_checked += 1
            report.bytes_checked += result[1]
            if result[0] != digest:
                problems.append(Problem("changed", name, f"SHA-256 is {result[0]}, recorded {digest}"))
    return report.add(problems)


def _journal_copy(
    report: VerifyReport, path: Path, head: str | None = None, events: str | None = None
) -> JournalSnapshot | None:
    """Check a journal copy's chain (and its head against what the package says); return what it holds."""
    if not path.is_file():
        rel = path.relative_to(Path(report.target)).as_posix()
        if not any(p.path == rel for p in report.problems):
            report.add([Problem("missing", rel, "the journal copy")])
        return None
    try:
        journal = read_journal_copy(path)
    except JournalUnreadable as exc:
        report.add(
            [
                Problem(
                    "changed",
                    path.relative_to(Path(report.target)).as_posix(),
                    f"the journal copy cannot be read: {exc}",
                )
            ]
        )
        return None
    chain = journal.chain
    report.journal = {"events": chain.events, "head": chain.head, "chain_ok": chain.intact}
    report.add(_chain_problems(chain))
    if head and head != chain.head:
        report.add([Problem("chain", "journal", f"head hash {chain.head} differs from the package's record {head}")])
    if events and events.isdigit() and int(events) != chain.events:
        report.add([Problem("chain", "journal", f"{chain.events} events, the package records {events}")])
    return journal


def _chain_problems(chain: Chain) -> list[Problem]:
    return [Problem("chain", p.object, p.reason, p.seq) for p in chain.problems]


def _qc_report(report: VerifyReport, events: Sequence[Event], root: Path, rel: str) -> None:
    """The QC report must be the one the last QC run recorded (its SHA-256 is in the journal)."""
    event = qc_event(events)
    if event is None:
        return
    path = root / rel
    if not path.is_file():
        if not any(p.path == rel for p in report.problems):
            report.add([Problem("missing", rel, f"the QC report recorded in journal event {event.seq}")])
        return
    digest = sha256_file(path)
    if digest != event.detail["report_sha256"]:
        report.add([Problem("changed", rel, f"not the QC report recorded in journal event {event.seq}")])


# --------------------------------------------------------------------------- bag
def _verify_bag(path: Path, report: VerifyReport, workers: int) -> None:
    logging.getLogger("bagit").setLevel(logging.ERROR)  # every finding is reported here, by name
    try:
        bag = bagit.Bag(str(path))
    except (bagit.BagError, OSError) as exc:
        report.add([Problem("structure", ".", f"not a readable bag: {exc}")])
        return
    missing, extra = bag.compare_manifests_with_fs()
    report.add(Problem("missing", p) for p in sorted(missing))
    report.add(Problem("extra", p, "not listed in the manifests") for p in sorted(extra))
    changed: dict[str, str] = {}
    oxum_message = ""
    try:
        bag.validate(processes=max(1, workers))
    except bagit.BagValidationError as exc:
        mismatches = [d for d in (exc.details or []) if isinstance(d, bagit.ChecksumMismatch)]
        if not mismatches:
            oxum_message = str(exc) if "Oxum" in str(exc) else ""
            try:
                bag._validate_entries(max(1, workers))  # fixity of every file still present
            except bagit.BagValidationError as exc2:
                mismatches = [d for d in (exc2.details or []) if isinstance(d, bagit.ChecksumMismatch)]
        for d in mismatches:
            if d.path not in missing and (d.path not in changed or d.algorithm == "sha256"):
                changed[d.path] = f"{d.algorithm} is {d.found}, the manifest says {d.expected}"
    except bagit.BagError as exc:
        report.add([Problem("structure", ".", str(exc))])
    report.add(Problem("changed", p, detail) for p, detail in sorted(changed.items()))
    if oxum_message and not (missing or extra or changed):
        report.add([Problem("count", "bag-info.txt", oxum_message)])
    payload = [p for p in bag.entries if p.startswith("data/")]
    report.files_checked = len(bag.entries)
    report.bytes_checked = sum((path / p).stat().st_size for p in payload if (path / p).is_file())
    report.check(
        "YJ-1-14", "信息包一致性检测", not (missing or extra or changed), "manifest-sha256/sha512, tagmanifest"
    )
    report.check(
        "YJ-2-2",
        "总字节数相符性检测",
        not oxum_message and not (missing or extra),
        f"Payload-Oxum {bag.info.get('Payload-Oxum')}",
    )
    documents = path / "data" / "documents"
    found = sum(1 for p in documents.iterdir() if p.is_dir()) if documents.is_dir() else 0
    stated = bag.info.get("Document-Count")
    if stated is not None:
        report.check(
            "YJ-2-1", "总件数相符性检测", str(found) == str(stated), f"{found} document folders, bag-info says {stated}"
        )
        if str(found) != str(stated):
            report.add(
                [Problem("count", "data/documents", f"{found} document folders, bag-info Document-Count is {stated}")]
            )
    journal = _journal_copy(
        report, path / "data" / BAG_JOURNAL, bag.info.get("Journal-Head-Hash"), bag.info.get("Journal-Events")
    )
    if journal is not None:
        _qc_report(report, journal.events, path, f"data/{QC_REPORT}")
        left_out = _as_list(bag.info.get("Documents-Left-Out"))
        masters = bag.info.get("Masters-Included", "yes") != "no"
        expected = _recorded_paths(
            journal,
            {v.split(": ", 1)[0] for v in left_out},
            masters,
            lambda role, name, rel: "data/" + payload_path(role, name, rel),
        )
        for rel, (digest, label) in sorted(expected.items()):
            entry = bag.entries.get(rel)
            if entry is None:
                if rel not in missing:
                    report.add([Problem("missing", rel, f"{label} is recorded in the journal but not in the bag")])
            elif entry.get("sha256") != digest:
                report.add([Problem("journal", rel, f"the manifest's SHA-256 differs from the journal's ({label})")])
        report.check(
            "YJ-1-1",
            "固化信息有效性检测",
            not any(p.kind in ("chain", "journal") for p in report.problems),
            "journal event chain and journal checksums against the manifest",
        )


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _recorded_paths(
    journal: JournalSnapshot, skip_codes: set[str], masters: bool, place: Callable[[str, str, str], str | None]
) -> dict[str, tuple[str, str]]:
    """Package path -> (SHA-256 the journal records, what it is) for every done document."""
    expected: dict[str, tuple[str, str]] = {}
    for doc in journal.done:
        if doc.archival_code in skip_codes:
            continue
        base = doc.output_dir or ""
        name = PurePosixPath(base).name
        pdf_path = doc.pdf_path or ""
        target = place("pdf", name, PurePosixPath(pdf_path).relative_to(base).as_posix())
        if target:
            expected[target] = (doc.pdf_sha256 or "", pdf_path)
        for page in journal.pages_of(doc.doc_key):
            for role, info in page.outputs.items():
                target = place(role, name, PurePosixPath(info["path"]).relative_to(base).as_posix())
                if target:
                    expected[target] = (info["sha256"], info["path"])
            if masters:
                target = place("master", name, master_name(page.source_path or "", doc.source))
                if target:
                    expected[target] = (
                        page.master_sha256 or "",
                        f"master of {doc.archival_code} page {page.page_no}",
                    )
    return expected


# --------------------------------------------------------------------------- OUT
def _verify_out(out: Path, report: VerifyReport, batch_dir: Path | None, record: bool, workers: int) -> None:
    journal = read_journal(out)
    chain = journal.chain
    report.journal = {"events": chain.events, "head": chain.head, "chain_ok": chain.intact}
    report.add(_chain_problems(chain))
    digests = journal_digests(journal.events)
    recorded_batch = journal.batch_dir or Path(".")
    masters_dir = batch_dir or recorded_batch
    expected: dict[str, tuple[Path, str]] = {}
    owner: dict[str, str] = {}  # name -> doc_key
    known: dict[str, set[str]] = {}
    for row in journal.done:
        key, base = row.doc_key, row.output_dir or ""
        pdf_path, pdf_sha256 = row.pdf_path or "", row.pdf_sha256 or ""
        known[base] = {dat46_file(PurePosixPath(base).name)}  # DA/T 46 export
        files = [(pdf_path, pdf_sha256)]
        chained = digests["out"].get(pdf_path)
        if chained and chained != pdf_sha256:
            report.add([Problem("journal", pdf_path, "the document table's SHA-256 differs from its creation event")])
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
    problems = _compare(report, expected, workers)
    _qc_report(report, journal.events, out, QC_REPORT)
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


# --------------------------------------------------------------------------- fixity lists
def _verify_list(
    report: VerifyReport, root: Path, listing: Path, scope: list[str], workers: int
) -> tuple[bool, list[str]]:
    """Check a "<hash>  <path>" list against the files in `scope` (paths relative to root)."""
    if not listing.is_file():
        report.add([Problem("missing", listing.relative_to(root).as_posix(), "the fixity list")])
        return False, []
    entries, bad = read_checksum_list(listing)
    report.add(Problem("structure", listing.relative_to(root).as_posix(), f"malformed {line}") for line in bad)
    listed = set(entries)
    problems = _compare(report, {name: (root / name, digest) for name, digest in entries.items()}, workers)
    extra = sorted(set(scope) - listed)
    report.add(Problem("extra", name, f"not in {listing.relative_to(root).as_posix()}") for name in extra)
    return not (problems or extra or bad), list(entries)


def _verify_dat93(root: Path, report: VerifyReport, workers: int) -> None:
    statement = catalogue = None
    for name in (dat93.STATEMENT, dat93.CATALOGUE):
        try:
            tree = parse_file(root / name)
        except FileNotFoundError:
            report.add([Problem("missing", name)])
            continue
        except (OSError, ValueError, UnsafeXmlError) as exc:  # lxml's XMLSyntaxError is a ValueError
            report.add([Problem("structure", name, f"cannot be read: {exc}")])
            continue
        if name == dat93.STATEMENT:
            statement = tree.getroot()
        else:
            catalogue = tree
            errors = validate_xml("dat93", tree)
            report.add(Problem("structure", name, e) for e in errors[:5])
    report.check(
        "YJ-1-12",
        "说明文件和目录文件规范性检测",
        statement is not None
        and catalogue is not None
        and not any(p.path in (dat93.STATEMENT, dat93.CATALOGUE) for p in report.problems),
    )
    everything = [p for p in files_below(root) if p != dat93.FIXITY]
    fixity_ok, _ = _verify_list(report, root, root / dat93.FIXITY, everything, workers)
    report.check("YJ-1-1", "固化信息有效性检测", fixity_ok, dat93.FIXITY)
    report.check("YJ-1-14", "信息包一致性检测", fixity_ok, f"{report.files_checked} files")
    # record folders: a folder holding <its name>.pdf, four levels down (全宗/年度/保管期限/档号)
    folders: dict[str, str] = {}
    for rel in everything:
        parts = PurePosixPath(rel).parts
        if len(parts) >= 2 and parts[-1] == f"{parts[-2]}.pdf":
            folders[parts[-2]] = PurePosixPath(*parts[:-1]).as_posix()
    codes = [el.text or "" for el in catalogue.getroot().iter("档号")] if catalogue is not None else []
    structure_ok = True
    for code in codes:
        name = archival_code_filename(code)
        folder = folders.get(name)
        if folder is None:
            structure_ok = False
            report.add([Problem("missing", name, f"no record folder for {code} in 目录文件")])
            continue
        if len(PurePosixPath(folder).parts) != 4:
            structure_ok = False
            report.add([Problem("structure", folder, "a record folder belongs at 全宗号/年度/保管期限/档号")])
        if not (root / folder / f"{name}.xml").is_file():
            structure_ok = False
            report.add([Problem("missing", f"{folder}/{name}.xml", "the record's metadata")])
    for name, folder in sorted(folders.items()):
        if codes and name not in {archival_code_filename(c) for c in codes}:
            structure_ok = False
            report.add([Problem("extra", folder, "record folder not in 目录文件")])
    for required in (dat93.REGISTER, dat93.FIXITY):
        if not (root / required).is_file():
            structure_ok = False
    report.check("YJ-1-13", "信息包目录结构规范性检测", structure_ok)
    if statement is not None:
        stated_count = statement.findtext("数量/件数")
        stated_bytes = statement.findtext("数量/字节数")
        count_ok = stated_count == str(len(codes)) == str(len(folders))
        report.check(
            "YJ-2-1",
            "总件数相符性检测",
            count_ok,
            f"说明文件 {stated_count}, 目录文件 {len(codes)}, record folders {len(folders)}",
        )
        if not count_ok:
            report.add(
                [
                    Problem(
                        "count",
                        dat93.STATEMENT,
                        f"件数 {stated_count}, 目录文件 lists {len(codes)}, {len(folders)} record folders",
                    )
                ]
            )
        actual = sum(
            (root / rel).stat().st_size for rel in everything if any(rel.startswith(f + "/") for f in folders.values())
        )
        bytes_ok = stated_bytes == str(actual)
        report.check("YJ-2-2", "总字节数相符性检测", bytes_ok, f"说明文件 {stated_bytes}, found {actual}")
        if not bytes_ok:
            report.add([Problem("count", dat93.STATEMENT, f"字节数 {stated_bytes}, the record folders hold {actual}")])
        head = statement.findtext("固化信息/过程记录头哈希")
        events = statement.findtext("固化信息/过程记录事件数")
    else:
        head = events = None
    journal = _journal_copy(report, root / dat93.JOURNAL_PATH, head, events)
    if journal is not None:
        _qc_report(report, journal.events, root, f"{dat93.QC_FOLDER}/report.json")


def _verify_archivematica(root: Path, report: VerifyReport, workers: int) -> None:
    objects = [f"{am.OBJECTS}/{p}" for p in files_below(root / am.OBJECTS)] if (root / am.OBJECTS).is_dir() else []
    fixity_ok, listed = _verify_list(report, root, root / am.CHECKSUMS, objects, workers)
    outside = [name for name in listed if not name.startswith(am.OBJECTS + "/")]
    report.add(Problem("structure", name, "checksum.sha256 may only list files below objects/") for name in outside)
    report.check("YJ-1-14", "信息包一致性检测", fixity_ok and not outside, am.CHECKSUMS)
    csv_path = root / am.METADATA_CSV
    if not csv_path.is_file():
        report.add([Problem("missing", am.METADATA_CSV)])
    else:
        with open(csv_path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            if not header or header[0] != "filename":
                report.add([Problem("structure", am.METADATA_CSV, "the first column must be 'filename'")])
            for row in reader:
                if row and (not row[0].startswith(am.OBJECTS + "/") or not (root / row[0]).exists()):
                    report.add(
                        [Problem("structure", am.METADATA_CSV, f"filename {row[0]!r} is not a file below objects/")]
                    )
    info: dict[str, Any] = {}
    if (root / am.TRANSFER_INFO).is_file():
        try:
            info = json.loads((root / am.TRANSFER_INFO).read_text(encoding="utf-8"))
        except ValueError as exc:
            report.add([Problem("structure", am.TRANSFER_INFO, f"cannot be read: {exc}")])
    journal = _journal_copy(report, root / am.JOURNAL_PATH, info.get("Journal-Head-Hash"), info.get("Journal-Events"))
    if journal is not None:
        _qc_report(report, journal.events, root, f"{am.QC_FOLDER}/report.json")


__all__ = ["KINDS", "VerifyError", "VerifyReport", "detect", "verify"]
