"""`digitize qc`: automated checks, the inspection sample, recorded decisions and the verdict.

    outcome = run_qc(QcRequest(out, settings))                               # checks + sample, writes OUT/qc/
    outcome = run_qc(QcRequest(out, settings, decisions=Path("decisions.csv")))  # ... and judges the lot

Verdict (report.json "verdict"):
* ``fail``    -- an automated check failed, the lot was rejected (Ac/Re of the plan), or an
  inspector failed a document that was inspected because of a critical finding;
* ``pass``    -- every automated check passed (warnings allowed) and the lot was accepted;
* ``pending`` -- the checks passed but the inspectors' decisions are not (all) recorded yet.

The lot is the batch; an item is a document (件). The random sample follows the plan of the
settings (DA/T 31 ratio by default, ISO 2859-1 on request); documents with a critical finding
(`QcSettings.critical_checks`) are inspected in addition, all of them.
"""

from __future__ import annotations

import csv
import dataclasses
import getpass
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from digitize import __version__
from digitize.errors import BadInput
from digitize.fsutil import atomic_write_bytes, sha256_bytes
from digitize.journal import EventType, Outcome, now_iso, open_journal
from digitize.journal.ledger import written
from digitize.layout import (
    QC_CHECKS,
    QC_DECISION_RECORD,
    QC_DECISIONS,
    QC_MEASUREMENTS,
    QC_REPORT,
    QC_REPORT_HTML,
    QC_SAMPLE,
    QC_WORKBOOK,
    OutLayout,
)
from digitize.qc import measurecache
from digitize.qc.checks import CheckRun, critical_documents, run_checks
from digitize.qc.data import QcRequest, SamplingChoice
from digitize.qc.decisions import DecisionRecord
from digitize.qc.plans import SamplingPlan, plan_from_settings
from digitize.qc.results import CheckStatus
from digitize.qc.sampling import (
    DEFECT_CLASSES,
    Decision,
    LotStatus,
    LotVerdict,
    Sample,
    draw_sample,
    lot_verdict,
    read_decisions,
)
from digitize.settings import Settings
from metadata.workbook import Sheet, workbook_bytes

SAMPLE_COLUMNS = ("item_id", "decision", "defect_type", "defect_class", "inspector", "note")
SAMPLE_INFO_COLUMNS = ("selected_as", "title", "pages", "automated_findings")
SCHEMA = "digitize-qc/1"


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    PENDING = "pending"  # the checks passed; the inspectors' decisions are not (all) recorded


