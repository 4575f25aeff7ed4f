"""`digitize export`: a processed batch's catalogue and preservation metadata, each format with its access policy.

The records come from the journal and the catalogue (`metadata.technical.load_records`); the
files are written and validated by `metadata.export.run_exports`, one format at a time so that
each gets its own access policy: its default (`metadata.export.access.default_policy`) unless
the request names a highest 密级 or asks for open records only, which then override that
default for every format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.errors import BadInput
from digitize.settings import Settings
from metadata.export import FORMATS, run_exports
from metadata.export.access import AccessPolicy, default_policy
from metadata.records import ArchiveRecord
from metadata.technical import load_records

REPORT_LISTS = ("written", "removed", "excluded", "validations", "errors", "warnings")


@dataclass(frozen=True)
class ExportRequest:
    """What `digitize export` is asked to do."""

    out: Path
    settings: Settings = field(default_factory=Settings)
    formats: tuple[str, ...] = FORMATS
    catalog: Path | None = None  # adds catalogue rows without scans; default: the last run's catalogue
    encodings: tuple[str, ...] = ("UTF-8", "GB18030")  # of the DA/T 93 目录文件; the first is 目录文件.xml
    max_security: str | None = None  # overrides every format's highest 密级
    open_only: bool | None = None  # overrides every format's "only records marked 开放"


@dataclass
class ExportOutcome:
    out: Path
    records: list[ArchiveRecord]
    failed_documents: list[str]  # processing failed: not exported
    report: dict[str, list[Any]] = field(default_factory=lambda: {key: [] for key in REPORT_LISTS})
    ok: bool = True

    @property
    def catalogue_only(self) -> int:
        """Catalogue rows without scans."""
        return sum(1 for r in self.records if not r.scanned)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "records": len(self.records),
            "failed_documents": self.failed_documents,
            **self.report,
            "ok": self.ok,
        }


def policy_for(fmt: str, max_security: str | None, open_only: bool | None) -> AccessPolicy | None:
    """The access policy of one format: None for its default, else the default with the overrides."""
    if max_security is None and open_only is None:
        return None
    base = default_policy(fmt)
    try:
        return AccessPolicy(
            max_security=max_security if max_security is not None else base.max_security,
            open_only=open_only if open_only is not None else base.open_only,
        )
    except ValueError as exc:
        raise BadInput(str(exc)) from None


def export_batch(request: ExportRequest) -> ExportOutcome:
    unknown = sorted(set(request.formats) - set(FORMATS))
    if unknown:
        raise BadInput(f"unknown export format(s) {', '.join(unknown)}; known: {', '.join(FORMATS)}")
    policies = {fmt: policy_for(fmt, request.max_security, request.open_only) for fmt in request.formats}
    batch = load_records(request.out, request.settings, request.catalog)
    outcome = ExportOutcome(request.out, batch.records, batch.failed_documents)
    encodings = tuple(e.upper() for e in request.encodings)
    for fmt in (f for f in FORMATS if f in request.formats):
        report = run_exports(batch.records, batch.batch, request.out, [fmt], policies[fmt], encodings)
        data = report.to_dict()
        for key in REPORT_LISTS:
            outcome.report[key].extend(data[key])
        outcome.ok = outcome.ok and report.ok
    return outcome
