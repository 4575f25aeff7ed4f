"""What every verification shares: the report, checksum comparison, the journal copy and QC report checks.

`digitize.handoff.verify` dispatches on what a folder is; each package format checks its own
layout (`PackageFormat.verify` in bag, dat93 and archivematica) with these helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from digitize.errors import BadInput
from digitize.fsutil import sha256_file
from digitize.handoff.collect import master_name
from digitize.handoff.fixity import Problem, read_checksum_list
from digitize.handoff.qcstatus import qc_event
from digitize.journal import Chain, Event, JournalSnapshot, JournalUnreadable, read_journal_copy
from digitize.qc.results import CheckStatus


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
    notes: list[str] = field(default_factory=list)  # not damage: leftovers of interrupted runs, filled-in templates
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def check(self, item: str, name: str, passed: bool | None, detail: str = "") -> None:
        result = CheckStatus.NOT_CHECKED if passed is None else (CheckStatus.PASS if passed else CheckStatus.FAIL)
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
            "notes": self.notes,
            "seconds": self.seconds,
        }


def hash_files(paths: dict[str, Path], workers: int) -> dict[str, tuple[str, int] | OSError]:
    def one(item: tuple[str, Path]) -> tuple[str, tuple[str, int] | OSError]:
        key, p = item
        try:
            return key, (sha256_file(p), p.stat().st_size)
        except OSError as exc:
            return key, exc

    with ThreadPoolExecutor(max(1, workers)) as pool:
        return dict(pool.map(one, paths.items()))


def compare_checksums(report: VerifyReport, expected: dict[str, tuple[Path, str]], workers: int) -> list[Problem]:
    """Hash each file and compare with its expected SHA-256; expected: name -> (path, sha256)."""
    results = hash_files({name: path for name, (path, _) in expected.items()}, workers)
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


def check_journal_copy(
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
    report.add(chain_problems(chain))
    if head and head != chain.head:
        report.add([Problem("chain", "journal", f"head hash {chain.head} differs from the package's record {head}")])
    if events and events.isdigit() and int(events) != chain.events:
        report.add([Problem("chain", "journal", f"{chain.events} events, the package records {events}")])
    return journal


def chain_problems(chain: Chain) -> list[Problem]:
    return [Problem("chain", p.object, p.reason, p.seq) for p in chain.problems]


def check_qc_report(report: VerifyReport, events: Sequence[Event], root: Path, rel: str) -> None:
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


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def recorded_paths(
    journal: JournalSnapshot, skip_codes: set[str], masters: bool, place: Callable[[str, str, str], str | None]
) -> dict[str, tuple[str, str]]:
    """Package path -> (SHA-256 the journal records, what it is) for every done document."""
    expected: dict[str, tuple[str, str]] = {}
    for doc in journal.done:
        if doc.archival_code in skip_codes:
            continue
        base = doc.output_dir or ""
        name = PurePosixPath(base).name
        for role, path, digest in (("pdf", doc.pdf_path, doc.pdf_sha256), ("ofd", doc.ofd_path, doc.ofd_sha256)):
            if not path:
                continue
            target = place(role, name, PurePosixPath(path).relative_to(base).as_posix())
            if target:
                expected[target] = (digest or "", path)
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


def check_listing(
    report: VerifyReport, root: Path, listing: Path, scope: list[str], workers: int
) -> tuple[bool, list[str]]:
    """Check a "<hash>  <path>" list against the files in `scope` (paths relative to root)."""
    if not listing.is_file():
        report.add([Problem("missing", listing.relative_to(root).as_posix(), "the fixity list")])
        return False, []
    entries, bad = read_checksum_list(listing)
    report.add(Problem("structure", listing.relative_to(root).as_posix(), f"malformed {line}") for line in bad)
    listed = set(entries)
    problems = compare_checksums(report, {name: (root / name, digest) for name, digest in entries.items()}, workers)
    extra = sorted(set(scope) - listed)
    report.add(Problem("extra", name, f"not in {listing.relative_to(root).as_posix()}") for name in extra)
    return not (problems or extra or bad), list(entries)