@dataclass
class QcOutcome:
    out: Path
    stage: str
    generated: str
    checks: CheckRun
    plan: SamplingPlan | None
    sample: Sample | None
    critical: dict[str, list[str]]
    sampling_options: SamplingChoice = SamplingChoice()
    decisions: list[Decision] = field(default_factory=list)
    decisions_source: str | None = None
    lot: LotVerdict | None = None
    verdict: Verdict = Verdict.PENDING
    reasons: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict == Verdict.PASS

    @property
    def lot_status(self) -> str:
        if self.plan is None:
            return "no documents"
        return self.lot.status if self.lot is not None else "not recorded"

    def document_items(self) -> list[dict[str, Any]]:
        """One line per document of the lot: 档号, title, pages, state, and its worst automated result."""
        rows = []
        for doc in self.checks.data.documents:
            results = [r for r in self.checks.results if r.document == doc.archival_code]
            statuses = [r.status for r in results if r.check != "blank_page"]
            worst = max(statuses, key=lambda s: s.rank, default=CheckStatus.PASS)
            rows.append(
                {
                    "archival_code": doc.archival_code,
                    "doc_key": doc.doc_key,
                    "title": doc.title or "",
                    "state": doc.state,
                    "pages": len(self.checks.data.pages.get(doc.doc_key, [])),
                    "status": worst,
                    "findings": sum(1 for r in results if r.status in (CheckStatus.FAIL, CheckStatus.WARN)),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        by_status = {
            s.value: sum(1 for r in self.checks.results if r.status == s)
            for s in (CheckStatus.FAIL, CheckStatus.WARN, CheckStatus.NOT_CHECKED, CheckStatus.PASS)
        }
        sampling: dict[str, Any] = {"status": self.lot_status}
        if self.plan is not None and self.sample is not None:
            sampling.update(
                {
                    "scheme": self.plan.scheme,
                    "lot_size": self.plan.lot_size,
                    "n": self.plan.n,
                    "ac": self.plan.ac,
                    "re": self.plan.re,
                    "full_inspection": self.plan.full_inspection,
                    "description": self.plan.description,
                    "severity": self.plan.severity,
                    "level": self.plan.level,
                    "aql": self.plan.aql,
                    "ratio": self.plan.ratio,
                    "pass_rate": self.plan.pass_rate,
                    "seed": self.sample.seed,
                    "random": list(self.sample.random),
                    "critical": self.critical,
                    "extra_critical": list(self.sample.extra_critical),
                    "decisions_source": self.decisions_source,
                    "decisions": [d.__dict__ for d in self.decisions],
                }
            )
        if self.lot is not None:
            sampling.update(
                {
                    "nonconforming": list(self.lot.nonconforming),
                    "undecided": list(self.lot.undecided),
                    "critical_failed": list(self.lot.critical_failed),
                    "critical_undecided": list(self.lot.critical_undecided),
                }
            )
        data = self.checks.data
        return {
            "schema": SCHEMA,
            "generated": self.generated,
            "software": f"digitize {__version__}",
            "out": str(self.out),
            "stage": self.stage,
            "verdict": self.verdict,
            "passed": self.passed,
            "verdict_reasons": self.reasons,
            "automated": {"status": self.checks.status, **{k.replace(" ", "_"): v for k, v in by_status.items()}},
            "plan": self.plan.description if self.plan else None,
            "sampling": sampling,
            "catalogue": data.catalog_path or data.catalog_note,
            "batch": str(data.batch_dir) if data.batch_dir else None,
            "checks": self.checks.by_check(),
            "results": [r.to_dict() for r in self.checks.results],
            "documents": self.document_items(),
            "sampling_options": dataclasses.asdict(self.sampling_options),
            "timings": {k: round(v, 2) for k, v in data.timings.items()},
            "measurements": {"measured": len(data.measures) - data.measures_reused, "reused": data.measures_reused},
            "files": self.files,
        }


def decide(
    failed_check_ids: list[str],
    automated_status: str,
    plan: SamplingPlan | None,
    sample: Sample | None,
    lot: LotVerdict | None,
) -> tuple[Verdict, list[str]]:
    """The lot's verdict and the reasons for it (see the module docstring); `digitize.qc.review`
    judges with it too, from the report and the decision record."""
    reasons = []
    if failed_check_ids:
        checks = sorted(set(failed_check_ids))
        reasons.append(f"{len(failed_check_ids)} automated finding(s) failed: {', '.join(checks)}")
    if lot is not None and lot.status == LotStatus.REJECT:
        reasons.append(
            f"lot rejected: {len(lot.nonconforming)} nonconforming of {lot.plan.n} sampled (Re={lot.plan.re})"
        )
    if lot is not None and lot.critical_failed:
        reasons.append("inspectors failed critical documents: " + ", ".join(lot.critical_failed))
    if reasons:
        return Verdict.FAIL, reasons
    if lot is not None and lot.status == LotStatus.ACCEPT:
        return Verdict.PASS, [
            f"automated checks passed; lot accepted ({len(lot.nonconforming)} nonconforming of "
            f"{lot.plan.n}, Ac={lot.plan.ac})"
        ]
    if plan is None:
        return (Verdict.PASS if automated_status == CheckStatus.PASS else Verdict.FAIL), ["no documents to sample"]
    if lot is None:
        return Verdict.PENDING, [
            f"automated checks passed; the inspection sample ({len(sample.items) if sample else 0} documents) has "
            f"no recorded decisions: fill {QC_SAMPLE} and run `digitize qc OUT --record FILE`, "
            "or review it in `digitize serve`"
        ]
    return Verdict.PENDING, [f"automated checks passed; {len(lot.undecided)} sampled documents still undecided"]


def _verdict(outcome: QcOutcome) -> None:
    fails = [r.check_id for r in outcome.checks.results if r.status == CheckStatus.FAIL]
    outcome.verdict, outcome.reasons = decide(fails, outcome.checks.status, outcome.plan, outcome.sample, outcome.lot)


def lot_items(run: CheckRun) -> list[str]:
    codes = [d.archival_code for d in run.data.documents]
    return codes if len(set(codes)) == len(codes) else [d.doc_key for d in run.data.documents]


def with_sampling(
    settings: Settings, ratio: float | None = None, aql: float | None = None, level: str | None = None
) -> Settings:
    """The settings with the sampling plan asked for: a DA/T 31 ratio, or ISO 2859-1 at an AQL and level."""
    if ratio is not None and aql is not None:
        raise BadInput("--ratio and --aql exclude each other")
    if aql is not None or level is not None:
        settings = settings.replace(
            "qc",
            sampling_scheme="iso2859-1",
            aql=aql if aql is not None else settings.qc.aql,
            inspection_level=level or settings.qc.inspection_level,
        )
    if ratio is not None:
        settings = settings.replace("qc", sampling_scheme="dat31-ratio", sample_ratio=ratio)
    return settings


def remembered_sampling(out: Path, given: SamplingChoice) -> tuple[SamplingChoice, bool]:
    """The sampling options given, else those the previous qc run of OUT used (its report.json), so
    that recording decisions later judges the sample they were made on; True when remembered."""
    if given.given:
        return given, False
    try:
        report = json.loads(OutLayout(out).path(QC_REPORT).read_text(encoding="utf-8"))
        remembered = SamplingChoice(**report["sampling_options"])
    except (OSError, ValueError, KeyError, TypeError):
        return given, False
    return remembered, remembered.given


def prepare(request: QcRequest, progress: Callable[[int, int], Any] | None = None) -> QcOutcome:
    """Run the checks and draw the sample (no decisions yet, nothing written)."""
    settings, seed = request.settings, request.seed
    checks = run_checks(request, progress)
    items = lot_items(checks)
    plan = sample = None
    critical: dict[str, list[str]] = {}
    if items:
        plan = plan_from_settings(settings.qc, len(items))
        critical = {
            k: v for k, v in critical_documents(checks.results, settings.qc.critical_checks).items() if k in items
        }
        sample = draw_sample(plan, items, settings.qc.sample_seed if seed is None else seed, critical)
    return QcOutcome(
        Path(request.out), request.stage_prefix, now_iso(), checks, plan, sample, critical, request.sampling
    )


def judge(outcome: QcOutcome, decisions: list[Decision] | None, source: str | None = None) -> QcOutcome:
    outcome.decisions = list(decisions or [])
    outcome.decisions_source = source
    if decisions is not None and outcome.plan is not None and outcome.sample is not None:
        outcome.lot = lot_verdict(outcome.plan, outcome.sample, outcome.decisions)
    _verdict(outcome)
    return outcome


def judge_recorded(
    outcome: QcOutcome, new_decisions: list[Decision] | None = None, source: str = "", by: str = ""
) -> QcOutcome:
    """Add new decisions (a filled sample.csv, interactive answers) to the lot's decision record,
    then judge the lot with every current decision of its sample (`digitize.qc.decisions`): a
    later run never loses what inspectors recorded before."""
    record = DecisionRecord(outcome.out)
    if new_decisions:
        record.add_decisions(new_decisions, source, by)
    if outcome.sample is None:
        return judge(outcome, None)
    current = record.current(outcome.sample.items)
    if not current and new_decisions is None:
        return judge(outcome, None)
    return judge(outcome, current, QC_DECISION_RECORD)


def sample_csv(outcome: QcOutcome) -> bytes:
    """The inspectors' decisions template (UTF-8 with BOM, opens in spreadsheet programs)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([*SAMPLE_COLUMNS, *SAMPLE_INFO_COLUMNS])
    if outcome.sample is None:
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")
    docs = {row["archival_code"]: row for row in outcome.document_items()}
    docs.update({row["doc_key"]: row for row in outcome.document_items()})
    decided = {d.item_id: d for d in outcome.decisions}
    random = set(outcome.sample.random)
    for item in outcome.sample.items:
        info = docs.get(item, {})
        reasons = outcome.critical.get(item, [])
        selected = "random" + (" + critical" if reasons else "") if item in random else "critical (100%)"
        d = decided.get(item)
        writer.writerow(
            [
                item,
                d.decision if d else "",
                d.defect_type if d else "",
                d.defect_class if d else "",
                d.inspector if d else "",
                d.note if d else "",
                selected,
                info.get("title", ""),
                info.get("pages", ""),
                "; ".join(reasons),
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def decisions_csv(decisions: list[Decision]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(SAMPLE_COLUMNS)
    for d in decisions:
        writer.writerow([d.item_id, d.decision, d.defect_type, d.defect_class, d.inspector, d.note])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def checks_csv(outcome: QcOutcome) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    columns = ("check_id", "check", "title", "status", "object", "document", "page", "file", "defect", "evidence")
    writer.writerow(columns)
    for r in outcome.checks.results:
        writer.writerow([getattr(r, c) if getattr(r, c) is not None else "" for c in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def checks_workbook(outcome: QcOutcome) -> list[Sheet]:
    """The checks, the findings and the inspection sample as spreadsheet sheets (qc/checks.xlsx)."""
    data = outcome.to_dict()
    checks = Sheet(
        "检查项 checks",
        ("检测项 item", "内容 check", "结果 status", "不通过 fail", "注意 warn", "依据 evidence"),
        ([c["item"], c["title"], c["status"], c["fail"], c["warn"], c["evidence"]] for c in data["checks"]),
    )
    flagged = [r for r in outcome.checks.results if r.status in (CheckStatus.FAIL, CheckStatus.WARN)]
    findings = Sheet(
        "问题清单 findings",
        ("结果 status", "检测项 item", "档号", "页 page", "对象 object", "文件 file", "依据 evidence"),
        ([r.status, r.check_id, r.document, r.page, r.object, r.file, r.evidence] for r in flagged),
    )
    sample = Sheet(
        "抽样清单 sample",
        ("档号", "抽取方式 selected as", "结论 decision", "缺陷类型 defect type", "缺陷等级 class", "检查人", "备注"),
        _sample_rows(outcome),
    )
    return [checks, findings, sample]


def _sample_rows(outcome: QcOutcome) -> list[list[str]]:
    if outcome.sample is None:
        return []
    decided = {d.item_id: d for d in outcome.decisions}
    rows = []
    for item in outcome.sample.items:
        selected = ("random 随机 " if item in outcome.sample.random else "") + (
            "critical 关键" if item in outcome.critical else ""
        )
        d = decided.get(item)
        decision = [d.decision, d.defect_type, d.defect_class, d.inspector, d.note] if d else [""] * 5
        rows.append([item, selected.strip(), *decision])
    return rows


def write_outputs(outcome: QcOutcome, thumbnails: bool = True) -> None:
    from digitize.qc.report import render_html

    out = OutLayout(outcome.out)
    outcome.files = [QC_REPORT, QC_REPORT_HTML, QC_CHECKS, QC_WORKBOOK, QC_SAMPLE]
    files: dict[str, bytes] = {}
    if outcome.decisions_source:
        outcome.files.append(QC_DECISIONS)
        files[QC_DECISIONS] = decisions_csv(outcome.decisions)
    files[QC_CHECKS] = checks_csv(outcome)
    files[QC_WORKBOOK] = workbook_bytes(checks_workbook(outcome))
    data = outcome.checks.data
    files[QC_MEASUREMENTS] = measurecache.encode(data.measure_inputs, data.measures)
    files[QC_SAMPLE] = sample_csv(outcome)
    report_data = outcome.to_dict()
    files[QC_REPORT_HTML] = render_html(outcome, report_data, thumbnails).encode("utf-8")
    files[QC_REPORT] = json.dumps(report_data, ensure_ascii=False, indent=1, default=str).encode("utf-8")
    for rel, content in files.items():  # report.json last: it is what the hand-off reads
        atomic_write_bytes(out.path(rel), content)
    _record_event(outcome, {rel: (sha256_bytes(content), len(content)) for rel, content in files.items()})


def _record_event(outcome: QcOutcome, files: dict[str, tuple[str, int]]) -> None:
    fails = sum(1 for r in outcome.checks.results if r.status == CheckStatus.FAIL)
    warns = sum(1 for r in outcome.checks.results if r.status == CheckStatus.WARN)
    outcome_word = {Verdict.PASS: Outcome.SUCCESS, Verdict.FAIL: Outcome.FAILURE}.get(outcome.verdict, Outcome.WARNING)
    detail = {
        "check": f"QC: DA/T 70-2018 {outcome.stage} items and DA/T 31-2017 image checks",
        "verdict": outcome.verdict,
        "automated": outcome.checks.status,
        "fail": fails,
        "warn": warns,
        "plan": outcome.plan.description if outcome.plan else None,
        "lot": outcome.lot_status,
        "report": QC_REPORT,
        "report_sha256": files[QC_REPORT][0],
        **written(files),
    }
    with open_journal(outcome.out) as journal:
        journal.record_event(EventType.VALIDATION, "batch", outcome_word, detail)


def run_qc(
    request: QcRequest,
    ask: Callable[[QcOutcome], list[Decision] | None] | None = None,
    write: bool = True,
    progress: Callable[[int, int], Any] | None = None,
) -> QcOutcome:
    """Checks, sample, the inspectors' decisions (from `request.decisions`, else from `ask`), verdict,
    then the files in OUT/qc/ and the journal event (unless `write` is false)."""
    outcome = prepare(request, progress)
    decisions, source = None, ""
    if request.decisions is not None:
        source = f"file {request.decisions}"
        if outcome.sample is not None:
            decisions = read_decisions(request.decisions, outcome.sample)
    elif ask is not None and outcome.sample is not None:
        decisions, source = ask(outcome), "interactive"  # None: the inspector did not confirm
    judge_recorded(outcome, decisions, source, getpass.getuser())
    if write:
        write_outputs(outcome)
    return outcome


__all__ = [
    "DEFECT_CLASSES",
    "QcOutcome",
    "QcRequest",
    "SamplingChoice",
    "decide",
    "judge",
    "judge_recorded",
    "prepare",
    "remembered_sampling",
    "run_qc",
    "with_sampling",
    "write_outputs",
]
