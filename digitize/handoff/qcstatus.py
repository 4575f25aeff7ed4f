"""What `digitize qc` concluded about a batch, as far as a hand-off needs to know.

The hand-off reads OUT/qc/report.json, written by `digitize qc` (digitize.qc.run), and the
"validation" event that run recorded on the batch with the report's SHA-256. Everything that
depends on the report's layout is in this module: "verdict" (pass | fail | pending), "plan"
(the sampling plan's description), "generated", and "checks" (one entry per DA/T 70 /
DA/T 31 item with "item", "title" and "result"), which fills the 四性 rows of the DA/T 93
transfer register.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from digitize.journal import Event, EventType
from digitize.layout import QC_REPORT


class QcState(StrEnum):
    """What the hand-off makes of OUT's QC report."""

    PASS = "pass"
    FAIL = "fail"
    PENDING = "pending"  # decisions not recorded yet
    MISSING = "missing"  # no report
    UNREADABLE = "unreadable"
    UNRECORDED = "unrecorded"  # no QC event in the journal
    ALTERED = "altered"  # not the report QC wrote
    STALE = "stale"  # documents were processed again after the QC run


# Journal events of (re)processing a document: after the QC run, they make its report stale.
PROCESSING_EVENTS = {EventType.MESSAGE_DIGEST, EventType.MODIFICATION, EventType.CREATION}
_LABELS = {QcState.MISSING: "not run"}  # the others are the state's own word
_LABELS_ZH = {
    QcState.PASS: "合格",
    QcState.FAIL: "不合格",
    QcState.PENDING: "未完成",
    QcState.MISSING: "未检查",
    QcState.STALE: "已过期（质检后重新处理）",
    QcState.UNREADABLE: "报告无法读取",
    QcState.UNRECORDED: "报告无质检记录",
    QcState.ALTERED: "报告已被改动",
}
_VERDICTS = (QcState.PASS, QcState.FAIL, QcState.PENDING)  # states in which the report's own word counts


@dataclass(frozen=True)
class QcStatus:
    state: QcState
    verdict: str | None = None  # the report's own word
    plan: str | None = None  # sampling plan, e.g. "ISO 2859-1 II AQL 1.0 n=8 Ac=0 Re=1"
    written: str | None = None  # ISO 8601 time the report was generated
    message: str = ""
    items: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # per DA/T 70 / DA/T 31 item

    @property
    def passed(self) -> bool:
        return self.state == QcState.PASS

    @property
    def label(self) -> str:
        """For bag-info QC-Lot-Result: the report's verdict, else what is wrong with the report."""
        return self.verdict if self.state in _VERDICTS and self.verdict else _LABELS.get(self.state, self.state.value)

    @property
    def label_zh(self) -> str:
        """For 说明文件 and 登记表."""
        return _LABELS_ZH[self.state]

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "verdict": self.verdict,
            "label": self.label,
            "plan": self.plan,
            "written": self.written,
            "message": self.message,
        }


def _verdict(report: dict[str, Any]) -> str | None:
    value = report.get("verdict")
    return str(value).strip().lower() if value is not None else None


def _plan(report: dict[str, Any]) -> str | None:
    plan = report.get("plan") or (report.get("sampling") or {}).get("description")
    return str(plan) if plan else None


def _items(report: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """Per-item results: {"item": "GD-1-7" | "DA/T 31 §9.4", "name": title, "result": pass|warn|fail|not checked}."""
    found = []
    for check in report.get("checks") or []:
        if isinstance(check, dict) and check.get("item") and check.get("result"):
            found.append(
                {
                    "item": str(check["item"]),
                    "name": str(check.get("title") or ""),
                    "result": str(check["result"]).lower(),
                }
            )
    return tuple(found)


def qc_event(events: Sequence[Event]) -> Event | None:
    """The journal event of the last `digitize qc` run (it carries the report's SHA-256)."""
    for event in reversed(events):
        if event.type == EventType.VALIDATION and event.object == "batch" and event.detail.get("report_sha256"):
            return event
    return None


def read_qc_status(out: Path, events: Sequence[Event]) -> QcStatus:
    """The QC state of OUT, from qc/report.json and the journal event its QC run recorded.

    The report counts only when it is the one the last QC run wrote (same SHA-256 as in its
    event: "altered" otherwise, "unrecorded" without an event) and no document was processed
    again after that run ("stale").
    """
    path = out / QC_REPORT
    if not path.is_file():
        return QcStatus(QcState.MISSING, message=f"no QC report ({QC_REPORT}); run `digitize qc {out}`")
    try:
        data = path.read_bytes()
        report = json.loads(data.decode("utf-8"))
        if not isinstance(report, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return QcStatus(QcState.UNREADABLE, message=f"{QC_REPORT} cannot be read: {exc}")
    verdict = _verdict(report)
    common: dict[str, Any] = {
        "verdict": verdict,
        "plan": _plan(report),
        "written": report.get("generated"),
        "items": _items(report),
    }
    event = qc_event(events)
    if event is None:
        return QcStatus(
            QcState.UNRECORDED,
            message=f"{QC_REPORT} was not written by `digitize qc` (no QC event in the journal)",
            **common,
        )
    if hashlib.sha256(data).hexdigest() != event.detail["report_sha256"]:
        return QcStatus(
            QcState.ALTERED,
            message=f"{QC_REPORT} differs from the report QC recorded in journal event {event.seq}; "
            f"run `digitize qc {out}` again",
            **common,
        )
    later = [e for e in events if e.seq > event.seq and e.object != "batch" and e.type in PROCESSING_EVENTS]
    if later:
        return QcStatus(
            QcState.STALE,
            message=f"documents were processed again after the QC run (journal event {later[0].seq}, "
            f"{later[0].object}); run `digitize qc {out}` again",
            **common,
        )
    if verdict == QcState.PASS:
        return QcStatus(QcState.PASS, message="QC passed", **common)
    if verdict in ("fail", "failed", "reject", "rejected"):
        reasons = report.get("verdict_reasons")
        why = f": {'; '.join(reasons)}" if isinstance(reasons, list) and reasons else ""
        return QcStatus(QcState.FAIL, message=f"QC verdict fail{why}", **common)
    return QcStatus(
        QcState.PENDING,
        message=f"QC has not reached a verdict ({verdict or 'none'}); record the inspectors' "
        f"decisions with `digitize qc {out} --record FILE`",
        **common,
    )
