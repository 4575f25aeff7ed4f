"""What `digitize qc` concluded about a batch, as far as a hand-off needs to know.

The hand-off reads OUT/qc/report.json. Everything that depends on that file's layout is in
this module: the verdict, the sampling plan, when it was written and the per-item results
that fill the 四性 rows of the DA/T 93 transfer register.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPORT = "qc/report.json"
QC_DIR = "qc"
PASS = "pass"
_LABELS = {"pass": "pass", "fail": "fail", "pending": "pending", "missing": "not run", "stale": "stale", "unreadable": "unreadable"}
_LABELS_ZH = {"pass": "合格", "fail": "不合格", "pending": "未完成", "missing": "未检查", "stale": "已过期（处理晚于质检）", "unreadable": "报告无法读取"}


@dataclass(frozen=True)
class QcStatus:
    """state: pass | fail | pending (no decision yet) | missing | stale | unreadable."""

    state: str
    verdict: str | None = None  # the report's own word
    plan: str | None = None  # sampling plan, e.g. "ISO 2859-1 II AQL 1.0 n=8 Ac=0 Re=1"
    written: str | None = None  # ISO 8601 time of the report
    message: str = ""
    items: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # per DA/T 70 / DA/T 31 item

    @property
    def passed(self) -> bool:
        return self.state == PASS

    @property
    def label(self) -> str:
        """For bag-info QC-Lot-Result: the report's verdict, else what is wrong with the report."""
        return self.verdict if self.state in (PASS, "fail", "pending") and self.verdict else _LABELS[self.state]

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
    """The lot verdict of a report: "pass", "fail", or something not yet decided."""
    value = report.get("verdict")
    if isinstance(value, dict):  # {"verdict": {"result": "pass", ...}}
        value = value.get("result") or value.get("verdict")
    if value is None and isinstance(report.get("lot"), dict):
        value = report["lot"].get("verdict")
    return str(value).strip().lower() if value is not None else None


def _plan(report: dict[str, Any]) -> str | None:
    for key in ("plan", "sampling_plan", "sampling"):
        value = report.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict):
            text = value.get("description") or value.get("plan")
            if isinstance(text, str) and text:
                return text
            if isinstance(text, dict) and text.get("description"):
                return str(text["description"])
    return None


def _written(report: dict[str, Any], path: Path) -> dt.datetime:
    for key in ("generated", "created", "written", "date"):
        value = report.get(key)
        if isinstance(value, str):
            try:
                stamp = dt.datetime.fromisoformat(value)
            except ValueError:
                continue
            return stamp if stamp.tzinfo else stamp.astimezone()
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)


def _items(report: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """Per-check results: dicts with at least "item" (e.g. "YJ-1-7", "DA/T 31 §9.4") and "result"."""
    checks = report.get("checks") or report.get("items") or []
    if isinstance(checks, dict):
        checks = [{"item": k, **(v if isinstance(v, dict) else {"result": v})} for k, v in checks.items()]
    found = []
    for check in checks if isinstance(checks, list) else []:
        if not isinstance(check, dict):
            continue
        item = check.get("item") or check.get("id") or check.get("check")
        result = check.get("result") or check.get("status") or check.get("outcome") or check.get("verdict")
        if item is None or result is None:
            continue
        found.append({"item": str(item), "result": str(result).lower(), "name": str(check.get("name") or check.get("title") or "")})
    return tuple(found)


def read_qc_status(out: Path, last_processed: str | None = None) -> QcStatus:
    """The QC state of OUT. `last_processed`: when processing last finished (ISO 8601); a
    report written before that describes outputs that have changed since, and is "stale"."""
    path = out / REPORT
    if not path.is_file():
        return QcStatus("missing", message=f"no QC report ({REPORT}); run `digitize qc {out}`")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(report, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return QcStatus("unreadable", message=f"{REPORT} cannot be read: {exc}")
    verdict = _verdict(report)
    written = _written(report, path)
    common = {"verdict": verdict, "plan": _plan(report), "written": written.isoformat(timespec="seconds"), "items": _items(report)}
    if last_processed:
        try:
            processed = dt.datetime.fromisoformat(last_processed)
        except ValueError:
            processed = None
        if processed is not None and written < (processed if processed.tzinfo else processed.astimezone()):
            return QcStatus("stale", message=f"the QC report ({common['written']}) is older than the last processing run "
                            f"({last_processed}); run `digitize qc {out}` again", **common)
    if verdict == PASS:
        return QcStatus(PASS, message="QC passed", **common)
    if verdict in ("fail", "failed", "reject", "rejected"):
        return QcStatus("fail", message=f"QC verdict: {verdict}", **common)
    return QcStatus("pending", message=f"QC has not reached a verdict ({verdict or 'none'})", **common)
