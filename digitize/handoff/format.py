"""What every hand-off package format provides; the formats themselves are bag, dat93 and archivematica.

A format is a subclass of `PackageFormat`. An instance places the files of one package being
made: `content` maps every journal-recorded file to its path in the package, `add_metadata`
places the metadata exports, `finish` writes the format's own files (manifests, fixity
lists, 说明文件 ...) and checks them. The class also checks a package of its kind at any later
time: `recognises` says whether a folder is one, `verify` checks it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from digitize.handoff.collect import Handoff, Packer, SourceFile
from digitize.handoff.qcstatus import QcState
from digitize.handoff.verifying import VerifyReport


@dataclass
class Override:
    """A hand-off made although QC had not passed, documents had failed or had no catalogue row."""

    reason: str
    qc_state: QcState
    failed_documents: list[str]
    undescribed: list[str] = field(default_factory=list)  # left out: no catalogue row (no 题名)

    def text(self) -> str:
        what = [f"QC {self.qc_state}"] if self.qc_state != QcState.PASS else []
        if self.failed_documents:
            what.append(f"{len(self.failed_documents)} document(s) failed processing")
        if self.undescribed:
            what.append(f"{len(self.undescribed)} document(s) without a catalogue row left out")
        return f"forced ({', '.join(what)}): {self.reason}"


class PackageFormat:
    """Where a format puts things. Subclasses map files to package paths and write their own files."""

    name: ClassVar[str] = ""  # as `digitize handoff --format` names it
    kind: ClassVar[str] = ""  # as `digitize verify` reports it
    journal_path: ClassVar[str] = ""  # where the journal copy goes in the package
    qc_folder: ClassVar[str] = ""  # where the QC report files go

    def __init__(self, handoff: Handoff, packer: Packer, override: Override | None):
        self.handoff = handoff
        self.packer = packer
        self.override = override

    def content(self) -> list[tuple[SourceFile, str]]:
        """Every journal-recorded file of the package and its path in the package."""
        raise NotImplementedError

    def add_metadata(self, exported: dict[str, bytes]) -> None:
        """Place the metadata exports (OUT-relative path -> bytes) that this format carries."""
        raise NotImplementedError

    def master_paths(self) -> dict[str, str]:
        """Where the masters sit, relative to the package's mirror of OUT, for formats that carry
        METS (batch-relative path -> path); empty when METS is not carried beside them."""
        return {}

    def finish(self, journal_head: str, journal_events: int) -> dict[str, Any]:
        """Write the format's own files and check the package; return details for the summary."""
        raise NotImplementedError

    @classmethod
    def recognises(cls, path: Path) -> bool:
        """Whether the folder is a package of this format."""
        raise NotImplementedError

    @classmethod
    def verify(cls, path: Path, report: VerifyReport, workers: int) -> None:
        """Check a package of this format; every problem goes into the report, named."""
        raise NotImplementedError
