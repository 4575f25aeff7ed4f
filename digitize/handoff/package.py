"""Make a hand-off package: the steps every format shares, in order.

1. gather the batch from the journal; refuse (HandoffRefused) when QC has not passed, documents
   failed or the journal disagrees with its own event chain, unless forced with a reason
   (a broken journal cannot be forced);
2. copy every journal-recorded file (PDF/A, OCR files, masters) into a staging folder beside
   DEST, hashing each on the way and comparing with the journal: any difference stops the
   hand-off and is recorded as a failed "fixity check" event of its document;
3. record the successful fixity check, then take a consistent copy of the journal;
4. add fresh, schema-validated metadata exports and the QC report;
5. let the format write its own files (BagIt tag files, 说明文件 and fixity list, metadata.csv
   and checksum.sha256) and check the result;
6. rename the staging folder to DEST and record the hand-off event in OUT's journal.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from digitize.errors import BadInput
from digitize.handoff.collect import (
    Handoff,
    HandoffError,
    HandoffRefused,
    Packer,
    exports,
    gather,
    qc_files,
    record_fixity_events,
)
from digitize.handoff.format import Override, PackageFormat
from digitize.handoff.formats import format_class
from digitize.handoff.staging import Staging
from digitize.journal import EventType, Outcome, open_journal, read_journal_copy
from digitize.layout import QC_DIR, require_journal
from digitize.settings import Settings


@dataclass(frozen=True)
class HandoffRequest:
    """What `digitize handoff` is asked to do."""

    out: Path
    dest: Path  # the package folder to make; must not exist yet, or be empty
    format: str = "bagit"  # a name in digitize.handoff.formats.FORMATS
    settings: Settings = field(default_factory=Settings)
    force: bool = False  # hand off although QC has not passed or documents failed
    reason: str | None = None  # why a forced hand-off is made (recorded)
    include_masters: bool = True
    batch_dir: Path | None = None  # where the masters are now, if the batch folder has moved

    def check(self) -> type[PackageFormat]:
        """The format's class; BadInput for a request that cannot be carried out."""
        require_journal(self.out)
        if self.reason and not self.force:
            raise BadInput("--reason goes with --force")
        if self.force and not (self.reason or "").strip():
            raise BadInput("--force needs --reason TEXT: say why the package is handed off anyway")
        if self.dest.exists() and (not self.dest.is_dir() or any(self.dest.iterdir())):
            raise BadInput(f"{self.dest} already exists; choose a new destination")
        return format_class(self.format)


@dataclass
class PackageResult:
    package: str
    format: str
    documents: int
    pages: int
    files: int
    bytes: int
    masters_included: bool
    qc: dict[str, Any]
    override: dict[str, Any] | None
    left_out: list[dict[str, str]]
    failed_documents: list[str]
    journal_head: str
    journal_events: int
    event_seq: int
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)  # format-specific: payload_oxum, fixity list, ...

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def make_package(request: HandoffRequest, progress: Callable[[int, int], Any] | None = None) -> PackageResult:
    """Build the hand-off package of OUT at DEST.

    Raises BadInput for a request that cannot be carried out; HandoffRefused (nothing written at
    DEST) when the batch is not fit for hand-off or a file differs from the journal;
    HandoffError for other failures.
    """
    started = time.perf_counter()
    package_format = request.check()
    settings, out, dest, fmt = request.settings, request.out, request.dest, request.format
    handoff = gather(out, settings, request.batch_dir, request.include_masters)
    refusals = handoff.refusals(request.force)
    if refusals:
        raise HandoffRefused(refusals, handoff.journal_problems)
    override = None
    if request.force and (not handoff.qc.passed or handoff.failed or handoff.undescribed):
        override = Override((request.reason or "").strip(), handoff.qc.state, handoff.failed, handoff.undescribed)

    staging = Staging(dest)
    try:
        packer = Packer(staging.path, settings.handoff.workers, progress)
        layout = package_format(handoff, packer, override)
        problems = packer.copy_checked(layout.content())
        record_fixity_events(handoff, problems, "before hand-off")
        if problems:
            raise HandoffRefused([f"{len(problems)} file(s) differ from what the journal recorded"], problems)
        if override is not None:
            _record_override(handoff, override, dest, fmt)
        packer.journal_copy(out, layout.journal_path)
        chain = read_journal_copy(packer.root / layout.journal_path).chain
        head, n_events = chain.head, chain.events
        layout.add_metadata(exports(handoff, layout.master_paths()))
        for path in qc_files(out):
            packer.copy_plain(path, f"{layout.qc_folder}/{path.relative_to(out / QC_DIR).as_posix()}")
        details = layout.finish(head, n_events)
        staging.commit()
    except ValueError as exc:  # e.g. a file name no checksum list can hold
        staging.discard()
        raise HandoffError(str(exc)) from exc
    except BaseException:
        staging.discard()
        raise
    seq = _record_handoff(handoff, dest, fmt, layout, details, override)
    return PackageResult(
        package=str(dest),
        format=fmt,
        documents=len(handoff.documents),
        pages=handoff.page_count,
        files=details.get("files", len(packer.written)),
        bytes=details.get("bytes", packer.total_bytes()),
        masters_included=request.include_masters,
        qc=handoff.qc.to_dict(),
        override=asdict(override) if override else None,
        left_out=handoff.left_out,
        failed_documents=handoff.failed,
        journal_head=head,
        journal_events=n_events,
        event_seq=seq,
        seconds=round(time.perf_counter() - started, 3),
        details=details,
    )


def _record_override(handoff: Handoff, override: Override, dest: Path, fmt: str) -> None:
    with open_journal(handoff.out) as journal:
        journal.record_event(
            EventType.VALIDATION,
            "batch",
            Outcome.WARNING,
            {
                "step": "hand-off QC gate",
                "decision": "overridden",
                "qc_state": override.qc_state,
                "qc_verdict": handoff.qc.verdict,
                "failed_documents": override.failed_documents,
                "left_out_without_catalogue_row": override.undescribed,
                "reason": override.reason,
                "package": str(dest.resolve()),
                "format": fmt,
            },
        )


def _record_handoff(
    handoff: Handoff, dest: Path, fmt: str, layout: PackageFormat, details: dict[str, Any], override: Override | None
) -> int:
    with open_journal(handoff.out) as journal:
        return journal.record_event(
            EventType.CREATION,
            "batch",
            Outcome.SUCCESS,
            {
                "step": "hand-off package",
                "format": fmt,
                "package": str(dest.resolve()),
                "payload_oxum": details.get("payload_oxum"),
                "fixity": details.get("fixity"),
                "fixity_sha256": details.get("fixity_sha256"),
                "documents": len(handoff.documents),
                "first": handoff.code_range()[0],
                "last": handoff.code_range()[1],
                "masters_included": handoff.include_masters,
                "qc_state": handoff.qc.state,
                "qc_override": override.reason if override else None,
                "left_out": [d["archival_code"] for d in handoff.left_out],
            },
        )


__all__ = ["HandoffError", "HandoffRefused", "HandoffRequest", "PackageResult", "make_package"]
