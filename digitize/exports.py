"""`digitize export`: a processed batch's catalogue and preservation metadata, each format with its access policy.

The records come from the journal and the catalogue (`metadata.technical.load_records`); the
files are written and validated by `metadata.export.run_exports`, one format at a time so that
each gets its own access policy: its default (`metadata.export.access.default_policy`) unless
the request names a highest 密级 or asks for open records only, which then override that
default for every format.

A record without a 题名 (a scanned folder no catalogue row describes) cannot go into the
formats whose schema requires one (`TITLE_REQUIRED`: the DA/T 93 目录文件 and the DA/T 46
record): it is left out of them with the reason and how to link it, and the outcome asks
for attention (exit 4) -- never a schema error.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from digitize.errors import BadInput
from digitize.fsutil import atomic_write_bytes, sha256_bytes
from digitize.journal import EventType, Outcome, open_journal
from digitize.journal.ledger import REMOVED, written
from digitize.layout import CATALOGUE_WORKBOOK
from digitize.settings import Settings
from metadata.export import FORMATS, run_exports
from metadata.export.access import INTERNAL_POLICY, AccessPolicy, apply_policy, default_policy
from metadata.records import ArchiveRecord
from metadata.technical import load_records
from metadata.workbook import Sheet, workbook_bytes

WORKBOOK = "xlsx"  # the catalogue as a spreadsheet for people (catalog/归档文件目录.xlsx), not an XML format
ALL_FORMATS = (*FORMATS, WORKBOOK)
REPORT_LISTS = ("written", "removed", "excluded", "validations", "errors", "warnings")
CATALOGUE_COLUMNS = ("档号", "文号", "责任者", "题名", "日期", "页数", "密级", "保管期限", "开放标识", "备注")
TITLE_REQUIRED = ("dat93", "dat46")  # DA/T 93 and DA/T 46: 题名 is 必著
NO_TITLE = "no catalogue row describes it (题名 is empty); link the catalogue: {hint}"
FILES_PER_EVENT = 2000  # a large batch's export is recorded in parts of this many files


@dataclass(frozen=True)
class ExportRequest:
    """What `digitize export` is asked to do."""

    out: Path
    settings: Settings = field(default_factory=Settings)
    formats: tuple[str, ...] = ALL_FORMATS
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
    undescribed: list[str] = field(default_factory=list)  # 档号 without a 题名: left out of TITLE_REQUIRED
    described_anew: list[str] = field(default_factory=list)  # described by the catalogue given, not the journal

    @property
    def catalogue_only(self) -> int:
        """Catalogue rows without scans."""
        return sum(1 for r in self.records if not r.scanned)

    @property
    def needs_attention(self) -> bool:
        """Documents were left out for want of a description, or not exported because processing failed."""
        return bool(self.undescribed or self.failed_documents)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "records": len(self.records),
            "failed_documents": self.failed_documents,
            "undescribed": self.undescribed,
            "described_anew": self.described_anew,
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
    unknown = sorted(set(request.formats) - set(ALL_FORMATS))
    if unknown:
        raise BadInput(f"unknown export format(s) {', '.join(unknown)}; known: {', '.join(ALL_FORMATS)}")
    policies = {fmt: policy_for(fmt, request.max_security, request.open_only) for fmt in request.formats}
    batch = load_records(request.out, request.settings, request.catalog)
    outcome = ExportOutcome(request.out, batch.records, batch.failed_documents, described_anew=batch.described_anew)
    described = [r for r in batch.records if r.get("题名").strip()]
    if any(fmt in TITLE_REQUIRED for fmt in request.formats):
        outcome.undescribed = [r.archival_code for r in batch.records if not r.get("题名").strip()]
    reason = NO_TITLE.format(hint=f"`digitize process BATCH --catalog FILE --out {request.out}` or `--catalog FILE`")
    encodings = tuple(e.upper() for e in request.encodings)
    digests: dict[str, tuple[str, int]] = {}
    chosen = [f for f in ALL_FORMATS if f in request.formats]
    try:
        for fmt in (f for f in FORMATS if f in request.formats):
            records = batch.records
            if fmt in TITLE_REQUIRED:
                records = described
                outcome.report["excluded"].extend(
                    {"format": fmt, "archival_code": code, "reason": reason} for code in outcome.undescribed
                )
            report = run_exports(records, batch.batch, request.out, [fmt], policies[fmt], encodings)
            data = report.to_dict()
            for key in REPORT_LISTS:
                outcome.report[key].extend(data[key])
            digests.update(report.digests)
            outcome.ok = outcome.ok and report.ok
        if WORKBOOK in request.formats:
            content = _write_workbook(outcome, batch.records, policies[WORKBOOK] or INTERNAL_POLICY)
            digests[CATALOGUE_WORKBOOK] = (sha256_bytes(content), len(content))
    finally:  # what was written is recorded, even when a later format stopped the export
        _record(request.out, chosen, digests, outcome.report["removed"])
    return outcome


def _write_workbook(outcome: ExportOutcome, records: list[ArchiveRecord], policy: AccessPolicy) -> bytes:
    """归档文件目录 as a spreadsheet: every record the policy allows, scanned or not, with its pages;
    returns what was written."""
    kept, excluded = apply_policy(records, policy, WORKBOOK)
    outcome.report["excluded"].extend(asdict(e) for e in excluded)
    rows = []
    for record in kept:
        if not record.scanned:
            state = "未扫描 no scans"
        else:
            state = "已扫描 scanned" if record.get("题名") else "已扫描，无目录条目 scanned, no catalogue row"
        scanned = len(record.pages) if record.scanned else None
        rows.append([*(record.get(column) for column in CATALOGUE_COLUMNS), scanned, state])
    sheet = Sheet("归档文件目录", (*CATALOGUE_COLUMNS, "扫描页数 pages scanned", "状态 state"), rows)
    content = workbook_bytes([sheet])
    atomic_write_bytes(outcome.out / CATALOGUE_WORKBOOK, content)
    outcome.report["written"].append(CATALOGUE_WORKBOOK)
    return content


def _record(out: Path, formats: list[str], digests: dict[str, tuple[str, int]], removed: list[str]) -> None:
    """The files written and removed, with their SHA-256, as "creation" events of the batch
    (`digitize.journal.ledger`), in parts of FILES_PER_EVENT files."""
    paths = sorted(digests)
    parts = [paths[i : i + FILES_PER_EVENT] for i in range(0, len(paths), FILES_PER_EVENT)] or [[]]
    if not paths and not removed:
        return
    with open_journal(out) as journal:
        for number, part in enumerate(parts, start=1):
            detail: dict[str, Any] = {
                "step": "metadata export",
                "formats": formats,
                "part": f"{number}/{len(parts)}",
                **written({p: digests[p] for p in part}),
            }
            if number == 1 and removed:
                detail[REMOVED] = sorted(removed)
            journal.record_event(EventType.CREATION, "batch", Outcome.SUCCESS, detail)
