"""The lot as inspectors review it: the sample `digitize qc` drew, with the current decisions.

`digitize qc` writes ``qc/report.json`` (checks, plan, sample) and is its only writer. Review
reads that report and the decision record (`digitize.qc.decisions`) and judges the lot with
the same rules as `qc` (`digitize.qc.run.decide`), so the verdict a reviewer sees changes with
every decision saved, without measuring anything again. The next `qc` run writes the same
verdict into the report the hand-off reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from digitize.errors import BadInput
from digitize.layout import QC_REPORT, OutLayout
from digitize.qc.decisions import DecisionRecord, SignOff
from digitize.qc.plans import SamplingPlan
from digitize.qc.run import Verdict, decide
from digitize.qc.sampling import Decision, LotVerdict, Sample, lot_verdict


class ReviewError(BadInput):
    """The lot has no readable QC report to review."""


@dataclass
class LotReview:
    out: Path
    report: dict[str, Any]
    plan: SamplingPlan | None
    sample: Sample | None
    critical: dict[str, list[str]]
    decisions: list[Decision]
    lot: LotVerdict | None
    verdict: Verdict
    reasons: list[str]
    signoff: SignOff | None
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # item -> report's document line

    def decisions_of(self, item: str) -> list[Decision]:
        return [d for d in self.decisions if d.item_id == item]


def _plan(sampling: dict[str, Any]) -> SamplingPlan:
    return SamplingPlan(
        scheme=sampling["scheme"],
        lot_size=int(sampling["lot_size"]),
        n=int(sampling["n"]),
        ac=int(sampling["ac"]),
        re=int(sampling["re"]),
        full_inspection=bool(sampling["full_inspection"]),
        description=sampling["description"],
        severity=sampling.get("severity"),
        level=sampling.get("level"),
        aql=sampling.get("aql"),
        ratio=sampling.get("ratio"),
        pass_rate=sampling.get("pass_rate"),
    )


def review(out: str | Path) -> LotReview:
    """The lot of an OUT folder with its current decisions and live verdict."""
    out = Path(out)
    path = OutLayout(out).path(QC_REPORT)
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReviewError(f"{path} is missing; run `digitize qc {out}` first") from None
    except (OSError, ValueError) as exc:
        raise ReviewError(f"{path} cannot be read: {exc}") from None
    sampling = report.get("sampling") or {}
    plan = sample = None
    critical: dict[str, list[str]] = {}
    if sampling.get("scheme"):
        plan = _plan(sampling)
        critical = {k: list(v) for k, v in (sampling.get("critical") or {}).items()}
        sample = Sample(int(sampling["seed"]), tuple(sampling["random"]), tuple(sorted(critical)))
    record = DecisionRecord(out)
    decisions = record.current(sample.items) if sample is not None else []
    lot = lot_verdict(plan, sample, decisions) if plan is not None and sample is not None and decisions else None
    failed = [r["check_id"] for r in report.get("results") or [] if r.get("status") == "fail"]
    verdict, reasons = decide(failed, (report.get("automated") or {}).get("status", ""), plan, sample, lot)
    documents = {}
    for line in report.get("documents") or []:
        documents[line["archival_code"]] = line
        documents.setdefault(line["doc_key"], line)
    return LotReview(out, report, plan, sample, critical, decisions, lot, verdict, reasons, record.signoff(), documents)
